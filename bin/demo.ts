/**
 * `npm run demo`: the whole loop, end to end, on the local stack.
 *
 *  1. six weeks of simulated traffic (seeded) → the loop decides every transaction with the
 *     bootstrap model;
 *  2. chargebacks and analyst outcomes arrive → the label join writes point-in-time training
 *     examples (and negatives once transactions mature);
 *  3. the trainer learns a new model from the training topic (features exactly as decided);
 *  4. two more weeks of traffic: the new model first rides along as shadow, then is promoted to
 *     champion — both through the model-releases topic, without stopping the loop;
 *  5. a report: decisions by type, fraud caught and missed (against the simulator's truth, which
 *     the loop never sees), false positives, latency, and the two models side by side.
 * Everything lives under a fresh topic prefix and state folder, deleted at the end (--keep keeps them).
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { Tokenizer } from '../processors/tokenizer.js';
import { buildCatalogue, type Catalogue } from '../schemas/catalogue.js';
import { createSerdes, type TopicSerdes } from '../schemas/createSerdes.js';
import type { Decision, TrainingExample } from '../schemas/types.js';
import { simulate, type SimulationResult, type TruthRecord } from '../simulator/index.js';
import { produceSimulation } from '../simulator/sinks/kafka.js';
import { kafkajsConnectionOptions } from '../topology/kafka/connection.js';
import { readAppConfig, type AppConfig } from './config.js';
import { ensureTopics } from './commands/topicsEnsure.js';
import type { CommandIo } from './commands/topics.js';
import { train } from './commands/train.js';
import { publishRelease, releaseFromCard } from './modelRelease.js';
import { Nodes } from '../processors/riskLoop.js';
import { buildRiskLoopApp } from './riskLoopApp.js';
import { createRegistryClient } from '../schemas/registryClient.js';

const { Kafka, logLevel } = kafkajs;
const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export interface DemoOptions {
  seed: number;
  customers: number;
  days: number;
  days2: number;
  fraudScale: number;
  keep: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Follows a topic from the beginning (read_committed) and keeps the decoded values. */
class Follower<T> {
  readonly values: T[] = [];
  private consumer: ReturnType<InstanceType<typeof Kafka>['consumer']>;
  lastArrival = Date.now();
  constructor(kafka: InstanceType<typeof Kafka>, private readonly topic: string, private readonly serde: { deserialize(b: Buffer): T; prefetch?(b: readonly Buffer[]): Promise<void> }) {
    this.consumer = kafka.consumer({ groupId: `demo-follow-${randomBytes(4).toString('hex')}`, maxWaitTimeInMs: 100 });
  }
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachBatch: async ({ batch }) => {
        const vals = batch.messages.map((m) => m.value!).filter(Boolean);
        await this.serde.prefetch?.(vals);
        for (const v of vals) this.values.push(this.serde.deserialize(v));
        this.lastArrival = Date.now();
      },
    });
  }
  async until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`demo: timed out waiting for ${what} (have ${this.values.length})`);
      await sleep(200);
    }
  }
  async quiet(ms: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() - this.lastArrival < ms && Date.now() < deadline) await sleep(200);
  }
  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

function pct(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** AUC by the rank-sum formula; null when one class is missing. */
function auc(scored: { score: number; fraud: boolean }[]): number | null {
  const pos = scored.filter((s) => s.fraud).length;
  const neg = scored.length - pos;
  if (pos === 0 || neg === 0) return null;
  const sorted = [...scored].sort((a, b) => a.score - b.score);
  let rankSum = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j]!.score === sorted[i]!.score) j++;
    const avgRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) if (sorted[k]!.fraud) rankSum += avgRank;
    i = j;
  }
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

interface Outcome {
  label: string;
  decisions: number;
  byType: Record<string, number>;
  fraud: number;
  caught: number;
  reviewed: number;
  missed: number;
  falsePositiveRate: number;
  latency: { p50: number; p95: number; p99: number; max: number };
  auc: Record<string, number | null>;
}

function outcome(label: string, decisions: Decision[], truth: Map<string, TruthRecord>): Outcome {
  const byType: Record<string, number> = { APPROVE: 0, REVIEW: 0, DECLINE: 0 };
  let fraud = 0;
  let caught = 0;
  let reviewed = 0;
  let missed = 0;
  let legit = 0;
  let flaggedLegit = 0;
  const scoredBy = new Map<string, { score: number; fraud: boolean }[]>();
  for (const d of decisions) {
    byType[d.decision] = (byType[d.decision] ?? 0) + 1;
    const t = truth.get(d.transactionId);
    const isFraud = t?.fraud ?? false;
    if (isFraud) {
      fraud++;
      if (d.decision === 'DECLINE') caught++;
      else if (d.decision === 'REVIEW') reviewed++;
      else missed++;
    } else {
      legit++;
      if (d.decision !== 'APPROVE') flaggedLegit++;
    }
    const scores: [string, number | null][] = [[d.modelVersion ?? 'none', d.score], ...d.shadowScores.map((s): [string, number] => [`${s.modelVersion} (shadow)`, s.score])];
    for (const [v, s] of scores) {
      if (s === null) continue;
      const list = scoredBy.get(v) ?? [];
      list.push({ score: s, fraud: isFraud });
      scoredBy.set(v, list);
    }
  }
  const lat = decisions.map((d) => d.pipelineLatencyMs);
  return {
    label,
    decisions: decisions.length,
    byType,
    fraud,
    caught,
    reviewed,
    missed,
    falsePositiveRate: legit ? flaggedLegit / legit : 0,
    latency: { p50: pct(lat, 0.5), p95: pct(lat, 0.95), p99: pct(lat, 0.99), max: pct(lat, 1) },
    auc: Object.fromEntries([...scoredBy].map(([v, list]) => [v, auc(list)])),
  };
}

function printOutcome(o: Outcome, io: CommandIo): void {
  const f = (x: number) => (x * 100).toFixed(2) + '%';
  io.out(`  ${o.label}`);
  io.out(`    decisions ${o.decisions}: APPROVE ${o.byType.APPROVE}, REVIEW ${o.byType.REVIEW}, DECLINE ${o.byType.DECLINE}`);
  io.out(`    fraud ${o.fraud}: declined ${o.caught}, sent to review ${o.reviewed}, missed (approved) ${o.missed}  → caught or reviewed ${o.fraud ? f((o.caught + o.reviewed) / o.fraud) : '-'}`);
  io.out(`    false-positive rate (legit reviewed or declined) ${f(o.falsePositiveRate)}`);
  io.out(`    pipeline latency ms (ingress→decision, in-process) p50 ${o.latency.p50} p95 ${o.latency.p95} p99 ${o.latency.p99} max ${o.latency.max}`);
  for (const [v, a] of Object.entries(o.auc)) io.out(`    AUC of ${v} on this traffic: ${a === null ? '-' : a.toFixed(3)}`);
}

export async function runDemo(opts: DemoOptions, io: CommandIo): Promise<number> {
  const started = Date.now();
  const step = (s: string) => io.out(`\n[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${s}`);
  let env = io.env;
  if (!env.KAFKA_BROKERS) {
    step('starting the local stack (Kafka + schema registry): npm run stack:up');
    execFileSync('bash', [path.join(ROOT, 'stack/stack.sh'), 'up'], { stdio: 'inherit', timeout: 300_000 });
    // The stack honours KAFKA_PORT / REGISTRY_PORT; connect to what it started.
    env = {
      ...env,
      KAFKA_BROKERS: `127.0.0.1:${env.KAFKA_PORT ?? 9092}`,
      SCHEMA_REGISTRY_URL: env.SCHEMA_REGISTRY_URL ?? `http://127.0.0.1:${env.REGISTRY_PORT ?? 8081}`,
    };
  }
  const id = `demo-${Date.now().toString(36)}`;
  const stateDir = path.join(os.tmpdir(), `riskloop-${id}`);
  // Fresh keys for this run only: a demo must never need (or leak) real tokenization secrets.
  const config: AppConfig = readAppConfig({
    ...env,
    RISKLOOP_APP_ID: id,
    RISKLOOP_TOPIC_PREFIX: `${id}.`,
    RISKLOOP_STATE_DIR: stateDir,
    RISKLOOP_GUARANTEE: 'exactly_once',
    RISKLOOP_ACCOUNT_TOKEN_KEY: randomBytes(32).toString('hex'),
    RISKLOOP_CARD_KEYS: JSON.stringify([{ id: 'demo-k1', key: randomBytes(32).toString('hex') }]),
    RISKLOOP_CARD_KEY_ID: 'demo-k1',
    // The demo tells the cold-start story: day one runs the synthetic seed model (no real labels
    // exist yet), and the loop's own outcomes train its successor. RISKLOOP_MODEL_CARD overrides.
    RISKLOOP_MODEL_CARD: env.RISKLOOP_MODEL_CARD ?? 'models/bootstrap-v1.card.json',
    LOG_LEVEL: 'error',
  });
  const logger = pino({ level: 'error' });
  // The champion the loop starts with (RISKLOOP_MODEL_CARD, default the committed bootstrap model).
  const championCard = JSON.parse(await readFile(path.resolve(ROOT, config.modelCard), 'utf8')) as { version: string; artifact: string };
  const champion = championCard.version;
  const championOnnx = path.resolve(path.dirname(path.resolve(ROOT, config.modelCard)), championCard.artifact);
  const catalogue: Catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  await ensureTopics(config, io, { keepHistory: true });
  const serdes: TopicSerdes = await createSerdes(createRegistryClient(config.registry), catalogue);
  const tokenizer = new Tokenizer(config.tokenizer);
  const kafka = new Kafka({ clientId: 'riskloop-demo', ...kafkajsConnectionOptions(config.kafka), logLevel: logLevel.NOTHING });
  const decisions = new Follower<Decision>(kafka, catalogue.decisions.name, serdes.decisions);
  const training = new Follower<TrainingExample>(kafka, catalogue.trainingExamples.name, serdes.trainingExamples);
  const sink = { brokers: config.brokers, connection: config.kafka, registryUrl: config.schemaRegistryUrl, registry: config.registry, catalogue, ratePerSecond: null, clientId: 'riskloop-demo' };
  const app = await buildRiskLoopApp(config, logger);
  let exit = 0;
  try {
    step(`simulating ${opts.days} days of traffic for ${opts.customers} customers (seed ${opts.seed})`);
    const sim1: SimulationResult = simulate({ seed: opts.seed, days: opts.days, customers: opts.customers, fraudScale: opts.fraudScale, start: '2026-01-05' }, { keyFor: (a) => tokenizer.accountToken(a) });
    const s1 = sim1.summary;
    io.out(`  ${s1.records.transactions} transactions, ${s1.fraud.transactions} fraudulent (${(s1.fraud.rate * 100).toFixed(2)}%), ${s1.records.chargebacks} chargebacks, ${s1.records.analystOutcomes} analyst outcomes`);

    step(`starting the loop (exactly_once, ${champion} as champion) and publishing the traffic`);
    await app.streams.start();
    await decisions.start();
    await training.start();
    await app.streams.waitForRunning(120_000);
    // Context first, then payments; labels only once their transactions are decided (they come
    // weeks later in life, and the live loop does not wait for a slower partition).
    await produceSimulation({ ...sim1.records, transactions: [], chargebacks: [], analystOutcomes: [] }, sink);
    await produceSimulation({ ...sim1.records, kyc: [], deviceSignals: [], chargebacks: [], analystOutcomes: [] }, sink);
    const truth = new Map(sim1.truth.map((t) => [t.transactionId, t]));
    const loopStart = Date.now();
    await decisions.until(() => decisions.values.length >= sim1.records.transactions.length, 600_000, 'decisions of phase 1');
    const loopSecs = (Date.now() - loopStart) / 1000;
    io.out(`  ${decisions.values.length} decisions in ${loopSecs.toFixed(1)} s (${Math.round(decisions.values.length / loopSecs)} tx/s, including the producer)`);
    const phase1 = outcome(`phase 1 — ${champion} decides`, decisions.values.slice(), truth);

    step('chargebacks and analyst outcomes arrive; the label join writes training examples');
    await produceSimulation({ ...sim1.records, kyc: [], deviceSignals: [], transactions: [] }, sink);
    // Done when the label join has taken in every label (the runtime's per-processor counters;
    // decisions reach their snapshots through another node), and the examples that caused have
    // arrived: a pause in the output alone is no proof, a busy loop can be quiet for seconds.
    const joinInputs = sim1.records.chargebacks.length + sim1.records.analystOutcomes.length;
    const joined = (): number => {
      app.streams.publishTaskMetrics();
      // A gauge per task (publishTaskMetrics copies the tasks' own counters): sum over tasks.
      return app.streams.metrics
        .snapshot()
        .filter((m) => m.name === 'riskloop_processor_records_in' && m.labels.processor === Nodes.labelJoin)
        .reduce((sum, m) => sum + m.value, 0);
    };
    const deadline = Date.now() + 300_000;
    while (joined() < joinInputs) {
      if (Date.now() > deadline) throw new Error(`demo: timed out waiting for the label join (${joined()} of ${joinInputs} inputs)`);
      await sleep(200);
    }
    await training.until(() => training.values.length > 0, 120_000, 'training examples');
    await training.quiet(2000, 60_000);
    const positives = training.values.filter((e) => e.label === 1).length;
    io.out(`  ${training.values.length} training examples (${positives} fraud, ${training.values.length - positives} legitimate; ${training.values.filter((e) => e.labelSource === 'MATURITY').length} negatives by maturity)`);

    step('training a new model from the training topic (LightGBM → ONNX)');
    const version = `demo-lgbm-${opts.seed}`;
    const modelsDir = path.join(stateDir, 'models');
    const code = await train(
      ['--from-topic', '--prefix', config.topicPrefix, '--brokers', config.brokers.join(','), '--schema-registry', config.schemaRegistryUrl, '--out-dir', modelsDir, '--version', version, '--parent', championOnnx],
      { ...io, out: (l) => io.out(`  | ${l}`) },
    );
    if (code !== 0) throw new Error(`training failed (exit ${code})`);
    const card = JSON.parse(await readFile(path.join(modelsDir, `${version}.card.json`), 'utf8')) as {
      metrics: { aucRoc: number; averagePrecision: number; precisionAtK: { mean: number; k: number } };
      parentMetrics?: { aucRoc?: number; averagePrecision?: number; precisionAtK?: { mean: number } };
    };

    step(`phase 2: ${opts.days2} more days of traffic; ${version} released as shadow, then promoted to champion`);
    const producer = await (await import('../topology/kafka/kafkajsClient.js')).createKafkajsClient({ connection: config.kafka, clientId: 'demo-release', logger }).producer();
    const cardPath = path.join(modelsDir, `${version}.card.json`);
    await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, await releaseFromCard(cardPath, 'shadow', { releasedBy: 'demo' }));
    for (let i = 0; i < 100 && !app.models.current().shadows.some((m) => m.version === version); i++) await sleep(100);
    const sim2 = simulate(
      { seed: opts.seed + 1, days: opts.days2, customers: opts.customers, fraudScale: opts.fraudScale, start: new Date(Date.UTC(2026, 0, 5) + opts.days * 86_400_000).toISOString().slice(0, 10), labelTailDays: 0 },
      { keyFor: (a) => tokenizer.accountToken(a) },
    );
    for (const t of sim2.truth) truth.set(t.transactionId, t);
    const half = Math.floor(sim2.records.transactions.length / 2);
    const before = decisions.values.length;
    await produceSimulation({ ...sim2.records, transactions: [], chargebacks: [], analystOutcomes: [] }, sink);
    await produceSimulation({ ...sim2.records, kyc: [], deviceSignals: [], chargebacks: [], analystOutcomes: [], transactions: sim2.records.transactions.slice(0, half) }, sink);
    await decisions.until(() => decisions.values.length >= before + half, 600_000, 'decisions of phase 2a');
    const phase2a = outcome(`phase 2a — ${champion} decides, ${version} in shadow`, decisions.values.slice(before), truth);
    await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, await releaseFromCard(cardPath, 'champion', { releasedBy: 'demo' }));
    for (let i = 0; i < 100 && app.models.current().champion?.version !== version; i++) await sleep(100);
    const mid = decisions.values.length;
    await produceSimulation({ ...sim2.records, kyc: [], deviceSignals: [], chargebacks: [], analystOutcomes: [], transactions: sim2.records.transactions.slice(half) }, sink);
    await decisions.until(() => decisions.values.length >= mid + (sim2.records.transactions.length - half), 600_000, 'decisions of phase 2b');
    const phase2b = outcome(`phase 2b — ${version} decides (champion)`, decisions.values.slice(mid), truth);
    await producer.disconnect();

    step('report');
    printOutcome(phase1, io);
    printOutcome(phase2a, io);
    printOutcome(phase2b, io);
    const pm = card.parentMetrics ?? {};
    const fmt = (x: number | undefined) => (x === undefined ? '   -  ' : x.toFixed(3).padStart(6));
    io.out('  models on the trainer\'s held-out test period (the latest week, after a label-delay gap):');
    io.out(`                         ${champion.padEnd(16)} ${version}`);
    io.out(`    AUC ROC                  ${fmt(pm.aucRoc)}        ${fmt(card.metrics.aucRoc)}`);
    io.out(`    average precision        ${fmt(pm.averagePrecision)}        ${fmt(card.metrics.averagePrecision)}`);
    io.out(`    precision@${card.metrics.precisionAtK.k} (mean/day)   ${fmt(pm.precisionAtK?.mean)}        ${fmt(card.metrics.precisionAtK.mean)}`);
    io.out(`\ndone in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  } catch (err) {
    io.err(`demo failed: ${(err as Error).message}`);
    exit = 1;
  } finally {
    await decisions.stop().catch(() => undefined);
    await training.stop().catch(() => undefined);
    await app.close().catch(() => undefined);
    if (opts.keep) {
      io.out(`kept: topics ${config.topicPrefix}*, state ${stateDir}. Remove with: bash stack/stack.sh reset (deletes all broker data) and rm -r ${stateDir}`);
    } else {
      const admin = kafka.admin();
      await admin.connect();
      const names = new Set(await admin.listTopics());
      const ours = [...names].filter((t) => t.startsWith(config.topicPrefix) || t.startsWith(`${id}-`));
      if (ours.length) await admin.deleteTopics({ topics: ours }).catch(() => undefined);
      await admin.disconnect();
      await rm(stateDir, { recursive: true, force: true });
      io.out(`cleaned up: ${ours.length} topics and ${stateDir} removed (the stack keeps running: npm run stack:down stops it).`);
    }
  }
  return exit;
}
