/**
 * `npm run demo`: the whole loop, end to end, on the local stack.
 *
 *  1. six weeks of simulated traffic (seeded) → the loop decides every transaction with the
 *     bootstrap model;
 *  2. chargebacks and analyst outcomes arrive → the label join writes point-in-time training
 *     examples (and negatives once transactions mature);
 *  3. the retraining service takes over (`riskloop retrain`, its own process, lifecycle/): nobody
 *     touches the models from here. It trains a candidate from the training topic up to a label
 *     cut-off, runs the evaluation gates of models/lifecycle-policy.json against the champion and
 *     releases the candidate as shadow when they pass;
 *  4. two more weeks of traffic: the service's rollout controller moves the candidate shadow →
 *     canary → champion as each stage's live checks hold (stage periods in seconds and decisions,
 *     for the demo's pace; the gates are the committed ones), or rolls it back when one fails —
 *     all through the model-releases topic, without stopping the loop;
 *  5. a report: decisions by type per stage, fraud caught and missed (against the simulator's
 *     truth, which the loop never sees), false positives, latency, which gates passed with which
 *     figures, each stage change and why (the model-lifecycle topic), and the models side by side.
 * Everything lives under a fresh topic prefix and state folder, deleted at the end (--keep keeps them).
 *
 * `--generator handbook` runs the same loop on traffic from the second, independently written
 * generator (generators/handbook/generate.py: the Fraud Detection Handbook's simulator with card
 * testing, card-present, chargebacks ~7 days after fraud) instead of simulator/: one continuous run
 * of days + days-after, split in time. This is the evaluation harness of docs/training.md
 * "Results": the trainer's per-fold figures (candidate vs logistic regression vs parent) are
 * printed and, with --report FILE, written as JSON with the in-stream outcomes.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { Tokenizer } from '../processors/tokenizer.js';
import { buildCatalogue, type Catalogue } from '../schemas/catalogue.js';
import { createSerdes, type TopicSerdes } from '../schemas/createSerdes.js';
import type { Decision, TrainingExample } from '../schemas/types.js';
import { simulate, type TruthRecord } from '../simulator/index.js';
import { SIMULATED_TOPICS, type SimulatedRecords } from '../simulator/simulate.js';
import { TOPIC_FILES, TRUTH_FILE } from '../simulator/sinks/files.js';
import { produceSimulation } from '../simulator/sinks/kafka.js';
import { kafkajsConnectionOptions } from '../topology/kafka/connection.js';
import { readAppConfig, type AppConfig } from './config.js';
import { ensureTopics } from './commands/topicsEnsure.js';
import type { CommandIo } from './commands/topics.js';
import { ensureVenv } from './commands/train.js';
import { modelsList } from './commands/models.js';
import { publishRelease, releaseFromCard } from './modelRelease.js';
import { foldLifecycle, lifecycleTopicName, readLifecycle, type LifecycleEvent } from '../lifecycle/events.js';
import { loadPolicy, parsePolicy, TrainerOptions, type LifecyclePolicy } from '../lifecycle/policy.js';
import { createKafkajsClient } from '../topology/kafka/kafkajsClient.js';
import { Nodes } from '../processors/riskLoop.js';
import { buildRiskLoopApp } from './riskLoopApp.js';
import { RetrainProcess } from './retrainProcess.js';
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
  /** Where the traffic comes from: simulator/ (`sim`) or generators/handbook (`handbook`). */
  generator?: 'sim' | 'handbook';
  /** Label join timing (bin/config.ts); default the environment's, else 60/0 — 14/0 for the handbook's 7-day chargebacks. */
  labelMaturityDays?: number;
  labelDelayDays?: number;
  /** Feature-set declaration (RISKLOOP_FEATURE_SET_FILE). */
  featureSet?: string;
  /** Model cards released as shadows before phase 1, so the report shows how they score the same traffic. */
  shadowCards?: string[];
  /** Extra training/train.py options (e.g. ['--folds', '4']). */
  trainerArgs?: string[];
  /** Write the outcomes and the trainer's per-fold figures here (JSON). */
  report?: string;
  /** Keep the candidate's training export in this folder (riskloop retrain --keep-exports). */
  keepExports?: string;
}

const DAY_MS = 86_400_000;
const START = '2026-01-05';
/** How long after its payment a generated label may be dated (the simulators' chargebacks come within ~90 days). */
const DEMO_LABEL_HORIZON_DAYS = 120;

/** Two phases of traffic: history the loop learns from (with its labels), then the weeks after it. */
interface Traffic {
  phase1: SimulatedRecords;
  phase2: SimulatedRecords;
  truth: TruthRecord[];
  describe: string;
  summary: unknown;
  /** Labels of the period are published merged in time with the payments (not after them). */
  liveLabels: boolean;
}

const emptyRecords = (): SimulatedRecords => Object.fromEntries(SIMULATED_TOPICS.map((t) => [t, []])) as unknown as SimulatedRecords;

/**
 * One simulation over days + days-after, split at the end of phase 1 as the handbook traffic is:
 * phase 1 gets its payments, KYC and device signals and every label of its payments; phase 2 the
 * rest of the same world (the same customers, cards and merchants, their windows carried on) and no
 * labels (they have not come yet when it is scored). Two separate simulations would hand phase 2's
 * payments to other customers under the same account ids, a population shift the rollout's PSI check
 * rightly rejects a candidate for (score PSI 0.47 in shadow in a demo run).
 */
function simulatorTraffic(opts: DemoOptions, keyFor: (accountId: string) => string): Traffic {
  const sim = simulate({ seed: opts.seed, days: opts.days + opts.days2, customers: opts.customers, fraudScale: opts.fraudScale, start: START }, { keyFor });
  const cut = Date.parse(START) + opts.days * DAY_MS;
  const r = sim.records;
  const phase1Ids = new Set(r.transactions.filter((t) => t.timestamp < cut).map((t) => t.value.transactionId));
  const phase1: SimulatedRecords = {
    kyc: r.kyc.filter((x) => x.timestamp < cut),
    deviceSignals: r.deviceSignals.filter((x) => x.timestamp < cut),
    transactions: r.transactions.filter((x) => x.timestamp < cut),
    chargebacks: r.chargebacks.filter((x) => phase1Ids.has(x.value.transactionId)),
    analystOutcomes: r.analystOutcomes.filter((x) => phase1Ids.has(x.value.transactionId)),
  };
  const phase2: SimulatedRecords = {
    ...emptyRecords(),
    kyc: r.kyc.filter((x) => x.timestamp >= cut),
    deviceSignals: r.deviceSignals.filter((x) => x.timestamp >= cut),
    transactions: r.transactions.filter((x) => x.timestamp >= cut),
  };
  const fraud1 = sim.truth.filter((t) => t.fraud && phase1Ids.has(t.transactionId)).length;
  return {
    phase1,
    phase2,
    truth: sim.truth,
    describe: `${phase1.transactions.length} transactions, ${fraud1} fraudulent (${((fraud1 / Math.max(1, phase1.transactions.length)) * 100).toFixed(2)}%), ${phase1.chargebacks.length} chargebacks, ${phase1.analystOutcomes.length} analyst outcomes; then ${phase2.transactions.length} more`,
    summary: sim.summary,
    // Chargebacks go out with the payments in event time, as in life: published only after the
    // history, every phase-1 snapshot had zero merchant fraud counts while phase 2 saw them, and
    // the rollout's PSI check rolled the candidate back on that shift (0.57 over 2592 scores).
    liveLabels: true,
  };
}

async function readJsonl<T>(file: string): Promise<T[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/**
 * The handbook generator (Python, the trainer's venv) over days + days-after as one run, split at
 * the end of phase 1: phase 1 gets its transactions and every label of them, phase 2 only its
 * transactions (their labels have not come yet when it is scored).
 */
async function handbookTraffic(opts: DemoOptions, accountTokenKey: string, dir: string, io: CommandIo): Promise<Traffic> {
  const python = await ensureVenv({ ...io, out: () => undefined });
  execFileSync(
    python,
    [path.join(ROOT, 'generators/handbook/generate.py'), '--out-dir', dir, '--seed', String(opts.seed), '--customers', String(opts.customers), '--days', String(opts.days + opts.days2), '--fraud-scale', String(opts.fraudScale), '--start', START],
    // The key goes by the environment, never the command line (ps).
    { env: { ...process.env, RISKLOOP_ACCOUNT_TOKEN_KEY: accountTokenKey }, stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 },
  );
  const all = emptyRecords() as unknown as Record<string, { key: string; timestamp: number; value: Record<string, unknown> }[]>;
  for (const topic of SIMULATED_TOPICS) all[topic] = await readJsonl(path.join(dir, TOPIC_FILES[topic]));
  const records = all as unknown as SimulatedRecords;
  const cut = Date.parse(START) + opts.days * DAY_MS;
  const phase1Ids = new Set(records.transactions.filter((r) => r.timestamp < cut).map((r) => r.value.transactionId));
  const phase1: SimulatedRecords = {
    ...records,
    transactions: records.transactions.filter((r) => r.timestamp < cut),
    chargebacks: records.chargebacks.filter((r) => phase1Ids.has(r.value.transactionId)),
  };
  const phase2: SimulatedRecords = { ...emptyRecords(), transactions: records.transactions.filter((r) => r.timestamp >= cut) };
  const truth = await readJsonl<TruthRecord>(path.join(dir, TRUTH_FILE));
  const fraud1 = truth.filter((t) => t.fraud && phase1Ids.has(t.transactionId)).length;
  const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as { fraud: { perPattern: Record<string, number> } };
  return {
    phase1,
    phase2,
    truth,
    liveLabels: true,
    describe: `${phase1.transactions.length} transactions, ${fraud1} fraudulent (${((fraud1 / phase1.transactions.length) * 100).toFixed(2)}%), ${phase1.chargebacks.length} chargebacks (whole run by pattern: ${JSON.stringify(summary.fraud.perPattern)}); then ${phase2.transactions.length} more`,
    summary,
  };
}

interface FoldModelMetrics {
  aucRoc?: number;
  averagePrecision?: number;
  precisionAtK?: { mean?: number };
}
interface CardFold {
  fold: number;
  testFrom?: string;
  testRows?: number;
  testFraud?: number;
  candidate?: FoldModelMetrics;
  baseline?: FoldModelMetrics;
  parent?: FoldModelMetrics;
}

/** The trainer's per-fold table (card key `folds`): candidate vs the logistic-regression baseline vs the parent. */
function printFolds(folds: CardFold[], io: CommandIo): void {
  const f3 = (x: number | undefined) => (x === undefined ? '    - ' : x.toFixed(3).padStart(6));
  io.out('  prequential folds (trainer; test week after a label-delay gap):        AP: cand    LR   parent | AUC: cand    LR   parent | P@100: cand    LR   parent');
  for (const f of folds) {
    const m = (k: 'candidate' | 'baseline' | 'parent', pick: (x: FoldModelMetrics) => number | undefined) => f3(f[k] ? pick(f[k]) : undefined);
    const ap = (x: FoldModelMetrics) => x.averagePrecision;
    const auc = (x: FoldModelMetrics) => x.aucRoc;
    const p = (x: FoldModelMetrics) => x.precisionAtK?.mean;
    io.out(
      `    fold ${f.fold} ${(f.testFrom ?? '').slice(0, 10)} (${f.testRows ?? '?'} rows, ${f.testFraud ?? '?'} fraud)`.padEnd(68) +
        `${m('candidate', ap)} ${m('baseline', ap)} ${m('parent', ap)} |     ${m('candidate', auc)} ${m('baseline', auc)} ${m('parent', auc)} |       ${m('candidate', p)} ${m('baseline', p)} ${m('parent', p)}`,
    );
  }
  const usable = folds.filter((f) => f.candidate?.averagePrecision !== undefined && f.baseline?.averagePrecision !== undefined);
  const wins = usable.filter((f) => f.candidate!.averagePrecision! > f.baseline!.averagePrecision!).length;
  io.out(`    the candidate beats the logistic regression on average precision in ${wins} of ${usable.length} folds`);
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

/** The demo's trainer options (`--trainer "--folds 4 --search-budget 3"`) as the policy's `retrain.trainer`. */
export function trainerOptionsFromArgs(args: readonly string[]): TrainerOptions {
  const raw: Record<string, number | string> = {};
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i]!;
    const value = args[i + 1];
    if (!flag.startsWith('--') || value === undefined) throw new Error(`--trainer: expected "--option value" pairs, got "${args.join(' ')}"`);
    // Numbers as numbers; words (--init lr, --refit off, --monotone amount) as they are.
    raw[flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
  }
  const parsed = TrainerOptions.safeParse(raw);
  if (!parsed.success) throw new Error(`--trainer: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'option'}: ${i.message}`).join('; ')} (options: ${Object.keys(TrainerOptions.shape).join(', ')})`);
  return parsed.data;
}

/**
 * The policy the demo's retraining service runs: the committed gates, and the pace of a demo where
 * weeks of event time pass in minutes: retrain once at start (no second candidate within the run),
 * stage periods in seconds and decisions, a lighter trainer search. Two gate limits are widened,
 * because the demo's champion is the synthetic bootstrap model whose thresholds were never fitted
 * to this traffic: a candidate fitted to the loop's labels moves the decline/review mix of small
 * segments by ~0.02 (0.01 and 0.02 in production, where the champion is a fitted model), and a
 * laptop running broker, loop and trainer at once scores slower than a production host (p99 50 ms).
 */
export function demoPolicy(base: LifecyclePolicy, trainerArgs: readonly string[] = [], decisionsPerWeek = 0): LifecyclePolicy {
  return parsePolicy(
    {
      ...base,
      version: `${base.version}+demo-pace`,
      retrain: { ...base.retrain, everySeconds: 3600, minNewLabels: 0, onDriftAlert: false, trainer: { ...base.retrain.trainer, folds: 2, searchBudget: 3, ...trainerOptionsFromArgs(trainerArgs) } },
      gates: { ...base.gates, maxScoreP99Micros: Math.max(base.gates.maxScoreP99Micros, 50_000), replay: { ...base.gates.replay, maxDeclineRateDelta: Math.max(base.gates.replay.maxDeclineRateDelta, 0.05), maxReviewRateDelta: Math.max(base.gates.replay.maxReviewRateDelta, 0.05) } },
      // Shadow for a week of the demo's traffic: the score PSI compares with the candidate's test week,
      // and a day or two against a week differs by weekday mix alone (PSI 0.265 over 2407 scores).
      // A grace of 2 s, not 10: here the release reaches the loop (one process, same machine) in well
      // under a second, while at a day of traffic a second 10 s of grace took most of a canary's
      // decisions out of its error-rate sample: canaries with 596 decisions ended the run unjudged.
      rollout: { ...base.rollout, shadow: { minSeconds: 5, minDecisions: Math.max(2000, Math.round(decisionsPerWeek)) }, canary: { share: 20, minSeconds: 5, minDecisions: 300 }, graceSeconds: 2 },
    },
    'the demo policy',
  );
}

const hhmmss = (iso: string): string => iso.slice(11, 19);
const figure = (v: unknown): string => (typeof v === 'number' ? String(+v.toPrecision(4)) : v === null || v === undefined ? 'n/a' : String(v));

/** The lifecycle of the demo's candidate as people read it: gates with figures, then every stage change and why. */
function printLifecycle(events: readonly LifecycleEvent[], io: CommandIo): void {
  for (const e of events) {
    const who = `${e.actor}${e.automatic ? '' : ' (a person)'}`;
    if (e.type === 'candidate') {
      const d = e.details;
      const cost = (d.cost ?? {}) as Record<string, number>;
      io.out(`    ${hhmmss(e.at)}  candidate ${e.version} by ${who}: ${e.reason}`);
      io.out(`              parent ${figure(d.parent)}, trained on ${String(d.trainingFrom).slice(0, 10)} .. ${String(d.trainingTo).slice(0, 10)}, label cut-off ${String(d.labelCutoff).slice(0, 10)}, ${figure(d.examples)} examples (${figure(d.positives)} fraud), feature set ${figure(d.featureSetVersion)}`);
      io.out(`              cost: ${((cost.wallMs ?? 0) / 1000).toFixed(1)} s wall, ${((cost.cpuMs ?? 0) / 1000).toFixed(1)} s CPU, ${figure(cost.examples)} examples, ${((cost.bytes ?? 0) / 1e6).toFixed(1)} MB exported`);
    } else if (e.type === 'gate') {
      const checks = (e.details.checks ?? []) as { name: string; passed: boolean; value: number | null; limit: number | null; detail: string }[];
      io.out(`    ${hhmmss(e.at)}  gates ${e.details.passed ? `PASSED (${checks.length} of ${checks.length})` : 'FAILED'} for ${e.version}: ${e.reason}`);
      for (const c of checks) io.out(`              ${c.passed ? 'pass' : 'FAIL'} ${c.name.padEnd(25)} ${figure(c.value).padStart(10)}  (limit ${figure(c.limit)})  ${c.detail}`);
      if (typeof e.details.reportPath === 'string') io.out(`              report ${e.details.reportPath}`);
    } else if (e.type === 'stage') {
      io.out(`    ${hhmmss(e.at)}  ${e.version}: ${figure(e.details.from)} → ${e.stage}${typeof e.details.share === 'number' ? ` (${e.details.share}% of cards)` : ''} by ${who}: ${e.reason}`);
    } else if (e.type === 'rollback') {
      io.out(`    ${hhmmss(e.at)}  ${e.version}: ROLLED BACK by ${who}, ${figure(e.details.restored)} decides again: ${e.reason}`);
    } else {
      io.out(`    ${hhmmss(e.at)}  ${e.version}: command ${figure(e.details.command)} by ${who}: ${e.reason}`);
    }
  }
}

/** Label join settings for the demo's loop: flags, else the environment, else 14 days maturity for the handbook's 7-day chargebacks. */
export function demoLabelEnv(opts: Pick<DemoOptions, 'generator' | 'labelMaturityDays' | 'labelDelayDays' | 'featureSet'>, env: CommandIo['env']): Record<string, string> {
  const out: Record<string, string> = {};
  const maturity = opts.labelMaturityDays ?? env.RISKLOOP_LABEL_MATURITY_DAYS ?? (opts.generator === 'handbook' ? 14 : undefined);
  if (maturity !== undefined) out.RISKLOOP_LABEL_MATURITY_DAYS = String(maturity);
  const delay = opts.labelDelayDays ?? env.RISKLOOP_LABEL_DELAY_DAYS;
  if (delay !== undefined) out.RISKLOOP_LABEL_DELAY_DAYS = String(delay);
  const featureSet = opts.featureSet ?? env.RISKLOOP_FEATURE_SET_FILE;
  if (featureSet !== undefined) out.RISKLOOP_FEATURE_SET_FILE = featureSet;
  return out;
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
    ...demoLabelEnv(opts, env),
  });
  const logger = pino({ level: 'error' });
  // The champion the loop starts with (RISKLOOP_MODEL_CARD, default the committed bootstrap model);
  // the retraining service compares its candidate with it. RISKLOOP_MODEL_CARD='' starts
  // rules-first (no champion): the comparison gates then have nothing to beat.
  const champion = config.modelCard ? (JSON.parse(await readFile(path.resolve(ROOT, config.modelCard), 'utf8')) as { version: string }).version : 'rules only';
  const catalogue: Catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  await ensureTopics(config, io, { keepHistory: true });
  const serdes: TopicSerdes = await createSerdes(createRegistryClient(config.registry), catalogue);
  const tokenizer = new Tokenizer(config.tokenizer);
  const kafka = new Kafka({ clientId: 'riskloop-demo', ...kafkajsConnectionOptions(config.kafka), logLevel: logLevel.NOTHING });
  const decisions = new Follower<Decision>(kafka, catalogue.decisions.name, serdes.decisions);
  const training = new Follower<TrainingExample>(kafka, catalogue.trainingExamples.name, serdes.trainingExamples);
  const sink = { brokers: config.brokers, connection: config.kafka, registryUrl: config.schemaRegistryUrl, registry: config.registry, catalogue, ratePerSecond: null, clientId: 'riskloop-demo' };
  // The demo compresses time: the labels of phase 1's history (chargebacks dated weeks after it,
  // which also mature its negatives) go out before phase 2, whose payments are earlier in event
  // time. With the default day of grace the velocity processor took all of phase 2 for late events
  // and trimmed their history (card.count_30d fell from 83.5 to 1.4 at the boundary, a population
  // the candidate never saw: score PSI up to 0.1 against its test week). A grace spanning the whole
  // demo keeps phase 2's windows whole, as they would be in life where labels come after payments.
  const graceMs = (opts.days + opts.days2 + DEMO_LABEL_HORIZON_DAYS) * DAY_MS;
  const app = await buildRiskLoopApp(config, logger, { loop: { velocity: { graceMs } } });
  const generator = opts.generator ?? 'sim';
  let exit = 0;
  // The retraining service's process, stopped whatever happens (a failed demo must not leave it running).
  let service: RetrainProcess | null = null;
  try {
    step(`${generator === 'sim' ? 'simulating' : 'generating (generators/handbook)'} ${opts.days} + ${opts.days2} days of traffic for ${opts.customers} customers (seed ${opts.seed})`);
    const traffic =
      generator === 'sim'
        ? simulatorTraffic(opts, (a) => tokenizer.accountToken(a))
        : await handbookTraffic(opts, config.tokenizer.accountTokenKey, path.join(stateDir, 'handbook'), io);
    const p1 = traffic.phase1;
    io.out(`  ${traffic.describe}`);
    io.out(`  label maturity ${config.labelMaturityDays} days, label delay ${config.labelDelayDays} days`);
    if (opts.shadowCards?.length) {
      const releaser = await (await import('../topology/kafka/kafkajsClient.js')).createKafkajsClient({ connection: config.kafka, clientId: 'demo-shadows', logger }).producer();
      for (const cardFile of opts.shadowCards) {
        const release = await releaseFromCard(path.resolve(cardFile), 'shadow', { releasedBy: 'demo' });
        await publishRelease(releaser, serdes.modelReleases, catalogue.modelReleases.name, release);
      }
      await releaser.disconnect();
    }

    step(`starting the loop (exactly_once, ${champion} as champion) and publishing the traffic`);
    await app.streams.start();
    await decisions.start();
    await training.start();
    await app.streams.waitForRunning(120_000);
    const shadowVersions = await Promise.all((opts.shadowCards ?? []).map(async (f) => (JSON.parse(await readFile(f, 'utf8')) as { version: string }).version));
    for (let i = 0; i < 100 && !shadowVersions.every((v) => app.models.current().shadows.some((m) => m.version === v)); i++) await sleep(100);
    // Context first, then payments; labels only once their transactions are decided (they come
    // weeks later in life, and the live loop does not wait for a slower partition).
    // With live labels (the handbook: chargebacks come >= 1 day after their transaction), the
    // chargebacks of the period go out merged with the payments in event time, as they would arrive
    // in life, so features built on known labels (merchant risk) see them; later ones after.
    const cut = Date.parse(START) + opts.days * DAY_MS;
    const live = traffic.liveLabels ? p1.chargebacks.filter((r) => r.timestamp < cut) : [];
    const later = { chargebacks: traffic.liveLabels ? p1.chargebacks.filter((r) => r.timestamp >= cut) : p1.chargebacks, analystOutcomes: p1.analystOutcomes };
    await produceSimulation({ ...p1, transactions: [], chargebacks: [], analystOutcomes: [] }, sink);
    // From the first payment sent: with live labels the producer waits for the loop day by day.
    const loopStart = Date.now();
    if (live.length === 0) {
      await produceSimulation({ ...p1, kyc: [], deviceSignals: [], chargebacks: [], analystOutcomes: [] }, sink);
    } else {
      // Day by day, and a chargeback only once the loop has decided its transaction: the producer
      // runs far ahead of the loop, and a label that overtakes its decision finds no snapshot.
      const decided = new Set<string>();
      let seen = 0;
      const isDecided = (id: string): boolean => {
        for (; seen < decisions.values.length; seen++) decided.add(decisions.values[seen]!.transactionId);
        return decided.has(id);
      };
      const dayOf = (t: number) => Math.floor(t / DAY_MS);
      const days = [...new Set([...p1.transactions, ...live].map((r) => dayOf(r.timestamp)))].sort((a, b) => a - b);
      for (const day of days) {
        const chargebacks = live.filter((r) => dayOf(r.timestamp) === day);
        await decisions.until(() => chargebacks.every((c) => isDecided(c.value.transactionId)), 900_000, `decisions before the chargebacks of day ${new Date(day * DAY_MS).toISOString().slice(0, 10)}`);
        await produceSimulation({ ...emptyRecords(), transactions: p1.transactions.filter((r) => dayOf(r.timestamp) === day), chargebacks }, sink);
      }
    }
    const truth = new Map(traffic.truth.map((t) => [t.transactionId, t]));
    await decisions.until(() => decisions.values.length >= p1.transactions.length, 900_000, 'decisions of phase 1');
    const loopSecs = (Date.now() - loopStart) / 1000;
    io.out(`  ${decisions.values.length} decisions in ${loopSecs.toFixed(1)} s (${Math.round(decisions.values.length / loopSecs)} tx/s, including the producer)`);
    const phase1 = outcome(`phase 1 — ${champion} decides`, decisions.values.slice(), truth);

    step('chargebacks and analyst outcomes arrive; the label join writes training examples');
    await produceSimulation({ ...p1, kyc: [], deviceSignals: [], transactions: [], ...later }, sink);
    // Done when the label join has taken in every label (the runtime's per-processor counters;
    // decisions reach their snapshots through another node), and the examples that caused have
    // arrived: a pause in the output alone is no proof, a busy loop can be quiet for seconds.
    const joinInputs = p1.chargebacks.length + p1.analystOutcomes.length;
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

    step('the retraining service takes over (riskloop retrain, its own process): from here nobody touches the models');
    const modelsDir = path.join(stateDir, 'models');
    await mkdir(modelsDir, { recursive: true });
    const policy = demoPolicy(await loadPolicy(path.join(ROOT, 'models/lifecycle-policy.json')), opts.trainerArgs ?? [], (traffic.phase2.transactions.length / Math.max(1, opts.days2)) * 7);
    const policyFile = path.join(stateDir, 'lifecycle-policy.json');
    await writeFile(policyFile, `${JSON.stringify(policy, null, 2)}\n`);
    const { shadow: sh, canary: ca } = policy.rollout;
    io.out(`  policy ${policy.version}: the gates of models/lifecycle-policy.json (replay mix deltas <= 0.05, scoring p99 <= 50 ms for a laptop and a synthetic champion); for the demo's pace shadow >= ${sh.minSeconds} s and ${sh.minDecisions} decisions, canary ${ca.share}% of cards >= ${ca.minSeconds} s and ${ca.minDecisions} decisions (error rate counted ${policy.rollout.graceSeconds} s after each stage change)`);
    const lifecycleTopic = lifecycleTopicName(config.topicPrefix);
    const client = createKafkajsClient({ connection: config.kafka, clientId: 'demo-lifecycle', logger });
    const lifecycleEvents = async (): Promise<LifecycleEvent[]> => readLifecycle(client, lifecycleTopic).catch(() => []);
    service = new RetrainProcess();
    // What the service needs of the demo's configuration; no tokenization keys (it never sees a PAN).
    const serviceEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...env,
      RISKLOOP_APP_ID: id,
      RISKLOOP_TOPIC_PREFIX: config.topicPrefix,
      RISKLOOP_MODEL_CARD: config.modelCard,
      RISKLOOP_LABEL_MATURITY_DAYS: String(config.labelMaturityDays),
      RISKLOOP_LABEL_DELAY_DAYS: String(config.labelDelayDays),
      LOG_LEVEL: 'error',
    };
    // A retrain that produced no candidate (too few examples, a trainer failure) says so on stdout
    // and writes no event: the demo then goes on without one instead of waiting.
    let noCandidate: string | null = null;
    const svc = service;
    const keep = opts.keepExports ? ['--keep-exports', path.resolve(opts.keepExports)] : [];
    svc.start(['--policy', policyFile, '--models-dir', modelsDir, '--check-seconds', '2', '--tick-seconds', '1', ...keep], serviceEnv, (l) => {
      io.out(`  | ${l}`);
      if (/^retrain \([a-z]+\) (skipped|of .* failed)/.test(l)) noCandidate = l;
    });
    let version: string | null = null;
    let stage: string | null = null;
    const stageOf = async (): Promise<string | null> => {
      const state = foldLifecycle(await lifecycleEvents());
      version ??= [...state.models.values()].find((m) => m.events.some((e) => e.type === 'candidate'))?.version ?? null;
      return version === null ? null : (state.models.get(version)?.stage ?? null);
    };
    const trainDeadline = Date.now() + 1_800_000;
    while (svc.running && Date.now() < trainDeadline && noCandidate === null) {
      stage = await stageOf();
      if (stage !== null && stage !== 'candidate') break;
      await sleep(1000);
    }
    if (!svc.running) throw new Error(`riskloop retrain exited: ${svc.stderr.slice(-2000)}`);
    io.out(`  candidate ${version ?? '(none)'}: ${stage ?? 'not trained yet'}`);

    step(`phase 2: ${opts.days2} more days of traffic, a day at a time; the service rolls ${version ?? 'the candidate'} out as its checks allow`);
    const p2 = traffic.phase2;
    await produceSimulation({ ...p2, transactions: [], chargebacks: [], analystOutcomes: [] }, sink);
    const dayOf = (t: number) => Math.floor(t / DAY_MS);
    const p2Days = [...new Set(p2.transactions.map((r) => dayOf(r.timestamp)))].sort((a, b) => a - b);
    // Decisions grouped by the candidate's stage when their day was sent: who decided what.
    const byStage = new Map<string, Decision[]>();
    for (const day of p2Days) {
      stage = await stageOf();
      const before = decisions.values.length;
      const txns = p2.transactions.filter((r) => dayOf(r.timestamp) === day);
      await produceSimulation({ ...emptyRecords(), transactions: txns }, sink);
      await decisions.until(() => decisions.values.length >= before + txns.length, 600_000, `decisions of ${new Date(day * DAY_MS).toISOString().slice(0, 10)}`);
      const key = stage ?? 'none';
      byStage.set(key, [...(byStage.get(key) ?? []), ...decisions.values.slice(before)]);
      // Wall time for the controller's stage periods (event time runs a day per second or two here).
      await sleep(1000);
    }
    const finalStage = await stageOf();
    await svc.stop();
    const deciders = (ds: Decision[]) => {
      const n = new Map<string, number>();
      for (const d of ds) n.set(d.modelVersion ?? 'rules', (n.get(d.modelVersion ?? 'rules') ?? 0) + 1);
      return [...n].map(([v, k]) => `${v} ${k}`).join(', ');
    };
    const phase2 = [...byStage].map(([st, ds]) => {
      const who =
        st === 'shadow' ? `${champion} decides, ${version} in shadow` :
        st === 'canary' ? `${champion} and ${version} (canary, ${policy.rollout.canary.share}% of cards) decide` :
        st === 'champion' ? `${version} decides (champion)` :
        st === 'none' ? `${champion} decides (no candidate${noCandidate ? `: ${String(noCandidate).replace(/^retrain \([a-z]+\) /, '')}` : ''})` :
        `${champion} decides (${version} ${st})`;
      return outcome(`phase 2, candidate ${st} — ${who}; decided by: ${deciders(ds)}`, ds, truth);
    });

    step('report');
    printOutcome(phase1, io);
    for (const o of phase2) printOutcome(o, io);
    const events = await lifecycleEvents();
    io.out(`  the retraining service's record (${lifecycleTopic}; each event also a privileged_audit row via the audit sink):`);
    printLifecycle(events, io);
    io.out(`  ${version ?? 'the candidate'} ended the run as: ${finalStage ?? 'not trained'}`);
    const cardFile = version === null ? null : path.join(modelsDir, `${version}.card.json`);
    const card = cardFile === null ? null : (JSON.parse(await readFile(cardFile, 'utf8').catch(() => 'null')) as {
      metrics: { aucRoc: number; averagePrecision: number; precisionAtK: { mean: number; k: number } };
      parentMetrics?: { aucRoc?: number; averagePrecision?: number; precisionAtK?: { mean: number } };
      folds?: CardFold[];
    } | null);
    if (card !== null) {
      const pm = card.parentMetrics ?? {};
      const fmt = (x: number | undefined) => (x === undefined ? '   -  ' : x.toFixed(3).padStart(6));
      io.out('  models on the trainer\'s held-out test period (the latest mature week):');
      io.out(`                         ${(champion === 'rules only' ? '-' : champion).padEnd(16)} ${version}`);
      io.out(`    AUC ROC                  ${fmt(pm.aucRoc)}        ${fmt(card.metrics.aucRoc)}`);
      io.out(`    average precision        ${fmt(pm.averagePrecision)}        ${fmt(card.metrics.averagePrecision)}`);
      io.out(`    precision@${card.metrics.precisionAtK.k} (mean/day)   ${fmt(pm.precisionAtK?.mean)}        ${fmt(card.metrics.precisionAtK.mean)}`);
      if (card.folds?.length) printFolds(card.folds, io);
    }
    io.out('  riskloop models:');
    await modelsList(['--models-dir', modelsDir], { ...io, out: (l) => io.out(`    ${l}`), env: { ...env, RISKLOOP_TOPIC_PREFIX: config.topicPrefix } });
    if (opts.report) {
      await mkdir(path.dirname(path.resolve(opts.report)), { recursive: true });
      const { shadowCards: _s, report: _r, ...options } = opts;
      await writeFile(
        opts.report,
        JSON.stringify({ generator, options, labelMaturityDays: config.labelMaturityDays, labelDelayDays: config.labelDelayDays, champion, candidate: version, candidateStage: finalStage, policy, generatorSummary: traffic.summary, phases: [phase1, ...phase2], lifecycle: events, card }, null, 2) + '\n',
      );
      io.out(`  report written to ${opts.report}`);
    }
    io.out(`\ndone in ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  } catch (err) {
    io.err(`demo failed: ${(err as Error).message}`);
    exit = 1;
  } finally {
    await service?.stop().catch(() => undefined);
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
