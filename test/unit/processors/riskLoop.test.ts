/**
 * The whole risk loop in-process, through the test driver: exactly the processors that run on
 * Kafka, with the real tokenizer, rule file and bootstrap ONNX model.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AnalystOutcome, Chargeback, Decision, DeadLetter, DeviceSignal, KycRecord, TrainingExample, Transaction } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { riskLoopFixture, type RiskLoopFixture } from '../../support/riskLoopFixture.js';

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 9, 1, 12, 0, 0);

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function txn(over: Partial<Transaction> & Pick<Transaction, 'transactionId' | 'accountId' | 'eventTime'>): Transaction {
  return {
    pan: '4111111111111111',
    amountMinor: 2_500,
    currency: 'EUR',
    merchantId: 'M-1',
    merchantName: 'Bakery',
    terminalId: 'T-1',
    mcc: '5411',
    merchantCountry: 'DE',
    channel: 'POS',
    cardPresent: true,
    threeDsAuthenticated: null,
    lat: 52.52,
    lon: 13.405,
    deviceId: 'dev-ok',
    ip: null,
    ...over,
  };
}

function kyc(f: RiskLoopFixture, accountId: string, over: Partial<KycRecord> = {}): KycRecord {
  return {
    accountToken: f.tokenizer.accountToken(accountId),
    entityType: 'PERSON',
    status: 'VERIFIED',
    riskTier: 'LOW',
    accountOpenedAt: T0 - 900 * DAY,
    pep: false,
    sanctioned: false,
    watchlistHits: 0,
    country: 'DE',
    updatedAt: T0 - 10 * DAY,
    ...over,
  };
}

function device(deviceId: string, over: Partial<DeviceSignal> = {}): DeviceSignal {
  return { deviceId, eventTime: T0 - 30 * DAY, accountToken: null, emulator: false, rooted: false, blocked: false, os: 'android', userAgent: null, ip: null, ...over };
}

async function setup() {
  const f = await riskLoopFixture();
  driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
  const t = f.catalogue;
  const io = {
    transactions: driver.createInputTopic(t.transactions.name, Serdes.String, f.serdes.transactions),
    kyc: driver.createInputTopic(t.kyc.name, Serdes.String, f.serdes.kyc),
    devices: driver.createInputTopic(t.deviceSignals.name, Serdes.String, f.serdes.deviceSignals),
    chargebacks: driver.createInputTopic(t.chargebacks.name, Serdes.String, f.serdes.chargebacks),
    outcomes: driver.createInputTopic(t.analystOutcomes.name, Serdes.String, f.serdes.analystOutcomes),
    decisions: driver.createOutputTopic(t.decisions.name, Serdes.String, f.serdes.decisions),
    training: driver.createOutputTopic(t.trainingExamples.name, Serdes.String, f.serdes.trainingExamples),
    deadLetters: driver.createOutputTopic(t.deadLetters.name, Serdes.String, f.serdes.deadLetters),
  };
  const pay = (x: Transaction) => io.transactions.pipeInput(f.tokenizer.accountToken(x.accountId), x, x.eventTime);
  return { f, io, pay };
}

describe('risk loop (test driver)', () => {
  it('decides every valid transaction, dead-letters invalid ones, and explains each decision', async () => {
    const { f, io, pay } = await setup();
    await io.kyc.pipeInput(f.tokenizer.accountToken('ACC-A'), kyc(f, 'ACC-A'), T0 - 10 * DAY);
    await io.kyc.pipeInput(f.tokenizer.accountToken('ACC-S'), kyc(f, 'ACC-S', { sanctioned: true }), T0 - 10 * DAY);
    await io.devices.pipeInput('dev-ok', device('dev-ok'), T0 - 30 * DAY);
    await io.devices.pipeInput('dev-blocked', device('dev-blocked', { blocked: true }), T0 - 30 * DAY);

    await pay(txn({ transactionId: 'tx-1', accountId: 'ACC-A', eventTime: T0 }));
    await pay(txn({ transactionId: 'tx-2', accountId: 'ACC-S', eventTime: T0 + 1000, pan: '5555555555554444' }));
    await pay(txn({ transactionId: 'tx-3', accountId: 'ACC-A', eventTime: T0 + 2000, deviceId: 'dev-blocked' }));
    await pay(txn({ transactionId: 'tx-bad', accountId: 'ACC-A', eventTime: T0 + 3000, pan: '4111111111111112' }));
    await pay(txn({ transactionId: 'tx-4', accountId: 'ACC-NOKYC', eventTime: T0 + 4000, deviceId: null }));

    const decisions = io.decisions.readRecordsToList();
    const byId = new Map(decisions.map((r) => [r.value!.transactionId, r.value as Decision]));
    expect([...byId.keys()].sort()).toEqual(['tx-1', 'tx-2', 'tx-3', 'tx-4']);
    // Decisions are keyed by account token, never by a clear account id.
    expect(decisions.every((r) => r.key!.startsWith('at_'))).toBe(true);

    const d1 = byId.get('tx-1')!;
    expect(d1.modelVersion).toBe('bootstrap-v1');
    expect(d1.score).toBeGreaterThanOrEqual(0);
    expect(d1.score).toBeLessThanOrEqual(1);
    expect(d1.ruleSetVersion).toBe(f.rules.current().version);
    expect(d1.features['txn.amount_minor']).toBe(2500);
    // Velocity counts the card's earlier transactions in the window (none yet).
    expect(d1.features['card.count_1m']).toBe(0);
    expect(d1.features['kyc.missing']).toBe(0);
    expect(d1.cardToken.startsWith('ct_k2026a_')).toBe(true);

    const d2 = byId.get('tx-2')!;
    expect(d2.decision).toBe('DECLINE');
    expect(d2.reasonCodes).toContain('SANCTIONS_HIT');

    const d3 = byId.get('tx-3')!;
    expect(d3.decision).toBe('DECLINE');
    expect(d3.reasonCodes).toContain('DEVICE_BLOCKED');
    // The same card paid 2 s earlier (tx-1): one earlier transaction in the minute.
    expect(d3.features['card.count_1m']).toBe(1);

    const d4 = byId.get('tx-4')!;
    expect(d4.features['kyc.missing']).toBe(1);
    expect(d4.reasonCodes).toContain('KYC_MISSING');

    const letters = io.deadLetters.readValuesToList() as DeadLetter[];
    expect(letters).toHaveLength(1);
    expect(letters[0]!.reason).toBe('INVALID_PAN_LUHN');
    expect(letters[0]!.value!.includes(Buffer.from('4111111111111112'))).toBe(false);

    // No PAN and no clear account id anywhere downstream of ingress.
    for (const r of decisions) {
      const bytes = f.serdes.decisions.serialize(r.value!);
      for (const secret of ['4111111111111111', '5555555555554444', 'ACC-A', 'ACC-S', 'ACC-NOKYC']) expect(bytes.includes(Buffer.from(secret))).toBe(false);
    }
  });

  it('joins a chargeback to the decision snapshot: the training example carries the features as decided', async () => {
    const { f, io, pay } = await setup();
    await io.kyc.pipeInput(f.tokenizer.accountToken('ACC-A'), kyc(f, 'ACC-A'), T0 - 10 * DAY);
    await pay(txn({ transactionId: 'tx-1', accountId: 'ACC-A', eventTime: T0 }));
    await pay(txn({ transactionId: 'tx-2', accountId: 'ACC-A', eventTime: T0 + 60_000 }));
    const decided = io.decisions.readValuesToList() as Decision[];
    const cb: Chargeback = { chargebackId: 'cb-1', transactionId: 'tx-1', accountId: 'ACC-A', reasonCode: '10.4', amountMinor: 2500, currency: 'EUR', reportedAt: T0 + 20 * DAY, fraud: true };
    await io.chargebacks.pipeInput(f.tokenizer.accountToken('ACC-A'), cb, cb.reportedAt);
    const outcome: AnalystOutcome = { transactionId: 'tx-2', accountToken: f.tokenizer.accountToken('ACC-A'), outcome: 'LEGITIMATE', analystId: 'an-7', caseId: null, decidedAt: T0 + 2 * DAY };
    await io.outcomes.pipeInput(outcome.accountToken, outcome, outcome.decidedAt);
    // A chargeback for a transaction this loop never decided.
    await io.chargebacks.pipeInput(f.tokenizer.accountToken('ACC-A'), { ...cb, chargebackId: 'cb-x', transactionId: 'tx-unknown' }, cb.reportedAt + 1);

    const examples = io.training.readValuesToList() as TrainingExample[];
    const fraud = examples.find((e) => e.transactionId === 'tx-1')!;
    expect(fraud.label).toBe(1);
    expect(fraud.labelSource).toBe('CHARGEBACK');
    expect(fraud.labelDelayMs).toBe(20 * DAY);
    expect(fraud.features).toEqual(decided.find((d) => d.transactionId === 'tx-1')!.features);
    const legit = examples.find((e) => e.transactionId === 'tx-2')!;
    expect(legit.label).toBe(0);
    expect(legit.labelSource).toBe('ANALYST');
    const letters = io.deadLetters.readValuesToList() as DeadLetter[];
    expect(letters.map((l) => l.reason)).toEqual(['UNKNOWN_TRANSACTION']);
  });

  it('decides by rules alone, with a reason code, when no model is loaded', async () => {
    const f = await riskLoopFixture({ model: false });
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
    const tx = driver.createInputTopic(f.catalogue.transactions.name, Serdes.String, f.serdes.transactions);
    const out = driver.createOutputTopic(f.catalogue.decisions.name, Serdes.String, f.serdes.decisions);
    const x = txn({ transactionId: 'tx-1', accountId: 'ACC-A', eventTime: T0 });
    await tx.pipeInput(f.tokenizer.accountToken('ACC-A'), x, T0);
    const [d] = out.readValuesToList() as Decision[];
    expect(d!.score).toBeNull();
    expect(d!.modelVersion).toBeNull();
    expect(d!.reasonCodes).toContain('MODEL_UNAVAILABLE');
  });

  it('describes one hot sub-topology, the cross-entity side sub-topologies and the global stores', async () => {
    const f = await riskLoopFixture();
    const text = f.topology.describe().toString();
    const subs = f.topology.subtopologies();
    expect(subs).toHaveLength(3);
    // Transaction to decision (and labels to the snapshot) without a repartition hop.
    const hot = subs[0]!.nodes.map((n) => n.name);
    for (const node of ['ingress', 'velocity', 'enrich', 'cross-entity', 'rules', 'score', 'decide', 'decision-snapshot', 'label-join', 'entity-activity', 'label-attribution-keys']) {
      expect(hot).toContain(node);
    }
    // Its only internal input is the re-route of records a producer put on the wrong partition
    // (processors/partitionCheck.ts); correctly partitioned records never take it.
    expect(subs[0]!.sourceTopics.filter((t) => f.topology.isRepartitionTopic(t))).toEqual(['riskloop-rerouted-repartition']);
    // The side sub-topologies read only their repartition topics.
    for (const sub of subs.slice(1)) expect(sub.sourceTopics.every((t) => f.topology.isRepartitionTopic(t))).toBe(true);
    for (const node of ['kyc-table', 'device-table', 'model-release', 'entity-stats-table', 'entity-aggregate', 'label-attribution']) {
      expect(text).toContain(node);
    }
  });
});
