/** Live figures of a rollout stage, worked by hand over a few decisions and labels. */
import { describe, expect, it } from 'vitest';
import { bandOf, evaluateChecks, firstFailure, psiSampleSize, wilsonLower, LiveWindow, p99, type RolloutChecks, type Watch } from '../../../lifecycle/liveChecks.js';
import { canaryBucket } from '../../../processors/scoring.js';
import type { Decision, TrainingExample } from '../../../schemas/types.js';

const reference = { edges: [0, 0.1, 0.5, 1.0001], proportions: [0.5, 0.3, 0.2] };
const thresholds = { review: 0.5, decline: 0.9 };
const checks: RolloutChecks = { maxScorePsi: 0.25, maxDeclineRate: 0.15, maxReviewRate: 0.15, maxLatencyP99Ms: 50, maxErrorRate: 0.05, minPrecision: 0.3, minLabelledForPrecision: 2 };

function decision(i: number, over: Partial<Decision> = {}): Decision {
  return {
    transactionId: `tx-${i}`,
    accountToken: `acct-${i}`,
    cardToken: `card-${i}`,
    eventTime: 1000 + i,
    decidedAt: 2000 + i,
    decision: 'APPROVE',
    score: 0.01,
    modelVersion: 'champ',
    shadowScores: [],
    ruleSetVersion: 'r1',
    reasonCodes: [],
    features: {},
    facts: {},
    topContributions: [],
    pipelineLatencyMs: i + 1,
    ...over,
  };
}

function example(tx: string, label: 0 | 1, over: Partial<TrainingExample> = {}): TrainingExample {
  return { transactionId: tx, accountToken: 'a', eventTime: 0, features: {}, facts: {}, label, labelSource: 'CHARGEBACK', labeledAt: 0, labelDelayMs: 0, modelVersion: 'champ', decision: 'APPROVE', isCorrection: false, ...over };
}

const shadowWatch: Watch = { version: 's1', role: 'shadow', sinceMs: 1500, thresholds, scoreReference: reference, graceMs: 100 };
// Ten shadow scores binned [5, 3, 2] on the reference: exactly its proportions.
const SHADOW_SCORES = [0.05, 0.05, 0.05, 0.05, 0.05, 0.2, 0.2, 0.2, 0.6, 0.95];

describe('LiveWindow (shadow)', () => {
  it('counts would-be decisions at its thresholds, PSI, latency, missing scores and precision', () => {
    const w = new LiveWindow(shadowWatch);
    w.addDecision(decision(99, { decidedAt: 1400, shadowScores: [{ modelVersion: 's1', score: 0.99 }] })); // before the stage: ignored
    SHADOW_SCORES.forEach((s, i) => w.addDecision(decision(i, { shadowScores: [{ modelVersion: 'other', score: 0.5 }, { modelVersion: 's1', score: s }] })));
    w.addDecision(decision(10, { shadowScores: [] })); // after the grace period without its score: an error
    w.addDecision(decision(11, { decidedAt: 1550, shadowScores: [] })); // within the grace period: not expected yet
    let f = w.figures();
    expect(f.decisions).toBe(10);
    expect(f.declineRate).toBeCloseTo(0.1, 12); // 0.95
    expect(f.reviewRate).toBeCloseTo(0.1, 12); // 0.6
    expect(f.scorePsi).toBeCloseTo(0, 12);
    expect(f.latencyP99Ms).toBe(10); // latencies 1..10, nearest rank ceil(9.9) = 10th
    expect(f.expected).toBe(11);
    expect(f.errors).toBe(1);
    expect(f.errorRate).toBeCloseTo(1 / 11, 12);
    expect(f.decisionMix).toEqual({ APPROVE: 0, REVIEW: 0, DECLINE: 0, CHALLENGE: 0 });
    expect(f.precision).toBeNull();

    // Labels: tx-8 (REVIEW band) legitimate, tx-9 (DECLINE band) fraud, tx-0 was not flagged.
    w.addExample(example('tx-8', 0));
    w.addExample(example('tx-9', 1));
    w.addExample(example('tx-0', 1));
    f = w.figures();
    expect(f.labelled).toBe(2);
    expect(f.precision).toBe(0.5);
    // A correction replaces the earlier label.
    w.addExample(example('tx-8', 1, { isCorrection: true }));
    expect(w.figures().precision).toBe(1);
  });

  it('PSI of a shifted sample: counts [2, 3, 5] on proportions [0.5, 0.3, 0.2] give 0.6·ln 2.5 = 0.5498', () => {
    const w = new LiveWindow(shadowWatch);
    [0.05, 0.05, 0.2, 0.2, 0.2, 0.6, 0.6, 0.6, 0.6, 0.6].forEach((s, i) => w.addDecision(decision(i, { shadowScores: [{ modelVersion: 's1', score: s }] })));
    const f = w.figures();
    expect(f.scorePsi).toBeCloseTo(0.6 * Math.log(2.5), 10);
    expect(f.scorePsi).toBeCloseTo(0.5498, 4);
    expect(f.reviewRate).toBe(0.5);
  });
});

describe('LiveWindow (canary)', () => {
  it('judges the decisions it made, and counts routed cards another version decided as errors', () => {
    const share = 0.5;
    const cards = Array.from({ length: 200 }, (_, i) => `card-${i}`);
    const routed = cards.filter((c) => canaryBucket('c1', c) < share);
    const other = cards.filter((c) => canaryBucket('c1', c) >= share);
    expect(routed.length).toBeGreaterThan(50);
    const w = new LiveWindow({ version: 'c1', role: 'canary', sinceMs: 1500, thresholds, scoreReference: reference, share, graceMs: 100 });
    // 20 canary decisions: 2 DECLINE, 3 REVIEW by the loop, scores 0.95 ×2, 0.6 ×3, 0.05 ×15.
    for (let i = 0; i < 20; i++) {
      const score = i < 2 ? 0.95 : i < 5 ? 0.6 : 0.05;
      w.addDecision(decision(i, { cardToken: routed[i]!, modelVersion: 'c1', score, decision: i < 2 ? 'DECLINE' : i < 5 ? 'REVIEW' : 'APPROVE', pipelineLatencyMs: 5 }));
    }
    // A routed card the champion decided (canary release refused), one that failed (MODEL_ERROR).
    w.addDecision(decision(20, { cardToken: routed[20]!, modelVersion: 'champ' }));
    w.addDecision(decision(21, { cardToken: routed[21]!, modelVersion: null, score: null, reasonCodes: ['MODEL_ERROR'] }));
    // No model installed for it at all (canary refused, rules-first loop without a champion).
    w.addDecision(decision(22, { cardToken: routed[22]!, modelVersion: null, score: null, reasonCodes: ['MODEL_UNAVAILABLE'] }));
    // Features missing is the record's problem, not the model's: not counted.
    w.addDecision(decision(23, { cardToken: routed[23]!, modelVersion: null, score: null, reasonCodes: ['MODEL_FEATURES_MISSING'] }));
    // Not routed: the champion's business.
    for (let i = 0; i < 10; i++) w.addDecision(decision(30 + i, { cardToken: other[i]! }));
    const f = w.figures();
    expect(f.decisions).toBe(20);
    expect(f.declineRate).toBe(0.1);
    expect(f.reviewRate).toBe(0.15);
    expect(f.decisionMix).toEqual({ APPROVE: 15, REVIEW: 3, DECLINE: 2, CHALLENGE: 0 });
    expect(f.expected).toBe(23);
    expect(f.errors).toBe(3);
    expect(f.latencyP99Ms).toBe(5);
    // Precision from training examples of its REVIEW/DECLINE decisions.
    w.addExample(example('tx-0', 1, { modelVersion: 'c1', decision: 'DECLINE' }));
    w.addExample(example('tx-3', 0, { modelVersion: 'c1', decision: 'REVIEW' }));
    w.addExample(example('tx-4', 0, { modelVersion: 'c1', decision: 'REVIEW' }));
    w.addExample(example('tx-10', 1)); // an APPROVE: not its flag
    expect(w.figures().labelled).toBe(3);
    expect(w.figures().precision).toBeCloseTo(1 / 3, 12);
  });
});

describe('evaluateChecks', () => {
  const w = new LiveWindow(shadowWatch);
  SHADOW_SCORES.forEach((s, i) => w.addDecision(decision(i, { shadowScores: [{ modelVersion: 's1', score: s }] })));
  w.addDecision(decision(10, { shadowScores: [] }));

  it('passes within the bounds, and waits (null) below the sample minimum', () => {
    // maxScorePsi 1: 10 scores in 3 bins are enough for it (psiSampleSize 8; at 0.25 it is 32).
    const results = evaluateChecks(w.figures(), { ...checks, maxScorePsi: 1 }, { minSamples: 10 });
    // A shadow's pipeline latency is the champion's: not judged for it.
    expect(Object.fromEntries(results.map((r) => [r.name, r.passed]))).toEqual({ scorePsi: true, declineRate: true, reviewRate: true, latencyP99Ms: null, errorRate: false, precision: null });
    expect(evaluateChecks({ ...w.figures(), role: 'canary' }, checks, { minSamples: 10 }).find((r) => r.name === 'latencyP99Ms')!.passed).toBe(true);
    // Over the limit: fails alone or when clearly slower than the champion over the same period,
    // passes when the champion is as slow (the loop's latency, not the model's).
    const latency = (p99: number, champP99: number | null) =>
      evaluateChecks({ ...w.figures(), role: 'canary', latencyP99Ms: p99 }, checks, { minSamples: 10, champion: champP99 === null ? null : { ...w.figures(), version: 'champ', role: 'champion', latencyP99Ms: champP99 } }).find((r) => r.name === 'latencyP99Ms')!;
    expect(latency(251, null).passed).toBe(false);
    expect(latency(251, 240).passed).toBe(true);
    expect(latency(251, 240).detail).toMatch(/no slower than the champion/);
    expect(latency(400, 240).passed).toBe(false); // > 240 x 1.2 + 5
    expect(latency(293, 240).passed).toBe(true);
    expect(latency(40, 500).passed).toBe(true);
    // 1 of 11 expected decisions lacked its score: 0.0909 > 0.05.
    expect(firstFailure(results)).toMatchObject({ name: 'errorRate', limit: 0.05 });
    expect(firstFailure(results)!.value).toBeCloseTo(1 / 11, 12);
    const early = evaluateChecks(w.figures(), checks, { minSamples: 100 });
    expect(early.every((r) => r.passed === null)).toBe(true);
    // Before the stage's whole sample (stageSamples) the PSI waits, and so does a rate within its bound.
    const psiLater = evaluateChecks(w.figures(), { ...checks, maxScorePsi: -1 }, { minSamples: 10, stageSamples: 11 });
    expect(psiLater.find((r) => r.name === 'scorePsi')!.passed).toBeNull();
    expect(psiLater.find((r) => r.name === 'declineRate')!.passed).toBeNull();
    expect(evaluateChecks(w.figures(), { ...checks, maxScorePsi: -1 }, { minSamples: 10, stageSamples: 10 }).find((r) => r.name === 'scorePsi')!.passed).toBe(false);
  });

  it('judges the score PSI only once its sample noise, (bins - 1)/n, is at most a quarter of the limit', () => {
    expect(psiSampleSize(20, 0.25)).toBe(304);
    expect(psiSampleSize(8, 0.25)).toBe(112);
    expect(psiSampleSize(20, -1)).toBe(0);
    expect(psiSampleSize(1, 0.25)).toBe(0);
    // 20 equal bins; n scores spread over them as evenly as n allows, all in one bin for the shifted case.
    const edges = Array.from({ length: 21 }, (_, i) => i / 20);
    const ref = { edges, proportions: Array<number>(20).fill(0.05) };
    const window = (n: number, shifted: boolean): LiveWindow => {
      const lw = new LiveWindow({ ...shadowWatch, scoreReference: ref });
      for (let i = 0; i < n; i++) lw.addDecision(decision(i, { shadowScores: [{ modelVersion: 's1', score: shifted ? 0.01 : ((i % 20) + 0.5) / 20 }] }));
      return lw;
    };
    const psiCheck = (lw: LiveWindow) => evaluateChecks(lw.figures(), checks, { minSamples: 200, stageSamples: 200 }).find((r) => r.name === 'scorePsi')!;
    // 303 scores (stage sample 200 reached): a sample of the reference itself would average PSI 0.063 here.
    expect(psiCheck(window(303, true))).toMatchObject({ passed: null, detail: expect.stringContaining('judged from 304 scores') });
    expect(psiCheck(window(304, true)).passed).toBe(false);
    expect(psiCheck(window(304, false)).passed).toBe(true);
    expect(window(304, false).figures().scoreBins).toBe(20);
  });

  it('before the stage sample, fails a rate only when its 99 % Wilson lower bound is above the limit', () => {
    // Worked: 7 of 262 = 0.0267, Wilson 99 % lower bound 0.0106 (< 0.02: wait); 262 of 262, lower bound 0.9754.
    expect(wilsonLower(7 / 262, 262, 2.5758)).toBeCloseTo(0.0106, 3);
    expect(wilsonLower(1, 262, 2.5758)).toBeCloseTo(0.9754, 3);
    const night = { ...w.figures(), decisions: 262, declineRate: 7 / 262, expected: 262, errors: 0, errorRate: 0 };
    const byName = (rs: ReturnType<typeof evaluateChecks>) => Object.fromEntries(rs.map((r) => [r.name, r.passed]));
    expect(byName(evaluateChecks(night, { ...checks, maxDeclineRate: 0.02 }, { minSamples: 200, stageSamples: 2000 })).declineRate).toBeNull();
    // At the stage's sample the same share fails as it is.
    expect(byName(evaluateChecks({ ...night, decisions: 2000, expected: 2000 }, { ...checks, maxDeclineRate: 0.02 }, { minSamples: 200, stageSamples: 2000 })).declineRate).toBe(false);
    // A model declining everything fails at once.
    expect(byName(evaluateChecks({ ...night, declineRate: 1 }, { ...checks, maxDeclineRate: 0.02 }, { minSamples: 200, stageSamples: 2000 })).declineRate).toBe(false);
  });

  it('fails the decline rate above its bound and names the champion figure beside it', () => {
    const tight = evaluateChecks(w.figures(), { ...checks, maxDeclineRate: 0.05, maxErrorRate: 1 }, { minSamples: 10, champion: { ...w.figures(), version: 'champ', declineRate: 0.01 } });
    const failed = firstFailure(tight)!;
    expect(failed.name).toBe('declineRate');
    expect(failed.value).toBeCloseTo(0.1, 12);
    expect(failed.detail).toContain('champion champ: 0.0100');
  });
});

describe('helpers', () => {
  it('bands and p99', () => {
    expect(bandOf(0.9, thresholds)).toBe('DECLINE');
    expect(bandOf(0.5, thresholds)).toBe('REVIEW');
    expect(bandOf(0.49, thresholds)).toBeNull();
    expect(p99([])).toBeNull();
    expect(p99(Array.from({ length: 200 }, (_, i) => i + 1))).toBe(198);
  });
});
