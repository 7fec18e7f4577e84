/**
 * `riskloop train`: trains a candidate model from the training-examples topic (or an export of it)
 * with the Python trainer, training/train.py, in the project's virtualenv.
 *
 * The command makes sure the virtualenv is there (training/setup.sh: creates .venv/ on first use,
 * reinstalls only when training/requirements.txt changed), exports the topic to JSONL when asked
 * (--from-topic, see exportTraining.ts), runs the trainer and relays its output line by line. The
 * exit code is the trainer's. Model options are the trainer's own (`--help` lists them) and are
 * passed through unchanged: Python validates them, so there is one definition of each.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { z } from 'zod';
import { kafkaConnectionFromEnv } from '../kafkaConnection.js';
import { readTopicNaming } from '../config.js';
import { exportTrainingExamples } from './exportTraining.js';
import type { CommandIo } from './topics.js';
import { registryClientFromEnv } from '../../schemas/registryClient.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Options of training/train.py, passed through as `--name value` (or bare, for flags). */
const TRAINER_OPTIONS = {
  'out-dir': 'where the model and its cards go (default: <repo>/models)',
  version: 'model version (default: lgbm-<UTC YYYYMMDD-HHMMSS>)',
  parent: 'the model this one would replace, e.g. models/bootstrap-v1.onnx: scored on the same test rows',
  features: "'union' (every feature in the examples, sorted; default), 'parent', or a model card JSON",
  'test-days': 'days at the end that form the test period (default 7)',
  'gap-days': 'days between train and test left out for label delay (default 7)',
  'test-end': 'UTC date YYYY-MM-DD the test period ends before (default: after the latest event)',
  'top-k': 'k of precision@k per day (default 100)',
  'review-alert-rate': 'share of test transactions at or above the review threshold (default 0.02)',
  'decline-alert-rate': 'share at or above the decline threshold (default 0.005)',
  trees: 'most LightGBM trees per model; early stopping usually ends sooner (default 600)',
  leaves: 'leaves of the search\'s first (default) configuration (default 31)',
  'learning-rate': 'of the default configuration (default 0.05)',
  'min-child-samples': 'of the default configuration (default 50)',
  'search-budget': 'hyper-parameter configurations tried, the default first (default 10; 1 = no search)',
  folds: 'prequential weekly folds (default 4)',
  'fold-days': 'days per fold\'s test period (default 7)',
  'valid-days': 'last days of each train period for early stopping, the search and calibration (default 7)',
  seed: 'random seed (default 20261125)',
  threads: 'LightGBM threads (default 1)',
  init: "'none' (default): boosted trees alone; 'lr': boosted from the logistic regression written as trees (hybrid)",
  bag: 'boosters averaged per model: seeds seed, seed+1, ..., 80% row/feature subsampling (default 5; 1 with --init lr)',
  blend: "'off' (default) or 'valid': w * trees + (1 - w) * logistic regression, w chosen on the validation slice",
  'dump-predictions': 'write the test rows with the trainer\'s own predictions to this JSON file',
} as const;
const TRAINER_FLAGS = { overwrite: 'replace an existing model of the same version', 'allow-mixed-feature-sets': 'train on examples from more than one feature set' } as const;

const OPTIONS = {
  input: { type: 'string' },
  'from-topic': { type: 'boolean' },
  'export-to': { type: 'string' },
  'export-only': { type: 'boolean' },
  brokers: { type: 'string' },
  'schema-registry': { type: 'string' },
  prefix: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...(Object.fromEntries(Object.keys(TRAINER_OPTIONS).map((k) => [k, { type: 'string' }])) as { [K in keyof typeof TRAINER_OPTIONS]: { type: 'string' } }),
  ...(Object.fromEntries(Object.keys(TRAINER_FLAGS).map((k) => [k, { type: 'boolean' }])) as { [K in keyof typeof TRAINER_FLAGS]: { type: 'boolean' } }),
} as const;

const USAGE = [
  'usage: riskloop train (--input examples.jsonl | --from-topic) [options]',
  'Trains a LightGBM model on training examples (time-based split), writes <version>.onnx and its model card.',
  '',
  'input:',
  '  --input FILE              TrainingExample JSONL (e.g. an earlier --export-to)',
  '  --from-topic              export the training-examples topic first (from the beginning to its current end)',
  '  --export-to FILE          keep that export here (default: a temporary file, removed afterwards)',
  '  --export-only             export, then stop (needs --from-topic and --export-to)',
  '  --brokers host:port,...   Kafka brokers (default: $KAFKA_BROKERS or 127.0.0.1:9092)',
  '  --schema-registry URL     schema registry (default: $SCHEMA_REGISTRY_URL or http://127.0.0.1:8081)',
  '  --prefix P                topic name prefix (default: $RISKLOOP_TOPIC_PREFIX or riskloop.)',
  '',
  'trainer (training/train.py):',
  ...Object.entries({ ...TRAINER_OPTIONS, ...TRAINER_FLAGS }).map(([k, d]) => `  --${k.padEnd(22)}  ${d}`),
];

export const TrainConfig = z
  .object({
    input: z.string().min(1).optional(),
    fromTopic: z.boolean().default(false),
    exportTo: z.string().min(1).optional(),
    exportOnly: z.boolean().default(false),
    brokers: z
      .string()
      .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'broker must be host:port')).min(1)),
    schemaRegistryUrl: z.string().url(),
    prefix: z.string().optional(),
    /** Arguments for training/train.py other than --input. */
    trainerArgs: z.array(z.string()),
  })
  .refine((c) => (c.input !== undefined) !== c.fromTopic, { message: 'give exactly one of --input and --from-topic', path: ['input'] })
  .refine((c) => !c.exportOnly || (c.fromTopic && c.exportTo !== undefined), { message: '--export-only needs --from-topic and --export-to', path: ['exportOnly'] })
  .refine((c) => c.exportTo === undefined || c.fromTopic, { message: '--export-to needs --from-topic', path: ['exportTo'] });
export type TrainConfig = z.output<typeof TrainConfig>;

/** Parses the command line; 'help' when help was asked for. Throws ZodError or a parseArgs TypeError. */
export function parseTrainArgs(argv: string[], env: CommandIo['env']): TrainConfig | 'help' {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  const trainerArgs: string[] = [];
  for (const name of Object.keys(TRAINER_OPTIONS) as (keyof typeof TRAINER_OPTIONS)[]) {
    const value = values[name];
    if (value !== undefined) trainerArgs.push(`--${name}`, value);
  }
  for (const name of Object.keys(TRAINER_FLAGS) as (keyof typeof TRAINER_FLAGS)[]) {
    if (values[name]) trainerArgs.push(`--${name}`);
  }
  // A relative --out-dir means the caller's directory, like every other path; without one, the repo's models/.
  if (values['out-dir'] === undefined) trainerArgs.push('--out-dir', path.join(ROOT, 'models'));
  return TrainConfig.parse({
    input: values.input,
    fromTopic: values['from-topic'] ?? false,
    exportTo: values['export-to'],
    exportOnly: values['export-only'] ?? false,
    brokers: values.brokers ?? env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    schemaRegistryUrl: values['schema-registry'] ?? env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081',
    // RISKLOOP_TOPIC_PREFIX as every command reads it (bin/config.ts readTopicNaming).
    prefix: readTopicNaming(env, { topicPrefix: values.prefix }).topicPrefix,
    trainerArgs,
  });
}

/** Runs a program, relaying its stdout and stderr line by line; resolves to its exit code. */
function relay(command: string, args: string[], io: CommandIo): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const closed = [relayLines(createInterface({ input: child.stdout }), io.out), relayLines(createInterface({ input: child.stderr }), io.err)];
    child.on('error', reject);
    child.on('close', (code, signal) => {
      void Promise.all(closed).then(() => {
        if (signal) io.err(`riskloop train: ${path.basename(command)} ended by ${signal}`);
        resolve(code ?? 1);
      });
    });
  });
}

function relayLines(lines: ReturnType<typeof createInterface>, write: (line: string) => void): Promise<void> {
  lines.on('line', write);
  return new Promise((resolve) => lines.once('close', resolve));
}

/** Creates or refreshes .venv/ (quick when nothing changed); resolves to the venv's python. */
export async function ensureVenv(io: CommandIo): Promise<string> {
  const code = await relay('bash', [path.join(ROOT, 'training/setup.sh')], io);
  if (code !== 0) throw new Error(`training/setup.sh failed (exit ${code}); see above`);
  const python = path.join(ROOT, '.venv/bin/python');
  if (!existsSync(python)) throw new Error(`training/setup.sh succeeded but ${python} is missing`);
  return python;
}

function reportFailure(err: unknown, io: CommandIo): number {
  if (err instanceof z.ZodError) {
    for (const issue of err.issues) io.err(`riskloop train: ${issue.path.join('.') || 'option'}: ${issue.message}`);
    return 2;
  }
  if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
    io.err(`riskloop train: ${err.message}`);
    return 2;
  }
  io.err(`riskloop train: ${(err as Error).message}`);
  return 1;
}

export async function train(argv: string[], io: CommandIo): Promise<number> {
  let config: TrainConfig | 'help';
  try {
    config = parseTrainArgs(argv, io.env);
  } catch (err) {
    return reportFailure(err, io);
  }
  if (config === 'help') {
    USAGE.forEach((l) => io.out(l));
    return 0;
  }

  let scratch: string | undefined;
  try {
    let input = config.input!;
    if (config.fromTopic) {
      if (config.exportTo === undefined) scratch = await mkdtemp(path.join(os.tmpdir(), 'riskloop-train-'));
      input = config.exportTo ?? path.join(scratch!, 'training-examples.jsonl');
      const logger = pino({ level: 'warn', base: null }, { write: (line: string) => io.err(line.trimEnd()) });
      const exported = await exportTrainingExamples(
        { brokers: config.brokers, connection: kafkaConnectionFromEnv(io.env, config.brokers), schemaRegistryUrl: config.schemaRegistryUrl, registry: registryClientFromEnv(io.env, config.schemaRegistryUrl), catalogue: config.prefix === undefined ? undefined : { prefix: config.prefix }, out: input },
        logger,
      );
      io.out(`riskloop train: exported ${exported.examples} examples from ${exported.topic} (${exported.partitions} partitions) to ${config.exportTo ?? 'a temporary file'}`);
      if (config.exportOnly) return 0;
    }
    const python = await ensureVenv(io);
    return await relay(python, [path.join(ROOT, 'training/train.py'), '--input', input, ...config.trainerArgs], io);
  } catch (err) {
    return reportFailure(err, io);
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
