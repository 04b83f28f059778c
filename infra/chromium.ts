// Debian's Chromium for the browser test (the Temporal UI decrypting payloads): found on PATH or at
// /usr/bin/chromium, else installed with apt-get as root. A test tool's own browser download needs
// the internet, which these machines do not have.
import { findOnPath, isExecutableFile, silent, type Log } from './build-cache.js';
import { aptInstall } from './debian-package.js';

const SYSTEM_BINARY = '/usr/bin/chromium';

export async function ensureChromium(opts: { log?: Log } = {}): Promise<string> {
  const log = opts.log ?? silent;
  const explicit = process.env.MEDRELEASE_CHROMIUM;
  if (explicit) {
    if (!(await isExecutableFile(explicit)))
      throw new Error(`MEDRELEASE_CHROMIUM=${explicit} is not an executable file`);
    return explicit;
  }
  if (await isExecutableFile(SYSTEM_BINARY)) return SYSTEM_BINARY;
  const onPath = (await findOnPath('chromium')) ?? (await findOnPath('chromium-browser'));
  if (onPath) return onPath;
  const aptGet = await findOnPath('apt-get');
  if (!aptGet || process.getuid?.() !== 0) {
    throw new Error(
      `Chromium is not installed (looked at $MEDRELEASE_CHROMIUM, ${SYSTEM_BINARY} and PATH) and ${
        aptGet ? 'installing it needs root' : 'apt-get is not available'
      }. Install Debian's package with \`sudo apt-get install -y chromium\`, or point MEDRELEASE_CHROMIUM at a Chromium binary.`,
    );
  }
  await aptInstall(aptGet, 'chromium', log);
  if (!(await isExecutableFile(SYSTEM_BINARY)))
    throw new Error('apt-get installed chromium but /usr/bin/chromium is missing');
  return SYSTEM_BINARY;
}
