/**
 * Offline evaluation gates: what a trained candidate must show before any release (issue 18), each
 * limit from the lifecycle policy (lifecycle/policy.ts `gates`). Every check gives
 * {name, passed, value, limit, detail}; the candidate passes only when all do. The report is
 * written beside the card as `<version>.gates.json` and the card gets `gateReport`.
 *
 * 1. Champion comparison (ap, auc, precisionAtK): candidate − champion on the SAME held-out rows
 *    must reach the margin. The trainer scores both: the retrainer passes the champion as
 *    `--parent`, so card.metrics and card.parentMetrics come from one test period. A champion the
 *    card was not compared against, or one that could not score the period, fails the check.
 *    Without a champion (rules-only cold start) there is nothing to beat: the checks pass and say so.
 * 2. Held-out rates at the candidate's own thresholds: the trainer's test rows (its
 *    --dump-predictions file) re-scored here with onnxruntime-node through the ModelRegistry, the
 *    way the hot path scores (scoringParity: within 1e-5 of the trainer's ONNX scores), then the
 *    false-positive rate (legitimate rows at or above the review threshold / legitimate rows) and
 *    the review rate (rows in [review, decline) / rows).
 * 3. Latency: processors/scoring.ts's ScoringProcessor itself scores one decision per batch (a
 *    single-row session.run, tree contributions, and the occlusion explanation run for a flagged
 *    one), over real feature snapshots; p99 µs per decision against maxScoreP99Micros.
 * 4. Replay: the candidate in shadow over the last `replay.days` of real decisions. We re-score the
 *    feature snapshots recorded on the decisions topic (Decision.features: exactly what the hot
 *    path computed and fed the champion) and re-decide with processors/decide.ts's decide() and the
 *    same rule hits. Rule hits are recovered from Decision.reasonCodes through the rule set (each
 *    rule's reasonCode → its action); that recovery is verified by re-deciding every decision the
 *    champion scored (or rules decided alone) with its recorded score and the champion's
 *    thresholds: the share reproduced must be ≥ REPLAY_MIN_REPRODUCED. Chosen over driving
 *    bin/replay.ts because a replay recomputes every feature from copied input topics (minutes and
 *    a topic copy per candidate) only to arrive at the same snapshots, and its windowed/as-of
 *    features would differ from what was decided whenever the side tables moved on; re-scoring the
 *    snapshots compares the two models on identical inputs. The decision mix (approve, review,
 *    decline, challenge) of candidate and champion is compared overall and per segment (policy
 *    `replay.segment`; segments with fewer than minSegmentDecisions decisions are shown, not
 *    judged); each rate's largest absolute difference must stay within its maximum.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { decide } from '../processors/decide.js';
import { ModelRegistry, specFromModelCard, type LoadedModel } from '../processors/modelRegistry.js';
import type { RuleSet } from '../processors/ruleSet.js';
import { buildMatrix, ScoringProcessor } from '../processors/scoring.js';
import type { RiskContext, RuleAction, RuleHit } from '../processors/types.js';
import type { Decision, DecisionAction, Thresholds, TokenizedTransaction } from '../schemas/types.js';
import type { ProcessorContext } from '../topology/processor.js';
import type { Record as StreamRecord } from '../topology/records.js';
import type { LifecyclePolicy } from './policy.js';

export interface GateCheck {
  name: string;
  passed: boolean;
  value: number | null;
  limit: number | null;
  detail: string;
}

/** Below this share of recorded decisions re-decided identically, rule hits were not recovered faithfully. */
export const REPLAY_MIN_REPRODUCED = 0.99;
/** Largest |node ONNX score − trainer ONNX score| on the test rows (the trainer's own parity bound). */
export const SCORING_PARITY_TOLERANCE = 1e-5;

const ACTIONS: readonly DecisionAction[] = ['APPROVE', 'REVIEW', 'DECLINE', 'CHALLENGE'];

const Evaluation = z.object({
  rows: z.number(),
  fraud: z.number(),
  aucRoc: z.number(),
  averagePrecision: z.number(),
  precisionAtK: z.object({ k: z.number(), unit: z.string(), mean: z.number().nullable() }),
});

/** The parts of a trainer card (training/train.py) the gates read. */
export const TrainedCard = z.object({
  version: z.string().min(1),
  artifact: z.string().min(1),
  features: z.array(z.string()),
  thresholds: z.object({ review: z.number(), decline: z.number() }),
  metrics: Evaluation,
  parentModel: z.object({ version: z.string(), sha256: z.string() }).nullable(),
  parentMetrics: z.union([Evaluation.extend({ rowsNotScored: z.number().optional() }), z.object({ rows: z.number(), note: z.string().optional(), rowsNotScored: z.number().optional() })]).nullable(),
  split: z.object({ testFrom: z.string(), testTo: z.string(), testRows: z.number(), testFraud: z.number() }).passthrough(),
});
export type TrainedCard = z.output<typeof TrainedCard>;

/** The trainer's --dump-predictions file: the test rows, features in model order (null = missing). */
export const Predictions = z.object({
  version: z.string(),
  featureNames: z.array(z.string()),
  rows: z.array(z.object({ label: z.number(), features: z.array(z.number().nullable()), onnxScore: z.number() })),
});
export type Predictions = z.output<typeof Predictions>;

/** The model being replaced: null during a rules-only cold start. */
export interface ChampionRef {
  version: string;
  thresholds: Thresholds;
}

const fmt = (v: number | null, digits = 4): string => (v === null ? 'n/a' : v.toFixed(digits));
const signed = (v: number, digits = 4): string => `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;

// ---------------------------------------------------------------- 1. champion comparison

/** AP, AUC and precision@k of candidate − champion on the card's test period, against the margins. */
export function comparisonChecks(card: TrainedCard, champion: ChampionRef | null, gates: LifecyclePolicy['gates']): GateCheck[] {
  const m = card.metrics;
  const period = `test period ${card.split.testFrom} .. ${card.split.testTo} (${card.split.testRows} rows, ${card.split.testFraud} fraud)`;
  const metrics: { name: string; label: string; margin: number; of: (e: z.output<typeof Evaluation>) => number | null }[] = [
    { name: 'averagePrecision', label: 'average precision', margin: gates.apMargin, of: (e) => e.averagePrecision },
    { name: 'aucRoc', label: 'AUC ROC', margin: gates.aucMargin, of: (e) => e.aucRoc },
    { name: 'precisionAtK', label: `${m.precisionAtK.unit} precision@${m.precisionAtK.k} (mean of days)`, margin: gates.precisionAtKMargin, of: (e) => e.precisionAtK.mean },
  ];
  if (champion === null) {
    return metrics.map((x) => ({ name: x.name, passed: true, value: x.of(m), limit: null, detail: `no champion (rules decide alone): nothing to beat; candidate ${x.label} ${fmt(x.of(m))} on the ${period}` }));
  }
  const parent = card.parentMetrics;
  const problem =
    card.parentModel === null
      ? `the card has no parent model, so the champion ${champion.version} was not scored on the same rows (train with --parent)`
      : card.parentModel.version !== champion.version
        ? `the card compares against ${card.parentModel.version}, not the champion ${champion.version}`
        : parent === null || !('aucRoc' in parent)
          ? `the champion ${champion.version} could not score the test period${parent && 'note' in parent && parent.note ? `: ${parent.note}` : ''}`
          : null;
  return metrics.map((x) => {
    if (problem !== null || parent === null || !('aucRoc' in parent)) return { name: x.name, passed: false, value: null, limit: x.margin, detail: problem ?? 'no champion metrics' };
    const cand = x.of(m);
    const champ = x.of(parent);
    if (cand === null || champ === null) return { name: x.name, passed: false, value: null, limit: x.margin, detail: `${x.label} undefined on the ${period} (no day with units)` };
    const delta = cand - champ;
    const passed = delta >= x.margin;
    const notScored = parent.rowsNotScored ? `; the champion could not score ${parent.rowsNotScored} rows, left out of its figure` : '';
    return {
      name: x.name,
      passed,
      value: delta,
      limit: x.margin,
      detail: `${x.label}: candidate ${fmt(cand)} vs champion ${champion.version} ${fmt(champ)} on the ${period}: ${signed(delta)} ${passed ? '>=' : '<'} margin ${signed(x.margin)}${notScored}`,
    };
  });
}

// ---------------------------------------------------------------- 2. held-out rates

/** Loads a model card the way a release installs it (sha256, feature names, probe run). */
export async function loadCandidate(registry: ModelRegistry, cardPath: string): Promise<{ model: LoadedModel } | { reason: string }> {
  let outcome;
  try {
    outcome = await registry.load(await specFromModelCard(cardPath));
  } catch (error) {
    return { reason: (error as Error).message };
  }
  return outcome.accepted ? { model: outcome.model } : { reason: outcome.reason };
}

/** Fraud probabilities of `rows` (feature maps) as processors/scoring.ts builds them; null where the model cannot take a row. */
export async function scoreSnapshots(registry: ModelRegistry, model: LoadedModel, rows: readonly Readonly<Record<string, number>>[], batch = 1024): Promise<(number | null)[]> {
  const out: (number | null)[] = new Array<number | null>(rows.length).fill(null);
  for (let start = 0; start < rows.length; start += batch) {
    const indices = Array.from({ length: Math.min(batch, rows.length - start) }, (_, k) => start + k);
    const matrix = buildMatrix(model, (i) => rows[i]!, indices);
    if (matrix.records.length === 0) continue;
    const scores = await registry.score(model, matrix.data, matrix.records.length);
    matrix.records.forEach((i, r) => (out[i] = scores[r]!));
  }
  return out;
}

/** The test rows of a predictions dump as feature maps (null cells are missing features). */
export function predictionSnapshots(predictions: Predictions): Record<string, number>[] {
  return predictions.rows.map((r) => {
    const features: Record<string, number> = {};
    r.features.forEach((v, j) => {
      if (v !== null) features[predictions.featureNames[j]!] = v;
    });
    return features;
  });
}

export interface HeldOutFigures {
  rows: number;
  legitimate: number;
  flaggedLegitimate: number;
  inReviewBand: number;
  maxParityDiff: number;
}

/** FPR and review rate of `scores` at `thresholds`, and the parity of `scores` with the trainer's. */
export function heldOutFigures(predictions: Predictions, scores: readonly (number | null)[], thresholds: Thresholds): HeldOutFigures {
  let legitimate = 0;
  let flaggedLegitimate = 0;
  let inReviewBand = 0;
  let maxParityDiff = 0;
  predictions.rows.forEach((r, i) => {
    const s = scores[i];
    if (s === null || s === undefined) {
      maxParityDiff = Number.POSITIVE_INFINITY;
      return;
    }
    maxParityDiff = Math.max(maxParityDiff, Math.abs(s - r.onnxScore));
    if (r.label === 0) {
      legitimate++;
      if (s >= thresholds.review) flaggedLegitimate++;
    }
    if (s >= thresholds.review && s < thresholds.decline) inReviewBand++;
  });
  return { rows: predictions.rows.length, legitimate, flaggedLegitimate, inReviewBand, maxParityDiff };
}

export function heldOutChecks(f: HeldOutFigures, thresholds: Thresholds, gates: LifecyclePolicy['gates']): GateCheck[] {
  const fpr = f.legitimate > 0 ? f.flaggedLegitimate / f.legitimate : null;
  const review = f.rows > 0 ? f.inReviewBand / f.rows : null;
  const at = `at the candidate's thresholds (review >= ${fmt(thresholds.review, 6)}, decline >= ${fmt(thresholds.decline, 6)}) on the test period`;
  return [
    {
      name: 'scoringParity',
      passed: f.maxParityDiff <= SCORING_PARITY_TOLERANCE,
      value: Number.isFinite(f.maxParityDiff) ? f.maxParityDiff : null,
      limit: SCORING_PARITY_TOLERANCE,
      detail: Number.isFinite(f.maxParityDiff)
        ? `onnxruntime-node (as the hot path scores) vs the trainer's ONNX scores on ${f.rows} test rows: max |difference| ${f.maxParityDiff.toExponential(2)}`
        : 'onnxruntime-node could not score every test row (a feature missing and the model takes no NaN)',
    },
    {
      name: 'falsePositiveRate',
      passed: fpr !== null && fpr <= gates.maxFalsePositiveRate,
      value: fpr,
      limit: gates.maxFalsePositiveRate,
      detail: fpr === null ? 'no legitimate row in the test period' : `${f.flaggedLegitimate} of ${f.legitimate} legitimate rows at or above the review threshold ${at}: ${fmt(fpr)}`,
    },
    {
      name: 'reviewRate',
      passed: review !== null && review <= gates.maxReviewRate,
      value: review,
      limit: gates.maxReviewRate,
      detail: review === null ? 'no test rows' : `${f.inReviewBand} of ${f.rows} rows in the review band ${at}: ${fmt(review)}`,
    },
  ];
}

// ---------------------------------------------------------------- 3. latency

export interface LatencyFigures {
  /** Timed decisions of the reported round. */
  decisions: number;
  p50Micros: number;
  p99Micros: number;
  maxMicros: number;
  /** p99 of every round, in order. */
  roundsP99Micros: number[];
}

/** A processor context for driving ScoringProcessor outside a topology: forwards go to `onForward`. */
function benchContext(logger: Logger, onForward: () => void): ProcessorContext<string, RiskContext> {
  return {
    applicationId: 'riskloop-gates-benchmark',
    taskId: 'benchmark',
    processorName: 'score',
    logger,
    getStateStore: () => {
      throw new Error('the scoring benchmark has no state stores');
    },
    forward: onForward,
    childNames: () => [],
    recordMetadata: () => null,
    schedule: () => {
      throw new Error('the scoring benchmark does not punctuate');
    },
    currentStreamTimeMs: () => -1,
    currentSystemTimeMs: () => Date.now(),
    recordDropped: () => undefined,
  };
}

/** A tokenised transaction carrying nothing real: the scorer reads only cardToken (canary routing, unused here). */
const BENCH_TXN: TokenizedTransaction = {
  transactionId: 'benchmark', eventTime: 0, ingestedAt: 0, accountToken: 'benchmark', cardToken: 'benchmark', tokenKeyId: 'benchmark',
  bin: '000000', last4: '0000', amountMinor: 0, currency: 'EUR', merchantId: 'benchmark', merchantName: null, terminalId: null,
  mcc: '0000', merchantCountry: 'ZZ', channel: 'POS', cardPresent: true, threeDsAuthenticated: null, lat: null, lon: null, deviceId: null, ip: null,
};

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

/**
 * Per-decision scoring time of `model` in microseconds: ScoringProcessor (processors/scoring.ts)
 * with the model as champion scores `decisions` records one per batch, cycling through `snapshots`,
 * after `warmup` untimed ones. Wall time of process() + flush(), so everything the scorer does per
 * decision is in it (tree contributions, the occlusion run of a flagged decision). The machine's
 * other load only ever adds time, so the measurement is repeated `rounds` times and the round with
 * the lowest p99 is reported (the others in `roundsP99Micros`).
 */
export async function benchmarkScoring(model: LoadedModel, snapshots: readonly Readonly<Record<string, number>>[], decisions: number, logger: Logger, warmup = 100, rounds = 3): Promise<LatencyFigures> {
  if (snapshots.length === 0) throw new Error('no feature snapshots to benchmark with');
  const registry = new ModelRegistry(logger);
  await registry.setChampion(model);
  let forwarded = 0;
  const scorer = new ScoringProcessor(registry);
  scorer.init(benchContext(logger, () => forwarded++));
  const timeOne = async (i: number): Promise<number> => {
    const risk: RiskContext = {
      txn: BENCH_TXN, ingressAt: 0, features: { ...snapshots[i % snapshots.length]! }, facts: {}, reasonCodes: [], ruleHits: [],
      ruleSetVersion: null, featureSetVersion: null, score: null, modelVersion: null, shadowScores: [], topContributions: [],
    };
    const record: StreamRecord<string, RiskContext> = { key: 'benchmark', value: risk, timestamp: 0, headers: {} };
    const started = process.hrtime.bigint();
    scorer.process(record);
    await scorer.flush();
    return Number(process.hrtime.bigint() - started) / 1000;
  };
  let best: LatencyFigures | null = null;
  const roundsP99Micros: number[] = [];
  try {
    for (let i = 0; i < warmup; i++) await timeOne(i);
    for (let round = 0; round < rounds; round++) {
      const micros: number[] = [];
      for (let i = 0; i < decisions; i++) micros.push(await timeOne(i));
      micros.sort((a, b) => a - b);
      const figures = { decisions, p50Micros: quantile(micros, 0.5), p99Micros: quantile(micros, 0.99), maxMicros: micros[micros.length - 1]!, roundsP99Micros };
      roundsP99Micros.push(figures.p99Micros);
      if (best === null || figures.p99Micros < best.p99Micros) best = figures;
    }
  } finally {
    // Not registry.close(): that would release the session of the caller's model.
    scorer.close();
  }
  if (forwarded !== warmup + decisions * rounds) throw new Error(`the scorer forwarded ${forwarded} of ${warmup + decisions * rounds} benchmark records`);
  return best!;
}

export function latencyCheck(f: LatencyFigures, gates: LifecyclePolicy['gates'], source: string): GateCheck {
  return {
    name: 'scoringLatencyP99',
    passed: f.p99Micros <= gates.maxScoreP99Micros,
    value: f.p99Micros,
    limit: gates.maxScoreP99Micros,
    detail:
      `ScoringProcessor, one decision per batch, ${f.decisions} decisions over ${source}: p50 ${f.p50Micros.toFixed(0)} µs, p99 ${f.p99Micros.toFixed(0)} µs, max ${f.maxMicros.toFixed(0)} µs` +
      ` (best of ${f.roundsP99Micros.length} rounds by p99: ${f.roundsP99Micros.map((v) => v.toFixed(0)).join(', ')} µs)`,
  };
}

// ---------------------------------------------------------------- 4. replay

/** reasonCode → action of every rule in the set: how rule hits are recovered from a Decision. */
export function ruleActionsOf(ruleSet: RuleSet): Map<string, RuleAction> {
  const actions = new Map<string, RuleAction>();
  for (const rule of ruleSet.rules) {
    const known = actions.get(rule.reasonCode);
    // Two rules sharing a code with different actions would make recovery ambiguous: refuse.
    if (known !== undefined && known !== rule.action) throw new Error(`rule set ${ruleSet.version}: reason code ${rule.reasonCode} belongs to rules with actions ${known} and ${rule.action}; rule hits cannot be recovered from decisions`);
    actions.set(rule.reasonCode, rule.action);
  }
  return actions;
}

export function recoverRuleHits(decision: Pick<Decision, 'reasonCodes'>, actions: ReadonlyMap<string, RuleAction>): RuleHit[] {
  return decision.reasonCodes.flatMap((code) => {
    const action = actions.get(code);
    return action === undefined ? [] : [{ ruleId: code, reasonCode: code, action }];
  });
}

/** The segment of a decision: amount band (minor units), channel, or the account's KYC country. */
export function replaySegment(d: Pick<Decision, 'features' | 'facts'>, replay: LifecyclePolicy['gates']['replay']): string {
  switch (replay.segment) {
    case 'amountBand': {
      const amount = d.features['txn.amount_minor'];
      if (amount === undefined) return 'amount unknown';
      const edges = replay.amountBandEdges;
      const i = edges.findIndex((e) => amount < e);
      if (i === 0) return `amount < ${edges[0]}`;
      if (i === -1) return `amount >= ${edges[edges.length - 1]}`;
      return `amount ${edges[i - 1]}..${edges[i]}`;
    }
    case 'channel':
      return d.features['txn.channel_ecom'] === 1 ? 'ecom' : d.features['txn.card_present'] === 1 ? 'card present' : 'other';
    case 'kycCountry':
      return d.facts['kyc.country'] ?? 'unknown';
  }
}

export type Mix = Record<DecisionAction, number>;
export interface MixRow {
  segment: string;
  decisions: number;
  judged: boolean;
  champion: Mix;
  candidate: Mix;
}
export interface ReplaySummary {
  from: string;
  to: string;
  decisions: number;
  /** Decisions by a model whose thresholds are known (or by rules alone), and how many decide() re-made identically. */
  reproducible: number;
  reproduced: number;
  /** The versions (null: rules alone) of the reproducible decisions, with their counts. */
  reproducibleBy: Record<string, number>;
  candidateUnscored: number;
  ruleSetVersion: string;
  otherRuleSetVersions: number;
  rows: MixRow[];
}

const emptyMix = (): Mix => ({ APPROVE: 0, REVIEW: 0, DECLINE: 0, CHALLENGE: 0 });
const rates = (m: Mix, n: number): Mix => ({ APPROVE: m.APPROVE / n, REVIEW: m.REVIEW / n, DECLINE: m.DECLINE / n, CHALLENGE: m.CHALLENGE / n });

export interface ReplayInput {
  /** Decisions read from the decisions topic (any span; the window is taken here). */
  decisions: readonly Decision[];
  /** The candidate's scores for `decisions`, same order (null: it could not score that one). */
  candidateScores: readonly (number | null)[];
  candidateThresholds: Thresholds;
  champion: ChampionRef | null;
  /**
   * Thresholds of other versions that decided in the window (an earlier champion, a canary: every
   * release on the model-releases topic), so their decisions check the rule-hit recovery too.
   */
  knownThresholds?: ReadonlyMap<string, Thresholds>;
  ruleSet: RuleSet;
  challengeBand?: { from: number; to: number };
}

/** Indices of the decisions in the replay window: the last `days` before the latest event time, repeats left out. */
export function replayWindow(decisions: readonly Pick<Decision, 'eventTime' | 'duplicate'>[], days: number): { indices: number[]; fromMs: number; toMs: number } {
  let toMs = Number.NEGATIVE_INFINITY;
  for (const d of decisions) if (d.duplicate !== true && d.eventTime > toMs) toMs = d.eventTime;
  const fromMs = toMs - days * 86_400_000;
  const indices: number[] = [];
  decisions.forEach((d, i) => {
    if (d.duplicate !== true && d.eventTime > fromMs) indices.push(i);
  });
  return { indices, fromMs, toMs };
}

/** Re-decides the window's decisions with the candidate's scores; the champion side is what was decided. */
export function replayMix(input: ReplayInput, replay: LifecyclePolicy['gates']['replay']): ReplaySummary {
  const actions = ruleActionsOf(input.ruleSet);
  const window = replayWindow(input.decisions, replay.days);
  const bySegment = new Map<string, { n: number; champion: Mix; candidate: Mix }>();
  const overall = { n: 0, champion: emptyMix(), candidate: emptyMix() };
  let reproducible = 0;
  let reproduced = 0;
  const reproducibleBy: Record<string, number> = {};
  let candidateUnscored = 0;
  let otherRuleSetVersions = 0;
  for (const i of window.indices) {
    const d = input.decisions[i]!;
    if (d.ruleSetVersion !== input.ruleSet.version) otherRuleSetVersions++;
    const ruleHits = recoverRuleHits(d, actions);
    // The recovery check: what the deciding model (or rules alone) decided must come out of decide() again.
    const thresholds =
      d.modelVersion === null ? { review: 1, decline: 1 } : input.champion !== null && d.modelVersion === input.champion.version ? input.champion.thresholds : input.knownThresholds?.get(d.modelVersion);
    if (thresholds !== undefined) {
      reproducible++;
      const by = d.modelVersion ?? 'rules alone';
      reproducibleBy[by] = (reproducibleBy[by] ?? 0) + 1;
      const again = decide({ ruleHits, score: d.modelVersion === null ? null : d.score, reasonCodes: [], contributions: null }, thresholds, input.challengeBand);
      if (again.decision === d.decision) reproduced++;
    }
    const score = input.candidateScores[i] ?? null;
    if (score === null) candidateUnscored++;
    const candidate = decide({ ruleHits, score, reasonCodes: [], contributions: null }, input.candidateThresholds, input.challengeBand).decision;
    const segment = replaySegment(d, replay);
    let s = bySegment.get(segment);
    if (s === undefined) bySegment.set(segment, (s = { n: 0, champion: emptyMix(), candidate: emptyMix() }));
    for (const bucket of [s, overall]) {
      bucket.n++;
      bucket.champion[d.decision]++;
      bucket.candidate[candidate]++;
    }
  }
  const rows: MixRow[] = [
    { segment: 'all', decisions: overall.n, judged: true, champion: overall.champion, candidate: overall.candidate },
    ...[...bySegment]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([segment, s]) => ({ segment, decisions: s.n, judged: s.n >= replay.minSegmentDecisions, champion: s.champion, candidate: s.candidate })),
  ];
  return {
    from: Number.isFinite(window.fromMs) ? new Date(window.fromMs).toISOString() : '',
    to: Number.isFinite(window.toMs) ? new Date(window.toMs).toISOString() : '',
    decisions: overall.n,
    reproducible,
    reproduced,
    reproducibleBy,
    candidateUnscored,
    ruleSetVersion: input.ruleSet.version,
    otherRuleSetVersions,
    rows,
  };
}

export function replayChecks(s: ReplaySummary, replay: LifecyclePolicy['gates']['replay'], championVersion: string | null): GateCheck[] {
  const window = `${s.decisions} decisions ${s.from} .. ${s.to}`;
  const checks: GateCheck[] = [
    {
      name: 'replayDecisions',
      passed: s.decisions >= replay.minDecisions,
      value: s.decisions,
      limit: replay.minDecisions,
      detail: `${window} (last ${replay.days} d of the decisions topic, repeats left out)${s.decisions < replay.minDecisions ? ': too few to judge the decision mix' : ''}`,
    },
  ];
  const share = s.reproducible > 0 ? s.reproduced / s.reproducible : null;
  checks.push({
    name: 'replayRuleHitsRecovered',
    passed: share !== null && share >= REPLAY_MIN_REPRODUCED,
    value: share,
    limit: REPLAY_MIN_REPRODUCED,
    detail:
      share === null
        ? `no decision in the window was made by a model of known thresholds (champion ${championVersion ?? 'none'}) or by rules alone: the recovery of rule hits cannot be verified`
        : `${s.reproduced} of ${s.reproducible} decisions (${Object.entries(s.reproducibleBy).map(([v, n]) => `${v} ${n}`).join(', ')}) re-made identically by decide() from their recorded score and the rule hits recovered through rule set ${s.ruleSetVersion}` +
          (s.otherRuleSetVersions ? ` (${s.otherRuleSetVersions} decided under another rule set version)` : ''),
  });
  const limits: [DecisionAction, string, number][] = [
    ['DECLINE', 'replayDeclineRateDelta', replay.maxDeclineRateDelta],
    ['REVIEW', 'replayReviewRateDelta', replay.maxReviewRateDelta],
    ['CHALLENGE', 'replayChallengeRateDelta', replay.maxChallengeRateDelta],
  ];
  for (const [action, name, limit] of limits) {
    let worst: { delta: number; row: MixRow } | null = null;
    for (const row of s.rows) {
      if (!row.judged || row.decisions === 0) continue;
      const delta = rates(row.candidate, row.decisions)[action] - rates(row.champion, row.decisions)[action];
      if (worst === null || Math.abs(delta) > Math.abs(worst.delta)) worst = { delta, row };
    }
    if (worst === null || s.decisions === 0) {
      checks.push({ name, passed: false, value: null, limit, detail: 'no decisions to compare' });
      continue;
    }
    const r = worst.row;
    const passed = Math.abs(worst.delta) <= limit;
    checks.push({
      name,
      passed,
      value: Math.abs(worst.delta),
      limit,
      detail:
        `largest |candidate − champion| ${action.toLowerCase()} rate over all decisions and each ${replay.segment} segment with >= ${replay.minSegmentDecisions}: ` +
        `${r.segment} (${r.decisions} decisions) ${fmt(r.champion[action] / r.decisions)} -> ${fmt(r.candidate[action] / r.decisions)} (${signed(worst.delta)})`,
    });
  }
  return checks;
}

// ---------------------------------------------------------------- the whole report

export interface GateReport {
  version: string;
  champion: string | null;
  policyVersion: string;
  evaluatedAt: string;
  passed: boolean;
  /** Names of the checks that failed, in order. */
  failed: string[];
  checks: GateCheck[];
  latency: LatencyFigures | null;
  replay: ReplaySummary | null;
}

export interface GateInput {
  cardPath: string;
  /** The trainer's --dump-predictions file for this candidate. */
  predictionsPath: string;
  champion: ChampionRef | null;
  /** Thresholds of every released version (the model-releases topic), for the replay's recovery check. */
  knownThresholds?: ReadonlyMap<string, Thresholds>;
  /** Decisions from the decisions topic (the window of `policy.gates.replay.days` is taken here). */
  decisions: readonly Decision[];
  ruleSet: RuleSet;
  challengeBand?: { from: number; to: number };
  policy: LifecyclePolicy;
  logger: Logger;
  now?: () => number;
  /**
   * The release record this candidate would be published as (its ONNX artifact inline) and the
   * largest record the model-releases topic takes: judged by `releaseSize` when given.
   */
  release?: ReleaseSize;
}

export interface ReleaseSize {
  topic: string;
  /** Serialized ModelRelease, as publishRelease would send it. */
  bytes: number;
  /** The topic's max.message.bytes less the record batch's overhead. */
  limitBytes: number;
}

/**
 * Whether the release record fits its topic. A model past it (a seed bag of large boosters, say)
 * passed every other gate and then failed at publish with the broker's RECORD_TOO_LARGE, after the
 * whole training run, with no word in the gate report: here it stops at the gates and says how
 * much too large it is and what to change.
 */
export function releaseSizeCheck(r: ReleaseSize): GateCheck {
  const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(2)} MiB`;
  const passed = r.bytes <= r.limitBytes;
  return {
    name: 'releaseSize',
    passed,
    value: r.bytes,
    limit: r.limitBytes,
    detail: passed
      ? `release record ${mib(r.bytes)} (artifact inline) within ${r.topic}'s ${mib(r.limitBytes)} (max.message.bytes less batch overhead)`
      : `release record ${mib(r.bytes)} (artifact inline) exceeds ${r.topic}'s ${mib(r.limitBytes)} (max.message.bytes less batch overhead): it could not be published; train a smaller model (fewer bag members or trees) or raise the topic's max.message.bytes`,
  };
}

/** Runs every gate; never throws for a failing candidate (a check fails instead), only for unreadable inputs. */
export async function runGates(input: GateInput): Promise<GateReport> {
  const { policy, logger } = input;
  const gates = policy.gates;
  const card = TrainedCard.parse(JSON.parse(await readFile(input.cardPath, 'utf8')));
  const predictions = Predictions.parse(JSON.parse(await readFile(input.predictionsPath, 'utf8')));
  if (predictions.version !== card.version) throw new Error(`${input.predictionsPath} holds predictions of ${predictions.version}, not ${card.version}`);
  const checks: GateCheck[] = [...comparisonChecks(card, input.champion, gates)];
  if (input.release !== undefined) checks.push(releaseSizeCheck(input.release));
  let latency: LatencyFigures | null = null;
  let replay: ReplaySummary | null = null;

  const registry = new ModelRegistry(logger);
  const loaded = await loadCandidate(registry, input.cardPath);
  if ('reason' in loaded) {
    checks.push({ name: 'loads', passed: false, value: null, limit: null, detail: `the candidate would be refused by the scorer: ${loaded.reason}` });
  } else {
    const model = loaded.model;
    try {
      checks.push({ name: 'loads', passed: true, value: null, limit: null, detail: `sha256, feature_names (${model.featureNames.length}) and a probe run checked as a release would be` });
      const testScores = await scoreSnapshots(registry, model, predictionSnapshots(predictions));
      checks.push(...heldOutChecks(heldOutFigures(predictions, testScores, card.thresholds), card.thresholds, gates));

      const window = replayWindow(input.decisions, gates.replay.days);
      const windowDecisions = window.indices.map((i) => input.decisions[i]!);
      const snapshots = windowDecisions.length > 0 ? windowDecisions.map((d) => d.features) : predictionSnapshots(predictions);
      latency = await benchmarkScoring(model, snapshots, gates.benchmarkDecisions, logger);
      checks.push(latencyCheck(latency, gates, windowDecisions.length > 0 ? `${snapshots.length} feature snapshots from the replay window` : `${snapshots.length} test-period rows (no decisions in the replay window)`));

      const candidateScores = await scoreSnapshots(registry, model, windowDecisions.map((d) => d.features));
      replay = replayMix({ decisions: windowDecisions, candidateScores, candidateThresholds: card.thresholds, champion: input.champion, knownThresholds: input.knownThresholds, ruleSet: input.ruleSet, challengeBand: input.challengeBand }, gates.replay);
      checks.push(...replayChecks(replay, gates.replay, input.champion?.version ?? null));
    } finally {
      await model.session.release().catch(() => undefined);
    }
  }
  const failed = checks.filter((c) => !c.passed).map((c) => c.name);
  return {
    version: card.version,
    champion: input.champion?.version ?? null,
    policyVersion: policy.version,
    evaluatedAt: new Date((input.now ?? Date.now)()).toISOString(),
    passed: failed.length === 0,
    failed,
    checks,
    latency,
    replay,
  };
}

/** JSON numbers cannot be Infinity or NaN: such a figure is written as null. */
function finiteJson(value: unknown): string {
  return `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const partial = `${file}.${randomUUID().slice(0, 8)}.partial`;
  await writeFile(partial, text);
  await rename(partial, file);
}

/** Writes `<version>.gates.json` beside the card and links it from the card (`gateReport`); returns the report's path. */
export async function writeGateReport(cardPath: string, report: GateReport): Promise<string> {
  const name = `${report.version}.gates.json`;
  const reportPath = path.join(path.dirname(cardPath), name);
  await writeAtomically(reportPath, finiteJson(report));
  const card = JSON.parse(await readFile(cardPath, 'utf8')) as Record<string, unknown>;
  card.gateReport = name;
  await writeAtomically(cardPath, `${JSON.stringify(card, null, 2)}\n`);
  return reportPath;
}
