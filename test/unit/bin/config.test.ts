/**
 * Configuration points of issue 16: label maturity and label delay by flag and environment for the
 * loop commands, into the label join's config; the feature-set flag of replay and demo; and one
 * reading of the topic prefix and partitions for every command (topics create/list used to ignore
 * RISKLOOP_TOPIC_PREFIX, train and simulate too).
 */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LOOP_FLAG_OPTIONS, labelJoinTiming, loopFlagValues, readAppConfig, readClientConfig, readTopicNaming } from '../../../bin/config.js';
import { riskLoopConfigFor } from '../../../bin/riskLoopApp.js';
import { withFeatureSetFlag } from '../../../bin/commands/replay.js';
import { parseConfig as parseTopicsConfig } from '../../../bin/commands/topics.js';
import { parseTrainArgs } from '../../../bin/commands/train.js';
import { RiskLoopConfig } from '../../../processors/riskLoop.js';

const DAY = 86_400_000;
const KEYS = {
  RISKLOOP_ACCOUNT_TOKEN_KEY: '11'.repeat(32),
  RISKLOOP_CARD_KEYS: JSON.stringify([{ id: 'k1', key: '22'.repeat(32) }]),
  RISKLOOP_CARD_KEY_ID: 'k1',
};
const io = (env: Record<string, string>) => ({ out: () => undefined, err: () => undefined, env });
const loopFlags = (argv: string[]) => loopFlagValues(parseArgs({ args: argv, options: LOOP_FLAG_OPTIONS }).values);

describe('label maturity and delay', () => {
  it('default to 60 days and 0, what the label join had in code', () => {
    const config = readAppConfig(KEYS);
    expect(labelJoinTiming(config)).toEqual({ maturityMs: 60 * DAY, maturityGraceMs: 0, retentionMs: 180 * DAY });
    const loop = RiskLoopConfig.parse(riskLoopConfigFor(config));
    expect(loop.labelJoin.maturityMs).toBe(60 * DAY);
    expect(loop.labelJoin.maturityGraceMs).toBe(0);
  });

  it('come from RISKLOOP_LABEL_MATURITY_DAYS / RISKLOOP_LABEL_DELAY_DAYS into the topology label join', () => {
    const config = readAppConfig({ ...KEYS, RISKLOOP_LABEL_MATURITY_DAYS: '14', RISKLOOP_LABEL_DELAY_DAYS: '1.5' });
    const loop = RiskLoopConfig.parse(riskLoopConfigFor(config));
    expect(loop.labelJoin.maturityMs).toBe(14 * DAY);
    expect(loop.labelJoin.maturityGraceMs).toBe(1.5 * DAY);
    // The topology's own child names survive, and the app id still wins over the loop overrides.
    expect(loop.labelJoin.trainingExamplesChild).toBe('training-examples-sink');
    expect(loop.applicationId).toBe('riskloop');
  });

  it('flags (--label-maturity-days, --label-delay-days) win over the environment', () => {
    const flags = loopFlags(['--label-maturity-days', '21', '--label-delay-days', '2']);
    const config = readAppConfig({ ...KEYS, RISKLOOP_LABEL_MATURITY_DAYS: '14', RISKLOOP_LABEL_DELAY_DAYS: '1' }, flags);
    expect(labelJoinTiming(config)).toMatchObject({ maturityMs: 21 * DAY, maturityGraceMs: 2 * DAY });
  });

  it('keep snapshots past a maturity deadline beyond the default retention', () => {
    const config = readAppConfig({ ...KEYS, RISKLOOP_LABEL_MATURITY_DAYS: '170', RISKLOOP_LABEL_DELAY_DAYS: '20' });
    expect(labelJoinTiming(config).retentionMs).toBe(190 * DAY);
    // The label join's own check (retention >= maturity + grace) accepts it.
    expect(() => RiskLoopConfig.parse(riskLoopConfigFor(config))).not.toThrow();
  });

  it('refuse a maturity that is not a positive number or a negative delay, naming the variable', () => {
    expect(() => readAppConfig({ ...KEYS, RISKLOOP_LABEL_MATURITY_DAYS: '0' })).toThrow(/labelMaturityDays \(\$RISKLOOP_LABEL_MATURITY_DAYS\)/);
    expect(() => readAppConfig({ ...KEYS, RISKLOOP_LABEL_MATURITY_DAYS: 'two weeks' })).toThrow(/RISKLOOP_LABEL_MATURITY_DAYS/);
    expect(() => readAppConfig(KEYS, loopFlags(['--label-delay-days=-1']))).toThrow(/labelDelayDays \(\$RISKLOOP_LABEL_DELAY_DAYS\)/);
  });
});

describe('--feature-set on replay (and demo)', () => {
  it('sets RISKLOOP_FEATURE_SET_FILE for the process config, and leaves the environment alone without it', () => {
    const env = { ...KEYS, RISKLOOP_FEATURE_SET_FILE: 'features/default.json' };
    expect(withFeatureSetFlag(env, 'features/mine.json').RISKLOOP_FEATURE_SET_FILE).toBe('features/mine.json');
    expect(withFeatureSetFlag(env, undefined)).toBe(env);
  });
});

describe('topic prefix: one reading for every command', () => {
  it('topics create/list read RISKLOOP_TOPIC_PREFIX and RISKLOOP_PARTITIONS like run does; flags win', () => {
    const env = { RISKLOOP_TOPIC_PREFIX: 'team-b.', RISKLOOP_PARTITIONS: '3' };
    const fromEnv = parseTopicsConfig([], io(env));
    if (fromEnv === 'help') throw new Error('help');
    expect(fromEnv.catalogue).toMatchObject({ prefix: 'team-b.', partitions: 3 });
    expect(readAppConfig({ ...KEYS, ...env })).toMatchObject({ topicPrefix: 'team-b.', partitions: 3 });
    expect(readClientConfig(env)).toMatchObject({ topicPrefix: 'team-b.', partitions: 3 });
    const fromFlag = parseTopicsConfig(['--prefix', 'other.', '--partitions', '2'], io(env));
    if (fromFlag === 'help') throw new Error('help');
    expect(fromFlag.catalogue).toMatchObject({ prefix: 'other.', partitions: 2 });
    const defaults = parseTopicsConfig([], io({}));
    if (defaults === 'help') throw new Error('help');
    expect(defaults.catalogue).toMatchObject({ prefix: 'riskloop.', partitions: 6 });
  });

  it('train reads it too (the training topic it exports), and a bad prefix is refused with the variable', () => {
    const config = parseTrainArgs(['--from-topic'], { RISKLOOP_TOPIC_PREFIX: 'team-b.' });
    if (config === 'help') throw new Error('help');
    expect(config.prefix).toBe('team-b.');
    expect(readTopicNaming({ RISKLOOP_TOPIC_PREFIX: 'team-b.' }, { topicPrefix: 'x.' }).topicPrefix).toBe('x.');
    expect(() => readTopicNaming({ RISKLOOP_TOPIC_PREFIX: 'bad prefix/' })).toThrow(/RISKLOOP_TOPIC_PREFIX/);
  });
});

describe('shadow models seeded at start', () => {
  it('RISKLOOP_SHADOW_MODEL_CARDS lists model cards (comma-separated)', () => {
    expect(readAppConfig({ ...KEYS, RISKLOOP_MODEL_CARD: '', RISKLOOP_SHADOW_MODEL_CARDS: 'models/a.card.json, models/b.card.json,' })).toMatchObject({
      modelCard: '',
      shadowModelCards: ['models/a.card.json', 'models/b.card.json'],
    });
  });
});

describe('cold start', () => {
  it('is rules-first by default: no champion, the simulator-trained bootstrap model in shadow', () => {
    const config = readAppConfig(KEYS);
    expect(config.modelCard).toBe('');
    expect(config.shadowModelCards).toEqual(['models/sim-bootstrap-v1.card.json']);
    // A champion can still be chosen at start, and the shadow list emptied.
    expect(readAppConfig({ ...KEYS, RISKLOOP_MODEL_CARD: 'models/bootstrap-v1.card.json', RISKLOOP_SHADOW_MODEL_CARDS: '' })).toMatchObject({ modelCard: 'models/bootstrap-v1.card.json', shadowModelCards: [] });
  });
});
