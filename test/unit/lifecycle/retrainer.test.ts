/**
 * The pure parts of the retrain step (lifecycle/retrainer.ts): where the trainer's test period must
 * end for its labels to be final, the policy's trainer options as train.py flags, and the default
 * candidate version. The broker-facing parts run in test/integration/retrainGates.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { defaultVersion, testEndFor, trainerArgs } from '../../../lifecycle/retrainer.js';

const DAY = 86_400_000;

describe('retrainer', () => {
  it('ends the test period at the UTC midnight at or before cut-off − maturity − delay', () => {
    const cutoff = Date.parse('2026-03-20T10:00:00Z');
    const lastEvent = Date.parse('2026-01-18T15:00:00Z');
    // 2026-03-20T10:00 − 62 d = 2026-01-17T10:00 → the test period ends before 2026-01-17.
    expect(testEndFor(cutoff, lastEvent, { maturityMs: 60 * DAY, maturityGraceMs: 2 * DAY })).toBe('2026-01-17');
    // Exactly at a midnight: that midnight.
    expect(testEndFor(Date.parse('2026-03-18T00:00:00Z'), lastEvent, { maturityMs: 60 * DAY, maturityGraceMs: 0 })).toBe('2026-01-17');
    // Everything mature (short maturity): the trainer's own default, the day after the last event.
    expect(testEndFor(cutoff, lastEvent, { maturityMs: 1 * DAY, maturityGraceMs: 0 })).toBe('2026-01-19');
  });

  it('passes the policy trainer options as train.py flags, leaving out what is unset', () => {
    expect(trainerArgs({})).toEqual([]);
    expect(trainerArgs({ testDays: 7, gapDays: 0, searchBudget: 1, reviewAlertRate: 0.02, threads: 2 })).toEqual([
      '--test-days', '7', '--gap-days', '0', '--search-budget', '1', '--review-alert-rate', '0.02', '--threads', '2',
    ]);
    // The seed bag is a policy choice too (train.py --bag).
    expect(trainerArgs({ bag: 3, init: 'none' })).toEqual(['--init', 'none', '--bag', '3']);
    expect(trainerArgs({ refit: 'off', monotone: 'amount' })).toEqual(['--refit', 'off', '--monotone', 'amount']);
  });

  it('names a candidate lgbm-<UTC YYYYMMDD-HHMMSS>, the trainer\'s own default form', () => {
    expect(defaultVersion(Date.parse('2026-12-03T09:41:07.500Z'))).toBe('lgbm-20261203-094107');
  });
});
