/**
 * Merchant fraud by the transactions' own days (features/default.json: merchant.txn_fraud_*):
 * labels attributed to the day of the transaction they are about, counted once their arrival day
 * has closed by t − lag. Through the test driver with the real side sub-topologies (label
 * attribution, entity aggregates, entity-stats topic in Avro, global table), as crossEntity.test.ts
 * does for the arrival-day features. Expected values are worked out beside each probe from
 *   a = t − lag,  e = the last UTC midnight ≤ a,  transactions of days [e − W, e),  labels arrived before e.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CrossEntityConfig, DAY, HOUR, MINUTE, applyFraudLabel, applyTransaction, emptyStats } from '../../../processors/crossEntity/buckets.js';
import { CrossEntityFeaturesProcessor } from '../../../processors/crossEntity/features.js';
import { CrossEntityNodes, addCrossEntitySide, addCrossEntityTable } from '../../../processors/crossEntity/wiring.js';
import { compileFeatureSet } from '../../../processors/featureSet/declaration.js';
import type { LabelEvent } from '../../../processors/labels/labelPolicy.js';
import { Tokenizer } from '../../../processors/tokenizer.js';
import { type RiskContext, newRiskContext } from '../../../processors/types.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import type { EntityStats, TokenizedTransaction } from '../../../schemas/types.js';
import type { Processor, ProcessorContext } from '../../../topology/processor.js';
import type { Record as StreamRecord } from '../../../topology/records.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';
import { TEST_TOKENIZER_CONFIG, localAvroSerde } from '../../support/riskLoopFixture.js';

const D0 = Date.UTC(2026, 9, 1);
const tokenizer = new Tokenizer(TEST_TOKENIZER_CONFIG);

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

class ToContext implements Processor<string, TokenizedTransaction, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  init(ctx: ProcessorContext<string, RiskContext>): void {
    this.ctx = ctx;
  }
  process(r: StreamRecord<string, TokenizedTransaction>): void {
    this.ctx.forward({ key: r.key, value: newRiskContext(r.value, 0), timestamp: r.value.eventTime, headers: {} });
  }
}

type Out = { transactionId: string; features: { [k: string]: number } };
class Snapshot implements Processor<string, RiskContext, string, Out> {
  private ctx!: ProcessorContext<string, Out>;
  init(ctx: ProcessorContext<string, Out>): void {
    this.ctx = ctx;
  }
  process(r: StreamRecord<string, RiskContext>): void {
    this.ctx.forward({ key: r.key, value: { transactionId: r.value.txn.transactionId, features: r.value.features }, timestamp: r.timestamp, headers: {} });
  }
}

const SET = compileFeatureSet({
  version: 'merchant-days',
  merchant: {
    fraud: [
      { measure: 'count', window: '30d', by: 'arrival' },
      { measure: 'rate', window: '30d', by: 'arrival' },
      { measure: 'count', window: '30d', by: 'transaction' },
      { measure: 'rate', window: '30d', by: 'transaction' },
    ],
  },
});

async function setup() {
  const config = CrossEntityConfig.parse({ lagMs: MINUTE, merchantRiskLagMs: HOUR, merchantMinVolume: 3 });
  const statsSerde = localAvroSerde<EntityStats>('EntityStats');
  const t = new Topology({ applicationId: 'mtd' });
  t.addSource('txns', 'txns', { keySerde: Serdes.String, valueSerde: Serdes.Json<TokenizedTransaction>(), timestampExtractor: (r) => (r.value as TokenizedTransaction).eventTime })
    .addProcessor('ingress', () => new ToContext(), 'txns')
    .addProcessor(CrossEntityNodes.features, () => new CrossEntityFeaturesProcessor(tokenizer, config, SET), 'ingress')
    .addProcessor('snapshot', () => new Snapshot(), CrossEntityNodes.features)
    .addSink('features-out', 'features-out', { keySerde: Serdes.String, valueSerde: Serdes.Json() }, 'snapshot')
    .addSource('labels', 'labels', { keySerde: Serdes.String, valueSerde: Serdes.Json<LabelEvent>() });
  addCrossEntitySide(t, { ingress: 'ingress', labelParents: ['labels'], statsTopic: 'stats', statsSerde, tokenizer, config, storeOptions: { persistent: false } });
  addCrossEntityTable(t, { statsTopic: 'stats', statsSerde, storeOptions: { persistent: false } });
  const d = await TopologyTestDriver.create(t);
  driver = d;
  const txIn = d.createInputTopic('txns', Serdes.String, Serdes.Json<TokenizedTransaction>());
  const labelIn = d.createInputTopic('labels', Serdes.String, Serdes.Json<LabelEvent>());
  const out = d.createOutputTopic('features-out', Serdes.String, Serdes.Json<Out>());
  const account = EXAMPLES.TokenizedTransaction.accountToken;
  return {
    account,
    async pay(transactionId: string, eventTime: number): Promise<{ [k: string]: number }> {
      const txn: TokenizedTransaction = { ...EXAMPLES.TokenizedTransaction, transactionId, eventTime, deviceId: null, ip: null, merchantId: 'M-risk' };
      await txIn.pipeInput(txn.accountToken, txn, eventTime);
      const got = out.readValuesToList().find((r) => r!.transactionId === transactionId);
      return got!.features;
    },
    async chargeback(transactionId: string, reportedAt: number): Promise<void> {
      const cb: LabelEvent = { chargebackId: `cb-${transactionId}`, transactionId, accountToken: account, reasonCode: '10.4', amountMinor: 1000, currency: 'EUR', reportedAt, fraud: true };
      await labelIn.pipeInput(account, cb, reportedAt);
    },
    async legitimate(transactionId: string, decidedAt: number): Promise<void> {
      await labelIn.pipeInput(account, { transactionId, accountToken: account, outcome: 'LEGITIMATE', analystId: 'a-1', caseId: null, decidedAt }, decidedAt);
    },
  };
}

describe('merchant fraud by the transactions own days', () => {
  it('counts a label on its transaction day once it has arrived, lagged, and tells it apart from the arrival-day count', async () => {
    const s = await setup();
    const D1 = D0 + DAY;
    const D2 = D1 + DAY;
    const D3 = D2 + DAY;
    const D4 = D3 + DAY;
    await s.pay('old', D0 - 40 * DAY); // 40 days before D0: outside every 30-day window below
    for (let i = 1; i <= 4; i++) await s.pay(`m${i}`, D0 + i * HOUR);
    await s.chargeback('m1', D0 + 5 * HOUR); // arrives on D0
    await s.pay('n1', D1 + 2 * HOUR);
    await s.chargeback('n1', D1 + 3 * HOUR); // arrives on D1
    await s.chargeback('old', D1 + 4 * HOUR); // a late chargeback on a 41-day-old transaction, arrives on D1
    await s.chargeback('m2', D2 + 2 * HOUR); // arrives on D2

    // t = D2+1h → a = D2 → e = D2; 30-day window [D2 − 30 d, D2): transactions of D0 (4) and D1 (1).
    //   by transaction day: m1 (arrived D0) and n1 (D1); m2 arrived on D2, not before e: 2 / 5
    //   by arrival day: labels that arrived on D0 and D1: m1, n1 and old's: 3 / 5
    const f = await s.pay('p1', D2 + HOUR);
    expect(f['merchant.txn_fraud_count_30d']).toBe(2);
    expect(f['merchant.txn_fraud_rate_30d']).toBeCloseTo(2 / 5, 12);
    expect(f['merchant.fraud_count_30d']).toBe(3);
    expect(f['merchant.fraud_rate_30d']).toBeCloseTo(3 / 5, 12);

    // t = D3+30m → a = D2+23h30m → e = D2 still: the lag keeps m2's day closed out: unchanged.
    const g = await s.pay('p2', D3 + 30 * MINUTE);
    expect(g['merchant.txn_fraud_count_30d']).toBe(2);
    // t = D3+1h → e = D3: m2 (arrived D2) now counts on its own day D0; p1 (D2) joins the transactions: 3 / 6.
    const h = await s.pay('p3', D3 + HOUR);
    expect(h['merchant.txn_fraud_count_30d']).toBe(3);
    expect(h['merchant.txn_fraud_rate_30d']).toBeCloseTo(3 / 6, 12);

    // An analyst clears m1 on D3 (−1 on m1's day D0, arriving D3): from e = D4 on it is gone. D3 had p2, p3.
    await s.legitimate('m1', D3 + 2 * HOUR);
    const k = await s.pay('p4', D4 + HOUR);
    expect(k['merchant.txn_fraud_count_30d']).toBe(2);
    expect(k['merchant.txn_fraud_rate_30d']).toBeCloseTo(2 / 8, 12);

    // t = D0 + 31 d + 1 h → e = D0 + 31 d, window [D1, e): D0's transactions and their labels leave together.
    const later = await s.pay('p5', D0 + 31 * DAY + HOUR);
    expect(later['merchant.txn_fraud_count_30d']).toBe(1); // n1 (D1)
  });

  it('builds the same label buckets whatever the order labels and transactions arrive in (pruning included)', () => {
    const config = CrossEntityConfig.parse({});
    const T = D0;
    // 200 days of activity: the 100-day day retention prunes the oldest days and label buckets.
    const acts = Array.from({ length: 300 }, (_, i) => ({ eventTime: T + ((i * 7919) % 300) * 16 * HOUR, amountMinor: i, accountToken: `at_${i % 5}` }));
    const labels = Array.from({ length: 60 }, (_, i) => ({ at: T + i * 3 * DAY + 5 * HOUR, delta: (i % 4 === 0 ? -1 : 1) as 1 | -1, txn: T + i * 3 * DAY - (i % 7) * DAY }));
    const build = (order: number[]): EntityStats => {
      const s = emptyStats('merchant:x');
      for (const i of order) {
        if (i < acts.length) applyTransaction(s, acts[i]!, false, config);
        else {
          const l = labels[i - acts.length]!;
          applyFraudLabel(s, l.at, l.delta, config, l.txn);
        }
      }
      return s;
    };
    const ids = Array.from({ length: acts.length + labels.length }, (_, i) => i);
    const expected = build(ids);
    expect(expected.labelBuckets!.length).toBeGreaterThan(20);
    expect(expected.labelBuckets![0]!.txnDay).toBeGreaterThan(T + 50 * DAY); // pruned
    expect(build([...ids].reverse())).toEqual(expected);
    expect(build([...ids].sort((a, b) => ((a * 2654435761) % 1009) - ((b * 2654435761) % 1009)))).toEqual(expected);
  });
});
