/**
 * The wrong-partition check through the test driver with 6 partitions: transactions, KYC rows,
 * chargebacks and analyst outcomes put on another partition than murmur2(key) (what librdkafka's
 * default partitioner does to most keys) are re-routed to the task that owns the account, so the
 * joins come out exactly as if the producer had partitioned them right; each is counted and logged.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { MisroutedCounters, expectedPartition } from '../../../processors/partitionCheck.js';
import { riskLoopTopology } from '../../../processors/riskLoop.js';
import { buildCatalogue } from '../../../schemas/catalogue.js';
import type { AnalystOutcome, Chargeback, Decision, DeadLetter, KycRecord, TrainingExample, Transaction } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { riskLoopFixture, testTransaction } from '../../support/riskLoopFixture.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1, 12, 0, 0);
const PARTITIONS = 6;

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function txn(accountId: string, transactionId: string, eventTime: number): Transaction {
  return testTransaction({ accountId, transactionId, eventTime });
}

async function setup() {
  const lines: { [k: string]: unknown }[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as { [k: string]: unknown });
        done();
      },
    }),
  );
  const catalogue = buildCatalogue({ prefix: 'test.', partitions: PARTITIONS });
  const f = await riskLoopFixture({ catalogue, logger });
  const misrouted = new MisroutedCounters();
  const topology = riskLoopTopology({ persistentStores: false }, { catalogue, serdes: f.serdes, tokenizer: f.tokenizer, rules: f.rules, models: f.models, logger, misroutedCounters: misrouted });
  driver = await TopologyTestDriver.create(topology, { errorHandlers: f.errorHandlers, defaultPartitions: PARTITIONS, logger, initialWallClockTimeMs: T0 });
  const d = driver;
  const token = (accountId: string) => f.tokenizer.accountToken(accountId);
  /** Pipes a record onto a given partition, as a producer with another partitioner would. */
  async function put<V>(topic: string, serde: { serialize(v: V, topic?: string): Buffer }, key: string, value: V | null, timestamp: number, partition: number) {
    await d.pipeRaw(topic, { key: Buffer.from(key), value: value === null ? null : serde.serialize(value, topic), timestamp, partition });
  }
  const wrong = (key: string) => (expectedPartition(key, PARTITIONS) + 1) % PARTITIONS;
  const right = (key: string) => expectedPartition(key, PARTITIONS);
  const out = {
    decisions: d.createOutputTopic(catalogue.decisions.name, Serdes.String, f.serdes.decisions),
    training: d.createOutputTopic(catalogue.trainingExamples.name, Serdes.String, f.serdes.trainingExamples),
    deadLetters: d.createOutputTopic(catalogue.deadLetters.name, Serdes.String, f.serdes.deadLetters),
  };
  const kyc = (accountId: string): KycRecord => ({
    accountToken: token(accountId),
    entityType: 'PERSON',
    status: 'VERIFIED',
    riskTier: 'LOW',
    accountOpenedAt: T0 - 900 * DAY,
    pep: false,
    sanctioned: false,
    watchlistHits: 0,
    country: 'DE',
    updatedAt: T0 - 10 * DAY,
  });
  return { f, d, catalogue, misrouted, lines, put, wrong, right, token, out, kyc };
}

describe('wrong partition for the key (test driver, 6 partitions)', () => {
  it('re-routes misrouted KYC, transactions, chargebacks and analyst outcomes to the owning task: the joins are exact', async () => {
    const { f, d, catalogue, misrouted, lines, put, wrong, token, out, kyc } = await setup();
    const a = token('ACC-A');
    await put(catalogue.kyc.name, f.serdes.kyc, a, kyc('ACC-A'), T0 - 10 * DAY, wrong(a));
    await put(catalogue.transactions.name, f.serdes.transactions, a, txn('ACC-A', 'tx-1', T0), T0, wrong(a));
    await put(catalogue.transactions.name, f.serdes.transactions, a, txn('ACC-A', 'tx-2', T0 + 60_000), T0 + 60_000, (wrong(a) + 2) % PARTITIONS);

    const decisions = out.decisions.readRecordsToList();
    expect(decisions.map((r) => r.value!.transactionId)).toEqual(['tx-1', 'tx-2']);
    for (const r of decisions) {
      // Decided on the owning task: it saw the KYC row and the other transaction of the account.
      expect(r.value!.reasonCodes).not.toContain('KYC_MISSING');
      expect(r.value!.features['kyc.missing']).toBe(0);
      expect(r.partition).toBe(expectedPartition(a, PARTITIONS));
    }
    expect((decisions[1]!.value as Decision).features['account.count_1h']).toBe(1);
    // The KYC row lives in the owning task's store, not in the one the producer picked.
    expect(d.getKeyValueStore('kyc', expectedPartition(a, PARTITIONS)).get(a)).toBeDefined();
    expect(d.getKeyValueStore('kyc', wrong(a)).get(a)).toBeUndefined();

    const cb: Chargeback = { chargebackId: 'cb-1', transactionId: 'tx-1', accountId: 'ACC-A', reasonCode: '10.4', amountMinor: 2500, currency: 'EUR', reportedAt: T0 + 3 * DAY, fraud: true };
    await put(catalogue.chargebacks.name, f.serdes.chargebacks, a, cb, cb.reportedAt, wrong(a));
    const outcome: AnalystOutcome = { transactionId: 'tx-2', accountToken: a, outcome: 'LEGITIMATE', analystId: 'an-1', caseId: null, decidedAt: T0 + 2 * DAY };
    await put(catalogue.analystOutcomes.name, f.serdes.analystOutcomes, a, outcome, outcome.decidedAt, wrong(a));
    const examples = out.training.readValuesToList() as TrainingExample[];
    expect(examples.map((e) => [e.transactionId, e.label, e.labelSource]).sort()).toEqual([
      ['tx-1', 1, 'CHARGEBACK'],
      ['tx-2', 0, 'ANALYST'],
    ]);
    expect(out.deadLetters.readValuesToList() as DeadLetter[]).toEqual([]);

    expect(Object.fromEntries(misrouted.entries())).toEqual({
      [catalogue.kyc.name]: 1,
      [catalogue.transactions.name]: 2,
      [catalogue.chargebacks.name]: 1,
      [catalogue.analystOutcomes.name]: 1,
    });
    // One warn line per re-routed record, with its position and never the key or an account id.
    const logged = lines.filter((l) => l.event === 'misrouted');
    expect(logged).toHaveLength(5);
    for (const l of logged) {
      expect(l.expectedPartition).toBe(expectedPartition(a, PARTITIONS));
      expect(typeof l.offset).toBe('number');
      const text = JSON.stringify(l);
      expect(text).not.toContain(a);
      expect(text).not.toContain('ACC-A');
    }
    // What travelled through the internal topic: tokens only, no PAN, no clear account id.
    const internal = d.readRaw('riskloop-rerouted-repartition');
    expect(internal).toHaveLength(5);
    for (const r of internal) {
      expect(r.value!.includes(Buffer.from('4111111111111111'))).toBe(false);
      expect(r.value!.includes(Buffer.from('ACC-A'))).toBe(false);
    }
  });

  it('a misrouted KYC tombstone deletes the row on the owning task', async () => {
    const { f, d, catalogue, put, wrong, right, token, out, kyc } = await setup();
    const a = token('ACC-A');
    await put(catalogue.kyc.name, f.serdes.kyc, a, kyc('ACC-A'), T0 - 10 * DAY, right(a));
    await put(catalogue.kyc.name, f.serdes.kyc, a, null, T0 - 5 * DAY, wrong(a));
    expect(d.getKeyValueStore('kyc', right(a)).get(a)).toBeUndefined();
    await put(catalogue.transactions.name, f.serdes.transactions, a, txn('ACC-A', 'tx-1', T0), T0, right(a));
    expect((out.decisions.readValuesToList() as Decision[])[0]!.reasonCodes).toContain('KYC_MISSING');
  });

  it('costs nothing on the right partition: no re-route, no log line, the internal topic stays empty', async () => {
    const { f, d, catalogue, misrouted, lines, put, right, token, out, kyc } = await setup();
    for (const id of ['ACC-A', 'ACC-B', 'ACC-C', 'ACC-D']) {
      const k = token(id);
      await put(catalogue.kyc.name, f.serdes.kyc, k, kyc(id), T0 - 10 * DAY, right(k));
      await put(catalogue.transactions.name, f.serdes.transactions, k, txn(id, `tx-${id}`, T0), T0, right(k));
    }
    const decided = out.decisions.readValuesToList() as Decision[];
    expect(decided).toHaveLength(4);
    expect(decided.some((x) => x.reasonCodes.includes('KYC_MISSING'))).toBe(false);
    expect(misrouted.entries()).toEqual([]);
    expect(lines.filter((l) => l.event === 'misrouted')).toEqual([]);
    expect(d.readRaw('riskloop-rerouted-repartition')).toEqual([]);
  });
});
