// Presentation helpers of the orchestration benchmark: statistics, the machine it ran on, ASCII
// charts for the terminal and a hand-written SVG for the docs.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';

// ---- statistics -----------------------------------------------------------------------------------

/** Nearest-rank percentile (p in 0–100) of the values; NaN for none. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export function fixed(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

// ---- the machine ----------------------------------------------------------------------------------

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** What `temporal --version` prints, plus the version the binary was built from when its path names it. */
  temporalCli: string;
  temporalCliPath: string | null;
  temporalServer: string;
}

const execFileAsync = promisify(execFile);

export async function cpuModel(): Promise<string> {
  try {
    const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
    const line = cpuinfo.split('\n').find((entry) => entry.startsWith('model name'));
    if (line) return line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: fall through
  }
  return os.cpus()[0]?.model ?? 'unknown CPU';
}

export async function commandVersion(command: string | undefined): Promise<string> {
  if (!command) return 'not found';
  try {
    const { stdout } = await execFileAsync(command, ['--version'], { timeout: 10_000 });
    return stdout.trim().split('\n')[0] ?? 'unknown';
  } catch (error) {
    return `unknown (${error instanceof Error ? error.message : String(error)})`;
  }
}

export function describeMachine(machine: Machine, withPath = true): string {
  return (
    `${machine.cpu}, ${machine.cores} cores, ${fixed(machine.memoryGiB, 1)} GiB RAM, ${machine.os}, ` +
    `Node ${machine.node}, Temporal CLI ${machine.temporalCli}` +
    (withPath && machine.temporalCliPath ? ` at ${machine.temporalCliPath}` : '') +
    `, Temporal server ${machine.temporalServer}`
  );
}

// ---- load ----------------------------------------------------------------------------------------

export interface Load {
  /** 1, 5 and 15 minute load averages. */
  loadAverage: number[];
  /** Share of the last 60 s in which some runnable task waited for a CPU (Linux PSI), in percent. */
  cpuPressurePercent: number | null;
}

/** How busy the machine is: other processes on it make every figure of a benchmark worse. */
export async function machineLoad(): Promise<Load> {
  let cpuPressurePercent: number | null = null;
  try {
    const text = await readFile('/proc/pressure/cpu', 'utf8');
    const match = /^some .*avg60=([\d.]+)/m.exec(text);
    if (match) cpuPressurePercent = Number(match[1]);
  } catch {
    // no PSI on this kernel
  }
  return { loadAverage: os.loadavg().map((value) => round(value, 2)), cpuPressurePercent };
}

export function describeLoad(load: Load): string {
  return (
    `load average ${load.loadAverage.map((value) => fixed(value, 1)).join(' / ')}` +
    (load.cpuPressurePercent === null
      ? ''
      : `, CPU pressure (some, 60 s) ${fixed(load.cpuPressurePercent, 0)} %`)
  );
}

// ---- /proc ----------------------------------------------------------------------------------------

let clockTicks: number | undefined;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; undefined if unreadable. */
export async function processCpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; the fields after its closing parenthesis do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    clockTicks ??= await ticksPerSecond();
    return (utime + stime) / clockTicks;
  } catch {
    return undefined;
  }
}

async function ticksPerSecond(): Promise<number> {
  try {
    const { stdout } = await execFileAsync('getconf', ['CLK_TCK']);
    const value = Number(stdout.trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

// ---- ASCII charts ---------------------------------------------------------------------------------

export interface Bar {
  label: string;
  value: number;
  note?: string;
}

export function asciiBars(bars: Bar[], width = 40, unit = ''): string[] {
  const max = Math.max(...bars.map((bar) => bar.value), Number.MIN_VALUE);
  const labelWidth = Math.max(...bars.map((bar) => bar.label.length));
  return bars.map((bar) => {
    const length = Math.max(bar.value > 0 ? 1 : 0, Math.round((bar.value / max) * width));
    return `  ${bar.label.padEnd(labelWidth)} │${'█'.repeat(length)}${' '.repeat(width - length)} ${fixed(bar.value, 2)}${unit}${bar.note ? `  ${bar.note}` : ''}`;
  });
}

export interface Bin {
  from: number;
  to: number;
  count: number;
}

export function histogram(values: number[], binCount = 12): Bin[] {
  if (values.length === 0) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  const width = max > min ? (max - min) / binCount : 1;
  const bins: Bin[] = Array.from({ length: max > min ? binCount : 1 }, (_, index) => ({
    from: min + index * width,
    to: min + (index + 1) * width,
    count: 0,
  }));
  for (const value of values) {
    const index = Math.min(bins.length - 1, Math.floor((value - min) / width));
    bins[index]!.count += 1;
  }
  return bins;
}

export function asciiHistogram(bins: Bin[], width = 40, unit = 's', digits = 1): string[] {
  const max = Math.max(...bins.map((bin) => bin.count), 1);
  const labels = bins.map((bin) => `${fixed(bin.from, digits)}–${fixed(bin.to, digits)} ${unit}`);
  const labelWidth = Math.max(...labels.map((label) => label.length));
  return bins.map((bin, index) => {
    const length = Math.max(bin.count > 0 ? 1 : 0, Math.round((bin.count / max) * width));
    return `  ${labels[index]!.padStart(labelWidth)} │${'█'.repeat(length)} ${bin.count}`;
  });
}

// ---- SVG ------------------------------------------------------------------------------------------

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

interface Panel {
  height: number;
  render(top: number, width: number): string;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, sans-serif"';
const COLORS = ['#2563eb', '#9ca3af', '#f59e0b', '#10b981', '#8b5cf6', '#ef4444'];

export function svgBarPanel(title: string, bars: Bar[], unit: string): Panel {
  const rowHeight = 26;
  return {
    height: 40 + bars.length * rowHeight + 10,
    render(top, width) {
      const labelWidth = 250;
      const plotWidth = width - labelWidth - 190;
      const max = Math.max(...bars.map((bar) => bar.value), Number.MIN_VALUE);
      const rows = bars.map((bar, index) => {
        const y = top + 36 + index * rowHeight;
        const length = Math.max(1, (bar.value / max) * plotWidth);
        return [
          `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end" font-size="12" ${FONT}>${escapeXml(bar.label)}</text>`,
          `<rect x="${labelWidth}" y="${y + 3}" width="${length.toFixed(1)}" height="${rowHeight - 8}" fill="${COLORS[index % COLORS.length]}" rx="2"/>`,
          `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${y + 15}" font-size="12" ${FONT}>${escapeXml(`${fixed(bar.value, 2)} ${unit}${bar.note ? `  ${bar.note}` : ''}`)}</text>`,
        ].join('');
      });
      return `<text x="16" y="${top + 22}" font-size="15" font-weight="600" ${FONT}>${escapeXml(title)}</text>${rows.join('')}`;
    },
  };
}

export function svgHistogramPanel(title: string, bins: Bin[], unit: string, digits = 1): Panel {
  const plotHeight = 180;
  return {
    height: 40 + plotHeight + 40,
    render(top, width) {
      const left = 60;
      const plotWidth = width - left - 30;
      const max = Math.max(...bins.map((bin) => bin.count), 1);
      const barWidth = plotWidth / Math.max(bins.length, 1);
      const base = top + 36 + plotHeight;
      const bars = bins.map((bin, index) => {
        const height = (bin.count / max) * plotHeight;
        const x = left + index * barWidth;
        return [
          `<rect x="${(x + 1).toFixed(1)}" y="${(base - height).toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${height.toFixed(1)}" fill="${COLORS[0]}"/>`,
          bin.count > 0
            ? `<text x="${(x + barWidth / 2).toFixed(1)}" y="${(base - height - 4).toFixed(1)}" text-anchor="middle" font-size="11" ${FONT}>${bin.count}</text>`
            : '',
          index % 2 === 0
            ? `<text x="${x.toFixed(1)}" y="${base + 16}" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(fixed(bin.from, digits))}</text>`
            : '',
        ].join('');
      });
      const last = bins.at(-1);
      const axis = [
        `<line x1="${left}" y1="${base}" x2="${left + plotWidth}" y2="${base}" stroke="#374151"/>`,
        last
          ? `<text x="${left + plotWidth}" y="${base + 16}" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(fixed(last.to, digits))}</text>`
          : '',
        `<text x="${left + plotWidth / 2}" y="${base + 34}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(unit)}</text>`,
        `<text x="${left - 10}" y="${top + 36 + plotHeight / 2}" text-anchor="middle" font-size="12" ${FONT} transform="rotate(-90 ${left - 30} ${top + 36 + plotHeight / 2})">releases</text>`,
      ];
      return `<text x="16" y="${top + 22}" font-size="15" font-weight="600" ${FONT}>${escapeXml(title)}</text>${bars.join('')}${axis.join('')}`;
    },
  };
}

export interface Series {
  label: string;
  points: [number, number][];
  unit: string;
}

/** Two series over the same x axis (time), each scaled to its own maximum, labelled at the end. */
export function svgLinePanel(title: string, xUnit: string, series: Series[]): Panel {
  const plotHeight = 160;
  return {
    height: 40 + plotHeight + 40,
    render(top, width) {
      const left = 60;
      const plotWidth = width - left - 250;
      const base = top + 36 + plotHeight;
      const maxX = Math.max(...series.flatMap((entry) => entry.points.map(([x]) => x)), Number.MIN_VALUE);
      const lines = series.map((entry, index) => {
        const maxY = Math.max(...entry.points.map(([, y]) => y), Number.MIN_VALUE);
        const path = entry.points
          .map(
            ([x, y], pointIndex) =>
              `${pointIndex === 0 ? 'M' : 'L'}${(left + (x / maxX) * plotWidth).toFixed(1)},${(base - (y / maxY) * plotHeight).toFixed(1)}`,
          )
          .join(' ');
        const color = COLORS[(index * 2) % COLORS.length]!;
        return [
          `<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`,
          `<text x="${left + plotWidth + 10}" y="${top + 50 + index * 18}" font-size="12" fill="${color}" ${FONT}>${escapeXml(`${entry.label} (max ${fixed(maxY, 0)}${entry.unit ? ` ${entry.unit}` : ''})`)}</text>`,
        ].join('');
      });
      const axis = [
        `<line x1="${left}" y1="${base}" x2="${left + plotWidth}" y2="${base}" stroke="#374151"/>`,
        `<text x="${left}" y="${base + 16}" text-anchor="middle" font-size="11" ${FONT}>0</text>`,
        `<text x="${left + plotWidth}" y="${base + 16}" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(fixed(maxX, 1))}</text>`,
        `<text x="${left + plotWidth / 2}" y="${base + 34}" text-anchor="middle" font-size="12" ${FONT}>${escapeXml(xUnit)}</text>`,
      ];
      return `<text x="16" y="${top + 22}" font-size="15" font-weight="600" ${FONT}>${escapeXml(title)}</text>${lines.join('')}${axis.join('')}`;
    },
  };
}

export function svgDocument(title: string, subtitles: string[], panels: Panel[], width = 1000): string {
  let top = 44 + subtitles.length * 14 + 8;
  const parts: string[] = [];
  for (const panel of panels) {
    parts.push(panel.render(top, width));
    top += panel.height + 10;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top}" viewBox="0 0 ${width} ${top}">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="16" y="28" font-size="18" font-weight="700" ${FONT}>${escapeXml(title)}</text>`,
    ...subtitles.map(
      (line, index) =>
        `<text x="16" y="${48 + index * 14}" font-size="11" fill="#4b5563" ${FONT}>${escapeXml(line)}</text>`,
    ),
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
