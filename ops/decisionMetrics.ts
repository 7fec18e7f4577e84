/**
 * Decision-level metrics and the dashboard's live view, from the topics the loop writes: a plain
 * consumer of decisions, dead letters and training examples inside the `run` process.
 *
 * Why a consumer and not a processor in the hot path: the topics are the loop's committed output,
 * so under exactly_once these counts are of decisions that really happened (an aborted
 * transaction's output is never read with read_committed), while a processor would count records
 * processed by attempts that were later aborted and retried. It also keeps the hot path free of
 * dashboard work. The consumer starts at the end of the topics (counters are per process, as
 * Prometheus expects; a restart is a counter reset) under a group of its own that never commits.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { DriftMeasurement } from '../processors/driftMonitor.js';
import type { Catalogue } from '../schemas/catalogue.js';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import { kafkajsConnectionOptions, type KafkaConnection } from '../topology/kafka/connection.js';
import { SupervisedConsumer } from './supervisedConsumer.js';
import type { Decision, DeadLetter, ReferenceHistogram, TrainingExample } from '../schemas/types.js';

const RECENT_DECLINES = 25;
/** Upper bounds of the score histogram (0.05 … 1): the live side of the score-vs-reference chart. */
export const SCORE_BUCKETS = Array.from({ length: 20 }, (_, i) => Math.round((i + 1) * 5) / 100);
/** Pipeline latency buckets (seconds); the latency SLO is added so `le` = SLO is a real series. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface DecisionMetricsOptions {
  /** Ingress-to-decision deadline the latency alert and charts compare p99 against (ms). */
  latencySloMs?: number;
  /** PSI above which the drift monitor alerts (the drift monitor's own threshold). */
  driftThreshold?: number;
  /** Reference histogram of the champion's score, by model version (model card, releases). */
  scoreReference?: (modelVersion: string) => ReferenceHistogram | undefined;
}

/**
 * Share of a reference histogram below each bound, assuming values spread evenly inside a
 * reference bin: maps the trainer's quantile bins onto the live histogram's fixed buckets.
 */
export function referenceCumulative(ref: ReferenceHistogram, bounds: readonly number[]): number[] {
  return bounds.map((b) => {
    let share = 0;
    for (let i = 0; i < ref.proportions.length; i++) {
      const lo = ref.edges[i]!;
      const hi = ref.edges[i + 1]!;
      const p = ref.proportions[i]!;
      if (b >= hi) share += p;
      else if (b > lo) share += (p * (b - lo)) / (hi - lo);
    }
    return Math.min(1, share);
  });
}
const LATENCY_SAMPLES = 5000;
const RATE_WINDOW_S = 60;

export interface DashboardSummary {
  at: number;
  decisionsPerSecond: { [outcome: string]: number };
  approvalRate: number | null;
  latencyMs: { p50: number; p95: number; p99: number } | null;
  totals: { decisions: number; byOutcome: { [outcome: string]: number }; deadLetters: number; chargebacks: number; fraudLabels: number; labels: number };
  chargebackRate: number | null;
  fraudRate: number | null;
  drift: DriftMeasurement[];
  models: { version: string; role: string }[];
  ruleSetVersions: string[];
  recentDeclines: { transactionId: string; eventTime: number; score: number | null; modelVersion: string | null; reasonCodes: string[] }[];
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/** Counts and live view; fed by `observe*` (the consumer, or a test directly). */
export class DecisionMetrics {
  readonly decisions: Counter<'outcome' | 'model_version' | 'rule_set_version'>;
  readonly repeated: Counter<'outcome'>;
  readonly reasons: Counter<'reason_code'>;
  readonly scores: Histogram<'model_version'>;
  readonly pipelineLatency: Histogram;
  readonly deadLetters: Counter<'reason' | 'source_topic'>;
  readonly labels: Counter<'label_source' | 'label'>;
  readonly drift: Gauge<'subject' | 'model_version'>;
  readonly driftAlerts: Counter<'subject' | 'model_version'>;
  readonly modelInfo: Gauge<'version' | 'role'>;
  readonly latencySlo: Gauge;
  readonly driftThreshold: Gauge;
  readonly driftHoursAbove: Gauge<'subject' | 'model_version'>;
  readonly scoreReference: Gauge<'model_version' | 'le'>;
  readonly latencySloSeconds: number;
  /** Finite bucket bounds of riskloop_decision_pipeline_latency_seconds. */
  readonly latencyBounds: readonly number[];
  readonly driftThresholdValue: number;
  /** Consecutive closed event-time hours above the threshold, per model version and subject. */
  private readonly hoursAbove = new Map<string, { windowStart: number; hours: number }>();
  /** Every measurement of the last 48 event-time hours, for the page's heat map. */
  private readonly driftHistory = new Map<string, DriftMeasurement>();

  private readonly perSecond = new Map<number, Map<string, number>>();
  private readonly latencies: number[] = [];
  private readonly byOutcome = new Map<string, number>();
  private readonly recent: DashboardSummary['recentDeclines'] = [];
  private readonly driftLatest = new Map<string, DriftMeasurement>();
  private readonly ruleSets = new Set<string>();
  private total = 0;
  private letters = 0;
  private chargebacks = 0;
  private fraud = 0;
  private labelCount = 0;

  constructor(
    registry: Registry,
    private readonly models: () => { version: string; role: string }[] = () => [],
    private readonly clock: () => number = Date.now,
    options: DecisionMetricsOptions = {},
  ) {
    const registers = [registry];
    this.latencySloSeconds = (options.latencySloMs ?? 300) / 1000;
    this.driftThresholdValue = options.driftThreshold ?? 0.2;
    const latencyBuckets = [...new Set([...LATENCY_BUCKETS, this.latencySloSeconds])].sort((a, b) => a - b);
    this.latencyBounds = latencyBuckets;
    this.decisions = new Counter({ name: 'riskloop_decisions_total', help: 'Decisions on the decisions topic, by outcome and versions.', labelNames: ['outcome', 'model_version', 'rule_set_version'], registers });
    this.repeated = new Counter({ name: 'riskloop_decisions_repeated_total', help: 'Stored decisions repeated for a transaction id received again (duplicate = true); not counted in riskloop_decisions_total or anywhere else.', labelNames: ['outcome'], registers });
    this.reasons = new Counter({ name: 'riskloop_decision_reason_codes_total', help: 'Reason codes on decisions.', labelNames: ['reason_code'], registers });
    this.scores = new Histogram({ name: 'riskloop_decision_score', help: 'Model score of decisions (0..1).', labelNames: ['model_version'], buckets: SCORE_BUCKETS, registers });
    this.pipelineLatency = new Histogram({ name: 'riskloop_decision_pipeline_latency_seconds', help: 'Ingress to decision, as recorded on the decision (pipelineLatencyMs).', buckets: latencyBuckets, registers });
    this.deadLetters = new Counter({ name: 'riskloop_dead_letters_total', help: 'Dead letters by reason and source topic.', labelNames: ['reason', 'source_topic'], registers });
    this.labels = new Counter({ name: 'riskloop_labels_total', help: 'Training examples (labels joined to decisions) by source and label.', labelNames: ['label_source', 'label'], registers });
    this.drift = new Gauge({ name: 'riskloop_drift_psi', help: 'PSI of the last closed event-time hour against the release reference.', labelNames: ['subject', 'model_version'], registers });
    this.driftAlerts = new Counter({ name: 'riskloop_drift_alerts_total', help: 'Drift alerts raised (PSI above threshold).', labelNames: ['subject', 'model_version'], registers });
    const self = this;
    this.modelInfo = new Gauge({
      name: 'riskloop_model_info',
      help: 'Model versions loaded in this process, by role (champion, canary, shadow); value 1.',
      labelNames: ['version', 'role'],
      registers,
      collect() {
        this.reset();
        for (const m of self.models()) this.set({ version: m.version, role: m.role }, 1);
      },
    });
    this.latencySlo = new Gauge({ name: 'riskloop_decision_latency_slo_seconds', help: 'The ingress-to-decision deadline (RISKLOOP_LATENCY_SLO_MS) that p99 latency is held against.', registers });
    this.latencySlo.set(this.latencySloSeconds);
    this.driftThreshold = new Gauge({ name: 'riskloop_drift_psi_threshold', help: 'PSI above which the drift monitor raises an alert.', registers });
    this.driftThreshold.set(this.driftThresholdValue);
    this.driftHoursAbove = new Gauge({
      name: 'riskloop_drift_hours_above_threshold',
      help: 'Consecutive closed event-time hours whose PSI was above the threshold (0 after an hour below it), by subject and model version.',
      labelNames: ['subject', 'model_version'],
      registers,
    });
    const reference = options.scoreReference;
    this.scoreReference = new Gauge({
      name: 'riskloop_score_reference_share',
      help: "Cumulative share of the champion's training scores at or below each bound of riskloop_decision_score (le), from its reference histogram (evenly spread inside a reference bin).",
      labelNames: ['model_version', 'le'],
      registers,
      collect() {
        this.reset();
        const champion = self.models().find((m) => m.role === 'champion');
        const ref = champion && reference?.(champion.version);
        if (!champion || !ref) return;
        referenceCumulative(ref, SCORE_BUCKETS).forEach((share, i) => this.set({ model_version: champion.version, le: String(SCORE_BUCKETS[i]) }, share));
      },
    });
  }

  observeDecision(d: Decision): void {
    // A repeat of a decision already counted (a retry of the transaction): counted apart, once.
    if (d.duplicate === true) {
      this.repeated.inc({ outcome: d.decision });
      return;
    }
    const mv = d.modelVersion ?? 'none';
    this.decisions.inc({ outcome: d.decision, model_version: mv, rule_set_version: d.ruleSetVersion });
    for (const r of d.reasonCodes) this.reasons.inc({ reason_code: r });
    if (d.score !== null) this.scores.observe({ model_version: mv }, d.score);
    this.pipelineLatency.observe(d.pipelineLatencyMs / 1000);
    this.total++;
    this.byOutcome.set(d.decision, (this.byOutcome.get(d.decision) ?? 0) + 1);
    this.ruleSets.add(d.ruleSetVersion);
    const sec = Math.floor(this.clock() / 1000);
    let bucket = this.perSecond.get(sec);
    if (!bucket) {
      this.perSecond.set(sec, (bucket = new Map()));
      for (const s of this.perSecond.keys()) if (s <= sec - RATE_WINDOW_S) this.perSecond.delete(s);
    }
    bucket.set(d.decision, (bucket.get(d.decision) ?? 0) + 1);
    this.latencies.push(d.pipelineLatencyMs);
    if (this.latencies.length > LATENCY_SAMPLES) this.latencies.splice(0, this.latencies.length - LATENCY_SAMPLES);
    if (d.decision === 'DECLINE') {
      this.recent.unshift({ transactionId: d.transactionId, eventTime: d.eventTime, score: d.score, modelVersion: d.modelVersion, reasonCodes: d.reasonCodes });
      this.recent.length = Math.min(this.recent.length, RECENT_DECLINES);
    }
  }

  observeDeadLetter(l: DeadLetter): void {
    this.deadLetters.inc({ reason: l.reason, source_topic: l.sourceTopic });
    this.letters++;
  }

  observeLabel(e: TrainingExample): void {
    this.labels.inc({ label_source: e.labelSource, label: String(e.label) });
    // A correction replaces an earlier example of the same transaction: not a new label.
    if (e.isCorrection) return;
    this.labelCount++;
    if (e.labelSource === 'CHARGEBACK') this.chargebacks++;
    if (e.label === 1) this.fraud++;
  }

  observeDrift(m: DriftMeasurement): void {
    this.drift.set({ subject: m.subject, model_version: m.modelVersion }, m.psi);
    if (m.alerted) this.driftAlerts.inc({ subject: m.subject, model_version: m.modelVersion });
    const key = `${m.modelVersion}|${m.subject}`;
    this.driftLatest.set(key, m);
    // Hours close in order per subject; a replayed or skipped hour restarts the run of hours.
    const run = this.hoursAbove.get(key);
    const above = m.psi > this.driftThresholdValue;
    const hours = !above ? 0 : run && run.windowStart === m.windowStart - (m.windowEnd - m.windowStart) ? run.hours + 1 : run && run.windowStart === m.windowStart ? run.hours : 1;
    this.hoursAbove.set(key, { windowStart: m.windowStart, hours });
    this.driftHoursAbove.set({ subject: m.subject, model_version: m.modelVersion }, hours);
    this.driftHistory.set(`${key}|${m.windowStart}`, m);
    const oldest = m.windowStart - 48 * (m.windowEnd - m.windowStart);
    for (const [k, h] of this.driftHistory) if (h.windowStart < oldest) this.driftHistory.delete(k);
  }

  /** Per score bucket, the reference's share (the chart's reference bars). */
  referenceShares(ref: ReferenceHistogram): number[] {
    const c = referenceCumulative(ref, SCORE_BUCKETS);
    return c.map((v, i) => v - (i === 0 ? 0 : c[i - 1]!));
  }

  /** PSI per subject and event-time hour (the last 48 hours seen), for the heat map. */
  driftHours(): DriftMeasurement[] {
    return [...this.driftHistory.values()].sort((a, b) => a.windowStart - b.windowStart || a.subject.localeCompare(b.subject));
  }

  /** Cumulative counts the page's in-memory time series sample (ops/timeSeries.ts). */
  counts(): { byOutcome: ReadonlyMap<string, number>; deadLetters: number; labels: number; fraud: number } {
    return { byOutcome: this.byOutcome, deadLetters: this.letters, labels: this.labelCount, fraud: this.fraud };
  }

  summary(): DashboardSummary {
    const now = Math.floor(this.clock() / 1000);
    const rates: { [k: string]: number } = {};
    // The last 10 full seconds: smooth enough to read, fresh enough to see a spike.
    for (const [s, m] of this.perSecond) {
      if (s >= now - 10 && s < now) for (const [o, n] of m) rates[o] = (rates[o] ?? 0) + n / 10;
    }
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const approvals = this.byOutcome.get('APPROVE') ?? 0;
    return {
      at: this.clock(),
      decisionsPerSecond: rates,
      approvalRate: this.total ? approvals / this.total : null,
      latencyMs: sorted.length ? { p50: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), p99: quantile(sorted, 0.99) } : null,
      totals: { decisions: this.total, byOutcome: Object.fromEntries(this.byOutcome), deadLetters: this.letters, chargebacks: this.chargebacks, fraudLabels: this.fraud, labels: this.labelCount },
      chargebackRate: this.total ? this.chargebacks / this.total : null,
      fraudRate: this.total ? this.fraud / this.total : null,
      drift: [...this.driftLatest.values()].sort((a, b) => b.psi - a.psi),
      models: this.models(),
      ruleSetVersions: [...this.ruleSets].sort(),
      recentDeclines: [...this.recent],
    };
  }
}

export interface OutputConsumerOptions {
  connection: KafkaConnection;
  clientId: string;
  catalogue: Catalogue;
  serdes: Pick<TopicSerdes, 'decisions' | 'deadLetters' | 'trainingExamples'>;
  logger: Logger;
  /** Called when the consumer stops for good (kafkajs gives up and will not restart it). */
  onFatal?: (err: Error) => void;
  /** How long the first start() waits for the group join before it fails; default 60 s. */
  joinTimeoutMs?: number;
}

/**
 * Reads the loop's output topics into DecisionMetrics. `start()` resolves once the group has joined.
 *
 * Supervised like the audit and review consumers (ops/supervisedConsumer.ts): when KafkaJS gives up
 * on an error that is transient all the same (a coordinator not found while the broker restarts),
 * a new consumer is started instead of ending the process for a metrics reader; only an error the
 * runtime classifies as fatal reaches `onFatal`. The group is its own per process and never
 * commits, so a restarted consumer starts at the end of the topics: what was written while it was
 * down is not counted (metrics, not the record: the audit trail reads every decision).
 */
export class OutputTopicsConsumer extends SupervisedConsumer {
  private readonly groupId: string;
  /** Only the first start waits for the join (start() promises it); a restart runs in the background. */
  private restarted = false;

  constructor(
    private readonly opts: OutputConsumerOptions,
    private readonly metrics: DecisionMetrics,
  ) {
    super('ops', opts.logger);
    this.groupId = `${opts.clientId}-ops-${randomUUID()}`;
    // SupervisedConsumer emits 'error' only for what nothing will fix; without a listener an
    // EventEmitter would throw it.
    this.on('error', (err: Error) => {
      if (opts.onFatal) opts.onFatal(err);
      else opts.logger.error({ err: err.message }, 'ops consumer stopped for good');
    });
  }

  protected createConsumer(): Consumer {
    const kafka = new Kafka({ clientId: this.opts.clientId, ...kafkajsConnectionOptions(this.opts.connection), logLevel: logLevel.NOTHING });
    return kafka.consumer({ groupId: this.groupId, readUncommitted: false });
  }

  protected async run(consumer: Consumer): Promise<void> {
    const { catalogue, serdes, logger } = this.opts;
    const timeoutMs = this.opts.joinTimeoutMs ?? 60_000;
    const waitForJoin = !this.restarted;
    this.restarted = true;
    const joined = new Promise<void>((resolve, reject) => {
      if (!waitForJoin) return resolve();
      const timer = setTimeout(() => reject(new Error(`ops consumer did not join within ${timeoutMs} ms`)), timeoutMs);
      consumer.on(consumer.events.GROUP_JOIN, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await consumer.subscribe({ topics: [catalogue.decisions.name, catalogue.deadLetters.name, catalogue.trainingExamples.name], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const values = batch.messages.map((m) => m.value).filter((v): v is Buffer => v !== null);
        try {
          if (batch.topic === catalogue.decisions.name) {
            await serdes.decisions.prefetch?.(values);
            for (const v of values) this.metrics.observeDecision(serdes.decisions.deserialize(v));
          } else if (batch.topic === catalogue.deadLetters.name) {
            await serdes.deadLetters.prefetch?.(values);
            for (const v of values) this.metrics.observeDeadLetter(serdes.deadLetters.deserialize(v));
          } else {
            await serdes.trainingExamples.prefetch?.(values);
            for (const v of values) this.metrics.observeLabel(serdes.trainingExamples.deserialize(v));
          }
        } catch (err) {
          // Metrics must never take the loop down; a bad record is logged (no payload) and skipped.
          logger.warn({ topic: batch.topic, partition: batch.partition, err: (err as Error).message }, 'ops consumer could not read a batch');
        }
      },
    });
    await joined;
    logger.info({ topics: [catalogue.decisions.name, catalogue.deadLetters.name, catalogue.trainingExamples.name] }, 'ops consumer joined');
  }
}
