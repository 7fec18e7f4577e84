/**
 * Feature sets (processors/featureSet/, features/*.json): a set built from a declaration runs the
 * whole loop through the test driver and gives the worked values at the edges of a 30-day
 * window and of a ratio; the hot path writes exactly the declared features; the same input
 * replayed gives identical snapshots; a model needing a feature the running set does not produce
 * is refused with the names, and the old champion keeps deciding.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_FEATURE_SET_PATH,
  FIXED_FEATURE_NAMES,
  type FeatureSet,
  FeatureSetError,
  compileFeatureSet,
  defaultFeatureSet,
  loadFeatureSet,
} from '../../../processors/featureSet/declaration.js';
import { loopFlagValues, readClientConfig } from '../../../bin/config.js';
import { ModelRegistry, readOnnxMetadata, specFromModelCard } from '../../../processors/modelRegistry.js';
import { riskLoopErrorHandlers, riskLoopTopology } from '../../../processors/riskLoop.js';
import { RuleSetHolder } from '../../../processors/rules.js';
import { Tokenizer } from '../../../processors/tokenizer.js';
import { buildCatalogue } from '../../../schemas/catalogue.js';
import type { Chargeback, Decision, ModelRelease, TrainingExample, Transaction } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { TEST_TOKENIZER_CONFIG, localRiskLoopSerdes, testTransaction } from '../../support/riskLoopFixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Midnight UTC of the day the worked transactions are decided on. */
const D0 = Date.UTC(2026, 8, 15);

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const logger = pino({ level: 'silent' });

async function loop(featureSet: FeatureSet, champion: string | null) {
  const catalogue = buildCatalogue({ prefix: 'test.', partitions: 1 });
  const serdes = localRiskLoopSerdes();
  const tokenizer = new Tokenizer(TEST_TOKENIZER_CONFIG);
  const rules = await RuleSetHolder.fromFile('rules/ruleset.json', {}, logger);
  const models = new ModelRegistry(logger);
  models.useFeatureSet(featureSet);
  if (champion !== null) {
    const outcome = await models.setChampion(await specFromModelCard(champion));
    expect(outcome.accepted, outcome.accepted ? '' : outcome.reason).toBe(true);
  }
  const topology = riskLoopTopology({ persistentStores: false }, { catalogue, serdes, tokenizer, rules, models, logger, featureSet });
  const d = await TopologyTestDriver.create(topology, { errorHandlers: riskLoopErrorHandlers(catalogue, serdes.deadLetters, tokenizer) });
  driver = d;
  const io = {
    transactions: d.createInputTopic(catalogue.transactions.name, Serdes.String, serdes.transactions),
    chargebacks: d.createInputTopic(catalogue.chargebacks.name, Serdes.String, serdes.chargebacks),
    releases: d.createInputTopic(catalogue.modelReleases.name, Serdes.String, serdes.modelReleases),
    decisions: d.createOutputTopic(catalogue.decisions.name, Serdes.String, serdes.decisions),
    training: d.createOutputTopic(catalogue.trainingExamples.name, Serdes.String, serdes.trainingExamples),
  };
  const pay = async (x: Transaction): Promise<Decision> => {
    await io.transactions.pipeInput(tokenizer.accountToken(x.accountId), x, x.eventTime);
    const out = io.decisions.readValuesToList() as Decision[];
    expect(out.map((o) => o.transactionId)).toEqual([x.transactionId]);
    return out[0]!;
  };
  return { io, pay, models, tokenizer };
}

/** A small set: one 30-day window per card (day-aligned), a 24-hour one per account, one ratio. */
const WORKED = {
  version: 'test-30d',
  card: { aggregates: [{ of: ['count', 'sum', 'mean'], windows: ['30d'] }] },
  account: { aggregates: [{ of: ['count'], windows: ['24h'] }] },
  ratios: [{ name: 'card.amount_to_mean_30d', numerator: 'txn.amount_minor', denominator: 'card.mean_30d' }],
};

describe('feature-set declarations', () => {
  it('loads the shipped default set, which produces every feature the shipped model cards need', async () => {
    const set = await loadFeatureSet(DEFAULT_FEATURE_SET_PATH);
    expect(set.version).toBe('default-2');
    for (const card of ['models/bootstrap-v1.card.json', 'models/sim-bootstrap-v1.card.json']) {
      const features = (JSON.parse(readFileSync(card, 'utf8')) as { features: string[] }).features;
      expect(features.filter((f) => !set.produced.has(f)), card).toEqual([]);
    }
    // The richer set: 30-day windows and ratios per card and account, merchant fraud by transaction day.
    for (const name of ['card.count_30d', 'account.sum_30d', 'card.amount_to_mean_30d', 'account.count_24h_to_30d', 'account.amount_zscore_30d_gap1d', 'merchant.txn_fraud_rate_30d']) {
      expect(set.produced.has(name), name).toBe(true);
    }
  });

  it('refuses a bad declaration with errors that name the path in the file', () => {
    const errorsOf = (input: unknown): string[] => {
      try {
        compileFeatureSet(input, 'bad.json');
      } catch (error) {
        expect(error).toBeInstanceOf(FeatureSetError);
        expect((error as Error).message).toContain('bad.json');
        return [...(error as FeatureSetError).problems];
      }
      throw new Error('accepted');
    };
    expect(errorsOf({ version: 'x', card: { aggregates: [{ of: ['count'], windows: ['24h', '91d'] }] } })).toEqual(['card.aggregates[0].windows[1]: window "91d" is longer than 90 days']);
    expect(errorsOf({ version: 'x', card: { aggregates: [{ of: ['median'], windows: ['1h'] }] } })[0]).toMatch(/^card\.aggregates\[0\]\.of\[0\]: /);
    expect(errorsOf({ version: 'x', account: { windows: ['1h'] } })[0]).toMatch(/^account: .*windows/);
    expect(errorsOf({ version: 'x', card: { aggregates: [{ of: ['count'], windows: ['200h'] }] } })).toEqual([
      'card.aggregates[0].windows[0]: window "200h" is longer than 7 days and so day-aligned: it must be whole days (e.g. "30d")',
    ]);
    expect(errorsOf({ version: 'x', card: { aggregates: [{ of: ['distinct_merchants'], windows: ['30d'] }] } })[0]).toMatch(/^card\.aggregates\[0\]\.windows\[0\]: card\.distinct_merchants over "30d" is not available/);
    expect(errorsOf({ version: 'x', merchant: { aggregates: [{ of: ['max'], windows: ['1h'] }] } })[0]).toMatch(/^merchant\.aggregates\[0\]\.of\[0\]: /);
    expect(errorsOf({ version: 'x', ratios: [{ name: 'card.r', numerator: 'txn.amount_minor', denominator: 'card.mean_30d' }] })[0]).toMatch(
      /^ratios\[0\]\.denominator: "card\.mean_30d" is neither a feature declared in this set nor an enrichment feature/,
    );
    expect(errorsOf({ version: 'x', card: { aggregates: [{ of: ['count'], windows: ['1h'] }, { of: ['count', 'sum'], windows: ['1h'] }] } })).toEqual([
      'card.aggregates[1]: feature card.count_1h is already declared at card.aggregates[0]',
    ]);
    expect(errorsOf({ version: 'has space' })[0]).toMatch(/^version: /);
  });

  it('is chosen by --feature-set or RISKLOOP_FEATURE_SET_FILE, features/default.json otherwise', () => {
    expect(readClientConfig({}).featureSetPath).toBe('features/default.json');
    expect(readClientConfig({ RISKLOOP_FEATURE_SET_FILE: 'features/mine.json' }).featureSetPath).toBe('features/mine.json');
    expect(readClientConfig({ RISKLOOP_FEATURE_SET_FILE: 'features/mine.json' }, loopFlagValues({ 'feature-set': 'flag.json' })).featureSetPath).toBe('flag.json');
  });

  it('bounds state by the longest declared window: exact events up to 7 days, day aggregates beyond', () => {
    const set = compileFeatureSet(WORKED);
    expect(set.profile.exact.map((w) => w.spelled)).toEqual(['24h']);
    expect(set.profile.dayAligned.map((w) => w.days)).toEqual([30]);
    expect(set.profile.eventHorizonMs).toBe(DAY);
    expect(set.profile.dayHorizonDays).toBe(30);
    expect(set.velocityNames).toEqual(['card.count_30d', 'card.sum_30d', 'card.mean_30d', 'account.count_24h']);
    expect(set.crossEntityNames).toEqual(['card.amount_to_mean_30d']);
    expect(compileFeatureSet({ version: 'y', account: { aggregates: [{ of: ['count'], windows: ['90d'] }] } }).profile.dayHorizonDays).toBe(90);
  });
});

describe('a declared feature set in the loop (test driver)', () => {
  it('gives the worked values at the edges of a day-aligned 30-day window and of a ratio, and nothing undeclared', async () => {
    const set = compileFeatureSet(WORKED);
    const { pay, io, tokenizer } = await loop(set, null);
    const tx = (id: string, eventTime: number, amountMinor: number): Transaction => testTransaction({ transactionId: id, eventTime, amountMinor, deviceId: null, ip: null });

    // For any t on day D0 the card's 30-day window is [D0 − 30 d, t]: t's day plus 30 whole days.
    await pay(tx('out-by-1ms', D0 - 30 * DAY - 1, 7_000)); // 23:59:59.999 the day before: out
    await pay(tx('first-in', D0 - 30 * DAY, 1_000)); // midnight of D0 − 30 d: in
    await pay(tx('yesterday', D0 - 14 * HOUR + 1, 2_000)); // 10:00:00.001 on D0 − 1: in, and in the 24 h window of x
    const x = await pay(tx('x', D0 + 10 * HOUR, 4_500));
    expect(x.featureSetVersion).toBe('test-30d');
    expect(x.features['card.count_30d']).toBe(2);
    expect(x.features['card.sum_30d']).toBe(3_000);
    expect(x.features['card.mean_30d']).toBe(1_500);
    expect(x.features['card.amount_to_mean_30d']).toBe(3); // 4 500 / 1 500
    expect(x.features['account.count_24h']).toBe(1); // (t − 24 h, t]: 'yesterday' is 24 h − 1 ms earlier

    // The last millisecond of D0 still sees D0 − 30 d; the first of D0 + 1 no longer does.
    const last = await pay(tx('last-ms', D0 + DAY - 1, 3_250));
    expect(last.features['card.count_30d']).toBe(3); // first-in, yesterday, x
    expect(last.features['card.sum_30d']).toBe(7_500);
    expect(last.features['card.amount_to_mean_30d']).toBe(1.3); // 3 250 / 2 500
    expect(last.features['account.count_24h']).toBe(1); // x only: 'yesterday' is now older than 24 h
    const next = await pay(tx('next-day', D0 + DAY, 4_000));
    expect(next.features['card.count_30d']).toBe(3); // yesterday, x, last-ms: first-in has left
    expect(next.features['card.sum_30d']).toBe(9_750);
    expect(next.features['card.mean_30d']).toBe(3_250);
    expect(next.features['card.amount_to_mean_30d']).toBeCloseTo(4_000 / 3_250, 15);

    // A card with no history has no mean, hence no ratio (absent, never NaN or Infinity).
    const fresh = await pay(testTransaction({ transactionId: 'fresh', accountId: 'ACC-F', pan: '5555555555554444', eventTime: D0 + DAY + 1, amountMinor: 100 }));
    expect(fresh.features['card.count_30d']).toBe(0);
    expect(fresh.features).not.toHaveProperty('card.mean_30d');
    expect(fresh.features).not.toHaveProperty('card.amount_to_mean_30d');

    // Exactly the declared features, plus those of the fixed steps (enrichment, challenge history).
    const declared = new Set([...set.velocityNames, ...set.crossEntityNames]);
    for (const d of [x, last, next, fresh]) {
      const extra = Object.keys(d.features).filter((n) => !declared.has(n) && !FIXED_FEATURE_NAMES.includes(n));
      expect(extra, d.transactionId).toEqual([]);
    }

    // The training example carries the snapshot and the feature-set version.
    const cb: Chargeback = { chargebackId: 'cb-1', transactionId: 'x', accountId: 'ACC-A', reasonCode: '10.4', amountMinor: 4_500, currency: 'EUR', reportedAt: D0 + 3 * DAY, fraud: true };
    await io.chargebacks.pipeInput(tokenizer.accountToken('ACC-A'), cb, cb.reportedAt);
    const examples = io.training.readValuesToList() as TrainingExample[];
    const fraud = examples.find((e) => e.transactionId === 'x')!;
    expect(fraud.label).toBe(1);
    expect(fraud.featureSetVersion).toBe('test-30d');
    expect(fraud.features).toEqual(x.features);
  });

  it('gives identical snapshots when the same input is replayed (default set, 45 days of traffic)', async () => {
    const stream = randomTraffic(1_605, 260);
    const run = async (): Promise<string[]> => {
      const { pay } = await loop(defaultFeatureSet(), 'models/bootstrap-v1.card.json');
      const out: string[] = [];
      for (const x of stream) {
        const d = await pay(x);
        out.push(JSON.stringify({ id: d.transactionId, v: d.featureSetVersion, f: d.features, score: d.score, decision: d.decision }));
      }
      await driver!.close();
      driver = undefined;
      return out;
    };
    const first = await run();
    const second = await run();
    expect(second).toEqual(first);
    // The long windows and ratios did get values: the replay compares something.
    const last = JSON.parse(first[first.length - 1]!) as { f: Record<string, number>; v: string };
    expect(last.v).toBe('default-2');
    expect(first.filter((s) => (JSON.parse(s) as { f: Record<string, number> }).f['card.amount_to_mean_30d'] !== undefined).length).toBeGreaterThan(150);
    expect(Math.max(...first.map((s) => (JSON.parse(s) as { f: Record<string, number> }).f['account.count_30d'] ?? 0))).toBeGreaterThan(20);
  });
});

describe('release refusal by the running feature set', () => {
  /**
   * bootstrap-v1 with one input renamed in its metadata: account.distinct_merchants_24h becomes
   * account.distinct_merchants_30d (the same length, so the protobuf framing is unchanged): a
   * model that needs a 30-day distinct count.
   */
  function retrainedOn30d(): { bytes: Buffer; names: string[] } {
    const original = readFileSync('models/bootstrap-v1.onnx');
    const from = Buffer.from('account.distinct_merchants_24h');
    const to = Buffer.from('account.distinct_merchants_30d');
    const bytes = Buffer.from(original);
    let at = bytes.indexOf(from);
    expect(at).toBeGreaterThanOrEqual(0);
    while (at >= 0) {
      to.copy(bytes, at);
      at = bytes.indexOf(from, at + from.length);
    }
    const names = JSON.parse(readOnnxMetadata(bytes).get('feature_names')!) as string[];
    expect(names).toContain('account.distinct_merchants_30d');
    return { bytes, names };
  }

  function release(version: string, model: { bytes: Buffer; names: string[] }): ModelRelease {
    return {
      version,
      artifact: model.bytes,
      artifactPath: null,
      sha256: createHash('sha256').update(model.bytes).digest('hex'),
      featureNames: model.names,
      thresholds: { review: 0.3, decline: 0.9 },
      mode: 'champion',
      referenceDistributions: {},
      releasedAt: D0,
      releasedBy: 'test',
    };
  }

  /** The features of the loop before issue 16, declared: what bootstrap-v1 needs and no 30-day window. */
  const PRE_16 = {
    version: 'pre-16',
    card: { aggregates: [{ of: ['count', 'sum'], windows: ['1m', '1h', '24h', '7d'] }], secsSincePrev: true },
    account: {
      aggregates: [
        { of: ['count', 'sum'], windows: ['1m', '1h', '24h', '7d'] },
        { of: ['distinct_merchants', 'distinct_countries'], windows: ['24h'] },
      ],
      secsSincePrev: true,
      amountZscore: [{ window: '30d' }],
      travel: true,
    },
  };

  it('refuses a model needing a feature the running set does not produce, naming it; the old champion keeps deciding', async () => {
    const { io, pay, models } = await loop(compileFeatureSet(PRE_16), 'models/bootstrap-v1.card.json');
    const before = await pay(testTransaction({ transactionId: 'before', eventTime: D0 }));
    expect(before.modelVersion).toBe('bootstrap-v1');
    expect(before.featureSetVersion).toBe('pre-16');

    const refusal = await models.applyRelease(release('needs-30d', retrainedOn30d()));
    expect(refusal.accepted).toBe(false);
    expect(refusal.accepted ? '' : (refusal as { reason: string }).reason).toBe(
      'the model needs 1 feature(s) the running feature set pre-16 does not produce: account.distinct_merchants_30d; run with a feature set that declares them (--feature-set) or retrain on this one',
    );
    // The same release through the model-releases topic, as a running loop gets it.
    await io.releases.pipeInput('needs-30d-b', release('needs-30d-b', retrainedOn30d()), D0 + MIN);
    expect(models.current().champion?.version).toBe('bootstrap-v1');
    const after = await pay(testTransaction({ transactionId: 'after', eventTime: D0 + 2 * MIN }));
    expect(after.modelVersion).toBe('bootstrap-v1');
    expect(after.score).not.toBeNull();
  });

  it('accepts the same model when the running set declares the feature (the refusal is about the feature alone)', async () => {
    const { io, pay, models } = await loop(defaultFeatureSet(), 'models/bootstrap-v1.card.json');
    await io.releases.pipeInput('needs-30d', release('needs-30d', retrainedOn30d()), D0);
    expect(models.current().champion?.version).toBe('needs-30d');
    const d = await pay(testTransaction({ transactionId: 'scored', eventTime: D0 + MIN }));
    expect(d.modelVersion).toBe('needs-30d');
    expect(d.features).toHaveProperty('account.distinct_merchants_30d');
  });
});

/** Seeded traffic over 45 days: three accounts, four cards, five merchants, some out of order. */
function randomTraffic(seed: number, n: number): Transaction[] {
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
  const cards = [
    { accountId: 'ACC-A', pan: '4111111111111111' },
    { accountId: 'ACC-A', pan: '5555555555554444' },
    { accountId: 'ACC-B', pan: '4012888888881881' },
    { accountId: 'ACC-C', pan: '378282246310005' },
  ];
  const out: Transaction[] = [];
  let clock = D0 - 45 * DAY;
  for (let i = 0; i < n; i++) {
    clock += Math.floor(rnd() * 8 * HOUR);
    const late = rnd() < 0.2 ? Math.floor(rnd() * 6 * HOUR) : 0;
    const card = cards[Math.floor(rnd() * cards.length)]!;
    out.push(
      testTransaction({
        transactionId: `r-${i}`,
        eventTime: clock - late,
        ...card,
        amountMinor: 100 + Math.floor(rnd() * 20_000),
        merchantId: `M-${Math.floor(rnd() * 5)}`,
        merchantCountry: rnd() < 0.8 ? 'DE' : 'FR',
        deviceId: rnd() < 0.5 ? `dev-${Math.floor(rnd() * 3)}` : null,
        ip: rnd() < 0.5 ? `10.0.0.${Math.floor(rnd() * 4)}` : null,
      }),
    );
  }
  return out;
}
