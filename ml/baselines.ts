// The baseline detectors NAB compares against, as streaming scorers with the same interface as the
// project's detector: the null detector (a constant score: NAB's score 0 by definition) and a
// windowed Gaussian (how far a value lies in the tail of the last `window` values, re-estimated every
// `step` samples).
import { normalSf } from './stats/mann-whitney.js';

export interface SeriesDetector {
  next(value: number): Promise<number> | number;
  dispose?(): void;
}

export class NullDetector implements SeriesDetector {
  next(): number {
    return 0.5;
  }
}

export class WindowedGaussianDetector implements SeriesDetector {
  private readonly window: number[] = [];
  private mean = 0;
  private deviation = 0;
  private seen = 0;

  constructor(
    private readonly size = 6400,
    private readonly step = 100,
  ) {}

  next(value: number): number {
    let score = 0;
    if (this.window.length > 0 && this.deviation > 0) {
      const distance = Math.abs(value - this.mean) / this.deviation;
      score = 1 - normalSf(distance);
    }
    this.window.push(value);
    if (this.window.length > this.size) this.window.shift();
    this.seen += 1;
    if (this.seen % this.step === 0 || this.window.length < this.step) this.estimate();
    return score;
  }

  private estimate(): void {
    let mean = 0;
    for (const entry of this.window) mean += entry;
    mean /= this.window.length;
    let variance = 0;
    for (const entry of this.window) variance += (entry - mean) ** 2;
    this.mean = mean;
    this.deviation = Math.sqrt(variance / this.window.length);
  }
}
