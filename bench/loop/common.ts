/**
 * What every loop benchmark shares: the bench configuration (zod, from the environment), machine
 * facts and the commit for the result files, the app config of one benchmark run (fresh ids and
 * fresh tokenization keys, so a bench never needs or leaks real secrets), and the simulated data
 * set pre-produced to a fresh topic prefix.
 */
import { execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import { z } from 'zod';
import { readAppConfig, type AppConfig } from '../../bin/config.js';
import { KAFKA_ENV, kafkaConnectionFromEnv } from '../../bin/kafkaConnection.js';
import { kafkajsConnectionOptions, type KafkaConnection } from '../../topology/kafka/connection.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue, type Catalogue } from '../../schemas/catalogue.js';
import { createSerdes, type TopicSerdes } from '../../schemas/createSerdes.js';
import { simulate, type SimulatedRecords } from '../../simulator/index.js';
import { produceSimulation } from '../../simulator/sinks/kafka.js';
import { createRegistryClient, REGISTRY_ENV, registryClientFromEnv, type RegistryClientSettings } from '../../schemas/registryClient.js';

// kafkajs is CommonJS: its named exports are not visible to Node's ESM loader.
export const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export const BenchEnv = z.object({
  brokers: z.string().transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean)),
  registryUrl: z.string().url(),
  partitions: z.coerce.number().int().min(1).default(6),
  resultsDir: z.string().default('bench/results'),
  stateRoot: z.string().default(path.join(os.tmpdir(), 'riskloop-bench')),
});
/** `kafka`: TLS/SASL from KAFKA_SECURITY_PROTOCOL etc.; `kafkaEnv`: those variables, handed on to the processes a bench starts. */
export type BenchEnv = z.output<typeof BenchEnv> & { kafka: KafkaConnection; kafkaEnv: Record<string, string>; registry: RegistryClientSettings };

export function benchEnv(env: Readonly<Record<string, string | undefined>>): BenchEnv {
  const kafkaEnv: Record<string, string> = {};
  for (const name of KAFKA_ENV) if (env[name] !== undefined && name !== 'KAFKA_BROKERS') kafkaEnv[name] = env[name]!;
  const parsed = BenchEnv.parse({
    brokers: env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    registryUrl: env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081',
    partitions: env.BENCH_PARTITIONS,
    resultsDir: env.BENCH_RESULTS_DIR,
    stateRoot: env.BENCH_STATE_ROOT,
  });
  // The registry's auth/CA variables go to the processes a bench starts, like the Kafka ones.
  for (const name of REGISTRY_ENV) if (env[name] !== undefined) kafkaEnv[name] = env[name]!;
  return { ...parsed, kafka: kafkaConnectionFromEnv(env, parsed.brokers), kafkaEnv, registry: registryClientFromEnv(env, parsed.registryUrl) };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    loadAverage1mAtStart: Number(os.loadavg()[0]!.toFixed(2)),
    note: 'the broker, the schema registry, the benchmark and other engineers\' test runs share these cores',
  };
}

export function commit(): string {
  try {
    const sha = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export interface BenchResult<C, R> {
  benchmark: string;
  date: string;
  commit: string;
  machine: ReturnType<typeof machine>;
  config: C;
  results: R;
}

export function writeResult<C, R>(env: BenchEnv, benchmark: string, config: C, results: R): BenchResult<C, R> {
  const out: BenchResult<C, R> = { benchmark, date: new Date().toISOString(), commit: commit(), machine: machine(), config, results };
  mkdirSync(env.resultsDir, { recursive: true });
  writeFileSync(path.join(env.resultsDir, `${benchmark}.json`), JSON.stringify(out, null, 2) + '\n');
  return out;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** One benchmark run's identity: topic prefix, application id, state dir and its own keys. */
export interface LoopRun {
  id: string;
  /** The environment a `riskloop run`-style process reads its AppConfig from. */
  appEnv: Record<string, string>;
  config: AppConfig;
  catalogue: Catalogue;
  tokenizer: Tokenizer;
}

export function loopRun(env: BenchEnv, name: string, guarantee: 'at_least_once' | 'exactly_once', commitIntervalMs?: number): LoopRun {
  const id = `bench-${name}-${Date.now().toString(36)}`;
  const appEnv: Record<string, string> = {
    KAFKA_BROKERS: env.brokers.join(','),
    ...env.kafkaEnv,
    SCHEMA_REGISTRY_URL: env.registryUrl,
    RISKLOOP_APP_ID: id,
    RISKLOOP_TOPIC_PREFIX: `${id}.`,
    RISKLOOP_PARTITIONS: String(env.partitions),
    RISKLOOP_GUARANTEE: guarantee,
    RISKLOOP_STATE_DIR: path.join(env.stateRoot, id),
    RISKLOOP_ACCOUNT_TOKEN_KEY: randomBytes(32).toString('hex'),
    RISKLOOP_CARD_KEYS: JSON.stringify([{ id: 'bench-k1', key: randomBytes(32).toString('hex') }]),
    RISKLOOP_CARD_KEY_ID: 'bench-k1',
    LOG_LEVEL: 'error',
  };
  if (commitIntervalMs !== undefined) appEnv.RISKLOOP_COMMIT_INTERVAL_MS = String(commitIntervalMs);
  const config = readAppConfig(appEnv);
  return { id, appEnv, config, catalogue: buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions }), tokenizer: new Tokenizer(config.tokenizer) };
}

export const SimulationShape = z.object({
  seed: z.number().int().default(11),
  customers: z.number().int().positive().default(4000),
  days: z.number().int().positive().default(14),
  start: z.string().default('2026-03-02'),
});
export type SimulationShape = z.input<typeof SimulationShape>;

export function simulateFor(run: LoopRun, shape: SimulationShape): SimulatedRecords {
  const s = SimulationShape.parse(shape);
  return simulate({ seed: s.seed, customers: s.customers, days: s.days, start: s.start }, { keyFor: (a) => run.tokenizer.accountToken(a) }).records;
}

const io = (env: BenchEnv) => ({ out: () => undefined, err: (l: string) => console.error(l), env: { KAFKA_BROKERS: env.brokers.join(','), ...env.kafkaEnv } });

export async function createLoopTopics(env: BenchEnv, run: LoopRun): Promise<TopicSerdes> {
  // keepHistory: simulated event times are weeks old and the raw topics' retention would delete them.
  // Retried: right after creation the broker can answer a describe with "does not host this
  // topic-partition" while leadership settles (seen under load on this machine); the call is idempotent.
  for (let attempt = 1; ; attempt++) {
    try {
      await ensureTopics(run.config, io(env), { keepHistory: true });
      break;
    } catch (err) {
      if (attempt >= 4) throw err;
      await sleep(2000 * attempt);
    }
  }
  await waitForLeaders(env, run.config.topicPrefix);
  return createSerdes(createRegistryClient(env.registry), run.catalogue);
}

/**
 * Waits until every partition of the run's topics answers ListOffsets at its leader. Created is not
 * ready: on this loaded machine (load 35-45) the first produce to a just-created topic was answered
 * 'not the leader for that topic-partition' past KafkaJS's retries and failed a smoke run; ListOffsets
 * needs the same leadership as a produce, and repeating it duplicates nothing.
 */
async function waitForLeaders(env: BenchEnv, topicPrefix: string, timeoutMs = 120_000): Promise<void> {
  const admin = kafkaClient(env, 'riskloop-bench-leaders').admin();
  const deadline = Date.now() + timeoutMs;
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
    for (const topic of topics) {
      for (;;) {
        try {
          await admin.fetchTopicOffsets(topic);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw new Error(`topic ${topic} has no leader answering after ${timeoutMs / 1000} s: ${(err as Error).message}`);
          await sleep(500);
        }
      }
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Which parts of a simulation go to the broker, in the order the demo uses: context, payments, labels. */
export async function produceParts(env: BenchEnv, run: LoopRun, records: SimulatedRecords, parts: ('context' | 'transactions' | 'labels')[]): Promise<void> {
  const none: SimulatedRecords = { kyc: [], deviceSignals: [], transactions: [], chargebacks: [], analystOutcomes: [] };
  const sink = { brokers: env.brokers, connection: env.kafka, registryUrl: env.registryUrl, registry: env.registry, catalogue: run.catalogue, ratePerSecond: null, clientId: 'riskloop-bench' };
  for (const part of parts) {
    if (part === 'context') await produceSimulation({ ...none, kyc: records.kyc, deviceSignals: records.deviceSignals }, sink);
    if (part === 'transactions') await produceSimulation({ ...none, transactions: records.transactions }, sink);
    if (part === 'labels') await produceSimulation({ ...none, chargebacks: records.chargebacks, analystOutcomes: records.analystOutcomes }, sink);
  }
}

/** Deletes a run's topics (prefix and internal `<appId>-` topics); best effort. */
export async function dropRun(env: BenchEnv, run: LoopRun): Promise<void> {
  const admin = new Kafka({ clientId: 'riskloop-bench-cleanup', ...kafkajsConnectionOptions(env.kafka), logLevel: logLevel.NOTHING }).admin();
  try {
    await admin.connect();
    const ours = (await admin.listTopics()).filter((t) => t.startsWith(run.config.topicPrefix) || t.startsWith(`${run.id}-`));
    if (ours.length) await admin.deleteTopics({ topics: ours });
  } catch (err) {
    console.error(`cleanup of ${run.id} failed: ${(err as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export function kafkaClient(env: BenchEnv, clientId: string): InstanceType<typeof Kafka> {
  return new Kafka({ clientId, ...kafkajsConnectionOptions(env.kafka), logLevel: logLevel.NOTHING, retry: { retries: 10 } });
}
