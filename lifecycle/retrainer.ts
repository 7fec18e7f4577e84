/**
 * The retrain step of the model lifecycle (issue 18): decides whether a retrain is due, exports the
 * training-examples topic up to a label cut-off, trains a candidate with the champion as parent
 * (training/train.py, unchanged), runs the offline gates (lifecycle/gates.ts), and records every
 * step on the model-lifecycle topic (lifecycle/events.ts): `candidate`, `gate`, and on a pass the
 * shadow release (bin/modelRelease.ts) followed by a `stage` event candidate → shadow. From shadow
 * on, the rollout controller (lifecycle/rollout.ts) owns the model.
 *
 * Triggers, checked in this order (policy `retrain`):
 *   drift    — a *_DRIFT_PSI alert on the alerts topic raised after the last candidate (onDriftAlert);
 *   labels   — at least minNewLabels training examples labelled after the last candidate's cut-off;
 *   schedule — everySeconds since the last candidate (or no candidate at all yet);
 *   manual   — asked for (`riskloop retrain --once --trigger manual`).
 * After an attempt that produced no candidate (too few examples, a trainer failure) no automatic
 * trigger fires again for min(everySeconds, 10 min): a broken input must not retrain in a tight loop.
 *
 * Label cut-off: the export reads every committed example up to the topic's end; the cut-off is the
 * latest labeledAt in it (the label clock). A transaction's label is final only once its maturity
 * has passed (bin/config.ts labelJoinTiming: maturity + the label-delay grace), so the trainer's
 * test period ends (--test-end) at the UTC midnight at or before cut-off − maturity − grace: the
 * candidate is judged only on rows whose negatives exist. Younger rows are not trained on either
 * (the trainer leaves rows after --test-end out).
 *
 * Cost of each retrain (candidate event `details.cost`, card `retrainCost`): wall time, CPU time of
 * this process (export, scan) plus the trainer's (its own rusage and its children's, reported by a
 * small Python wrapper around train.py at exit: CPU of a finished child is not visible from Node),
 * examples and bytes exported. The gates' own time is in the gate event (`gatesMs`).
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { labelJoinTiming, type ClientConfig } from '../bin/config.js';
import { exportTrainingExamples } from '../bin/commands/exportTraining.js';
import { publishRelease, releaseFromCard, releaseSize } from '../bin/modelRelease.js';
import { specFromModelCard } from '../processors/modelRegistry.js';
import { loadRuleSet } from '../processors/ruleSet.js';
import type { Catalogue } from '../schemas/catalogue.js';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import type { Decision, ModelRelease, Thresholds } from '../schemas/types.js';
import type { Admin, KafkaClient, Producer, TopicPartitionOffset } from '../topology/kafka/client.js';
import { readLifecycle, type LifecycleEvent, type LifecycleLog } from './events.js';
import { runGates, writeGateReport, type ChampionRef, type GateReport } from './gates.js';
import type { LifecyclePolicy, TrainerOptions } from './policy.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DAY_MS = 86_400_000;
/** Records read back from the end of each decisions partition to find the newest event time. */
const TAIL_RECORDS = 50;
const RETRY_CAP_MS = 10 * 60_000;

export type Trigger = 'schedule' | 'labels' | 'drift' | 'manual';

export interface Due {
  trigger: Trigger;
  reason: string;
}

export interface RetrainCost {
  wallMs: number;
  /** This process's CPU during the retrain plus the trainer's. */
  cpuMs: number;
  trainerCpuMs: number;
  serviceCpuMs: number;
  exportMs: number;
  trainMs: number;
  examples: number;
  bytes: number;
}

export type RetrainOutcome =
  | { kind: 'skipped'; trigger: Trigger; reason: string }
  | { kind: 'failed'; trigger: Trigger; version: string; reason: string }
  | { kind: 'rejected' | 'released'; trigger: Trigger; version: string; cardPath: string; report: GateReport; cost: RetrainCost };

export interface RetrainerDeps {
  config: ClientConfig;
  policy: LifecyclePolicy;
  client: KafkaClient;
  serdes: TopicSerdes;
  catalogue: Catalogue;
  lifecycle: LifecycleLog;
  /** Publishes the shadow release. */
  producer: Producer;
  logger: Logger;
  /** Where candidates (ONNX, card, gate report) are written; the rollout controller looks there too. */
  modelsDir: string;
  /** Who the events name; default `retrainer@<host>`. */
  actor?: string;
  clock?: () => number;
  /** The virtualenv's python (bin/commands/train.ts ensureVenv); resolved by the caller, once. */
  python: string;
  /** Version of the next candidate; default `lgbm-<UTC YYYYMMDD-HHMMSS>`. */
  versionFor?: (now: number) => string;
  /** Each line the trainer prints. */
  onTrainerLine?: (line: string) => void;
  /**
   * Where each candidate's training export is kept, as `<version>.training-examples.jsonl`: the
   * exact rows it learned from and was tested on (tokens, never PANs or account ids), for
   * re-running its training elsewhere. Without it the export goes with the work folder; its
   * sha256 is in the candidate event either way.
   */
  keepExportsDir?: string;
}

interface Champion extends ChampionRef {
  /** The ONNX the trainer scores as parent; a card with the version sits beside it. */
  onnxPath: string;
}

/** The trainer options of the policy as train.py flags. */
export function trainerArgs(options: TrainerOptions): string[] {
  const flags: [keyof TrainerOptions, string][] = [
    ['testDays', '--test-days'], ['gapDays', '--gap-days'], ['folds', '--folds'], ['foldDays', '--fold-days'], ['validDays', '--valid-days'],
    ['searchBudget', '--search-budget'], ['trees', '--trees'], ['reviewAlertRate', '--review-alert-rate'], ['declineAlertRate', '--decline-alert-rate'],
    ['seed', '--seed'], ['threads', '--threads'], ['init', '--init'], ['bag', '--bag'], ['refit', '--refit'], ['monotone', '--monotone'],
  ];
  return flags.flatMap(([key, flag]) => (options[key] === undefined ? [] : [flag, String(options[key])]));
}

/** The UTC date the test period must end before so that every test row is mature. */
export function testEndFor(labelCutoffMs: number, maxEventTimeMs: number, timing: { maturityMs: number; maturityGraceMs: number }): string {
  const matureUntil = labelCutoffMs - timing.maturityMs - timing.maturityGraceMs;
  const end = Math.min(Math.floor(matureUntil / DAY_MS) * DAY_MS, (Math.floor(maxEventTimeMs / DAY_MS) + 1) * DAY_MS);
  return new Date(end).toISOString().slice(0, 10);
}

export function defaultVersion(now: number): string {
  return `lgbm-${new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`;
}

const isDrift = (kind: string): boolean => /_DRIFT_PSI$/.test(kind);

/** Reads a topic's new records since the last call (from the beginning on the first), read_committed. */
class TopicTail {
  private readonly next = new Map<number, number>();

  constructor(
    private readonly client: KafkaClient,
    readonly topic: string,
  ) {}

  reset(): void {
    this.next.clear();
  }

  /**
   * Hands the non-null values of each fetched batch to `onValues`, in partition order. With
   * `since`, a first read starts at the offsets of that record timestamp instead of the beginning.
   */
  async read(onValues: (values: Buffer[]) => Promise<void> | void, opts: { since?: (admin: Admin, starts: Map<number, number>, ends: Map<number, number>) => Promise<Map<number, number> | null> } = {}): Promise<void> {
    const admin = await this.client.admin();
    let ends: Map<number, number>;
    let starts: Map<number, number>;
    try {
      if (!(await admin.partitionCounts([this.topic])).has(this.topic)) return;
      ends = await admin.endOffsets(this.topic);
      starts = await admin.beginningOffsets(this.topic);
      const since = opts.since ? await opts.since(admin, starts, ends) : null;
      if (since !== null) for (const [partition, offset] of since) starts.set(partition, Math.max(offset, starts.get(partition) ?? 0));
    } finally {
      await admin.disconnect();
    }
    const from: TopicPartitionOffset[] = [];
    for (const [partition, end] of ends) {
      const offset = Math.max(this.next.get(partition) ?? 0, starts.get(partition) ?? 0);
      if (offset < end) from.push({ topic: this.topic, partition, offset });
    }
    if (from.length === 0) return;
    const reader = this.client.partitionReader({ readCommitted: true });
    try {
      await reader.read(from, async (batch) => {
        const values: Buffer[] = [];
        for (const r of batch.records) {
          this.next.set(r.partition, Math.max(this.next.get(r.partition) ?? 0, r.offset + 1));
          if (r.value !== null) values.push(r.value);
        }
        if (values.length > 0) await onValues(values);
      });
    } finally {
      await reader.stop();
    }
    // The read resolved at the end offsets: a transaction marker last in a partition is passed too.
    for (const { partition } of from) this.next.set(partition, Math.max(this.next.get(partition) ?? 0, ends.get(partition)!));
  }
}

/**
 * The rows of the last `days` by event time on a topic the loop writes (decisions): only its tail
 * is read. The loop stamps each record with its transaction's event time, so the newest record
 * timestamp (from the last TAIL_RECORDS records of each partition) less the window and a day of
 * slack for records out of event-time order gives, by ListOffsets, where the window starts; a
 * 180-day topic is not read whole at every retrain. `read` counts the records decoded.
 */
export async function readRecentByEventTime<T extends { eventTime: number }>(client: KafkaClient, topic: string, days: number, decode: (values: Buffer[]) => Promise<T[]>): Promise<{ rows: T[]; read: number }> {
  let kept: T[] = [];
  let latest = Number.NEGATIVE_INFINITY;
  let read = 0;
  const since = async (admin: Admin, starts: Map<number, number>, ends: Map<number, number>): Promise<Map<number, number> | null> => {
    const newest = await newestTimestamp(client, topic, starts, ends);
    return newest === null ? null : admin.offsetsForTimes(topic, newest - (days + 1) * DAY_MS);
  };
  await new TopicTail(client, topic).read(async (values) => {
    read += values.length;
    for (const row of await decode(values)) {
      if (row.eventTime > latest) latest = row.eventTime;
      if (row.eventTime > latest - days * DAY_MS) kept.push(row);
    }
    // Keep memory to about the window: drop what the latest event time has left behind.
    if (kept.length > 200_000) kept = kept.filter((x) => x.eventTime > latest - days * DAY_MS);
  }, { since });
  return { rows: kept.filter((x) => x.eventTime > latest - days * DAY_MS), read };
}

/** The newest record timestamp among the last TAIL_RECORDS records of each partition (null for an empty topic). */
async function newestTimestamp(client: KafkaClient, topic: string, starts: Map<number, number>, ends: Map<number, number>): Promise<number | null> {
  const from: TopicPartitionOffset[] = [];
  for (const [partition, end] of ends) {
    const start = starts.get(partition) ?? 0;
    if (end > start) from.push({ topic, partition, offset: Math.max(start, end - TAIL_RECORDS) });
  }
  if (from.length === 0) return null;
  let newest: number | null = null;
  const reader = client.partitionReader({ readCommitted: true });
  try {
    await reader.read(from, (batch) => {
      for (const r of batch.records) if (r.value !== null) newest = Math.max(newest ?? r.timestamp, r.timestamp);
    });
  } finally {
    await reader.stop();
  }
  return newest;
}

/** The sha256 of a file, streamed (an export can be gigabytes). */
async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs train.py under a wrapper that reports its CPU time (own + children) at exit. */
const RUSAGE_WRAPPER = [
  'import json, os, resource, runpy, sys',
  'out, script = sys.argv[1], sys.argv[2]',
  'sys.argv = [script] + sys.argv[3:]',
  'sys.path.insert(0, os.path.dirname(os.path.abspath(script)))',
  'code = 0',
  'try:',
  '    runpy.run_path(script, run_name="__main__")',
  'except SystemExit as e:',
  '    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)',
  'finally:',
  '    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)',
  '    with open(out, "w") as f:',
  '        json.dump({"cpuSeconds": s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime, "maxRssKb": s.ru_maxrss}, f)',
  'sys.exit(code)',
].join('\n');

async function runTrainer(python: string, args: string[], rusagePath: string, onLine: (line: string) => void): Promise<{ code: number; cpuMs: number; tail: string[] }> {
  const tail: string[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(python, ['-c', RUSAGE_WRAPPER, rusagePath, path.join(ROOT, 'training/train.py'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const closed: Promise<void>[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      const lines = createInterface({ input: stream });
      lines.on('line', (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
        onLine(line);
      });
      closed.push(new Promise((r) => lines.once('close', () => r())));
    }
    child.on('error', reject);
    child.on('close', (exit, signal) => void Promise.all(closed).then(() => resolve(exit ?? (signal ? 1 : 1))));
  });
  let cpuMs = 0;
  try {
    cpuMs = Math.round((JSON.parse(await readFile(rusagePath, 'utf8')) as { cpuSeconds: number }).cpuSeconds * 1000);
  } catch {
    // Killed before the wrapper could write: the CPU it used is unknown, not zero; say so in the log.
    tail.push('(trainer CPU time unknown: the wrapper wrote no rusage)');
  }
  return { code, cpuMs, tail };
}

interface ExportScan {
  examples: number;
  positives: number;
  bytes: number;
  labelCutoffMs: number;
  minEventTime: number;
  maxEventTime: number;
}

async function scanExport(file: string): Promise<ExportScan> {
  const scan: ExportScan = { examples: 0, positives: 0, bytes: (await stat(file)).size, labelCutoffMs: Number.NEGATIVE_INFINITY, minEventTime: Number.POSITIVE_INFINITY, maxEventTime: Number.NEGATIVE_INFINITY };
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line === '') continue;
    const e = JSON.parse(line) as { label: number; labeledAt: number; eventTime: number };
    scan.examples++;
    if (e.label === 1) scan.positives++;
    if (e.labeledAt > scan.labelCutoffMs) scan.labelCutoffMs = e.labeledAt;
    if (e.eventTime < scan.minEventTime) scan.minEventTime = e.eventTime;
    if (e.eventTime > scan.maxEventTime) scan.maxEventTime = e.eventTime;
  }
  return scan;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class Retrainer {
  private readonly clock: () => number;
  readonly actor: string;
  private readonly alerts: TopicTail;
  private readonly examples: TopicTail;
  private labelCount = { cutoffMs: Number.NaN, count: 0 };
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  /** Thresholds of every version released so far (read with the champion), for the replay's recovery check. */
  private readonly releasedThresholds = new Map<string, Thresholds>();

  constructor(private readonly deps: RetrainerDeps) {
    this.clock = deps.clock ?? Date.now;
    this.actor = deps.actor ?? `retrainer@${os.hostname()}`;
    this.alerts = new TopicTail(deps.client, deps.catalogue.alerts.name);
    this.examples = new TopicTail(deps.client, deps.catalogue.trainingExamples.name);
  }

  /** The last candidate event in the history (its cut-off and time drive the triggers). */
  async lastCandidate(): Promise<LifecycleEvent | null> {
    const events = await readLifecycle(this.deps.client, this.deps.lifecycle.topic);
    return events.filter((e) => e.type === 'candidate').at(-1) ?? null;
  }

  /** Whether a retrain is due now, and why; null when not. */
  async due(): Promise<Due | null> {
    const { retrain } = this.deps.policy;
    const now = this.clock();
    const last = await this.lastCandidate();
    const lastAt = last === null ? Number.NEGATIVE_INFINITY : Date.parse(last.at);
    if (now - this.lastAttemptAt < Math.min(retrain.everySeconds * 1000, RETRY_CAP_MS)) return null;
    const since = Math.max(lastAt, this.lastAttemptAt);

    if (retrain.onDriftAlert) {
      let drift: { kind: string; subject: string; value: number; threshold: number } | null = null;
      const serde = this.deps.serdes.alerts;
      await this.alerts.read(async (values) => {
        await serde.prefetch(values);
        for (const value of values) {
          const alert = serde.deserialize(value);
          if (isDrift(alert.kind) && alert.raisedAt > since) drift = alert;
        }
      });
      const d = drift as { kind: string; subject: string; value: number; threshold: number } | null;
      if (d !== null) return { trigger: 'drift', reason: `${d.kind} on ${d.subject}: PSI ${d.value.toFixed(3)} > ${d.threshold}` };
    }

    if (retrain.minNewLabels > 0) {
      const cutoffMs = typeof last?.details.labelCutoff === 'string' ? Date.parse(last.details.labelCutoff) : Number.NEGATIVE_INFINITY;
      if (cutoffMs !== this.labelCount.cutoffMs) {
        // A new cut-off: count again from the beginning.
        this.examples.reset();
        this.labelCount = { cutoffMs, count: 0 };
      }
      const serde = this.deps.serdes.trainingExamples;
      await this.examples.read(async (values) => {
        await serde.prefetch(values);
        for (const value of values) if (serde.deserialize(value).labeledAt > cutoffMs) this.labelCount.count++;
      });
      if (this.labelCount.count >= retrain.minNewLabels) {
        return { trigger: 'labels', reason: `${this.labelCount.count} examples labelled after ${last === null ? 'the start' : `the cut-off ${String(last.details.labelCutoff)} of ${last.version}`} (>= ${retrain.minNewLabels})` };
      }
    }

    if (last === null) return { trigger: 'schedule', reason: 'no candidate trained yet' };
    if (now - lastAt >= retrain.everySeconds * 1000) return { trigger: 'schedule', reason: `${Math.round((now - lastAt) / 1000)} s since ${last.version} (every ${retrain.everySeconds} s)` };
    return null;
  }

  /** The model the running loops obey as champion: the model-releases topic, else the configured card. */
  async champion(workDir: string): Promise<Champion | null> {
    let current: ModelRelease | null = null;
    const serde = this.deps.serdes.modelReleases;
    await new TopicTail(this.deps.client, this.deps.catalogue.modelReleases.name).read(async (values) => {
      await serde.prefetch(values);
      for (const value of values) {
        const release = serde.deserialize(value);
        if (release.mode !== 'retired') this.releasedThresholds.set(release.version, release.thresholds);
        if (release.mode === 'champion') current = release;
        else if (current !== null && release.version === (current as ModelRelease).version) current = null; // demoted or retired
      }
    });
    const release = current as ModelRelease | null;
    if (release !== null) {
      const known = path.join(this.deps.modelsDir, `${release.version}.onnx`);
      let onnxPath: string;
      if (existsSync(known) && createHash('sha256').update(await readFile(known)).digest('hex') === release.sha256) onnxPath = known;
      else if (release.artifact !== null) {
        // The trainer takes the parent's version from a card beside the ONNX.
        onnxPath = path.join(workDir, 'champion', `${release.version}.onnx`);
        await mkdir(path.dirname(onnxPath), { recursive: true });
        await writeFile(onnxPath, release.artifact);
        await writeFile(path.join(workDir, 'champion', `${release.version}.card.json`), JSON.stringify({ version: release.version }));
      } else if (release.artifactPath !== null) onnxPath = release.artifactPath;
      else throw new Error(`champion release ${release.version} has neither artifact bytes nor a path`);
      return { version: release.version, thresholds: release.thresholds, onnxPath };
    }
    if (this.deps.config.modelCard) {
      const spec = await specFromModelCard(this.deps.config.modelCard);
      return { version: spec.version, thresholds: spec.thresholds, onnxPath: spec.artifactPath! };
    }
    return null;
  }

  /** Decisions of the last `days` (by event time) on the decisions topic, repeats left out. */
  async recentDecisions(days: number): Promise<Decision[]> {
    const serde = this.deps.serdes.decisions;
    const { rows } = await readRecentByEventTime(this.deps.client, this.deps.catalogue.decisions.name, days, async (values) => {
      await serde.prefetch(values);
      return values.map((v) => serde.deserialize(v)).filter((d) => d.duplicate !== true);
    });
    return rows;
  }

  private async record(input: Omit<Parameters<LifecycleLog['record']>[0], 'actor' | 'automatic' | 'policyVersion'>, trigger: Trigger): Promise<LifecycleEvent> {
    return this.deps.lifecycle.record({ ...input, actor: this.actor, automatic: trigger !== 'manual', policyVersion: this.deps.policy.version });
  }

  /** One retrain: export, train, gates, events, and the shadow release when the gates pass. */
  async retrain(due: Due, opts: { version?: string } = {}): Promise<RetrainOutcome> {
    const { deps } = this;
    const { policy, logger } = deps;
    const trigger = due.trigger;
    this.lastAttemptAt = this.clock();
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const work = await mkdtemp(path.join(os.tmpdir(), 'riskloop-retrain-'));
    try {
      await mkdir(deps.modelsDir, { recursive: true });
      let version = opts.version ?? (deps.versionFor ?? defaultVersion)(this.clock());
      for (let n = 2; existsSync(path.join(deps.modelsDir, `${version}.card.json`)); n++) version = `${opts.version ?? (deps.versionFor ?? defaultVersion)(this.clock())}-${n}`;
      logger.info({ trigger, reason: due.reason, version }, 'retrain started');

      // 1. Export up to the label cut-off.
      const exportPath = path.join(work, 'training-examples.jsonl');
      await exportTrainingExamples(
        { brokers: deps.config.brokers, connection: deps.config.kafka, schemaRegistryUrl: deps.config.schemaRegistryUrl, registry: deps.config.registry, catalogue: { prefix: deps.config.topicPrefix, partitions: deps.config.partitions }, out: exportPath },
        logger,
      );
      const scan = await scanExport(exportPath);
      const exportMs = performance.now() - started;
      if (scan.examples < policy.retrain.minExamples || scan.positives < policy.retrain.minPositives) {
        const reason = `${scan.examples} examples (${scan.positives} fraud) on ${deps.catalogue.trainingExamples.name}; the policy wants at least ${policy.retrain.minExamples} (${policy.retrain.minPositives} fraud)`;
        logger.warn({ trigger, reason }, 'retrain skipped');
        return { kind: 'skipped', trigger, reason };
      }
      const timing = labelJoinTiming(deps.config);
      const testEnd = testEndFor(scan.labelCutoffMs, scan.maxEventTime, timing);
      const exportSha256 = await sha256File(exportPath);
      let keptExport: string | null = null;
      if (deps.keepExportsDir) {
        await mkdir(deps.keepExportsDir, { recursive: true });
        keptExport = path.resolve(deps.keepExportsDir, `${version}.training-examples.jsonl`);
        await copyFile(exportPath, keptExport);
      }

      // 2. Train with the champion as parent, so the card scores both on the same test rows.
      const champion = await this.champion(work);
      const predictionsPath = path.join(work, `${version}.predictions.json`);
      const args = [
        '--input', exportPath, '--out-dir', deps.modelsDir, '--version', version, '--top-k', String(policy.gates.k), '--test-end', testEnd,
        '--dump-predictions', predictionsPath, ...(champion ? ['--parent', champion.onnxPath] : []), ...trainerArgs(policy.retrain.trainer),
      ];
      const trainStarted = performance.now();
      const trained = await runTrainer(deps.python, args, path.join(work, 'rusage.json'), deps.onTrainerLine ?? ((line) => logger.debug({ trainer: line })));
      const trainMs = performance.now() - trainStarted;
      if (trained.code !== 0) {
        const reason = `training/train.py exited ${trained.code}: ${trained.tail.slice(-3).join(' | ')}`;
        logger.error({ trigger, version, reason }, 'retrain failed');
        return { kind: 'failed', trigger, version, reason };
      }
      const cardPath = path.resolve(deps.modelsDir, `${version}.card.json`);
      const card = JSON.parse(await readFile(cardPath, 'utf8')) as Record<string, unknown> & {
        split: { trainFrom: string; trainTo: string; testFrom: string; testTo: string };
        feature_set_version?: string | null;
        artifact: string;
      };
      const cpu = process.cpuUsage(cpu0);
      const serviceCpuMs = Math.round((cpu.user + cpu.system) / 1000);
      const cost: RetrainCost = {
        wallMs: Math.round(performance.now() - started),
        cpuMs: serviceCpuMs + trained.cpuMs,
        trainerCpuMs: trained.cpuMs,
        serviceCpuMs,
        exportMs: Math.round(exportMs),
        trainMs: Math.round(trainMs),
        examples: scan.examples,
        bytes: scan.bytes,
      };
      card.retrainCost = cost;
      card.retrainTrigger = { trigger, reason: due.reason, labelCutoff: iso(scan.labelCutoffMs), testEnd };
      await writeFile(cardPath, `${JSON.stringify(card, null, 2)}\n`);
      await this.record(
        {
          version,
          type: 'candidate',
          stage: 'candidate',
          reason: `trained on ${trigger}: ${due.reason}`,
          details: {
            cardPath,
            onnxPath: path.resolve(deps.modelsDir, card.artifact),
            parent: champion?.version ?? null,
            featureSetVersion: card.feature_set_version ?? null,
            trainingFrom: card.split.trainFrom,
            trainingTo: card.split.trainTo,
            testFrom: card.split.testFrom,
            testTo: card.split.testTo,
            labelCutoff: iso(scan.labelCutoffMs),
            examples: scan.examples,
            positives: scan.positives,
            exportSha256,
            ...(keptExport ? { exportPath: keptExport } : {}),
            trigger,
            cost,
          },
        },
        trigger,
      );

      // 3. The gates.
      const gatesStarted = performance.now();
      const asReleased = await releaseFromCard(cardPath, 'shadow', { releasedBy: this.actor, now: this.clock() });
      const report = await runGates({
        release: await releaseSize(deps.client, deps.serdes.modelReleases, deps.catalogue.modelReleases.name, asReleased),
        cardPath,
        predictionsPath,
        champion: champion === null ? null : { version: champion.version, thresholds: champion.thresholds },
        knownThresholds: this.releasedThresholds,
        decisions: await this.recentDecisions(policy.gates.replay.days),
        ruleSet: await loadRuleSet(deps.config.rulesPath),
        policy,
        logger,
        now: this.clock,
      });
      const reportPath = await writeGateReport(cardPath, report);
      const gatesMs = Math.round(performance.now() - gatesStarted);
      const failed = report.checks.filter((c) => !c.passed);
      await this.record(
        {
          version,
          type: 'gate',
          stage: report.passed ? null : 'rejected',
          reason: report.passed
            ? `all ${report.checks.length} gates passed against ${report.champion ?? 'no champion (rules only)'}`
            : `stopped by ${failed.length} gate(s): ${failed.map((c) => `${c.name} ${c.value === null ? 'n/a' : +c.value.toFixed(4)} vs ${c.limit === null ? 'n/a' : c.limit}`).join('; ')}`,
          details: { passed: report.passed, reportPath, champion: report.champion, gatesMs, checks: report.checks },
        },
        trigger,
      );
      if (!report.passed) {
        logger.warn({ version, failed: report.failed }, 'candidate stopped by the gates');
        return { kind: 'rejected', trigger, version, cardPath, report, cost };
      }

      // 4. Shadow: the release first, the event second (an event never claims a release that did not go out).
      // The record the size gate judged (card and artifact read once), stamped at publish time.
      const release = { ...asReleased, releasedAt: this.clock() };
      await publishRelease(deps.producer, deps.serdes.modelReleases, deps.catalogue.modelReleases.name, release);
      await this.record({ version, type: 'stage', stage: 'shadow', reason: 'offline gates passed: released as shadow', details: { from: 'candidate', to: 'shadow' } }, trigger);
      logger.info({ version, cost }, 'candidate released as shadow');
      return { kind: 'released', trigger, version, cardPath, report, cost };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** One step for cron/Airflow: retrain when due (or when `force` names a trigger), else nothing. */
  async once(force?: Trigger, opts: { version?: string } = {}): Promise<RetrainOutcome | null> {
    const due = force !== undefined ? { trigger: force, reason: force === 'manual' ? 'asked for by a person' : `forced (${force})` } : await this.due();
    return due === null ? null : this.retrain(due, opts);
  }
}
