/**
 * `riskloop demo` options: the generator, label maturity/delay and the feature set by flag and
 * environment, reaching the loop's configuration as `run` reads it (bin/config.ts).
 */
import { describe, expect, it } from 'vitest';
import { labelJoinTiming, readAppConfig } from '../../../bin/config.js';
import { parseDemoArgs } from '../../../bin/commands/demo.js';
import { demoLabelEnv, demoPolicy, trainerOptionsFromArgs, type DemoOptions } from '../../../bin/demo.js';
import { loadPolicy } from '../../../lifecycle/policy.js';

const DAY = 86_400_000;
const KEYS = {
  RISKLOOP_ACCOUNT_TOKEN_KEY: '11'.repeat(32),
  RISKLOOP_CARD_KEYS: JSON.stringify([{ id: 'k1', key: '22'.repeat(32) }]),
  RISKLOOP_CARD_KEY_ID: 'k1',
};

function parsed(argv: string[]): DemoOptions {
  const opts = parseDemoArgs(argv);
  if (opts === 'help') throw new Error('help');
  return opts;
}
/** The loop config the demo builds: its label variables over the caller's environment. */
const loopConfig = (opts: DemoOptions, env: Record<string, string> = {}) => readAppConfig({ ...KEYS, ...env, ...demoLabelEnv(opts, env) });

describe('riskloop demo options', () => {
  it('defaults: the simulator, 60-day maturity as run has it, no feature-set override', () => {
    const opts = parsed([]);
    expect(opts).toMatchObject({ generator: 'sim', seed: 7, customers: 600, days: 42, days2: 14, shadowCards: [], trainerArgs: [] });
    expect(demoLabelEnv(opts, {})).toEqual({});
    expect(labelJoinTiming(loopConfig(opts))).toMatchObject({ maturityMs: 60 * DAY, maturityGraceMs: 0 });
  });

  it('--generator handbook matures labels after 14 days unless told otherwise (its chargebacks come in ~7)', () => {
    const opts = parsed(['--generator', 'handbook']);
    expect(labelJoinTiming(loopConfig(opts)).maturityMs).toBe(14 * DAY);
    expect(labelJoinTiming(loopConfig(opts, { RISKLOOP_LABEL_MATURITY_DAYS: '21' })).maturityMs).toBe(21 * DAY);
    expect(labelJoinTiming(loopConfig(parsed(['--generator', 'handbook', '--label-maturity-days', '10']), { RISKLOOP_LABEL_MATURITY_DAYS: '21' })).maturityMs).toBe(10 * DAY);
  });

  it('flags win over the environment for delay and feature set', () => {
    const opts = parsed(['--label-delay-days', '2', '--feature-set', 'features/mine.json']);
    const env = { RISKLOOP_LABEL_DELAY_DAYS: '1', RISKLOOP_FEATURE_SET_FILE: 'features/default.json' };
    expect(demoLabelEnv(opts, env)).toMatchObject({ RISKLOOP_LABEL_DELAY_DAYS: '2', RISKLOOP_FEATURE_SET_FILE: 'features/mine.json' });
    expect(labelJoinTiming(loopConfig(opts, env)).maturityGraceMs).toBe(2 * DAY);
    expect(demoLabelEnv(parsed([]), env)).toMatchObject({ RISKLOOP_LABEL_DELAY_DAYS: '1', RISKLOOP_FEATURE_SET_FILE: 'features/default.json' });
  });

  it('takes shadows, trainer options and a report file; refuses an unknown generator or a bad maturity', () => {
    const opts = parsed(['--shadow', 'a.card.json', '--shadow', 'b.card.json', '--trainer', ' --folds 4  --search-budget 6', '--report', 'out.json', '--keep-exports', '/tmp/exports']);
    expect(opts.keepExports).toBe('/tmp/exports');
    expect(parsed([]).keepExports).toBeUndefined();
    expect(opts.shadowCards).toEqual(['a.card.json', 'b.card.json']);
    expect(opts.trainerArgs).toEqual(['--folds', '4', '--search-budget', '6']);
    expect(opts.report).toBe('out.json');
    expect(() => parsed(['--generator', 'other'])).toThrow();
    expect(() => parsed(['--label-maturity-days', '0'])).toThrow();
    expect(parseDemoArgs(['--help'])).toBe('help');
  });
});

describe("the demo's retraining policy", () => {
  it('keeps the committed gates (replay mix deltas and the latency budget widened) and rollout checks; the pace differs', async () => {
    const base = await loadPolicy('models/lifecycle-policy.json');
    const demo = demoPolicy(base);
    expect(demo.version).toBe(`${base.version}+demo-pace`);
    expect(demo.gates).toEqual({ ...base.gates, maxScoreP99Micros: 50_000, replay: { ...base.gates.replay, maxDeclineRateDelta: 0.05, maxReviewRateDelta: 0.05 } });
    expect(demo.rollout.checks).toEqual(base.rollout.checks);
    expect(demo.retrain).toMatchObject({ everySeconds: 3600, minNewLabels: 0, onDriftAlert: false, minExamples: base.retrain.minExamples, minPositives: base.retrain.minPositives });
    expect(demo.retrain.trainer).toEqual({ ...base.retrain.trainer, folds: 2, searchBudget: 3 });
    expect(demo.rollout.shadow).toEqual({ minSeconds: 5, minDecisions: 2000 });
    expect(demo.rollout.canary).toEqual({ share: 20, minSeconds: 5, minDecisions: 300 });
    // The error rate's grace: 10 s by default, 2 s at the demo's pace (10 s took most canaries' traffic).
    expect(base.rollout.graceSeconds).toBe(10);
    expect(demo.rollout.graceSeconds).toBe(2);
  });

  it('takes --trainer options into retrain.trainer and refuses what the policy does not know', async () => {
    expect(trainerOptionsFromArgs(['--folds', '4', '--search-budget', '10', '--review-alert-rate', '0.03'])).toEqual({ folds: 4, searchBudget: 10, reviewAlertRate: 0.03 });
    const base = await loadPolicy('models/lifecycle-policy.json');
    expect(demoPolicy(base, ['--folds', '4']).retrain.trainer.folds).toBe(4);
    expect(trainerOptionsFromArgs(['--init', 'lr', '--refit', 'off', '--monotone', 'off', '--bag', '1'])).toEqual({ init: 'lr', refit: 'off', monotone: 'off', bag: 1 });
    expect(() => trainerOptionsFromArgs(['--refit', 'maybe'])).toThrow(/--trainer: refit/);
    expect(() => trainerOptionsFromArgs(['--leaves', '31'])).toThrow(/--trainer: .*leaves/);
    expect(() => trainerOptionsFromArgs(['--folds'])).toThrow(/pairs/);
    expect(() => trainerOptionsFromArgs(['--folds', 'many'])).toThrow(/--trainer: folds/);
  });
});
