/**
 * Device / IP / merchant velocity and merchant fraud risk (processors/crossEntity/), through the
 * test driver: the real side sub-topologies (two repartition hops), the entity-stats topic (Avro)
 * and the global table, read by the hot-path step. Every expected value is worked out beside it
 * from the window definition in buckets.ts:  a = t − lag,  e = floor(a / g)·g,  buckets in [e − W, e).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type CrossEntityConfigInput, CrossEntityConfig, DAY, HOUR, MINUTE, applyFraudLabel, applyTransaction, emptyStats } from '../../../processors/crossEntity/buckets.js';
import { CrossEntityFeaturesProcessor } from '../../../processors/crossEntity/features.js';
import { CrossEntityStores, addEntityVelocityFeatures } from '../../../processors/crossEntity/entityVelocity.js';
import { addMerchantRiskFeatures } from '../../../processors/crossEntity/merchantRisk.js';
import { CrossEntityNodes, addCrossEntitySide, addCrossEntityTable } from '../../../processors/crossEntity/wiring.js';
import type { LabelEvent } from '../../../processors/labels/labelPolicy.js';
import { Tokenizer } from '../../../processors/tokenizer.js';
import { type RiskContext, newRiskContext } from '../../../processors/types.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import type { EntityStats, Transaction, TokenizedTransaction } from '../../../schemas/types.js';
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../../topology/processor.js';
import type { Record as StreamRecord } from '../../../topology/records.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';
import { TEST_TOKENIZER_CONFIG, localAvroSerde, riskLoopFixture } from '../../support/riskLoopFixture.js';

const D0 = Date.UTC(2026, 9, 1);
const T = D0 + 12 * HOUR;
const tokenizer = new Tokenizer(TEST_TOKENIZER_CONFIG);

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** Transaction → RiskContext, forwarded to every child (as ingress does). */
class ToContext implements Processor<string, TokenizedTransaction, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  init(ctx: ProcessorContext<string, RiskContext>): void {
    this.ctx = ctx;
  }
  process(r: StreamRecord<string, TokenizedTransaction>): void {
    this.ctx.forward({ key: r.key, value: newRiskContext(r.value, 0), timestamp: r.value.eventTime, headers: {} });
  }
}

/** RiskContext → what the test reads: the transaction id and its features. */
class Snapshot implements Processor<string, RiskContext, string, { transactionId: string; features: { [k: string]: number } }> {
  private ctx!: ProcessorContext<string, { transactionId: string; features: { [k: string]: number } }>;
  init(ctx: ProcessorContext<string, { transactionId: string; features: { [k: string]: number } }>): void {
    this.ctx = ctx;
  }
  process(r: StreamRecord<string, RiskContext>): void {
    this.ctx.forward({ key: r.key, value: { transactionId: r.value.txn.transactionId, features: r.value.features }, timestamp: r.timestamp, headers: {} });
  }
}

const TEST_CONFIG: CrossEntityConfigInput = { lagMs: MINUTE, merchantRiskLagMs: HOUR, merchantMinVolume: 3 };

/** The hot step and the side sub-topologies around a stand-in ingress; the hot step runs before the activity fan-out, as in the loop. */
async function setup(configInput: CrossEntityConfigInput = TEST_CONFIG) {
  const config = CrossEntityConfig.parse(configInput);
  const statsSerde = localAvroSerde<EntityStats>('EntityStats');
  const t = new Topology({ applicationId: 'xe' });
  t.addSource('txns', 'txns', { keySerde: Serdes.String, valueSerde: Serdes.Json<TokenizedTransaction>(), timestampExtractor: (r) => (r.value as TokenizedTransaction).eventTime })
    .addProcessor('ingress', () => new ToContext(), 'txns')
    .addProcessor(CrossEntityNodes.features, () => new CrossEntityFeaturesProcessor(tokenizer, config), 'ingress')
    .addProcessor('snapshot', () => new Snapshot(), CrossEntityNodes.features)
    .addSink('features-out', 'features-out', { keySerde: Serdes.String, valueSerde: Serdes.Json() }, 'snapshot')
    .addSource('labels', 'labels', { keySerde: Serdes.String, valueSerde: Serdes.Json<LabelEvent>() });
  addCrossEntitySide(t, { ingress: 'ingress', labelParents: ['labels'], statsTopic: 'stats', statsSerde, tokenizer, config, storeOptions: { persistent: false } });
  addCrossEntityTable(t, { statsTopic: 'stats', statsSerde, storeOptions: { persistent: false } });
  driver = await TopologyTestDriver.create(t);
  const txIn = driver.createInputTopic('txns', Serdes.String, Serdes.Json<TokenizedTransaction>());
  const labelIn = driver.createInputTopic('labels', Serdes.String, Serdes.Json<LabelEvent>());
  const out = driver.createOutputTopic('features-out', Serdes.String, Serdes.Json<{ transactionId: string; features: { [k: string]: number } }>());
  const seen = new Map<string, { [k: string]: number }>();
  const txns: TokenizedTransaction[] = [];
  const d = driver;
  return {
    config,
    driver: d,
    txns,
    /** Pipes a transaction and returns the features the hot step gave it. */
    async pay(over: Partial<TokenizedTransaction> & Pick<TokenizedTransaction, 'transactionId' | 'eventTime'>): Promise<{ [k: string]: number }> {
      const txn: TokenizedTransaction = { ...EXAMPLES.TokenizedTransaction, deviceId: null, ip: null, merchantId: 'M-quiet', ...over };
      txns.push(txn);
      await txIn.pipeInput(txn.accountToken, txn, txn.eventTime);
      for (const r of out.readValuesToList()) seen.set(r!.transactionId, r!.features);
      return seen.get(txn.transactionId)!;
    },
    async label(event: LabelEvent): Promise<void> {
      await labelIn.pipeInput(event.accountToken, event, 'chargebackId' in event ? event.reportedAt : 'decidedAt' in event ? event.decidedAt : event.completedAt);
    },
    table(): KeyValueStore<string, EntityStats> {
      return d.getKeyValueStore<string, EntityStats>(CrossEntityStores.stats);
    },
    seen,
  };
}

const pick = (f: { [k: string]: number }, prefix: string): { [k: string]: number } =>
  Object.fromEntries(Object.entries(f).filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => a.localeCompare(b)));

const zeros = (kind: string, accounts: boolean) => ({
  [`${kind}.count_1m`]: 0, [`${kind}.sum_1m`]: 0, [`${kind}.count_1h`]: 0, [`${kind}.sum_1h`]: 0,
  [`${kind}.count_24h`]: 0, [`${kind}.sum_24h`]: 0, [`${kind}.count_7d`]: 0, [`${kind}.sum_7d`]: 0,
  ...(accounts ? { [`${kind}.distinct_accounts_24h`]: 0 } : {}),
});

describe('device velocity: bucket edges, the lag, distinct accounts', () => {
  it('uses only buckets closed at least the lag before t, on bucket boundaries', async () => {
    const s = await setup();
    const dev = (id: string, t: number, account: string, amountMinor: number) =>
      s.pay({ transactionId: id, eventTime: t, accountToken: `at_${account.padEnd(32, 'x')}`, amountMinor, deviceId: 'dev-A', merchantId: `M-${id}` });

    // tx1, tx2 in the minute [T, T+1m).
    expect(pick(await dev('tx1', T + 10_000, 'a1', 100), 'device.')).toEqual({});
    expect(pick(await dev('tx2', T + 50_000, 'a2', 200), 'device.')).toEqual({});
    // t = T+1m59.999s: a = T+59.999s, so e(1 min) = T: the minute [T, T+1m) closed at T+1m, less than
    // the 1-min lag before t. Not seen, although the table already holds it: the device is unknown.
    expect(s.table().get('device:dev-A')!.minuteBuckets.map((b) => [b.bucketStart, b.count])).toEqual([[T, 2]]);
    expect(pick(await dev('tx3', T + 119_999, 'a1', 400), 'device.')).toEqual({});
    // t = T+2m: a = T+1m. 1m: [T, T+1m) → tx1, tx2. 1h: [T−59m, T+1m) → the same. 24h: e = T (hour
    // [T, T+1h) still open as of a) → [T−24h, T) → nothing. 7d: e = D0 → nothing. tx3 ([T+1m, T+2m)) not closed.
    expect(pick(await dev('tx4', T + 2 * MINUTE, 'a3', 800), 'device.')).toEqual({
      ...zeros('device', true), 'device.count_1m': 2, 'device.sum_1m': 300, 'device.count_1h': 2, 'device.sum_1h': 300,
    });
    // t = T+1h0m59.999s: a = T+59m59.999s. 1m: [T+58m, T+59m) → 0. 1h: e = T+59m → [T−1m, T+59m) → tx1..tx4 (1500).
    // 24h: e = T → still nothing: the hour [T, T+1h) closed at T+1h, less than the lag before t.
    expect(pick(await dev('tx5', T + HOUR + 59_999, 'a1', 1), 'device.')).toEqual({ ...zeros('device', true), 'device.count_1h': 4, 'device.sum_1h': 1500 });
    // t = T+1h1m: a = T+1h. 1h: [T, T+1h) → tx1..tx4. 24h: e = T+1h → [T−23h, T+1h) → hour [T, T+1h):
    // tx1..tx4, accounts a1, a2, a1, a3 → 3 distinct. tx5 (in [T+1h, T+1h+1m)) is in neither.
    expect(pick(await dev('tx6', T + HOUR + MINUTE, 'a4', 1600), 'device.')).toEqual({
      ...zeros('device', true), 'device.count_1h': 4, 'device.sum_1h': 1500, 'device.count_24h': 4, 'device.sum_24h': 1500, 'device.distinct_accounts_24h': 3,
    });
    // t = D1+1m (next UTC midnight + lag): a = D1. 1m, 1h: [.., D1) minutes → nothing since T+1h1m.
    // 24h: e = D1 → [D0, D1) → all six (3101), accounts a1..a4. 7d: e = D1 → [D1−7d, D1) → day D0: all six.
    const D1 = D0 + DAY;
    expect(pick(await dev('tx7', D1 + MINUTE, 'a5', 10), 'device.')).toEqual({
      ...zeros('device', true), 'device.count_24h': 6, 'device.sum_24h': 3101, 'device.distinct_accounts_24h': 4, 'device.count_7d': 6, 'device.sum_7d': 3101,
    });
  });

  it('counts a device farm: many accounts on one device in 24 h', async () => {
    const s = await setup();
    for (let i = 0; i < 8; i++) {
      await s.pay({ transactionId: `farm-${i}`, eventTime: T + i * MINUTE, accountToken: `at_farm${i}`.padEnd(35, 'z'), deviceId: 'dev-farm', amountMinor: 100 });
    }
    // t = T+2h: a = T+1h59m; 24h: e = T+1h → hour [T, T+1h) holds all 8, each a different account.
    const f = await s.pay({ transactionId: 'farm-probe', eventTime: T + 2 * HOUR, accountToken: 'at_farm0'.padEnd(35, 'z'), deviceId: 'dev-farm' });
    expect(f['device.distinct_accounts_24h']).toBe(8);
    expect(f['device.count_24h']).toBe(8);
  });

  it('caps the accounts kept per bucket, keeping the smallest tokens whatever the order', async () => {
    const config = CrossEntityConfig.parse({ maxAccountsPerBucket: 3 });
    const tokens = ['at_e', 'at_b', 'at_d', 'at_a', 'at_c'];
    const forward = emptyStats('device:x');
    const backward = emptyStats('device:x');
    for (const a of tokens) applyTransaction(forward, { eventTime: T, amountMinor: 1, accountToken: a }, true, config);
    for (const a of [...tokens].reverse()) applyTransaction(backward, { eventTime: T, amountMinor: 1, accountToken: a }, true, config);
    expect(forward.hourBuckets[0]!.accounts).toEqual(['at_a', 'at_b', 'at_c']);
    expect(backward).toEqual(forward);
  });
});

describe('missing entities', () => {
  it('writes no device / IP features without a device id or IP, and none for an entity unknown as of t − lag', async () => {
    const s = await setup();
    const f = await s.pay({ transactionId: 'no-entities', eventTime: T, deviceId: null, ip: null, merchantId: 'M-new' });
    expect(pick(f, 'device.')).toEqual({});
    expect(pick(f, 'ip.')).toEqual({});
    expect(pick(f, 'merchant.')).toEqual({}); // first time seen: unknown
    const g = await s.pay({ transactionId: 'new-device', eventTime: T + HOUR, deviceId: 'dev-never-seen', merchantId: 'M-new' });
    expect(pick(g, 'device.')).toEqual({});
    // The merchant is known by now: a = T+59m, its first transaction's minute [T, T+1m) closed.
    expect(g['merchant.count_1h']).toBe(1);
  });

  it('keys IP statistics by a keyed pseudonym: the IP never reaches the entity-stats topic or store', async () => {
    const s = await setup();
    const ip = '203.0.113.7';
    await s.pay({ transactionId: 'ip1', eventTime: T, ip, amountMinor: 700 });
    // t = T+2m: a = T+1m → the minute [T, T+1m): 1 transaction of 7.00 from this IP.
    const f = await s.pay({ transactionId: 'ip2', eventTime: T + 2 * MINUTE, ip });
    expect(f['ip.count_1m']).toBe(1);
    expect(f['ip.sum_1m']).toBe(700);
    expect(f['ip.distinct_accounts_24h']).toBe(0);
    const raw = s.driver.readRaw('stats');
    expect(raw.length).toBeGreaterThan(0);
    for (const r of raw) {
      expect(r.key!.toString('utf8')).not.toContain(ip);
      expect(r.value!.toString('latin1')).not.toContain(ip);
    }
    for (const { key } of s.table().all()) expect(key).not.toContain(ip);
  });
});

describe('merchant fraud rate from labels known by t − lag', () => {
  it('counts a label that arrived before t − lag, not one that arrived after t (even when the table holds it)', async () => {
    const s = await setup();
    const account = EXAMPLES.TokenizedTransaction.accountToken;
    for (let i = 1; i <= 4; i++) await s.pay({ transactionId: `m${i}`, eventTime: D0 + i * HOUR, merchantId: 'M-risk', amountMinor: 1000 });
    const chargeback = (transactionId: string, reportedAt: number): LabelEvent => ({
      chargebackId: `cb-${transactionId}`, transactionId, accountToken: account, reasonCode: '10.4', amountMinor: 1000, currency: 'EUR', reportedAt, fraud: true,
    });
    await s.label(chargeback('m1', D0 + 5 * HOUR)); // arrives on day D0
    const D1 = D0 + DAY;
    // t = D1+30m: a = D1−30m → e = D0 → [D0−90d, D0): nothing yet (day D0 closed less than the 1 h lag before t).
    // Known merchant: count 0; 0 transactions < minimum volume 3 → no rate.
    const early = await s.pay({ transactionId: 'p1', eventTime: D1 + 30 * MINUTE, merchantId: 'M-risk' });
    expect(early['merchant.fraud_count_90d']).toBe(0);
    expect(early['merchant.fraud_rate_90d']).toBeUndefined();
    // A chargeback on m2 arrives at D1+10h: the table holds it before the next probe is decided.
    await s.label(chargeback('m2', D1 + 10 * HOUR));
    expect(s.table().get('merchant:M-risk')!.dayBuckets.map((b) => [b.bucketStart, b.count, b.fraudLabels])).toEqual([
      [D0, 4, 1],
      [D1, 1, 1],
    ]);
    // t = D1+1h: a = D1 → [D1−90d, D1) = day D0: 4 transactions, 1 fraud label arrived (m1's). m2's
    // label arrived after t: not counted. Rate 1 / 4.
    const f = await s.pay({ transactionId: 'p2', eventTime: D1 + HOUR, merchantId: 'M-risk' });
    expect(pick(f, 'merchant.fraud')).toEqual({ 'merchant.fraud_count_90d': 1, 'merchant.fraud_rate_30d': 0.25, 'merchant.fraud_rate_90d': 0.25 });
    // t = D2+1h: a = D2 → days D0, D1: 4 + 2 (p1, p2) transactions, labels m1 (D0) and m2 (D1): 2 / 6.
    const D2 = D1 + DAY;
    const g = await s.pay({ transactionId: 'p3', eventTime: D2 + HOUR, merchantId: 'M-risk' });
    expect(g['merchant.fraud_count_90d']).toBe(2);
    expect(g['merchant.fraud_rate_90d']).toBeCloseTo(2 / 6, 12);
    // An analyst overturns m1 on D2 (−1 on the day it arrived); a repeated chargeback on m2 adds nothing;
    // a non-fraud dispute says nothing. t = D3+1h: labels 1 + 1 − 1 = 1 over 4 + 2 + 1 (p3) = 7 transactions.
    await s.label({ transactionId: 'm1', accountToken: account, outcome: 'LEGITIMATE', analystId: 'a-1', caseId: null, decidedAt: D2 + 2 * HOUR });
    await s.label(chargeback('m2', D2 + 3 * HOUR));
    await s.label({ ...chargeback('m3', D2 + 4 * HOUR), fraud: false });
    const D3 = D2 + DAY;
    const h = await s.pay({ transactionId: 'p4', eventTime: D3 + HOUR, merchantId: 'M-risk' });
    expect(h['merchant.fraud_count_90d']).toBe(1);
    expect(h['merchant.fraud_rate_90d']).toBeCloseTo(1 / 7, 12);
    // A label for a transaction the attribution store never saw is dropped, counted.
    await s.label(chargeback('never-seen', D3 + 2 * HOUR));
    expect(s.driver.metrics().dropped.expired).toBe(1);
  });
});

describe('replay: the table read at its end gives the features the live run gave', () => {
  it('recomputes every transaction from the final table (all buckets kept) to the same features', async () => {
    const s = await setup({ ...TEST_CONFIG, retainAll: true });
    let seed = 7;
    const rnd = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let i = 0; i < 300; i++) {
      const t = T + Math.floor(i * 7 * MINUTE + rnd() * 5 * MINUTE);
      await s.pay({
        transactionId: `r${i}`,
        eventTime: t,
        accountToken: `at_acc${Math.floor(rnd() * 12)}`.padEnd(35, 'q'),
        amountMinor: 100 + Math.floor(rnd() * 5000),
        deviceId: `dev-${Math.floor(rnd() * 4)}`,
        ip: rnd() < 0.5 ? `198.51.100.${Math.floor(rnd() * 3)}` : null,
        merchantId: `M-${Math.floor(rnd() * 3)}`,
      });
      if (i % 25 === 24) {
        await s.label({ transactionId: `r${i - 20}`, accountToken: 'x', outcome: 'FRAUD', analystId: 'a', caseId: null, decidedAt: t + MINUTE });
      }
    }
    const table = s.table();
    for (const txn of s.txns) {
      const again = newRiskContext(txn, 0);
      const proc = new CrossEntityFeaturesProcessor(tokenizer, s.config);
      proc.init({ getStateStore: () => table, forward: () => undefined, recordDropped: () => undefined } as unknown as ProcessorContext<string, RiskContext>);
      proc.process({ key: txn.accountToken, value: again, timestamp: txn.eventTime, headers: {} });
      expect(again.features, txn.transactionId).toEqual(s.seen.get(txn.transactionId));
    }
    // And the data was there to read: some transactions saw non-zero device, IP and merchant windows.
    const all = [...s.seen.values()];
    for (const name of ['device.count_1h', 'ip.count_24h', 'merchant.count_7d', 'merchant.fraud_count_90d']) expect(all.some((f) => (f[name] ?? 0) > 0), name).toBe(true);
  });

  it('builds the same series whatever the order the records arrive in (pruning included)', () => {
    const config = CrossEntityConfig.parse({});
    const acts = Array.from({ length: 400 }, (_, i) => ({ eventTime: T + ((i * 7919) % 400) * 17 * MINUTE, amountMinor: i, accountToken: `at_${i % 9}` }));
    const labels = Array.from({ length: 20 }, (_, i) => ({ at: T + i * 5 * HOUR, delta: (i % 3 === 0 ? -1 : 1) as 1 | -1 }));
    const build = (order: number[]): EntityStats => {
      const s = emptyStats('merchant:x');
      for (const i of order) {
        if (i < acts.length) applyTransaction(s, acts[i]!, true, config);
        else applyFraudLabel(s, labels[i - acts.length]!.at, labels[i - acts.length]!.delta, config);
      }
      return s;
    };
    const ids = Array.from({ length: acts.length + labels.length }, (_, i) => i);
    const reversed = [...ids].reverse();
    const shuffled = [...ids].sort((a, b) => ((a * 2654435761) % 1009) - ((b * 2654435761) % 1009));
    const expected = build(ids);
    // 400 × 17 min ≈ 4.7 days: old minute and hour buckets were pruned.
    expect(expected.minuteBuckets[0]!.bucketStart).toBeGreaterThan(T + DAY);
    expect(build(reversed)).toEqual(expected);
    expect(build(shuffled)).toEqual(expected);
  });
});

describe('in the risk loop', () => {
  it('writes the cross-entity features into the decision snapshot, and the training example carries them', async () => {
    const f = await riskLoopFixture();
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
    const c = f.catalogue;
    const txIn = driver.createInputTopic(c.transactions.name, Serdes.String, f.serdes.transactions);
    const cbIn = driver.createInputTopic(c.chargebacks.name, Serdes.String, f.serdes.chargebacks);
    const decisions = driver.createOutputTopic(c.decisions.name, Serdes.String, f.serdes.decisions);
    const training = driver.createOutputTopic(c.trainingExamples.name, Serdes.String, f.serdes.trainingExamples);
    const raw = (id: string, accountId: string, eventTime: number): Transaction => ({
      ...EXAMPLES.Transaction, transactionId: id, accountId, eventTime, deviceId: 'dev-shared', ip: '192.0.2.10', merchantId: 'M-loop', amountMinor: 1_000,
    });
    const accounts = ['ACC-1', 'ACC-2', 'ACC-3'];
    for (const [i, acc] of accounts.entries()) await txIn.pipeInput(f.tokenizer.accountToken(acc), raw(`lt${i}`, acc, T + i * 10_000), T + i * 10_000);
    const last = raw('lt-last', 'ACC-1', T + 5 * MINUTE);
    await txIn.pipeInput(f.tokenizer.accountToken('ACC-1'), last, last.eventTime);
    const byId = new Map(decisions.readValuesToList().map((d) => [d!.transactionId, d!]));
    expect(byId.size).toBe(4);
    // First transaction: nothing known yet, no cross-entity features at all.
    expect(Object.keys(byId.get('lt0')!.features).filter((k) => /^(ip|merchant)\./.test(k) || /^device\.(count|sum|distinct)/.test(k))).toEqual([]);
    // t = T+5m, a = T+4m: 1h window [T−56m, T+4m) holds the three transactions of [T, T+1m) on the
    // shared device, IP and merchant; 24h (e = T) nothing yet; three accounts on the device only from the 24 h window.
    const feats = byId.get('lt-last')!.features;
    expect(feats).toMatchObject({ 'device.count_1h': 3, 'device.sum_1h': 3_000, 'ip.count_1h': 3, 'merchant.count_1h': 3, 'device.distinct_accounts_24h': 0 });
    // Merchant risk has its own 1 h lag: as of T+5m − 1h the merchant was not known yet.
    expect(feats['merchant.fraud_count_90d']).toBeUndefined();
    const cb = { ...EXAMPLES.Chargeback, transactionId: 'lt-last', accountId: 'ACC-1', reportedAt: T + 20 * DAY, fraud: true };
    await cbIn.pipeInput(f.tokenizer.accountToken('ACC-1'), cb, cb.reportedAt);
    const examples = training.readValuesToList();
    expect(examples).toHaveLength(1);
    expect(examples[0]!.features).toEqual(feats);
  });
});
