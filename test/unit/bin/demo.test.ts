/**
 * `riskloop demo` options: the generator, label maturity/delay and the feature set by flag and
 * environment, reaching the loop's configuration as `run` reads it (bin/config.ts).
 */
import { describe, expect, it } from 'vitest';
import { labelJoinTiming, readAppConfig } from '../../../bin/config.js';
import { parseDemoArgs } from '../../../bin/commands/demo.js';
import { demoLabelEnv, type DemoOptions } from '../../../bin/demo.js';

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
    const opts = parsed(['--shadow', 'a.card.json', '--shadow', 'b.card.json', '--trainer', ' --folds 4  --search-budget 6', '--report', 'out.json']);
    expect(opts.shadowCards).toEqual(['a.card.json', 'b.card.json']);
    expect(opts.trainerArgs).toEqual(['--folds', '4', '--search-budget', '6']);
    expect(opts.report).toBe('out.json');
    expect(() => parsed(['--generator', 'other'])).toThrow();
    expect(() => parsed(['--label-maturity-days', '0'])).toThrow();
    expect(parseDemoArgs(['--help'])).toBe('help');
  });
});
