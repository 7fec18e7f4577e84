/**
 * Live figures of a model version in a rollout stage, from what the running loop wrote: its
 * decisions (the decisions topic) and, as labels arrive, the training examples. The rollout
 * controller (lifecycle/rollout.ts) judges them against the policy's `rollout.checks`.
 *
 * What is counted, per watched version, over the decisions decided since its stage began:
 *  - shadow: every decision carrying its shadow score (Decision.shadowScores) is one of its
 *    observations, decided "as it would have": its score against its own thresholds;
 *  - canary / champion: every decision it made (Decision.modelVersion).
 * Decline and review rates are the model's own band (score ≥ decline threshold; review ≤ score <
 * decline), for every role: the rules are the same whichever model scores, so leaving them out
 * makes the shadow's figure predict the canary's. The actual decision mix of a deciding model is
 * reported beside it.
 *
 * Errors (the error rate is errors / expected):
 *  - shadow: a decision decided after the stage's grace period without its shadow score (a scoring
 *    failure, or the release refused or never applied by an instance);
 *  - canary: a decision after the grace period whose card the canary's hash routes to it
 *    (processors/scoring.ts canaryBucket) but that another version decided (release refused or not
 *    applied) or no model decided (MODEL_ERROR, or MODEL_UNAVAILABLE: no model installed there);
 *  - champion: decisions with MODEL_ERROR or MODEL_UNAVAILABLE and no model version, over its
 *    decisions plus those.
 * The grace period exists because a release takes a moment to reach every running instance.
 *
 * PSI is ops/psi.ts over its scores binned on the candidate's training reference (`__score__` of the
 * release's referenceDistributions, as the drift monitor uses). Latency is the p99 of
 * Decision.pipelineLatencyMs over its observations (the last LATENCY_SAMPLES). Precision: of the
 * decisions it flagged (its band REVIEW/DECLINE for a shadow; its REVIEW/DECLINE decisions for a
 * canary/champion), the labelled ones (training examples, a correction replacing the earlier
 * label), the share labelled fraud.
 */
import type { Logger } from 'pino';
import { binIndex, psi } from '../ops/psi.js';
import { SCORE_REFERENCE } from '../processors/driftMonitor.js';
import { canaryBucket, ScoringReasonCodes } from '../processors/scoring.js';
import type { Decision, DecisionAction, ReferenceHistogram, Thresholds, TrainingExample } from '../schemas/types.js';
import type { Catalogue } from '../schemas/catalogue.js';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import type { KafkaClient, PartitionReader, TopicPartitionOffset } from '../topology/kafka/client.js';
import type { LifecyclePolicy } from './policy.js';

export type LiveRole = 'shadow' | 'canary' | 'champion';

/** What the checks read of a decision (the follower keeps only this of recent ones: no feature snapshots in memory). */
export type DecisionView = Pick<Decision, 'transactionId' | 'cardToken' | 'decidedAt' | 'decision' | 'score' | 'modelVersion' | 'shadowScores' | 'reasonCodes' | 'pipelineLatencyMs'>;

export function viewOf(d: DecisionView): DecisionView {
  return {
    transactionId: d.transactionId,
    cardToken: d.cardToken,
    decidedAt: d.decidedAt,
    decision: d.decision,
    score: d.score,
    modelVersion: d.modelVersion,
    shadowScores: d.shadowScores,
    reasonCodes: d.reasonCodes,
    pipelineLatencyMs: d.pipelineLatencyMs,
  };
}

/** What to watch: one version in one stage. A new stage (role or since) starts a fresh window. */
export interface Watch {
  version: string;
  role: LiveRole;
  /** Stage start, epoch ms: decisions decided before it belong to an earlier stage. */
  sinceMs: number;
  thresholds: Thresholds;
  /** The score histogram of the candidate's training data; null when its card has none (PSI unknown). */
  scoreReference: ReferenceHistogram | null;
  /** Canary: the share of cards (0..1] its hash routes to it. */
  share?: number;
  /** After sinceMs, how long a release may take to reach every instance before a missing score is an error. */
  graceMs: number;
}

/** The last this many latencies per window make its p99 (bounded memory on a long stage). */
export const LATENCY_SAMPLES = 20_000;
/** Flagged decisions remembered per window for the label join; beyond it new flags are not followed. */
export const MAX_FLAGGED = 200_000;

export interface LiveFigures {
  version: string;
  role: LiveRole;
  sinceMs: number;
  /** Observations: decisions scored (shadow) or made (canary, champion) by it in this stage. */
  decisions: number;
  /** Band shares of its scores at its thresholds; null without observations. */
  declineRate: number | null;
  reviewRate: number | null;
  /** Actual decisions of a deciding model (all zero for a shadow). */
  decisionMix: Record<DecisionAction, number>;
  scorePsi: number | null;
  /** Bins of the score reference the PSI is over; null without a reference. */
  scoreBins: number | null;
  latencyP99Ms: number | null;
  expected: number;
  errors: number;
  errorRate: number | null;
  /** Flagged decisions with a label, and the share of them labelled fraud. */
  labelled: number;
  precision: number | null;
  lastDecidedAt: number | null;
}

const ACTIONS: readonly DecisionAction[] = ['APPROVE', 'REVIEW', 'DECLINE', 'CHALLENGE'];

/** The band a score falls in at a model's thresholds (decide.ts semantics without rules or challenge band). */
export function bandOf(score: number, t: Thresholds): 'DECLINE' | 'REVIEW' | null {
  if (score >= t.decline) return 'DECLINE';
  return score >= t.review ? 'REVIEW' : null;
}

/** Nearest-rank p99 (the value 99 % of the sample is at or below); null for an empty sample. */
export function p99(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(0.99 * sorted.length) - 1)]!;
}

/** One version's figures in one stage, folded record by record. */
export class LiveWindow {
  private observed = 0;
  private declines = 0;
  private reviews = 0;
  private readonly mix: Record<DecisionAction, number> = { APPROVE: 0, REVIEW: 0, DECLINE: 0, CHALLENGE: 0 };
  private readonly bins: number[] | null;
  private readonly latencies: number[] = [];
  private latencyNext = 0;
  private expected = 0;
  private errors = 0;
  private readonly flagged = new Set<string>();
  private readonly labels = new Map<string, 0 | 1>();
  private lastDecidedAt: number | null = null;

  constructor(readonly watch: Watch) {
    this.bins = watch.scoreReference ? new Array<number>(watch.scoreReference.proportions.length).fill(0) : null;
  }

  addDecision(d: DecisionView): void {
    const w = this.watch;
    if (d.decidedAt < w.sinceMs) return;
    const afterGrace = d.decidedAt >= w.sinceMs + w.graceMs;
    let score: number | null = null;
    if (w.role === 'shadow') {
      const shadow = d.shadowScores.find((s) => s.modelVersion === w.version);
      if (afterGrace) {
        this.expected++;
        if (!shadow) this.errors++;
      }
      if (!shadow) return;
      score = shadow.score;
    } else {
      const mine = d.modelVersion === w.version;
      // No model decided: it failed (MODEL_ERROR) or none was installed where it should be (MODEL_UNAVAILABLE).
      const failed = d.modelVersion === null && (d.reasonCodes.includes(ScoringReasonCodes.error) || d.reasonCodes.includes(ScoringReasonCodes.unavailable));
      if (w.role === 'canary') {
        const routed = canaryBucket(w.version, d.cardToken) < (w.share ?? 0);
        if (afterGrace && routed && (mine || d.modelVersion !== null || failed)) {
          this.expected++;
          if (!mine) this.errors++;
        }
      } else if (mine || failed) {
        this.expected++;
        if (!mine) this.errors++;
      }
      if (!mine) return;
      score = d.score;
      this.mix[d.decision]++;
      if (d.decision === 'REVIEW' || d.decision === 'DECLINE') this.flag(d.transactionId);
    }
    this.observed++;
    this.lastDecidedAt = Math.max(this.lastDecidedAt ?? d.decidedAt, d.decidedAt);
    this.latency(d.pipelineLatencyMs);
    if (score === null) return;
    const band = bandOf(score, w.thresholds);
    if (band === 'DECLINE') this.declines++;
    else if (band === 'REVIEW') this.reviews++;
    if (w.role === 'shadow' && band !== null) this.flag(d.transactionId);
    if (this.bins && w.scoreReference) this.bins[binIndex(w.scoreReference.edges, score)]!++;
  }

  addExample(e: TrainingExample): void {
    if (this.flagged.has(e.transactionId)) this.labels.set(e.transactionId, e.label);
  }

  figures(): LiveFigures {
    const n = this.observed;
    let fraud = 0;
    for (const label of this.labels.values()) fraud += label;
    const scored = this.bins?.reduce((s, c) => s + c, 0) ?? 0;
    return {
      version: this.watch.version,
      role: this.watch.role,
      sinceMs: this.watch.sinceMs,
      decisions: n,
      declineRate: n === 0 ? null : this.declines / n,
      reviewRate: n === 0 ? null : this.reviews / n,
      decisionMix: { ...this.mix },
      scorePsi: this.bins && this.watch.scoreReference && scored > 0 ? psi(this.watch.scoreReference.proportions, this.bins) : null,
      scoreBins: this.bins?.length ?? null,
      latencyP99Ms: p99(this.latencies),
      expected: this.expected,
      errors: this.errors,
      errorRate: this.expected === 0 ? null : this.errors / this.expected,
      labelled: this.labels.size,
      precision: this.labels.size === 0 ? null : fraud / this.labels.size,
      lastDecidedAt: this.lastDecidedAt,
    };
  }

  private flag(transactionId: string): void {
    if (this.flagged.size < MAX_FLAGGED) this.flagged.add(transactionId);
  }

  private latency(ms: number): void {
    if (this.latencies.length < LATENCY_SAMPLES) this.latencies.push(ms);
    else {
      this.latencies[this.latencyNext] = ms;
      this.latencyNext = (this.latencyNext + 1) % LATENCY_SAMPLES;
    }
  }
}

export type RolloutChecks = LifecyclePolicy['rollout']['checks'];

/** One live check: passed null means not enough evidence yet (neither advances nor rolls back). */
export interface CheckResult {
  name: 'scorePsi' | 'declineRate' | 'reviewRate' | 'latencyP99Ms' | 'errorRate' | 'precision';
  passed: boolean | null;
  value: number | null;
  limit: number;
  detail: string;
}

export interface CheckOptions {
  /** Observations (or expected decisions, for the error rate) below which a rate is not judged. */
  minSamples: number;
  /**
   * The stage's own sample size (the controller passes its minDecisions). The first few hundred
   * decisions of a stage come from one part of a day (one hour's merchants, amounts and fraud), so
   * below it a figure says little about the whole: the score PSI is not judged at all, and a rate
   * fails only when it is clearly above its bound — the lower end of its 99 % Wilson interval is
   * — so that a model declining everything is still stopped within seconds while a night hour's
   * 7 declines in 262 (2.7 % against 2 %) is not. From this size on the figures are judged as
   * they are.
   */
  stageSamples?: number;
  /** The champion's figures over the same period, shown beside the candidate's (latency, rates). */
  champion?: LiveFigures | null;
}

const fmt = (v: number | null): string => (v === null ? 'n/a' : Number.isInteger(v) ? String(v) : v.toFixed(4));

/** z of a two-sided 99 % interval. */
const Z_99 = 2.5758;

/** Lower end of the Wilson score interval of a proportion p observed in n trials. */
export function wilsonLower(p: number, n: number, z: number): number {
  if (n <= 0) return 0;
  const z2 = z * z;
  const centre = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return Math.max(0, (centre - spread) / (1 + z2 / n));
}

/**
 * Scores needed before a PSI over `bins` bins says something against `limit`. A sample drawn from
 * the reference itself has a PSI of (bins − 1)/n on average (chi-square over n): 0.10 for 200
 * scores in 20 bins, with a 99th percentile of 0.20, against a usual limit of 0.25. The PSI is
 * judged once that noise is at most a quarter of the limit: 304 scores for 20 bins at 0.25.
 */
export function psiSampleSize(bins: number, limit: number): number {
  return limit > 0 && bins > 1 ? Math.ceil((4 * (bins - 1)) / limit) : 0;
}

/**
 * A deciding model's p99 pipeline latency. Over the limit it fails only when it is also slower
 * than the champion over the same period (by a fifth and 5 ms): the pipeline latency is mostly the
 * loop's (queueing behind a burst, a loaded machine), which rolling the model back would not
 * change; a demo on a loaded 2-core machine rolled back 3 canaries of 4 at 251-1 407 ms against
 * 250 with the champion as slow. Without champion figures (a champion on probation) the limit
 * alone judges.
 */
function latencyCheck(f: LiveFigures, limit: number, judged: boolean, champ: LiveFigures | null, vsChampion: string): CheckResult {
  const detail = `p99 pipeline latency (ms) of ${f.decisions} decisions${vsChampion}`;
  const value = f.latencyP99Ms;
  if (!judged || value === null) return { name: 'latencyP99Ms', passed: null, value, limit, detail };
  if (value <= limit) return { name: 'latencyP99Ms', passed: true, value, limit, detail };
  const champP99 = champ?.latencyP99Ms ?? null;
  if (champP99 !== null && (champ?.decisions ?? 0) > 0 && value <= champP99 * 1.2 + 5) {
    return { name: 'latencyP99Ms', passed: true, value, limit, detail: `${detail}: over the limit, but no slower than the champion over the same period (the loop's latency, not this model's)` };
  }
  return { name: 'latencyP99Ms', passed: false, value, limit, detail };
}

/** The six live checks of one window against the policy's bounds. */
export function evaluateChecks(f: LiveFigures, checks: RolloutChecks, opts: CheckOptions): CheckResult[] {
  const enough = f.decisions >= opts.minSamples;
  const full = Math.max(opts.minSamples, opts.stageSamples ?? 0);
  const psiNeeds = Math.max(full, psiSampleSize(f.scoreBins ?? 0, checks.maxScorePsi));
  const enoughForPsi = f.decisions >= psiNeeds;
  const champ = opts.champion ?? null;
  const vs = (v: number | null): string => (champ ? `; champion ${champ.version}: ${fmt(v)}` : '');
  const max = (name: CheckResult['name'], value: number | null, limit: number, judged: boolean, detail: string): CheckResult => ({
    name,
    passed: judged && value !== null ? value <= limit : null,
    value,
    limit,
    detail,
  });
  /** A rate of n observations: judged as it is from the stage's sample on, before that only when clearly above. */
  const rate = (name: CheckResult['name'], value: number | null, limit: number, n: number, detail: string): CheckResult => {
    if (n >= full || value === null) return max(name, value, limit, n >= opts.minSamples, detail);
    const clearlyAbove = n >= opts.minSamples && wilsonLower(value, n, Z_99) > limit;
    return { name, passed: clearlyAbove ? false : null, value, limit, detail: `${detail}${clearlyAbove ? ` (99 % lower bound ${fmt(wilsonLower(value, n, Z_99))} above the limit before the stage's ${full})` : ''}` };
  };
  const results: CheckResult[] = [
    max('scorePsi', f.scorePsi, checks.maxScorePsi, enoughForPsi, `PSI of ${f.decisions} scores in ${f.scoreBins ?? 'n/a'} bins vs the training reference${f.scorePsi === null && enoughForPsi ? ' (no reference histogram: not judged)' : ''}${f.scoreBins !== null && !enoughForPsi ? ` (judged from ${psiNeeds} scores)` : ''}`),
    rate('declineRate', f.declineRate, checks.maxDeclineRate, f.decisions, `score ≥ decline threshold in ${f.decisions} decisions${vs(champ?.declineRate ?? null)}`),
    rate('reviewRate', f.reviewRate, checks.maxReviewRate, f.decisions, `review ≤ score < decline in ${f.decisions} decisions${vs(champ?.reviewRate ?? null)}`),
    // A shadow decides nothing: the pipeline latency of the decisions carrying its score is the
    // champion's (a demo run rolled a shadow back on the loop's 547 ms p99 under a burst); its own
    // scoring cost is the offline gate scoringLatencyP99. Judged for the models that decide.
    f.role === 'shadow'
      ? { name: 'latencyP99Ms', passed: null, value: f.latencyP99Ms, limit: checks.maxLatencyP99Ms, detail: `not judged in shadow (the champion decides; the candidate's scoring cost is the scoringLatencyP99 gate)${vs(champ?.latencyP99Ms ?? null)}` }
      : latencyCheck(f, checks.maxLatencyP99Ms, enough, champ, vs(champ?.latencyP99Ms ?? null)),
    rate('errorRate', f.errorRate, checks.maxErrorRate, f.expected, `${f.errors} of ${f.expected} expected decisions without its score`),
  ];
  const labelledEnough = f.labelled >= Math.max(1, checks.minLabelledForPrecision);
  results.push({
    name: 'precision',
    passed: labelledEnough && f.precision !== null ? f.precision >= checks.minPrecision : null,
    value: f.precision,
    limit: checks.minPrecision,
    detail: `fraud share of ${f.labelled} labelled review/decline decisions (judged from ${checks.minLabelledForPrecision})`,
  });
  return results;
}

/** The first failed check, if any (checks are in a fixed order, so the reason is stable). */
export function firstFailure(results: readonly CheckResult[]): CheckResult | null {
  return results.find((r) => r.passed === false) ?? null;
}

export { ACTIONS as DECISION_ACTIONS, SCORE_REFERENCE };

/** Decisions kept in memory for a window that starts after they were read (a stage the controller learns of a tick late). */
export const RECENT_DECISIONS = 20_000;

export interface FollowerDeps {
  client: KafkaClient;
  serdes: Pick<TopicSerdes, 'decisions' | 'trainingExamples'>;
  catalogue: Pick<Catalogue, 'decisions' | 'trainingExamples'>;
  logger: Logger;
  /** At start, at most this many of the latest records per partition are read back (default DEFAULT_BACKFILL). */
  backfillPerPartition?: number;
}

/**
 * How far back a (re)started follower reads, per partition: the stage windows need the decisions
 * since their stage began, but a 180-day decisions topic must not be read whole at every start
 * (KafkaClient has no offsets-for-times lookup). A stage older than this backfill restarts with
 * the latest part of its window: its figures are a recent sample, and minDecisions counts again.
 */
export const DEFAULT_BACKFILL = 500_000;

/**
 * Reads the decisions and training-examples topics (read_committed: the loop writes them in
 * transactions) from DEFAULT_BACKFILL records before their end per partition and follows them,
 * feeding every watched window; records decided before a window's stage are dropped by it.
 */
export class LiveFollower {
  private readonly windows = new Map<string, LiveWindow>();
  private readonly recent: DecisionView[] = [];
  private recentNext = 0;
  private readers: PartitionReader[] = [];
  private failure: Error | null = null;
  private readonly lastDecided = new Map<string, number>();

  private readonly backfill: number;
  /** Records skipped because they could not be decoded. */
  undecodable = 0;

  constructor(private readonly deps: FollowerDeps) {
    this.backfill = deps.backfillPerPartition ?? DEFAULT_BACKFILL;
  }

  /** Starts (or keeps, when version, role and since are unchanged) a window; replays recent decisions into a new one. */
  watch(w: Watch): void {
    const have = this.windows.get(w.version);
    if (have && have.watch.role === w.role && have.watch.sinceMs === w.sinceMs && have.watch.share === w.share) return;
    const window = new LiveWindow(w);
    for (const d of this.recentInOrder()) window.addDecision(d);
    this.windows.set(w.version, window);
  }

  unwatch(version: string): void {
    this.windows.delete(version);
  }

  watched(): string[] {
    return [...this.windows.keys()];
  }

  figures(version: string): LiveFigures | null {
    return this.windows.get(version)?.figures() ?? null;
  }

  /** Every version that decided something, with the decision time of its latest decision. */
  deciders(): ReadonlyMap<string, number> {
    return this.lastDecided;
  }

  /** A following reader that failed for good; the controller reports it instead of judging stale figures. */
  failed(): Error | null {
    return this.failure;
  }

  /** Feeds one decision (the reader calls this; tests may too). */
  addDecision(d: DecisionView): void {
    for (const w of this.windows.values()) w.addDecision(d);
    const view = viewOf(d);
    if (this.recent.length < RECENT_DECISIONS) this.recent.push(view);
    else {
      this.recent[this.recentNext] = view;
      this.recentNext = (this.recentNext + 1) % RECENT_DECISIONS;
    }
    if (d.modelVersion !== null && d.decidedAt >= (this.lastDecided.get(d.modelVersion) ?? -Infinity)) this.lastDecided.set(d.modelVersion, d.decidedAt);
  }

  addExample(e: TrainingExample): void {
    for (const w of this.windows.values()) w.addExample(e);
  }

  /** Reads both topics up to their current end (resolves then), and keeps following them. */
  async start(): Promise<void> {
    const { client, catalogue, serdes, logger } = this.deps;
    const admin = await client.admin();
    let from: { decisions: TopicPartitionOffset[]; examples: TopicPartitionOffset[] };
    try {
      const offsets = async (topic: string): Promise<TopicPartitionOffset[]> => {
        const ends = await admin.endOffsets(topic);
        return [...(await admin.beginningOffsets(topic))].map(([partition, offset]) => ({ topic, partition, offset: Math.max(offset, (ends.get(partition) ?? 0) - this.backfill) }));
      };
      from = { decisions: await offsets(catalogue.decisions.name), examples: await offsets(catalogue.trainingExamples.name) };
    } finally {
      await admin.disconnect();
    }
    const onFollowError = (error: Error): void => {
      this.failure = error;
      logger.error({ err: error }, 'live checks: following a topic failed; checks are not judged until the controller restarts');
    };
    const follow = async <T>(offsets: TopicPartitionOffset[], serde: { prefetch?(v: readonly Buffer[]): Promise<void>; deserialize(v: Buffer): T }, feed: (v: T) => void): Promise<void> => {
      const reader = client.partitionReader({ readCommitted: true });
      this.readers.push(reader);
      await reader.read(
        offsets,
        async (batch) => {
          const values = batch.records.map((r) => r.value).filter((v): v is Buffer => v !== null);
          if (values.length === 0) return;
          await serde.prefetch?.(values);
          for (const v of values) {
            let record: T;
            try {
              record = serde.deserialize(v);
            } catch (err) {
              // One undecodable record must not wedge the checks; counted and reported once per topic.
              this.undecodable++;
              if (this.undecodable === 1) logger.warn({ topic: batch.topic, err }, 'live checks: a record could not be decoded and is skipped');
              continue;
            }
            feed(record);
          }
        },
        { follow: true, onFollowError },
      );
    };
    await Promise.all([
      follow(from.decisions, serdes.decisions, (d) => this.addDecision(d)),
      follow(from.examples, serdes.trainingExamples, (e) => this.addExample(e)),
    ]);
  }

  async stop(): Promise<void> {
    const readers = this.readers;
    this.readers = [];
    await Promise.all(readers.map((r) => r.stop().catch(() => undefined)));
  }

  private recentInOrder(): DecisionView[] {
    return this.recent.length < RECENT_DECISIONS ? this.recent : [...this.recent.slice(this.recentNext), ...this.recent.slice(0, this.recentNext)];
  }
}
