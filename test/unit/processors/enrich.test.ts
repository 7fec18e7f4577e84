/**
 * Enrichment through the test driver: the KYC table (stream-table join semantics, tombstones, key
 * checks), the device global table read as of the transaction's event time, and the transaction
 * features. Expected values are worked out from the inputs in each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceTableConfig, type DeviceProfile, addDeviceTable } from '../../../processors/deviceTable.js';
import { EnrichmentFeatures as F, MISSING_FACT, enrichProcessor } from '../../../processors/enrich.js';
import { addKycTable } from '../../../processors/kycTable.js';
import { type RiskContext, StoreNames, newRiskContext } from '../../../processors/types.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import type { DeviceSignal, KycRecord, TokenizedTransaction } from '../../../schemas/types.js';
import { sendToDeadLetter, logAndFail } from '../../../topology/errors.js';
import type { Processor, ProcessorContext } from '../../../topology/processor.js';
import type { Record } from '../../../topology/records.js';
import { Serdes } from '../../../topology/serde.js';
import { type TestInputTopic, type TestOutputTopic, TopologyTestDriver, type TopologyTestDriverConfig } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2024, 2, 10, 13, 45, 0);

const ACCOUNT_A = 'a'.repeat(64);
const ACCOUNT_B = 'b'.repeat(64);

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** Stands in for ingress and the velocity step: wraps the transaction in a fresh context. */
class ToRiskContext implements Processor<string, TokenizedTransaction, string, RiskContext> {
  private context!: ProcessorContext<string, RiskContext>;
  init(context: ProcessorContext<string, RiskContext>): void {
    this.context = context;
  }
  process(record: Record<string, TokenizedTransaction>): void {
    this.context.forward({ ...record, value: newRiskContext(record.value, this.context.currentSystemTimeMs()) });
  }
}

function txn(id: string, accountToken: string, eventTime: number, extra: Partial<TokenizedTransaction> = {}): TokenizedTransaction {
  return { ...EXAMPLES.TokenizedTransaction, transactionId: id, accountToken, eventTime, ingestedAt: eventTime + 5, deviceId: null, ...extra };
}

function kyc(accountToken: string, extra: Partial<KycRecord> = {}): KycRecord {
  return {
    accountToken,
    entityType: 'PERSON',
    status: 'VERIFIED',
    riskTier: 'LOW',
    accountOpenedAt: T0 - 400 * DAY,
    pep: false,
    sanctioned: false,
    watchlistHits: 0,
    country: 'DE',
    updatedAt: T0 - DAY,
    ...extra,
  };
}

function signal(deviceId: string, eventTime: number, extra: Partial<DeviceSignal> = {}): DeviceSignal {
  return { deviceId, eventTime, accountToken: null, emulator: false, rooted: false, blocked: false, os: 'Android 14', userAgent: null, ip: null, ...extra };
}

interface Harness {
  transactions: TestInputTopic<string, TokenizedTransaction>;
  kycTopic: TestInputTopic<string, KycRecord>;
  devices: TestInputTopic<string, DeviceSignal>;
  enriched: TestOutputTopic<string, RiskContext>;
}

async function start(deviceConfig: Partial<DeviceTableConfig> = {}, driverConfig: TopologyTestDriverConfig = {}): Promise<Harness> {
  const topology = new Topology({ applicationId: 'enrich-test' })
    .addSource('txn-source', 'transactions-tokenized', { keySerde: Serdes.String, valueSerde: Serdes.Json<TokenizedTransaction>() })
    .addProcessor('context', () => new ToRiskContext(), 'txn-source')
    .addProcessor('enrich', enrichProcessor(), 'context')
    .addSink('enriched-sink', 'enriched', { keySerde: Serdes.String, valueSerde: Serdes.Json<RiskContext>() }, 'enrich');
  addKycTable(topology, { topic: 'kyc', valueSerde: Serdes.Json<KycRecord>(), readers: ['enrich'], storeOptions: { persistent: false } });
  addDeviceTable(topology, {
    topic: 'device-signals',
    valueSerde: Serdes.Json<DeviceSignal>(),
    config: DeviceTableConfig.parse(deviceConfig),
    storeOptions: { persistent: false },
  });
  driver = await TopologyTestDriver.create(topology, driverConfig);
  return {
    transactions: driver.createInputTopic('transactions-tokenized', Serdes.String, Serdes.Json<TokenizedTransaction>()),
    kycTopic: driver.createInputTopic('kyc', Serdes.String, Serdes.Json<KycRecord>()),
    devices: driver.createInputTopic('device-signals', Serdes.String, Serdes.Json<DeviceSignal>()),
    enriched: driver.createOutputTopic('enriched', Serdes.String, Serdes.Json<RiskContext>()),
  };
}

async function enrich(h: Harness, t: TokenizedTransaction): Promise<RiskContext> {
  await h.transactions.pipeInput(t.accountToken, t, t.eventTime);
  const out = h.enriched.readRecordsToList();
  expect(out).toHaveLength(1);
  expect(out[0]!.key).toBe(t.accountToken);
  return out[0]!.value!;
}

describe('KYC table (stream-table join)', () => {
  it('a KYC update processed before a transaction is seen by it; one processed after is not retroactive', async () => {
    const h = await start();
    const openedAt = T0 - 10 * DAY - 12 * HOUR;
    await h.kycTopic.pipeInput(ACCOUNT_A, kyc(ACCOUNT_A, { accountOpenedAt: openedAt, riskTier: 'LOW', country: 'FR' }), T0 - DAY);

    const first = await enrich(h, txn('t-1', ACCOUNT_A, T0));
    expect(first.features[F.kycMissing]).toBe(0);
    expect(first.features[F.kycAccountAgeDays]).toBe(10.5); // (T0 − openedAt) / day
    expect(first.features[F.kycRiskTier]).toBe(0); // LOW
    expect(first.features[F.kycSanctioned]).toBe(0);
    expect(first.facts).toEqual({ 'kyc.status': 'VERIFIED', 'kyc.entity_type': 'PERSON', 'kyc.country': 'FR' });
    expect(first.reasonCodes).not.toContain('KYC_MISSING');

    // Compliance escalates the account after the transaction: nothing is re-emitted for t-1.
    await h.kycTopic.pipeInput(
      ACCOUNT_A,
      kyc(ACCOUNT_A, { accountOpenedAt: openedAt, riskTier: 'HIGH', sanctioned: true, pep: true, watchlistHits: 3, status: 'SUSPENDED', entityType: 'BUSINESS', country: 'FR' }),
      T0 + HOUR,
    );
    expect(h.enriched.isEmpty()).toBe(true);

    const second = await enrich(h, txn('t-2', ACCOUNT_A, T0 + 2 * DAY));
    expect(second.features[F.kycAccountAgeDays]).toBe(12.5);
    expect(second.features[F.kycRiskTier]).toBe(2); // HIGH
    expect(second.features[F.kycSanctioned]).toBe(1);
    expect(second.features[F.kycPep]).toBe(1);
    expect(second.features[F.kycWatchlistHits]).toBe(3);
    expect(second.facts['kyc.status']).toBe('SUSPENDED');
    expect(second.facts['kyc.entity_type']).toBe('BUSINESS');
  });

  it('a tombstone deletes the row, and the next transaction sees an explicit missing KYC', async () => {
    const h = await start();
    await h.kycTopic.pipeInput(ACCOUNT_A, kyc(ACCOUNT_A), T0 - DAY);
    expect(driver!.getKeyValueStore<string, KycRecord>(StoreNames.kyc).get(ACCOUNT_A)?.country).toBe('DE');

    await h.kycTopic.pipeInput(ACCOUNT_A, null, T0 - HOUR);
    expect(driver!.getKeyValueStore<string, KycRecord>(StoreNames.kyc).get(ACCOUNT_A)).toBeUndefined();

    const ctx = await enrich(h, txn('t-1', ACCOUNT_A, T0));
    expect(ctx.features[F.kycMissing]).toBe(1);
    expect(ctx.reasonCodes).toContain('KYC_MISSING');
  });

  it('refuses a KYC record keyed by another account token (dead letter, no row under either token)', async () => {
    const h = await start({}, { errorHandlers: { deserialization: logAndFail, processing: sendToDeadLetter, production: logAndFail, deadLetterTopic: 'dlq' } });
    await h.kycTopic.pipeInput(ACCOUNT_B, kyc(ACCOUNT_A, { sanctioned: true }), T0 - DAY);

    const store = driver!.getKeyValueStore<string, KycRecord>(StoreNames.kyc);
    expect(store.get(ACCOUNT_A)).toBeUndefined();
    expect(store.get(ACCOUNT_B)).toBeUndefined();
    const dlq = driver!.readRaw('dlq');
    expect(dlq).toHaveLength(1);
    const letter = JSON.parse(dlq[0]!.value!.toString('utf8')) as { reason: string; message: string };
    expect(letter.reason).toBe('ACCOUNT_TOKEN_MISMATCH');
    expect(letter.message).not.toContain(ACCOUNT_A);

    // The stream goes on: B's transaction is enriched, without A's sanction.
    const ctx = await enrich(h, txn('t-1', ACCOUNT_B, T0));
    expect(ctx.features[F.kycMissing]).toBe(1);
    expect(ctx.features[F.kycSanctioned]).toBe(0);
  });
});

describe('missing rows are explicit', () => {
  it('no KYC row and an unknown device: flags, defaults and reason codes, no exception', async () => {
    const h = await start();
    const ctx = await enrich(h, txn('t-1', ACCOUNT_A, T0, { deviceId: 'dev-never-seen' }));
    expect(ctx.features).toMatchObject({
      [F.kycMissing]: 1,
      [F.kycAccountAgeDays]: 0,
      [F.kycRiskTier]: 2, // conservative default, as the schema's reader default
      [F.kycPep]: 0,
      [F.kycSanctioned]: 0,
      [F.kycWatchlistHits]: 0,
      [F.deviceMissing]: 1,
      [F.deviceIdPresent]: 1,
      [F.deviceBlocked]: 0,
      [F.deviceEmulator]: 0,
      [F.deviceRooted]: 0,
      [F.deviceAccountsSeen]: 0,
      [F.deviceAgeDays]: 0,
    });
    expect(ctx.facts).toEqual({ 'kyc.status': MISSING_FACT, 'kyc.entity_type': MISSING_FACT, 'kyc.country': MISSING_FACT });
    expect(ctx.reasonCodes).toEqual(['KYC_MISSING', 'DEVICE_UNKNOWN']);
    for (const value of Object.values(ctx.features)) expect(Number.isFinite(value)).toBe(true);
  });

  it('a transaction without a device id has device.missing = 1 but is not an unknown device', async () => {
    const h = await start();
    await h.kycTopic.pipeInput(ACCOUNT_A, kyc(ACCOUNT_A), T0 - DAY);
    const ctx = await enrich(h, txn('t-1', ACCOUNT_A, T0, { deviceId: null }));
    expect(ctx.features[F.deviceMissing]).toBe(1);
    expect(ctx.features[F.deviceIdPresent]).toBe(0);
    expect(ctx.reasonCodes).toEqual([]);
  });
});

describe('device table read as of the event time', () => {
  it('a device first seen after the transaction is unknown to it: age 0, no future flags', async () => {
    const h = await start();
    // The device shows up (already blocked) five days after the transaction; the global store holds it
    // when the transaction is processed, as it would on a replay.
    await h.devices.pipeInput('dev-1', signal('dev-1', T0 + 5 * DAY, { blocked: true, accountToken: ACCOUNT_B }), T0 + 5 * DAY);
    expect(driver!.getKeyValueStore<string, DeviceProfile>(StoreNames.devices).get('dev-1')?.firstSeenAt).toBe(T0 + 5 * DAY);

    const before = await enrich(h, txn('t-1', ACCOUNT_A, T0, { deviceId: 'dev-1' }));
    expect(before.features[F.deviceMissing]).toBe(1);
    expect(before.features[F.deviceAgeDays]).toBe(0);
    expect(before.features[F.deviceBlocked]).toBe(0);
    expect(before.features[F.deviceAccountsSeen]).toBe(0);
    expect(before.reasonCodes).toContain('DEVICE_UNKNOWN');

    const after = await enrich(h, txn('t-2', ACCOUNT_A, T0 + 7 * DAY, { deviceId: 'dev-1' }));
    expect(after.features[F.deviceMissing]).toBe(0);
    expect(after.features[F.deviceAgeDays]).toBe(2); // (T0+7d − (T0+5d)) / day
    expect(after.features[F.deviceBlocked]).toBe(1);
    expect(after.features[F.deviceAccountsSeen]).toBe(1);
    expect(after.reasonCodes).not.toContain('DEVICE_UNKNOWN');
  });

  it('flags and account counts are those of signals at or before the event time', async () => {
    const h = await start();
    await h.devices.pipeInput('dev-1', signal('dev-1', T0 - 10 * DAY, { accountToken: ACCOUNT_A }), T0 - 10 * DAY);
    await h.devices.pipeInput('dev-1', signal('dev-1', T0 + DAY, { accountToken: ACCOUNT_B, blocked: true, rooted: true }), T0 + DAY);

    const atT0 = await enrich(h, txn('t-1', ACCOUNT_A, T0, { deviceId: 'dev-1' }));
    expect(atT0.features).toMatchObject({ [F.deviceMissing]: 0, [F.deviceAgeDays]: 10, [F.deviceBlocked]: 0, [F.deviceRooted]: 0, [F.deviceAccountsSeen]: 1 });

    const later = await enrich(h, txn('t-2', ACCOUNT_A, T0 + 2 * DAY, { deviceId: 'dev-1' }));
    expect(later.features).toMatchObject({ [F.deviceAgeDays]: 12, [F.deviceBlocked]: 1, [F.deviceRooted]: 1, [F.deviceAccountsSeen]: 2 });
  });

  it('a signal arriving out of event-time order lands in its place in the flag history', async () => {
    const h = await start();
    await h.devices.pipeInput('dev-1', signal('dev-1', T0 + 100), T0 + 100);
    await h.devices.pipeInput('dev-1', signal('dev-1', T0 + 300), T0 + 300);
    // Late: the device was flagged as an emulator at 200, between the two clean signals.
    await h.devices.pipeInput('dev-1', signal('dev-1', T0 + 200, { emulator: true }), T0 + 310);

    const emulatorFeature = async (id: string, at: number) => (await enrich(h, txn(id, ACCOUNT_A, at, { deviceId: 'dev-1' }))).features[F.deviceEmulator];
    expect(await emulatorFeature('t-150', T0 + 150)).toBe(0);
    expect(await emulatorFeature('t-250', T0 + 250)).toBe(1);
    expect(await emulatorFeature('t-350', T0 + 350)).toBe(0);
    // The latest flags (by event time) are those of the signal at 300.
    expect(driver!.getKeyValueStore<string, DeviceProfile>(StoreNames.devices).get('dev-1')?.emulator).toBe(false);
  });

  it('keeps the earliest N accounts per device whatever the arrival order; counts saturate at N', async () => {
    const h = await start({ maxAccountsPerDevice: 3 });
    // First-seen times per account: A 100, D 200, C 300, E 400, B 500 (arriving out of order; B is
    // seen again later, which does not move its first-seen time).
    const arrivals: [string, number][] = [['A', 100], ['B', 500], ['C', 300], ['D', 200], ['E', 400], ['B', 600]];
    for (const [account, at] of arrivals) await h.devices.pipeInput('dev-1', signal('dev-1', T0 + at, { accountToken: account }), T0 + at);

    const profile = driver!.getKeyValueStore<string, DeviceProfile>(StoreNames.devices).get('dev-1')!;
    expect(profile.accounts).toEqual([
      { accountToken: 'A', firstSeenAt: T0 + 100 },
      { accountToken: 'D', firstSeenAt: T0 + 200 },
      { accountToken: 'C', firstSeenAt: T0 + 300 },
    ]);
    expect(profile.accountsSaturated).toBe(true);
    expect([profile.firstSeenAt, profile.lastSeenAt]).toEqual([T0 + 100, T0 + 600]);

    const accountsSeen = async (id: string, at: number) => (await enrich(h, txn(id, ACCOUNT_A, at, { deviceId: 'dev-1' }))).features[F.deviceAccountsSeen];
    expect(await accountsSeen('t-150', T0 + 150)).toBe(1); // A
    expect(await accountsSeen('t-250', T0 + 250)).toBe(2); // A, D: exact below the bound
    expect(await accountsSeen('t-999', T0 + 999)).toBe(3); // five in truth: saturated at 3
  });

  it('a device tombstone removes the device', async () => {
    const h = await start();
    await h.devices.pipeInput('dev-1', signal('dev-1', T0 - DAY), T0 - DAY);
    await h.devices.pipeInput('dev-1', null, T0 - HOUR);
    const ctx = await enrich(h, txn('t-1', ACCOUNT_A, T0, { deviceId: 'dev-1' }));
    expect(ctx.features[F.deviceMissing]).toBe(1);
  });
});

describe('transaction features', () => {
  it('amount, card presence, e-commerce channel and the UTC hour of the event time', async () => {
    const h = await start();
    const ecom = await enrich(h, txn('t-1', ACCOUNT_A, T0, { amountMinor: 12_345, cardPresent: false, channel: 'ECOM' }));
    expect(ecom.features).toMatchObject({ [F.txnAmountMinor]: 12_345, [F.txnCardPresent]: 0, [F.txnChannelEcom]: 1, [F.txnHourOfDay]: 13 });

    // 23:59:59.999 UTC is still hour 23; midnight is hour 0.
    const pos = await enrich(h, txn('t-2', ACCOUNT_A, Date.UTC(2024, 2, 10, 23, 59, 59, 999), { amountMinor: 500, cardPresent: true, channel: 'POS' }));
    expect(pos.features).toMatchObject({ [F.txnAmountMinor]: 500, [F.txnCardPresent]: 1, [F.txnChannelEcom]: 0, [F.txnHourOfDay]: 23 });
    const midnight = await enrich(h, txn('t-3', ACCOUNT_A, Date.UTC(2024, 2, 11), { channel: 'ATM' }));
    expect(midnight.features[F.txnHourOfDay]).toBe(0);
  });
});
