// Trains the sepsis-risk classifier on the synthetic cohort and saves it:
//   node dist/examples/model-server/train.js --out <dir> [--seed N] [--version v] [--epochs N]
// It prints the held-out metrics (and the generative model's own, the ceiling) and exits 0, or names
// the bad option and exits 2.
import { parseArgs } from 'node:util';
import { integerOption, isMain } from './cli.js';
import { DEFAULT_SEED, DEFAULT_VERSION, NAME_PATTERN } from './config.js';
import { saveSepsisModel, trainModel, TRAINING_DEFAULTS, type Evaluation } from './model.js';

const USAGE = 'usage: train.js --out <dir> [--seed N] [--version v] [--epochs N]';

async function main(): Promise<void> {
  let values: { out?: string; seed?: string; version?: string; epochs?: string; help?: boolean };
  let seed: number;
  let epochs: number;
  try {
    ({ values } = parseArgs({
      options: {
        out: { type: 'string' },
        seed: { type: 'string' },
        version: { type: 'string' },
        epochs: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return;
    }
    if (!values.out) throw new Error('--out <dir> is required');
    if (values.version !== undefined && !NAME_PATTERN.test(values.version)) {
      throw new Error(`--version must match ${String(NAME_PATTERN)}, not ${JSON.stringify(values.version)}`);
    }
    seed = integerOption('--seed', values.seed, DEFAULT_SEED, 0, 2 ** 31 - 1);
    epochs = integerOption('--epochs', values.epochs, TRAINING_DEFAULTS.epochs, 1, 1000);
  } catch (error) {
    process.stderr.write(`train: ${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const version = values.version ?? DEFAULT_VERSION;
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const { model, report } = await trainModel({ seed, version, epochs, log });
  try {
    await saveSepsisModel(model, values.out, report);
  } finally {
    model.dispose();
  }
  const line = (name: string, evaluation: Evaluation) =>
    `${name}: accuracy ${evaluation.accuracy.toFixed(3)}, AUC ${evaluation.auc.toFixed(3)}, ` +
    `Brier ${evaluation.brier.toFixed(3)}, ECE ${evaluation.ece.toFixed(3)}, ` +
    `sensitivity ${evaluation.sensitivity.toFixed(3)}, specificity ${evaluation.specificity.toFixed(3)}`;
  log(
    `trained ${report.model} ${report.version} (seed ${report.seed}) on ${report.data.trainRows} synthetic rows ` +
      `in ${report.trainingSeconds.toFixed(2)} s on the ${report.backend} backend; saved to ${values.out}`,
  );
  log(line(`held-out (${report.heldOut.rows} rows)`, report.heldOut));
  log(line('Bayes reference (the generative model itself)', report.bayesReference));
}

if (isMain(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `train failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  });
}
