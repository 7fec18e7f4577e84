import { describe, expect, it } from 'vitest';
import { modelReasonCodes, TreeExplainer, TREES_FORMAT } from '../../../processors/contributions.js';
import { repeatedDecision, snapshotOf } from '../../../processors/snapshotStore.js';
import { EXAMPLES } from '../../../schemas/examples.js';

/**
 * Two trees over features [a, b], Platt b = -2 already in baseValue:
 *   tree 0:  a <= 5 (NaN -> left)  ? leaf 1 (3 rows)  :  [b <= 0 (missing None: NaN read as 0)  ? leaf -1 (1 row) : leaf 5 (1 row)]
 *   tree 1:  leaf 0.5
 * Node values (mean output of the rows reaching them): b-node (−1 + 5) / 2 = 2; root (3·1 + 2·2) / 5 = 1.4.
 * baseValue = −2 + 1.4 + 0.5 = −0.1.
 */
const DOC = {
  format: TREES_FORMAT,
  modelVersion: 'tiny',
  featureNames: ['a', 'b'],
  baseValue: -0.1,
  trees: [
    {
      feature: [0, -1, 1, -1, -1],
      threshold: [5, 0, 0, 0, 0],
      defaultLeft: [true, false, true, false, false],
      missing: ['NaN', 'None', 'None', 'None', 'None'],
      left: [1, -1, 3, -1, -1],
      right: [2, -1, 4, -1, -1],
      value: [1.4, 1, 2, -1, 5],
    },
    { feature: [-1], threshold: [0], defaultLeft: [false], missing: ['None'], left: [-1], right: [-1], value: [0.5] },
  ],
};

describe('tree contributions (Saabas)', () => {
  const explainer = TreeExplainer.fromDocument(DOC, ['a', 'b']);

  it('worked example: each split credits child − node to its feature, and base + contributions = the raw score', () => {
    const out = new Float64Array(2);
    // a = 7 goes right (2 − 1.4 = 0.6 to a), b = 0.5 goes right (5 − 2 = 3 to b); raw = −2 + 5 + 0.5.
    expect(explainer.contributionsInto([7, 0.5], 0, out)).toBeCloseTo(3.5, 12);
    expect(out[0]).toBeCloseTo(0.6, 12);
    expect(out[1]).toBeCloseTo(3, 12);
    expect(explainer.baseValue + out[0]! + out[1]!).toBeCloseTo(3.5, 12);
    expect(explainer.top([7, 0.5], 0, 3)).toEqual([
      { feature: 'b', value: 0.5, contribution: expect.closeTo(3, 12) as number },
      { feature: 'a', value: 7, contribution: expect.closeTo(0.6, 12) as number },
    ]);
    expect(explainer.top([7, 0.5], 0, 1).map((c) => c.feature)).toEqual(['b']);
  });

  it('follows LightGBM for missing values: NaN to the default side, or read as 0 where the split has no missing type', () => {
    const out = new Float64Array(2);
    // a missing -> default left leaf 1 (1 − 1.4 = −0.4); b never reached. raw = −2 + 1 + 0.5.
    expect(explainer.contributionsInto([Number.NaN, Number.NaN], 0, out)).toBeCloseTo(-0.5, 12);
    expect([...out]).toEqual([expect.closeTo(-0.4, 12), 0]);
    expect(explainer.top([Number.NaN, 3], 0, 3)).toEqual([{ feature: 'a', value: null, contribution: expect.closeTo(-0.4, 12) as number }]);
    // b missing at a None split is 0 <= 0: left leaf −1 (−1 − 2 = −3). raw = −2 − 1 + 0.5.
    expect(explainer.contributionsInto([7, Number.NaN], 0, out)).toBeCloseTo(-2.5, 12);
    expect(out[1]).toBeCloseTo(-3, 12);
    // Rows are read at an offset inside a batch matrix.
    expect(explainer.contributionsInto(Float32Array.from([9, 9, 7, 0.5]), 2, out)).toBeCloseTo(3.5, 6);
  });

  it('reason codes name the features that raised the score, largest first', () => {
    expect(modelReasonCodes(explainer.top([7, 0.5], 0, 3))).toEqual(['MODEL_TOP_FEATURE:b', 'MODEL_TOP_FEATURE:a']);
    expect(modelReasonCodes(explainer.top([Number.NaN, 0], 0, 3))).toEqual([]);
    expect(modelReasonCodes(null)).toEqual([]);
  });

  it('refuses a trees file that does not fit the model', () => {
    expect(() => TreeExplainer.fromDocument(DOC, ['b', 'a'])).toThrow(/differ from the model's/);
    const loop = { ...DOC, trees: [{ ...DOC.trees[0]!, left: [0, -1, 3, -1, -1] }] };
    expect(() => TreeExplainer.fromDocument(loop, ['a', 'b'])).toThrow(/not later nodes/);
    expect(() => TreeExplainer.fromDocument({ ...DOC, format: 'other' }, ['a', 'b'])).toThrow();
  });

  it('a repeated (duplicate) decision carries the stored contributions unchanged', () => {
    const decision = { ...EXAMPLES.Decision, duplicate: false };
    expect(decision.contributions?.length).toBeGreaterThan(0);
    expect(repeatedDecision(snapshotOf(decision))).toEqual({ ...decision, duplicate: true });
    const { contributions: _c, ...without } = decision;
    expect(repeatedDecision(snapshotOf(without))!.contributions).toBeUndefined();
  });
});
