/**
 * Tombstones (null values) and empty values on every input topic of the loop, through the driver:
 * event streams (transactions, chargebacks, analyst outcomes) dead-letter them as EMPTY_VALUE;
 * table topics (kyc, device signals) delete the row with a log line; model releases skip the
 * tombstone with a log line and a dropped-record count. None is invisible, and the partition goes on.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision, DeadLetter, DeviceSignal, KycRecord, Transaction } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { riskLoopFixture, testTransaction } from '../../support/riskLoopFixture.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1, 12, 0, 0);

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function txn(transactionId: string, eventTime: number, deviceId: string | null = null): Transaction {
  return testTransaction({ transactionId, eventTime, deviceId });
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
  const f = await riskLoopFixture({ logger });
  driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers, logger, initialWallClockTimeMs: T0 });
  const t = f.catalogue;
  const a = f.tokenizer.accountToken('ACC-A');
  const io = {
    transactions: driver.createInputTopic(t.transactions.name, Serdes.String, f.serdes.transactions),
    decisions: driver.createOutputTopic(t.decisions.name, Serdes.String, f.serdes.decisions),
    deadLetters: driver.createOutputTopic(t.deadLetters.name, Serdes.String, f.serdes.deadLetters),
  };
  const tombstone = (topic: string, key: string, timestamp = T0) => driver!.pipeRaw(topic, { key: Buffer.from(key), value: null, timestamp });
  const pay = (x: Transaction) => io.transactions.pipeInput(a, x, x.eventTime);
  return { f, d: driver, t, a, io, lines, tombstone, pay };
}

describe('tombstones and empty values on the loop inputs', () => {
  it.each([
    ['transactions', 'ingress'],
    ['chargebacks', 'chargebacks-tokenize'],
    ['analystOutcomes', 'analyst-outcomes-check'],
  ] as const)('a tombstone on %s is a dead letter EMPTY_VALUE, and the next record is processed', async (topicKey, processor) => {
    const { t, a, io, lines, tombstone, pay } = await setup();
    await tombstone(t[topicKey].name, a);
    const letters = io.deadLetters.readValuesToList() as DeadLetter[];
    expect(letters.map((l) => [l.reason, l.sourceTopic, l.processor, l.value])).toEqual([['EMPTY_VALUE', t[topicKey].name, processor, null]]);
    expect(lines.some((l) => l.event === 'dead-letter' && l.reason === 'EMPTY_VALUE')).toBe(true);
    await pay(txn('tx-1', T0 + 1_000));
    expect((io.decisions.readValuesToList() as Decision[]).map((x) => x.transactionId)).toEqual(['tx-1']);
  });

  it('an empty (0-byte) value on the transactions topic is a dead letter, never a decision', async () => {
    const { d, t, a, io, pay } = await setup();
    await d.pipeRaw(t.transactions.name, { key: Buffer.from(a), value: Buffer.alloc(0), timestamp: T0 });
    const letters = io.deadLetters.readValuesToList() as DeadLetter[];
    expect(letters).toHaveLength(1);
    expect(letters[0]!.sourceTopic).toBe(t.transactions.name);
    await pay(txn('tx-1', T0 + 1_000));
    expect(io.decisions.readValuesToList()).toHaveLength(1);
  });

  it('a KYC tombstone deletes the row (logged): the next transaction is decided with KYC_MISSING', async () => {
    const { f, d, t, a, io, lines, tombstone, pay } = await setup();
    const kyc = driver!.createInputTopic(t.kyc.name, Serdes.String, f.serdes.kyc);
    const row: KycRecord = { accountToken: a, entityType: 'PERSON', status: 'VERIFIED', riskTier: 'LOW', accountOpenedAt: T0 - 900 * DAY, pep: false, sanctioned: false, watchlistHits: 0, country: 'DE', updatedAt: T0 - 10 * DAY };
    await kyc.pipeInput(a, row, row.updatedAt);
    await pay(txn('tx-1', T0));
    await tombstone(t.kyc.name, a, T0 + 1_000);
    expect(d.getKeyValueStore('kyc').get(a)).toBeUndefined();
    await pay(txn('tx-2', T0 + 2_000));
    const decided = io.decisions.readValuesToList() as Decision[];
    expect(decided.map((x) => x.reasonCodes.includes('KYC_MISSING'))).toEqual([false, true]);
    expect(lines.filter((l) => l.event === 'kyc-deleted')).toHaveLength(1);
    expect(JSON.stringify(lines.filter((l) => l.event === 'kyc-deleted'))).not.toContain(a);
    expect(io.deadLetters.readValuesToList()).toEqual([]);
  });

  it('a device-signal tombstone deletes the device history (logged)', async () => {
    const { f, d, t, io, lines, tombstone, pay } = await setup();
    const devices = d.createInputTopic(t.deviceSignals.name, Serdes.String, f.serdes.deviceSignals);
    const signal: DeviceSignal = { deviceId: 'dev-1', eventTime: T0 - 30 * DAY, accountToken: null, emulator: false, rooted: false, blocked: true, os: 'android', userAgent: null, ip: null };
    await devices.pipeInput('dev-1', signal, signal.eventTime);
    await pay(txn('tx-1', T0, 'dev-1'));
    await tombstone(t.deviceSignals.name, 'dev-1', T0 + 1_000);
    await pay(txn('tx-2', T0 + 2_000, 'dev-1'));
    const decided = io.decisions.readValuesToList() as Decision[];
    expect(decided.map((x) => x.reasonCodes.includes('DEVICE_BLOCKED'))).toEqual([true, false]);
    expect(lines.filter((l) => l.event === 'device-deleted')).toHaveLength(1);
  });

  it('a model-release tombstone is skipped with a log line and a dropped-record count; the champion stays', async () => {
    const { f, d, t, io, lines, tombstone, pay } = await setup();
    await tombstone(t.modelReleases.name, 'bootstrap-v1');
    expect(lines.filter((l) => l.event === 'tombstone-skipped')).toHaveLength(1);
    expect(d.metrics().dropped['null-value']).toBe(1);
    await pay(txn('tx-1', T0));
    expect((io.decisions.readValuesToList() as Decision[])[0]!.modelVersion).toBe('bootstrap-v1');
    expect(f.models.thresholdsFor('bootstrap-v1')).toBeDefined();
  });
});
