/**
 * The offline gates (lifecycle/gates.ts) on real models and worked figures:
 * - the champion comparison on the real card of sim-bootstrap-v1 (trained with bootstrap-v1 as its
 *   parent: AP 0.2160 vs 0.1332, AUC 0.8375 vs 0.7637, account precision@100 0.0130 both);
 * - the replay's decision mix on a hand-worked set of decisions (rule hits recovered from reason
 *   codes, re-decided by processors/decide.ts), by amount band;
 * - the whole gate run with the real ONNX files: sim-bootstrap-v1 as candidate, bootstrap-v1 as the
 *   champion whose decisions are replayed, scores checked against an independent onnxruntime session.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  benchmarkScoring, comparisonChecks, heldOutChecks, latencyCheck, loadCandidate, releaseSizeCheck, replayChecks, replayMix, runGates,
  TrainedCard, writeGateReport, type ChampionRef, type GateReport,
} from '../../../lifecycle/gates.js';
import { loadPolicy, parsePolicy, type LifecyclePolicy } from '../../../lifecycle/policy.js';
import { decide } from '../../../processors/decide.js';
import { ModelRegistry } from '../../../processors/modelRegistry.js';
import { loadRuleSet, type RuleSet } from '../../../processors/ruleSet.js';
import type { Decision, DecisionAction } from '../../../schemas/types.js';
import { mulberry32 } from '../../support/seededRandom.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const MODELS = path.join(ROOT, 'models');
const DAY = 86_400_000;
const logger = pino({ level: 'silent' });

let policy: LifecyclePolicy;
let ruleSet: RuleSet;
let dir: string;
let simCard: TrainedCard & { referenceDistributions: Record<string, { edges: number[]; proportions: number[] }> };
let bootstrapCard: { version: string; features: string[]; thresholds: { review: number; decline: number } };

beforeAll(async () => {
  policy = await loadPolicy(path.join(MODELS, 'lifecycle-policy.json'));
  ruleSet = await loadRuleSet(path.join(ROOT, 'rules/ruleset.json'));
  dir = await mkdtemp(path.join(os.tmpdir(), 'riskloop-gates-'));
  const raw = JSON.parse(await readFile(path.join(MODELS, 'sim-bootstrap-v1.card.json'), 'utf8')) as Record<string, unknown>;
  simCard = { ...TrainedCard.parse(raw), referenceDistributions: raw.referenceDistributions as typeof simCard.referenceDistributions };
  bootstrapCard = JSON.parse(await readFile(path.join(MODELS, 'bootstrap-v1.card.json'), 'utf8')) as typeof bootstrapCard;
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

const BOOTSTRAP: () => ChampionRef = () => ({ version: 'bootstrap-v1', thresholds: bootstrapCard.thresholds });

describe('champion comparison on the same test rows', () => {
  it('gives candidate − champion per metric against the margins (sim-bootstrap-v1 vs its parent bootstrap-v1)', () => {
    const checks = comparisonChecks(simCard, BOOTSTRAP(), policy.gates);
    expect(checks.map((c) => c.name)).toEqual(['averagePrecision', 'aucRoc', 'precisionAtK']);
    const [ap, auc, pk] = checks;
    // 0.21595789793026188 − 0.13315903603473772; 0.8374501631025734 − 0.7637459224356651; 0.013001931541847507 both.
    expect(ap!.value).toBeCloseTo(0.0827988619, 9);
    expect(auc!.value).toBeCloseTo(0.0737042407, 9);
    expect(pk!.value).toBe(0);
    expect(checks.map((c) => [c.passed, c.limit])).toEqual([[true, 0.005], [true, -0.005], [true, -0.01]]);
    expect(ap!.detail).toBe(
      'average precision: candidate 0.2160 vs champion bootstrap-v1 0.1332 on the test period 2026-01-19T00:00:00Z .. 2026-01-26T00:00:00Z (1811 rows, 31 fraud): +0.0828 >= margin +0.0050',
    );
  });

  it('fails a metric that does not reach its margin, with the figures', () => {
    const strict = { ...policy.gates, apMargin: 0.1, precisionAtKMargin: 0.001 };
    const checks = comparisonChecks(simCard, BOOTSTRAP(), strict);
    expect(checks.map((c) => c.passed)).toEqual([false, true, false]);
    expect(checks[0]!.detail).toContain('+0.0828 < margin +0.1000');
    expect(checks[2]!.detail).toContain('account precision@100 (mean of days): candidate 0.0130 vs champion bootstrap-v1 0.0130');
  });

  it('fails every comparison when the card was scored against another model than the champion', () => {
    const checks = comparisonChecks(simCard, { version: 'lgbm-live-7', thresholds: { review: 0.3, decline: 0.8 } }, policy.gates);
    expect(checks.every((c) => !c.passed && c.value === null)).toBe(true);
    expect(checks[0]!.detail).toBe('the card compares against bootstrap-v1, not the champion lgbm-live-7');
    const orphan = comparisonChecks({ ...simCard, parentModel: null, parentMetrics: null }, BOOTSTRAP(), policy.gates);
    expect(orphan[1]!.detail).toMatch(/has no parent model.*train with --parent/);
    const unscored = comparisonChecks({ ...simCard, parentMetrics: { rows: 0, rowsNotScored: 1811, note: 'the parent could not score rows of both classes' } }, BOOTSTRAP(), policy.gates);
    expect(unscored[0]!.detail).toBe('the champion bootstrap-v1 could not score the test period: the parent could not score rows of both classes');
  });

  it('passes with nothing to beat when rules decide alone (cold start)', () => {
    const checks = comparisonChecks(simCard, null, policy.gates);
    expect(checks.every((c) => c.passed && c.limit === null)).toBe(true);
    expect(checks[0]!.value).toBeCloseTo(0.2159578979, 9);
    expect(checks[0]!.detail).toMatch(/^no champion \(rules decide alone\): nothing to beat/);
  });
});

describe('held-out rates and latency', () => {
  it('counts false positives and review-band rows at the thresholds', () => {
    // 10 rows: 8 legitimate, 2 fraud; review >= 0.3, decline >= 0.8.
    const figures = { rows: 10, legitimate: 8, flaggedLegitimate: 1, inReviewBand: 2, maxParityDiff: 3e-8 };
    const [parity, fpr, review] = heldOutChecks(figures, { review: 0.3, decline: 0.8 }, { ...policy.gates, maxFalsePositiveRate: 0.1, maxReviewRate: 0.15 });
    expect(parity).toMatchObject({ name: 'scoringParity', passed: true, value: 3e-8, limit: 1e-5 });
    expect(fpr).toMatchObject({ name: 'falsePositiveRate', passed: false, value: 0.125, limit: 0.1 });
    expect(fpr!.detail).toMatch(/^1 of 8 legitimate rows at or above the review threshold at the candidate's thresholds \(review >= 0\.300000/);
    expect(review).toMatchObject({ name: 'reviewRate', passed: false, value: 0.2, limit: 0.15 });
  });

  it('benchmarks the real scorer per decision and holds p99 against the budget', async () => {
    const registry = new ModelRegistry(logger);
    const loaded = await loadCandidate(registry, path.join(MODELS, 'bootstrap-v1.card.json'));
    if ('reason' in loaded) throw new Error(loaded.reason);
    const snapshots = [Object.fromEntries(bootstrapCard.features.map((f) => [f, 1]))];
    const figures = await benchmarkScoring(loaded.model, snapshots, 300, logger, 20, 2);
    expect(figures.decisions).toBe(300);
    expect(figures.roundsP99Micros).toHaveLength(2);
    expect(figures.p99Micros).toBe(Math.min(...figures.roundsP99Micros));
    expect(figures.p50Micros).toBeGreaterThan(0);
    expect(figures.p50Micros).toBeLessThanOrEqual(figures.p99Micros);
    expect(figures.p99Micros).toBeLessThanOrEqual(figures.maxMicros);
    expect(latencyCheck(figures, { ...policy.gates, maxScoreP99Micros: 1_000_000 }, 'x').passed).toBe(true);
    const tight = latencyCheck(figures, { ...policy.gates, maxScoreP99Micros: 0.001 }, 'one snapshot');
    expect(tight).toMatchObject({ name: 'scoringLatencyP99', passed: false, value: figures.p99Micros, limit: 0.001 });
    expect(tight.detail).toMatch(/^ScoringProcessor, one decision per batch, 300 decisions over one snapshot: p50 \d+ µs, p99 \d+ µs, max \d+ µs \(best of 2 rounds by p99: \d+, \d+ µs\)$/);
    await loaded.model.session.release();
  });
});

const T = Date.UTC(2026, 0, 20, 12);

function decision(over: Partial<Decision> & Pick<Decision, 'transactionId' | 'decision' | 'score' | 'reasonCodes'>): Decision {
  return {
    accountToken: 'acct', cardToken: 'card', eventTime: T, decidedAt: T, modelVersion: 'champ-v1', shadowScores: [], ruleSetVersion: ruleSet.version,
    features: {}, facts: {}, topContributions: [], pipelineLatencyMs: 1, ...over,
  };
}
const amount = (a: number) => ({ 'txn.amount_minor': a });

describe('replay: the decision mix the candidate would have produced', () => {
  const champion: ChampionRef = { version: 'champ-v1', thresholds: { review: 0.3, decline: 0.8 } };
  const candidateThresholds = { review: 0.2, decline: 0.6 };
  // Worked by hand (processors/decide.ts precedence: DECLINE > REVIEW > CHALLENGE > band; ALLOW only lifts a model-only band):
  //   id   amount  recorded codes                         score  recorded     candidate score -> decision
  const cases = (): [Decision, number | null][] => [
    [decision({ transactionId: 'd1', features: amount(500), reasonCodes: [], score: 0.1, decision: 'APPROVE' }), 0.25], // REVIEW (band)
    [decision({ transactionId: 'd2', features: amount(700), reasonCodes: ['VELOCITY_1H_HIGH'], score: 0.5, decision: 'REVIEW' }), 0.7], // DECLINE (band)
    [decision({ transactionId: 'd3', features: amount(3000), reasonCodes: ['CARD_TESTING_BURST', 'SCORE_ABOVE_DECLINE'], score: 0.85, decision: 'DECLINE' }), 0.1], // DECLINE (rule)
    [decision({ transactionId: 'd4', features: amount(3000), reasonCodes: ['SCORE_ABOVE_REVIEW'], score: 0.4, decision: 'REVIEW' }), 0.05], // APPROVE
    [decision({ transactionId: 'd5', features: amount(3000), reasonCodes: ['TRUSTED_LOW_RISK_SMALL_AMOUNT'], score: 0.5, decision: 'APPROVE' }), 0.5], // APPROVE (ALLOW lifts REVIEW band)
    [decision({ transactionId: 'd6', features: amount(50_000), reasonCodes: ['STEP_UP_NEW_DEVICE'], score: 0.1, decision: 'CHALLENGE' }), 0.65], // DECLINE (band beats CHALLENGE rule)
    [decision({ transactionId: 'd7', features: amount(50_000), reasonCodes: ['MODEL_FEATURES_MISSING'], score: null, modelVersion: null, decision: 'APPROVE' }), 0.9], // DECLINE
    [decision({ transactionId: 'd8', features: amount(50_000), reasonCodes: ['SCORE_ABOVE_REVIEW'], score: 0.5, modelVersion: 'canary-x', decision: 'REVIEW' }), 0.1], // APPROVE; a canary's: not a recovery check
    [decision({ transactionId: 'd9', features: amount(500), reasonCodes: [], score: 0.1, decision: 'APPROVE', duplicate: true }), 0.9], // a repeat: left out
    [decision({ transactionId: 'd10', features: amount(500), reasonCodes: [], score: 0.1, decision: 'APPROVE', eventTime: T - 8 * DAY }), 0.9], // before the 7-day window
    [decision({ transactionId: 'd11', features: amount(500), reasonCodes: [], score: 0.1, decision: 'REVIEW', eventTime: T - 6 * DAY }), 0.1], // APPROVE; not reproducible from its codes
  ];
  const replayPolicy = () => ({ ...policy.gates.replay, days: 7, minDecisions: 9, minSegmentDecisions: 3, maxDeclineRateDelta: 0.5, maxReviewRateDelta: 0.5, maxChallengeRateDelta: 0.5 });
  const run = (p = replayPolicy()) => replayMix({ decisions: cases().map((c) => c[0]), candidateScores: cases().map((c) => c[1]), candidateThresholds, champion, ruleSet }, p);
  const mix = (a: number, r: number, d: number, c: number): Record<DecisionAction, number> => ({ APPROVE: a, REVIEW: r, DECLINE: d, CHALLENGE: c });

  it('re-decides the window with the recovered rule hits, overall and by amount band', () => {
    const s = run();
    expect(s.decisions).toBe(9);
    expect(s.from).toBe(new Date(T - 7 * DAY).toISOString());
    expect(s.to).toBe(new Date(T).toISOString());
    expect([s.reproducible, s.reproduced]).toEqual([8, 7]);
    expect(s.candidateUnscored).toBe(0);
    const row = (segment: string) => s.rows.find((r) => r.segment === segment);
    expect(row('all')).toEqual({ segment: 'all', decisions: 9, judged: true, champion: mix(3, 4, 1, 1), candidate: mix(4, 1, 4, 0) });
    expect(row('amount < 1000')).toEqual({ segment: 'amount < 1000', decisions: 3, judged: true, champion: mix(1, 2, 0, 0), candidate: mix(1, 1, 1, 0) });
    expect(row('amount 1000..5000')).toEqual({ segment: 'amount 1000..5000', decisions: 3, judged: true, champion: mix(1, 1, 1, 0), candidate: mix(2, 0, 1, 0) });
    expect(row('amount 20000..100000')).toEqual({ segment: 'amount 20000..100000', decisions: 3, judged: true, champion: mix(1, 1, 0, 1), candidate: mix(1, 0, 2, 0) });
    expect(s.rows).toHaveLength(4);
  });

  it('judges the largest rate difference over the judged segments', () => {
    const checks = replayChecks(run(), replayPolicy(), 'champ-v1');
    const by = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(by.replayDecisions).toMatchObject({ passed: true, value: 9, limit: 9 });
    // 7 of 8 re-made: d11 was recorded REVIEW with nothing that explains it.
    expect(by.replayRuleHitsRecovered).toMatchObject({ passed: false, value: 0.875, limit: 0.99 });
    expect(by.replayRuleHitsRecovered!.detail).toBe('7 of 8 decisions (champ-v1 7, rules alone 1) re-made identically by decide() from their recorded score and the rule hits recovered through rule set 2026-12-03.2');
    // Decline: 0 of 3 -> 2 of 3 in amount 20000..100000.
    expect(by.replayDeclineRateDelta!.value).toBeCloseTo(2 / 3, 12);
    expect(by.replayDeclineRateDelta!.passed).toBe(false);
    expect(by.replayDeclineRateDelta!.detail).toContain('amount 20000..100000 (3 decisions) 0.0000 -> 0.6667 (+0.6667)');
    expect(by.replayReviewRateDelta!.value).toBeCloseTo(1 / 3, 12);
    expect(by.replayReviewRateDelta!.passed).toBe(true);
    expect(by.replayChallengeRateDelta).toMatchObject({ passed: true, limit: 0.5 });
    expect(by.replayChallengeRateDelta!.value).toBeCloseTo(1 / 3, 12);
  });

  it('checks the recovery on every version whose thresholds are known (a canary, an earlier champion)', () => {
    const s = replayMix(
      { decisions: cases().map((c) => c[0]), candidateScores: cases().map((c) => c[1]), candidateThresholds, champion, ruleSet, knownThresholds: new Map([['canary-x', { review: 0.45, decline: 0.9 }]]) },
      replayPolicy(),
    );
    // d8 (canary-x, score 0.5, REVIEW) joins: 0.5 is in its review band [0.45, 0.9).
    expect([s.reproducible, s.reproduced]).toEqual([9, 8]);
    expect(s.reproducibleBy).toEqual({ 'champ-v1': 7, 'rules alone': 1, 'canary-x': 1 });
  });

  it('shows small segments without judging them, and fails a window with too few decisions', () => {
    const p = { ...replayPolicy(), minSegmentDecisions: 4, minDecisions: 10 };
    const s = run(p);
    expect(s.rows.filter((r) => r.judged).map((r) => r.segment)).toEqual(['all']);
    const by = Object.fromEntries(replayChecks(s, p, 'champ-v1').map((c) => [c.name, c]));
    // Over all 9: decline 1 -> 4.
    expect(by.replayDeclineRateDelta!.value).toBeCloseTo(3 / 9, 12);
    expect(by.replayDecisions).toMatchObject({ passed: false, value: 9, limit: 10 });
    expect(by.replayDecisions!.detail).toMatch(/too few to judge/);
  });
});

/** Values drawn from a card's reference histograms: plausible snapshots for its features. */
function sampler(distributions: Record<string, { edges: number[]; proportions: number[] }>, seed: number) {
  const rand = mulberry32(seed);
  return (features: readonly string[]): Record<string, number> => {
    const row: Record<string, number> = {};
    for (const f of features) {
      const h = distributions[f];
      if (h === undefined) continue;
      let u = rand();
      let bin = 0;
      while (bin < h.proportions.length - 1 && u > h.proportions[bin]!) u -= h.proportions[bin++]!;
      row[f] = h.edges[bin]! + rand() * (h.edges[bin + 1]! - h.edges[bin]!);
    }
    return row;
  };
}

/** Scores with a plain onnxruntime session (not the registry): the independent reference. */
async function rawScores(onnxPath: string, features: readonly string[], rows: readonly Record<string, number>[]): Promise<number[]> {
  const session = await ort.InferenceSession.create(onnxPath);
  const data = new Float32Array(rows.length * features.length);
  rows.forEach((r, i) => features.forEach((f, j) => (data[i * features.length + j] = r[f] ?? Number.NaN)));
  const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data, [rows.length, features.length]) }, ['probabilities']);
  const probabilities = out.probabilities!.data as Float32Array;
  await session.release();
  return rows.map((_, i) => probabilities[i * 2 + 1]!);
}

describe('the whole gate run on real ONNX models', () => {
  let report: GateReport;
  let testRows: { features: Record<string, number>; label: number; onnxScore: number }[];
  let decisions: Decision[];
  const cardPath = () => path.join(dir, 'sim-bootstrap-v1.card.json');

  beforeAll(async () => {
    await copyFile(path.join(MODELS, 'sim-bootstrap-v1.card.json'), cardPath());
    await copyFile(path.join(MODELS, 'sim-bootstrap-v1.onnx'), path.join(dir, 'sim-bootstrap-v1.onnx'));
    const draw = sampler(simCard.referenceDistributions, 7);
    const labelRand = mulberry32(8);
    const features = simCard.features;
    const rows = Array.from({ length: 400 }, () => draw(features));
    const scores = await rawScores(path.join(MODELS, 'sim-bootstrap-v1.onnx'), features, rows);
    testRows = rows.map((r, i) => ({ features: r, label: labelRand() < 0.05 ? 1 : 0, onnxScore: scores[i]! }));
    await writeFile(
      path.join(dir, 'predictions.json'),
      JSON.stringify({ version: 'sim-bootstrap-v1', featureNames: features, rows: testRows.map((r) => ({ label: r.label, features: features.map((f) => r.features[f] ?? null), onnxScore: r.onnxScore })) }),
    );
    // Ten days of decisions by bootstrap-v1 on its own snapshots; every 7th with a REVIEW rule hit.
    const snapshots = Array.from({ length: 600 }, () => draw(features));
    const champion = await rawScores(path.join(MODELS, 'bootstrap-v1.onnx'), bootstrapCard.features, snapshots);
    decisions = snapshots.map((f, i) => {
      const reasonCodes = i % 7 === 0 ? ['VELOCITY_1H_HIGH'] : [];
      const verdict = decide({ ruleHits: reasonCodes.map((c) => ({ ruleId: 'velocity-1h', reasonCode: c, action: 'REVIEW' as const })), score: champion[i]!, reasonCodes: [], contributions: null }, bootstrapCard.thresholds);
      return decision({ transactionId: `t${i}`, eventTime: T - 10 * DAY + i * (10 * DAY / 600), features: f, score: champion[i]!, modelVersion: 'bootstrap-v1', reasonCodes: verdict.reasonCodes, decision: verdict.decision });
    });
    const gatePolicy = parsePolicy({ ...policy, gates: { ...policy.gates, benchmarkDecisions: 300, replay: { ...policy.gates.replay, minDecisions: 100, minSegmentDecisions: 30 } } });
    report = await runGates({ cardPath: cardPath(), predictionsPath: path.join(dir, 'predictions.json'), champion: BOOTSTRAP(), decisions, ruleSet, policy: gatePolicy, logger, now: () => T });
  });

  it('runs every check in order and fails the candidate when one fails', () => {
    expect(report.checks.map((c) => c.name)).toEqual([
      'averagePrecision', 'aucRoc', 'precisionAtK', 'loads', 'scoringParity', 'falsePositiveRate', 'reviewRate', 'scoringLatencyP99',
      'replayDecisions', 'replayRuleHitsRecovered', 'replayDeclineRateDelta', 'replayReviewRateDelta', 'replayChallengeRateDelta',
    ]);
    expect(report.failed).toEqual(report.checks.filter((c) => !c.passed).map((c) => c.name));
    expect(report.passed).toBe(report.failed.length === 0);
    expect(report).toMatchObject({ version: 'sim-bootstrap-v1', champion: 'bootstrap-v1', policyVersion: 'lifecycle-policy-1', evaluatedAt: new Date(T).toISOString() });
    for (const c of report.checks) if (c.value !== null && c.limit !== null && c.name !== 'replayDecisions' && c.name !== 'replayRuleHitsRecovered' && c.name !== 'scoringParity') {
      const higherIsBetter = ['averagePrecision', 'aucRoc', 'precisionAtK'].includes(c.name);
      expect(c.passed).toBe(higherIsBetter ? c.value >= c.limit : c.value <= c.limit);
    }
  });

  it('scores the test rows as the trainer did and counts the rates at the card thresholds', () => {
    const by = Object.fromEntries(report.checks.map((c) => [c.name, c]));
    expect(by.scoringParity!.passed).toBe(true);
    expect(by.scoringParity!.value!).toBeLessThan(1e-6);
    const t = simCard.thresholds;
    const legit = testRows.filter((r) => r.label === 0);
    const flagged = legit.filter((r) => r.onnxScore >= t.review).length;
    const inBand = testRows.filter((r) => r.onnxScore >= t.review && r.onnxScore < t.decline).length;
    expect(by.falsePositiveRate!.value).toBe(flagged / legit.length);
    expect(by.falsePositiveRate!.detail).toContain(`${flagged} of ${legit.length} legitimate rows`);
    expect(by.reviewRate!.value).toBe(inBand / testRows.length);
    expect(by.scoringLatencyP99!.detail).toMatch(/300 decisions over \d+ feature snapshots from the replay window/);
  });

  it('replays the last 7 days of the champion\'s decisions and recovers every rule hit', () => {
    const s = report.replay!;
    const latest = Math.max(...decisions.map((d) => d.eventTime));
    const inWindow = decisions.filter((d) => d.eventTime > latest - 7 * DAY);
    expect(inWindow.length).toBeGreaterThan(300);
    expect(inWindow.length).toBeLessThan(600);
    expect(s.decisions).toBe(inWindow.length);
    expect([s.reproducible, s.reproduced]).toEqual([inWindow.length, inWindow.length]);
    const recorded = { APPROVE: 0, REVIEW: 0, DECLINE: 0, CHALLENGE: 0 };
    for (const d of inWindow) recorded[d.decision]++;
    expect(s.rows[0]!.champion).toEqual(recorded);
    const candidateTotal = Object.values(s.rows[0]!.candidate).reduce((a, b) => a + b, 0);
    expect(candidateTotal).toBe(inWindow.length);
    // Every decision with a REVIEW rule stays at least REVIEW under the candidate.
    const ruled = inWindow.filter((d) => d.reasonCodes.includes('VELOCITY_1H_HIGH')).length;
    expect(s.rows[0]!.candidate.REVIEW + s.rows[0]!.candidate.DECLINE).toBeGreaterThanOrEqual(ruled);
  });

  it('writes <version>.gates.json beside the card and links it from the card', async () => {
    const written = await writeGateReport(cardPath(), report);
    expect(written).toBe(path.join(dir, 'sim-bootstrap-v1.gates.json'));
    const back = JSON.parse(await readFile(written, 'utf8')) as GateReport;
    expect(back.checks).toEqual(report.checks);
    const card = JSON.parse(await readFile(cardPath(), 'utf8')) as Record<string, unknown>;
    const original = JSON.parse(await readFile(path.join(MODELS, 'sim-bootstrap-v1.card.json'), 'utf8')) as Record<string, unknown>;
    expect(card).toEqual({ ...original, gateReport: 'sim-bootstrap-v1.gates.json' });
  });

  it('fails parity when the trainer\'s scores are not what the scorer computes, and "loads" for a refused artifact', async () => {
    const dump = JSON.parse(await readFile(path.join(dir, 'predictions.json'), 'utf8')) as { rows: { onnxScore: number }[] };
    dump.rows[3]!.onnxScore += 0.01;
    await writeFile(path.join(dir, 'predictions-off.json'), JSON.stringify(dump));
    const noReplay = parsePolicy({ ...policy, gates: { ...policy.gates, benchmarkDecisions: 100 } });
    const off = await runGates({ cardPath: cardPath(), predictionsPath: path.join(dir, 'predictions-off.json'), champion: BOOTSTRAP(), decisions: [], ruleSet, policy: noReplay, logger });
    const parity = off.checks.find((c) => c.name === 'scoringParity')!;
    expect(parity.passed).toBe(false);
    expect(parity.value).toBeCloseTo(0.01, 6);
    expect(off.checks.find((c) => c.name === 'replayDecisions')).toMatchObject({ passed: false, value: 0 });

    const card = JSON.parse(await readFile(cardPath(), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(dir, 'tampered.card.json'), JSON.stringify({ ...card, sha256: '0'.repeat(64) }));
    const refused = await runGates({ cardPath: path.join(dir, 'tampered.card.json'), predictionsPath: path.join(dir, 'predictions.json'), champion: BOOTSTRAP(), decisions, ruleSet, policy: noReplay, logger });
    expect(refused.passed).toBe(false);
    expect(refused.checks.map((c) => c.name)).toEqual(['averagePrecision', 'aucRoc', 'precisionAtK', 'loads']);
    expect(refused.checks[3]!.detail).toMatch(/^the candidate would be refused by the scorer: sha256 mismatch/);
    expect(refused.latency).toBeNull();
  });

  it('judges the release record against its topic\'s limit: a model that could not be published stops at the gates', async () => {
    const fits = releaseSizeCheck({ topic: 'p.model-releases', bytes: 5 * 1024 * 1024, limitBytes: 16 * 1024 * 1024 - 128 });
    expect(fits).toMatchObject({ name: 'releaseSize', passed: true, value: 5 * 1024 * 1024, limit: 16 * 1024 * 1024 - 128 });
    const tooBig = releaseSizeCheck({ topic: 'p.model-releases', bytes: 17 * 1024 * 1024, limitBytes: 16 * 1024 * 1024 - 128 });
    expect(tooBig.passed).toBe(false);
    expect(tooBig.detail).toBe("release record 17.00 MiB (artifact inline) exceeds p.model-releases's 16.00 MiB (max.message.bytes less batch overhead): it could not be published; train a smaller model (fewer bag members or trees) or raise the topic's max.message.bytes");
    expect(releaseSizeCheck({ topic: 't', bytes: 100, limitBytes: 100 }).passed).toBe(true);

    const noReplay = parsePolicy({ ...policy, gates: { ...policy.gates, benchmarkDecisions: 100 } });
    const judged = await runGates({ cardPath: cardPath(), predictionsPath: path.join(dir, 'predictions.json'), champion: BOOTSTRAP(), decisions: [], ruleSet, policy: noReplay, logger, release: { topic: 'p.model-releases', bytes: 17 * 1024 * 1024, limitBytes: 16 * 1024 * 1024 - 128 } });
    expect(judged.checks.map((c) => c.name).slice(0, 5)).toEqual(['averagePrecision', 'aucRoc', 'precisionAtK', 'releaseSize', 'loads']);
    expect(judged.passed).toBe(false);
    expect(judged.failed).toContain('releaseSize');
  });
});
