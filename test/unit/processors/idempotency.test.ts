/**
 * Idempotency by transaction id through the whole loop in the test driver: a retry gets the stored
 * decision back (marked duplicate) and counts nowhere; a different transaction reusing the id is a
 * dead letter; a retry in the same batch as its original waits for the original's decision.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Chargeback, Decision, DeadLetter, TrainingExample, Transaction } from '../../../schemas/types.js';
import type { RawRecord } from '../../../topology/records.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { riskLoopFixture, testTransaction } from '../../support/riskLoopFixture.js';
import { newIdempotencyCounters } from '../../../processors/idempotency.js';
import { riskLoopTopology } from '../../../processors/riskLoop.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1, 12, 0, 0);

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function txn(over: Partial<Transaction> & Pick<Transaction, 'transactionId' | 'eventTime'>): Transaction {
  return testTransaction({ deviceId: 'dev-ok', ...over });
}

async function setup() {
  const f = await riskLoopFixture();
  const counters = newIdempotencyCounters();
  // The fixture's topology without shared counters; rebuild it with counters the test can read.
  const topology = riskLoopTopology(
    { persistentStores: false },
    { catalogue: f.catalogue, serdes: f.serdes, tokenizer: f.tokenizer, rules: f.rules, models: f.models, logger: f.logger, idempotencyCounters: counters },
  );
  driver = await TopologyTestDriver.create(topology, { errorHandlers: f.errorHandlers, initialWallClockTimeMs: T0 });
  const t = f.catalogue;
  const io = {
    transactions: driver.createInputTopic(t.transactions.name, Serdes.String, f.serdes.transactions),
    chargebacks: driver.createInputTopic(t.chargebacks.name, Serdes.String, f.serdes.chargebacks),
    decisions: driver.createOutputTopic(t.decisions.name, Serdes.String, f.serdes.decisions),
    training: driver.createOutputTopic(t.trainingExamples.name, Serdes.String, f.serdes.trainingExamples),
    deadLetters: driver.createOutputTopic(t.deadLetters.name, Serdes.String, f.serdes.deadLetters),
  };
  const pay = (x: Transaction, headers = {}) => io.transactions.pipeInput(f.tokenizer.accountToken(x.accountId), x, x.eventTime, headers);
  return { f, io, pay, counters, d: driver };
}

/** Everything of a decision but the duplicate flag. */
function withoutFlag(d: Decision): Omit<Decision, 'duplicate'> {
  const { duplicate: _flag, ...rest } = d;
  return rest;
}

describe('idempotency by transaction id', () => {
  it('answers a retry with the stored decision, marked duplicate, and counts it nowhere', async () => {
    const { f, io, pay, counters, d } = await setup();
    await pay(txn({ transactionId: 'tx-1', eventTime: T0 }));
    await d.advanceWallClockTime(40);
    // The gateway retries tx-1 twice (same payload, later Kafka timestamps, its own trace header).
    await io.transactions.pipeInput(f.tokenizer.accountToken('ACC-A'), txn({ transactionId: 'tx-1', eventTime: T0 }), T0 + 5_000, { traceparent: Buffer.from('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01') });
    await io.transactions.pipeInput(f.tokenizer.accountToken('ACC-A'), txn({ transactionId: 'tx-1', eventTime: T0 }), T0 + 9_000);
    await pay(txn({ transactionId: 'tx-2', eventTime: T0 + 20_000 }));

    const out = io.decisions.readRecordsToList();
    expect(out.map((r) => [r.value!.transactionId, r.value!.duplicate ?? false])).toEqual([
      ['tx-1', false],
      ['tx-1', true],
      ['tx-1', true],
      ['tx-2', false],
    ]);
    const [first, again, third, next] = out.map((r) => r.value as Decision);
    // Same outcome, reasons, versions, scores, snapshot and even decidedAt / latency: it is the stored decision.
    expect(withoutFlag(again!)).toEqual(withoutFlag(first!));
    expect(withoutFlag(third!)).toEqual(withoutFlag(first!));
    expect(out[1]!.key).toBe(f.tokenizer.accountToken('ACC-A'));
    expect(out[1]!.headers.traceparent?.toString()).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    // Velocity saw tx-1 once: tx-2 counts one earlier transaction of the card, not three.
    expect(next!.features['card.count_1m']).toBe(1);
    expect(next!.features['account.count_1h']).toBe(1);
    expect(counters.repeated).toBe(2);
    expect(io.deadLetters.readValuesToList()).toEqual([]);

    // One training example per transaction: the chargeback joins once, maturity writes tx-2's negative once.
    const cb: Chargeback = { chargebackId: 'cb-1', transactionId: 'tx-1', accountId: 'ACC-A', reasonCode: '10.4', amountMinor: 2500, currency: 'EUR', reportedAt: T0 + 3 * DAY, fraud: true };
    await io.chargebacks.pipeInput(f.tokenizer.accountToken('ACC-A'), cb, cb.reportedAt);
    await io.chargebacks.pipeInput(f.tokenizer.accountToken('ACC-A'), { ...cb, chargebackId: 'cb-late', transactionId: 'tx-1', fraud: false, reportedAt: T0 + 70 * DAY }, T0 + 70 * DAY);
    const examples = io.training.readValuesToList() as TrainingExample[];
    expect(examples.map((e) => [e.transactionId, e.label, e.labelSource]).sort()).toEqual([
      ['tx-1', 1, 'CHARGEBACK'],
      ['tx-2', 0, 'MATURITY'],
    ]);
  });

  it('dead-letters a different transaction that reuses a decided id (TRANSACTION_ID_REUSED), and does not count it', async () => {
    const { io, pay, counters } = await setup();
    await pay(txn({ transactionId: 'tx-1', eventTime: T0 }));
    await pay(txn({ transactionId: 'tx-1', eventTime: T0 + 1_000, amountMinor: 99_900 }));
    await pay(txn({ transactionId: 'tx-2', eventTime: T0 + 2_000 }));
    const decisions = io.decisions.readValuesToList() as Decision[];
    expect(decisions.map((x) => x.transactionId)).toEqual(['tx-1', 'tx-2']);
    expect(decisions[1]!.features['card.count_1m']).toBe(1);
    const letters = io.deadLetters.readValuesToList() as DeadLetter[];
    expect(letters.map((l) => [l.reason, l.processor])).toEqual([['TRANSACTION_ID_REUSED', 'transaction-ids']]);
    // The letter holds the tokenized transaction: no PAN, no account id.
    expect(letters[0]!.value!.includes(Buffer.from('4111111111111111'))).toBe(false);
    expect(letters[0]!.value!.includes(Buffer.from('ACC-A'))).toBe(false);
    expect(letters[0]!.value!.toString()).toContain('99900');
    expect(counters.reused).toBe(1);
  });

  it('a retry in the same batch as its original gets the original decision right after it', async () => {
    const { f, io, d } = await setup();
    const key = Buffer.from(f.tokenizer.accountToken('ACC-A'));
    const topic = f.catalogue.transactions.name;
    const raw = (offset: number, x: Transaction, timestamp: number): RawRecord => ({ topic, partition: 0, offset, timestamp, key, value: f.serdes.transactions.serialize(x, topic), headers: {} });
    // Two receptions of tx-1 and one of tx-2 in one poll: scoring holds all three until the batch ends.
    const task = d.streamTasks().find((t) => t.id === '0_0')!;
    task.addRecords([raw(0, txn({ transactionId: 'tx-1', eventTime: T0 }), T0), raw(1, txn({ transactionId: 'tx-1', eventTime: T0 }), T0 + 1), raw(2, txn({ transactionId: 'tx-2', eventTime: T0 + 2 }), T0 + 2)]);
    expect(await task.process()).toBe(3);
    await task.commit();
    const out = io.decisions.readValuesToList() as Decision[];
    expect(out.map((x) => [x.transactionId, x.duplicate ?? false])).toEqual([
      ['tx-1', false],
      ['tx-1', true],
      ['tx-2', false],
    ]);
    expect(withoutFlag(out[1]!)).toEqual(withoutFlag(out[0]!));
    expect(out[2]!.features['card.count_1m']).toBe(1);
    expect(io.deadLetters.readValuesToList()).toEqual([]);
  });

  it('dead-letters a retry whose original failed on its way to a decision (RETRY_OF_UNDECIDED_TRANSACTION)', async () => {
    const f = await riskLoopFixture({ model: false });
    const counters = newIdempotencyCounters();
    const topology = riskLoopTopology(
      { persistentStores: false },
      { catalogue: f.catalogue, serdes: f.serdes, tokenizer: f.tokenizer, rules: f.rules, models: f.models, logger: f.logger, idempotencyCounters: counters },
    );
    driver = await TopologyTestDriver.create(topology, { errorHandlers: f.errorHandlers, initialWallClockTimeMs: T0 });
    const topic = f.catalogue.transactions.name;
    const decisions = driver.createOutputTopic(f.catalogue.decisions.name, Serdes.String, f.serdes.decisions);
    const deadLetters = driver.createOutputTopic(f.catalogue.deadLetters.name, Serdes.String, f.serdes.deadLetters);
    const key = Buffer.from(f.tokenizer.accountToken('ACC-A'));
    // An event time the snapshot index cannot order (after year 2286): the snapshot step throws, the
    // handler dead-letters the original, and its retry in the same batch has nothing to repeat.
    const far = 10 ** 13 + 5;
    const raw = (offset: number): RawRecord => ({ topic, partition: 0, offset, timestamp: far, key, value: f.serdes.transactions.serialize(txn({ transactionId: 'tx-9', eventTime: far }), topic), headers: {} });
    const task = driver.streamTasks().find((t) => t.id === '0_0')!;
    task.addRecords([raw(0), raw(1)]);
    await task.process();
    await task.commit();
    expect(decisions.readValuesToList()).toEqual([]);
    const letters = deadLetters.readValuesToList() as DeadLetter[];
    // The original failed inside the batch-end flush of scoring, which has no record position (-1).
    expect(letters.map((l) => l.reason)).toEqual(['INVALID_EVENT_TIME', 'RETRY_OF_UNDECIDED_TRANSACTION']);
    expect(letters[1]!.offset).toBe(1);
    expect(counters.retriesOfUndecided).toBe(1);
  });

  it.each(['all', 'side'] as const)('counts a retry once in the entity statistics (%s build)', async (parts) => {
    const f = await riskLoopFixture({ config: { parts } });
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: parts === 'side' ? { deserialization: () => 'CONTINUE', processing: () => 'CONTINUE', production: () => 'FAIL' } : f.errorHandlers, initialWallClockTimeMs: T0 });
    const input = driver.createInputTopic(f.catalogue.transactions.name, Serdes.String, f.serdes.transactions);
    const key = f.tokenizer.accountToken('ACC-A');
    // Everything entity-activity wrote for the side: per-entity activity and the merchant attribution.
    const activity = () => driver!.readRaw('riskloop-entity-activity-repartition').length + driver!.readRaw('riskloop-label-attribution-repartition').length;
    await input.pipeInput(key, txn({ transactionId: 'tx-1', eventTime: T0 }), T0);
    const once = activity();
    expect(once).toBeGreaterThan(0);
    await input.pipeInput(key, txn({ transactionId: 'tx-1', eventTime: T0 }), T0 + 5_000);
    expect(activity()).toBe(once);
  });
});
