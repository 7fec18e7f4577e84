/**
 * The label join through the test driver: decision snapshots from a stub decision step, labels from
 * the chargeback and analyst-outcome topics, maturity negatives and retention driven by stream time
 * (advanced by piping later transactions). Expected examples are built from the decisions read back
 * from the decisions topic and from the label times chosen in each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  LabelJoinConfig,
  type LabelJoinConfigInput,
  type LabelJoinCounters,
  type UnmatchedLabel,
  addLabelJoin,
  newLabelJoinCounters,
} from '../../../processors/labelJoin.js';
import type { EmittedLabel } from '../../../processors/labels/labelPolicy.js';
import type { DecisionSnapshot } from '../../../processors/snapshotStore.js';
import { StoreNames } from '../../../processors/types.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import type { AnalystOutcome, Decision, TokenizedChargeback, TokenizedTransaction, TrainingExample } from '../../../schemas/types.js';
import type { Processor, ProcessorContext } from '../../../topology/processor.js';
import type { Record } from '../../../topology/records.js';
import { Serdes } from '../../../topology/serde.js';
import { type TestInputTopic, type TestOutputTopic, TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Hour-aligned, so the 1 h punctuation grid passes through T0 + whole days. */
const T0 = Date.UTC(2024, 0, 1);

const ACCOUNT_A = 'a'.repeat(64);
const ACCOUNT_B = 'b'.repeat(64);
const CLOCK = 'c'.repeat(64); // an account whose transactions only move stream time

let drivers: TopologyTestDriver[] = [];
afterEach(async () => {
  for (const d of drivers) await d.close();
  drivers = [];
});

/**
 * Stands in for features → rules → scoring → decide (processors/decide.ts). Its features depend on
 * the account's earlier transactions, so a feature recomputed later would differ from the snapshot.
 */
class StubDecide implements Processor<string, TokenizedTransaction, string, Decision> {
  private context!: ProcessorContext<string, Decision>;
  private readonly countByAccount = new Map<string, number>();

  init(context: ProcessorContext<string, Decision>): void {
    this.context = context;
  }

  process(record: Record<string, TokenizedTransaction>): void {
    const txn = record.value;
    const count = (this.countByAccount.get(txn.accountToken) ?? 0) + 1;
    this.countByAccount.set(txn.accountToken, count);
    const decidedAt = this.context.currentSystemTimeMs();
    const decision: Decision = {
      transactionId: txn.transactionId,
      accountToken: txn.accountToken,
      cardToken: txn.cardToken,
      eventTime: txn.eventTime,
      decidedAt,
      decision: txn.amountMinor > 100_000 ? 'REVIEW' : 'APPROVE',
      score: txn.amountMinor / 1_000_000,
      modelVersion: 'gbm-2024-01',
      shadowScores: [],
      ruleSetVersion: 'rules-7',
      reasonCodes: [],
      features: { 'txn.amount_minor': txn.amountMinor, 'account.txn_count': count, 'score.raw': 0.1 + count / 3 },
      facts: { 'kyc.status': 'VERIFIED', 'stub.nth': String(count) },
      topContributions: [],
      pipelineLatencyMs: decidedAt - txn.ingestedAt,
    };
    this.context.forward({ ...record, value: decision });
  }
}

function txn(id: string, accountToken: string, eventTime: number, amountMinor = 5_000): TokenizedTransaction {
  return { ...EXAMPLES.TokenizedTransaction, transactionId: id, accountToken, eventTime, ingestedAt: eventTime, amountMinor };
}

function chargeback(transactionId: string, accountToken: string, reportedAt: number, fraud = true, chargebackId = `cb-${transactionId}`): TokenizedChargeback {
  return { chargebackId, transactionId, accountToken, reasonCode: fraud ? '10.4' : '13.1', amountMinor: 5_000, currency: 'EUR', reportedAt, fraud };
}

function outcome(transactionId: string, accountToken: string, decidedAt: number, verdict: 'FRAUD' | 'LEGITIMATE'): AnalystOutcome {
  return { transactionId, accountToken, outcome: verdict, analystId: 'analyst-17', caseId: 'case-1', decidedAt };
}

interface Harness {
  driver: TopologyTestDriver;
  counters: LabelJoinCounters;
  transactions: TestInputTopic<string, TokenizedTransaction>;
  chargebacks: TestInputTopic<string, TokenizedChargeback>;
  outcomes: TestInputTopic<string, AnalystOutcome>;
  decisions: TestOutputTopic<string, Decision>;
  examples: TestOutputTopic<string, TrainingExample>;
  unmatched: TestOutputTopic<string, UnmatchedLabel>;
  /** Pipes a transaction and returns its decision. */
  decide(t: TokenizedTransaction): Promise<Decision>;
  /** Moves stream time to `at` with a transaction of an unrelated account. */
  advanceStreamTime(at: number): Promise<void>;
}

async function start(configInput: Partial<LabelJoinConfigInput> = {}, initialWallClockTimeMs = 1_000): Promise<Harness> {
  const config = LabelJoinConfig.parse({ trainingExamplesChild: 'training-sink', unknownLabelsChild: 'unknown-labels-sink', ...configInput });
  const counters = newLabelJoinCounters();
  const topology = new Topology({ applicationId: 'label-join-test' })
    .addSource('txn-source', 'transactions-tokenized', { keySerde: Serdes.String, valueSerde: Serdes.Json<TokenizedTransaction>() })
    .addSource('chargebacks-source', 'chargebacks-tokenized', { keySerde: Serdes.String, valueSerde: Serdes.Json<TokenizedChargeback>() })
    .addSource('outcomes-source', 'analyst-outcomes', { keySerde: Serdes.String, valueSerde: Serdes.Json<AnalystOutcome>() })
    .addProcessor('decide', () => new StubDecide(), 'txn-source');
  const { snapshotProcessor, labelJoinProcessor } = addLabelJoin(topology, {
    decisionParent: 'decide',
    labelParents: ['chargebacks-source', 'outcomes-source'],
    config,
    counters,
    storeOptions: { persistent: false },
  });
  topology
    .addSink('decisions-sink', 'decisions', { keySerde: Serdes.String, valueSerde: Serdes.Json<Decision>() }, snapshotProcessor)
    .addSink('training-sink', 'training-examples', { keySerde: Serdes.String, valueSerde: Serdes.Json<TrainingExample>() }, labelJoinProcessor)
    .addSink('unknown-labels-sink', 'unmatched-labels', { keySerde: Serdes.String, valueSerde: Serdes.Json<UnmatchedLabel>() }, labelJoinProcessor);
  const driver = await TopologyTestDriver.create(topology, { initialWallClockTimeMs });
  drivers.push(driver);
  const transactions = driver.createInputTopic('transactions-tokenized', Serdes.String, Serdes.Json<TokenizedTransaction>());
  const decisions = driver.createOutputTopic('decisions', Serdes.String, Serdes.Json<Decision>());
  let clockTxns = 0;
  return {
    driver,
    counters,
    transactions,
    chargebacks: driver.createInputTopic('chargebacks-tokenized', Serdes.String, Serdes.Json<TokenizedChargeback>()),
    outcomes: driver.createInputTopic('analyst-outcomes', Serdes.String, Serdes.Json<AnalystOutcome>()),
    decisions,
    examples: driver.createOutputTopic('training-examples', Serdes.String, Serdes.Json<TrainingExample>()),
    unmatched: driver.createOutputTopic('unmatched-labels', Serdes.String, Serdes.Json<UnmatchedLabel>()),
    async decide(t) {
      await transactions.pipeInput(t.accountToken, t, t.eventTime);
      const out = decisions.readValuesToList();
      const mine = out.filter((d) => d!.transactionId === t.transactionId);
      expect(mine).toHaveLength(1);
      return mine[0]!;
    },
    async advanceStreamTime(at) {
      await transactions.pipeInput(CLOCK, txn(`clock-${clockTxns++}`, CLOCK, at), at);
      decisions.readRecordsToList();
    },
  };
}

/** The example the join must produce for a decision and a label, worked out from the decision. */
function expected(d: Decision, label: 0 | 1, labelSource: TrainingExample['labelSource'], labeledAt: number, isCorrection: boolean): TrainingExample {
  return {
    transactionId: d.transactionId,
    accountToken: d.accountToken,
    eventTime: d.eventTime,
    features: d.features,
    facts: d.facts,
    label,
    labelSource,
    labeledAt,
    labelDelayMs: labeledAt - d.eventTime,
    modelVersion: d.modelVersion,
    decision: d.decision,
    isCorrection,
  };
}

describe('label join', () => {
  it('joins a fraud chargeback to the features stored at decision time, not recomputed ones', async () => {
    const h = await start();
    const d1 = await h.decide(txn('t-1', ACCOUNT_A, T0, 250_000));
    // Later transactions of the same account change what the stub would compute now for t-1's account.
    await h.decide(txn('t-2', ACCOUNT_A, T0 + HOUR));
    await h.decide(txn('t-3', ACCOUNT_A, T0 + 2 * HOUR));
    expect(d1.features['account.txn_count']).toBe(1);
    expect(d1.decision).toBe('REVIEW');

    await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-1', ACCOUNT_A, T0 + 10 * DAY), T0 + 10 * DAY);
    const out = h.examples.readRecordsToList();
    expect(out).toHaveLength(1);
    expect(out[0]!.key).toBe(ACCOUNT_A);
    expect(out[0]!.timestamp).toBe(T0 + 10 * DAY);
    expect(out[0]!.value).toEqual(expected(d1, 1, 'CHARGEBACK', T0 + 10 * DAY, false));
    expect(out[0]!.value!.features).toEqual({ 'txn.amount_minor': 250_000, 'account.txn_count': 1, 'score.raw': 0.1 + 1 / 3 });
    expect(out[0]!.value!.labelDelayMs).toBe(10 * DAY);
    expect(h.driver.getKeyValueStore<string, EmittedLabel>(StoreNames.labels).get('t-1')).toEqual({ label: 1, labelSource: 'CHARGEBACK', labeledAt: T0 + 10 * DAY });
  });

  it('an analyst LEGITIMATE verdict is label 0; repeating it adds nothing; an analyst FRAUD verdict then corrects it', async () => {
    const h = await start();
    const d = await h.decide(txn('t-1', ACCOUNT_A, T0, 150_000));
    await h.outcomes.pipeInput(ACCOUNT_A, outcome('t-1', ACCOUNT_A, T0 + 2 * DAY, 'LEGITIMATE'), T0 + 2 * DAY);
    expect(h.examples.readValuesToList()).toEqual([expected(d, 0, 'ANALYST', T0 + 2 * DAY, false)]);

    await h.outcomes.pipeInput(ACCOUNT_A, outcome('t-1', ACCOUNT_A, T0 + 3 * DAY, 'LEGITIMATE'), T0 + 3 * DAY);
    expect(h.examples.isEmpty()).toBe(true);

    await h.outcomes.pipeInput(ACCOUNT_A, outcome('t-1', ACCOUNT_A, T0 + 4 * DAY, 'FRAUD'), T0 + 4 * DAY);
    expect(h.examples.readValuesToList()).toEqual([expected(d, 1, 'ANALYST', T0 + 4 * DAY, true)]);
    expect(h.counters).toMatchObject({ examples: 2, corrections: 1, duplicateLabels: 1 });
  });

  it('writes the maturity negative exactly once when stream time reaches eventTime + 60 days; a later chargeback corrects it', async () => {
    const h = await start();
    const a = await h.decide(txn('t-a', ACCOUNT_A, T0));
    const b = await h.decide(txn('t-b', ACCOUNT_B, T0 + DAY));

    await h.advanceStreamTime(T0 + 60 * DAY - 1);
    expect(h.examples.isEmpty()).toBe(true);

    await h.advanceStreamTime(T0 + 60 * DAY); // a's deadline; b's is a day later
    const negatives = h.examples.readRecordsToList();
    expect(negatives.map((r) => r.value)).toEqual([expected(a, 0, 'MATURITY', T0 + 60 * DAY, false)]);
    expect(negatives[0]!.timestamp).toBe(T0 + 60 * DAY);
    expect(negatives[0]!.value!.labelDelayMs).toBe(60 * DAY);

    // Further punctuations (every hour of stream time) do not write a's negative again.
    for (let hour = 1; hour <= 5; hour++) await h.advanceStreamTime(T0 + 60 * DAY + hour * HOUR);
    expect(h.examples.isEmpty()).toBe(true);

    await h.advanceStreamTime(T0 + 61 * DAY);
    expect(h.examples.readValuesToList()).toEqual([expected(b, 0, 'MATURITY', T0 + 61 * DAY, false)]);

    // A fraud chargeback after maturity: a correction to 1.
    await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-a', ACCOUNT_A, T0 + 70 * DAY), T0 + 70 * DAY);
    expect(h.examples.readValuesToList()).toEqual([expected(a, 1, 'CHARGEBACK', T0 + 70 * DAY, true)]);

    // The same chargeback again (redelivered), and a second one for the same transaction: nothing new.
    await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-a', ACCOUNT_A, T0 + 70 * DAY), T0 + 70 * DAY);
    await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-a', ACCOUNT_A, T0 + 75 * DAY, true, 'cb-second'), T0 + 75 * DAY);
    await h.advanceStreamTime(T0 + 80 * DAY);
    expect(h.examples.isEmpty()).toBe(true);
    expect(h.counters).toMatchObject({ examples: 3, maturityNegatives: 2, corrections: 1, duplicateLabels: 2 });
  });

  it('does not write a negative for a transaction with a fraud label, nor for one an analyst cleared', async () => {
    const h = await start();
    const fraud = await h.decide(txn('t-fraud', ACCOUNT_A, T0));
    const cleared = await h.decide(txn('t-cleared', ACCOUNT_B, T0));
    await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-fraud', ACCOUNT_A, T0 + 20 * DAY), T0 + 20 * DAY);
    await h.outcomes.pipeInput(ACCOUNT_B, outcome('t-cleared', ACCOUNT_B, T0 + 21 * DAY, 'LEGITIMATE'), T0 + 21 * DAY);
    expect(h.examples.readValuesToList()).toEqual([
      expected(fraud, 1, 'CHARGEBACK', T0 + 20 * DAY, false),
      expected(cleared, 0, 'ANALYST', T0 + 21 * DAY, false),
    ]);
    await h.advanceStreamTime(T0 + 90 * DAY);
    expect(h.examples.isEmpty()).toBe(true);
  });

  it('a non-fraud chargeback is no label: the transaction still matures as a negative', async () => {
    const h = await start();
    const d = await h.decide(txn('t-1', ACCOUNT_A, T0));
    await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-1', ACCOUNT_A, T0 + 5 * DAY, false), T0 + 5 * DAY);
    expect(h.examples.isEmpty()).toBe(true);
    await h.advanceStreamTime(T0 + 60 * DAY);
    expect(h.examples.readValuesToList()).toEqual([expected(d, 0, 'MATURITY', T0 + 60 * DAY, false)]);
    expect(h.counters.nonFraudChargebacks).toBe(1);
  });

  it('a label stamped after the deadline yields negative then correction, whether or not the maturity pass ran first', async () => {
    // Same input, two graces: with 0 the punctuator writes the negative before the chargeback; with 2
    // days it has not yet when the chargeback (1 day after the deadline) arrives.
    const run = async (maturityGraceMs: number) => {
      const h = await start({ maturityGraceMs });
      const d = await h.decide(txn('t-1', ACCOUNT_A, T0));
      await h.advanceStreamTime(T0 + 60 * DAY + 12 * HOUR);
      const beforeChargeback = h.examples.readValuesToList();
      await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-1', ACCOUNT_A, T0 + 61 * DAY), T0 + 61 * DAY);
      await h.advanceStreamTime(T0 + 65 * DAY);
      return { d, beforeChargeback, all: [...beforeChargeback, ...h.examples.readValuesToList()] };
    };
    const eager = await run(0);
    const graced = await run(2 * DAY);
    expect(eager.beforeChargeback).toHaveLength(1);
    expect(graced.beforeChargeback).toHaveLength(0);
    const want = [expected(eager.d, 0, 'MATURITY', T0 + 60 * DAY, false), expected(eager.d, 1, 'CHARGEBACK', T0 + 61 * DAY, true)];
    expect(eager.all).toEqual(want);
    expect(graced.all).toEqual(want);
  });

  it('routes a chargeback for an unknown transaction to the unknown-labels child and carries on', async () => {
    const h = await start();
    const d = await h.decide(txn('t-1', ACCOUNT_A, T0));
    const unknown = chargeback('t-never-seen', ACCOUNT_A, T0 + DAY);
    await h.chargebacks.pipeInput(ACCOUNT_A, unknown, T0 + DAY);
    // A label whose account token is not the snapshot's is not attached to it either.
    const foreign = outcome('t-1', ACCOUNT_B, T0 + DAY, 'FRAUD');
    await h.outcomes.pipeInput(ACCOUNT_B, foreign, T0 + DAY);

    const routed = h.unmatched.readRecordsToList();
    expect(routed.map((r) => [r.key, r.value])).toEqual([
      [ACCOUNT_A, { reason: 'UNKNOWN_TRANSACTION', label: unknown }],
      [ACCOUNT_B, { reason: 'ACCOUNT_TOKEN_MISMATCH', label: foreign }],
    ]);
    expect(h.examples.isEmpty()).toBe(true);
    expect(h.counters).toMatchObject({ unknownTransactions: 1, accountTokenMismatches: 1 });

    await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-1', ACCOUNT_A, T0 + 2 * DAY), T0 + 2 * DAY);
    expect(h.examples.readValuesToList()).toEqual([expected(d, 1, 'CHARGEBACK', T0 + 2 * DAY, false)]);
    expect(h.unmatched.isEmpty()).toBe(true);
  });

  it('deletes snapshots, index entries and label records once they are older than the retention', async () => {
    const h = await start({ retentionMs: 180 * DAY });
    await h.decide(txn('t-old', ACCOUNT_A, T0));
    await h.decide(txn('t-new', ACCOUNT_B, T0 + 10 * DAY));
    const snapshots = h.driver.getKeyValueStore<string, DecisionSnapshot>(StoreNames.decisionSnapshots);
    const index = h.driver.getKeyValueStore<string, number>(StoreNames.snapshotIndex);
    const labels = h.driver.getKeyValueStore<string, EmittedLabel>(StoreNames.labels);
    const indexKeys = () => [...index.all()].map((e) => e.key).filter((k) => !k.startsWith('~'));

    await h.advanceStreamTime(T0 + 180 * DAY - 1);
    expect(snapshots.get('t-old')).toBeDefined();
    expect(labels.get('t-old')?.labelSource).toBe('MATURITY');
    expect(indexKeys().filter((k) => k.endsWith('|t-old'))).toEqual([`${String(T0).padStart(13, '0')}|t-old`]);

    await h.advanceStreamTime(T0 + 180 * DAY);
    expect(snapshots.get('t-old')).toBeUndefined();
    expect(labels.get('t-old')).toBeUndefined();
    expect(indexKeys().some((k) => k.endsWith('|t-old'))).toBe(false);
    expect(snapshots.get('t-new')).toBeDefined();
    expect(h.counters.snapshotsExpired).toBeGreaterThanOrEqual(1);

    // A chargeback for it now is for an unknown transaction.
    await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-old', ACCOUNT_A, T0 + 181 * DAY), T0 + 181 * DAY);
    expect(h.unmatched.readValuesToList().map((v) => v!.reason)).toEqual(['UNKNOWN_TRANSACTION']);
    expect(h.examples.readValuesToList().map((e) => [e!.transactionId, e!.labelSource])).toEqual([
      ['t-old', 'MATURITY'],
      ['t-new', 'MATURITY'],
    ]);
  });

  it('a decision whose event time is already behind the maturity pass still gets its negative', async () => {
    const h = await start();
    await h.advanceStreamTime(T0 + 100 * DAY); // the maturity pass has covered everything up to T0 + 40 days
    // A transaction stamped T0 arrives very late (stream time does not move back).
    const late = await h.decide(txn('t-late', ACCOUNT_A, T0));
    expect(h.examples.isEmpty()).toBe(true);
    await h.advanceStreamTime(T0 + 100 * DAY + HOUR);
    expect(h.examples.readValuesToList()).toEqual([expected(late, 0, 'MATURITY', T0 + 60 * DAY, false)]);
  });

  it('a replay of the same input gives byte-identical training examples', async () => {
    const script = async (h: Harness) => {
      for (let i = 0; i < 6; i++) await h.decide(txn(`t-${i}`, i % 2 === 0 ? ACCOUNT_A : ACCOUNT_B, T0 + i * 7 * HOUR, 1_000 * (i + 1)));
      await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-2', ACCOUNT_A, T0 + 30 * DAY), T0 + 30 * DAY);
      await h.outcomes.pipeInput(ACCOUNT_B, outcome('t-3', ACCOUNT_B, T0 + 31 * DAY, 'LEGITIMATE'), T0 + 31 * DAY);
      await h.advanceStreamTime(T0 + 61 * DAY);
      await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-4', ACCOUNT_A, T0 + 62 * DAY), T0 + 62 * DAY);
      await h.chargebacks.pipeInput(ACCOUNT_A, chargeback('t-4', ACCOUNT_A, T0 + 62 * DAY), T0 + 62 * DAY);
      await h.advanceStreamTime(T0 + 200 * DAY);
      return h.driver.readRaw('training-examples').map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp }));
    };
    // Different wall clocks: decidedAt differs between the runs, the training examples must not.
    const first = await script(await start({}, 1_000));
    const second = await script(await start({}, 987_654_321));
    const summary = first.map((r) => {
      const e = JSON.parse(r.value!.toString('utf8')) as TrainingExample;
      return `${e.transactionId} ${e.labelSource} ${e.label}${e.isCorrection ? ' correction' : ''}`;
    });
    expect(summary).toEqual([
      't-2 CHARGEBACK 1',
      't-3 ANALYST 0',
      // Stream time 61 d: deadlines of t-0 (60 d) and t-1 (60 d 7 h) passed; t-4's (61 d 4 h) not yet.
      't-0 MATURITY 0',
      't-1 MATURITY 0',
      // Its chargeback is stamped after its deadline: negative first, then the correction; the repeat adds nothing.
      't-4 MATURITY 0',
      't-4 CHARGEBACK 1 correction',
      // Stream time 200 d: t-5 and the stream-time transaction piped at 61 d.
      't-5 MATURITY 0',
      'clock-0 MATURITY 0',
    ]);
    expect(second).toEqual(first);
  });

  it('refuses a retention shorter than maturity plus grace', () => {
    expect(() => LabelJoinConfig.parse({ trainingExamplesChild: 'a', unknownLabelsChild: 'b', maturityMs: 60 * DAY, maturityGraceMs: DAY, retentionMs: 60 * DAY })).toThrow(/retentionMs/);
    expect(LabelJoinConfig.parse({ trainingExamplesChild: 'a', unknownLabelsChild: 'b' })).toMatchObject({ maturityMs: 60 * DAY, retentionMs: 180 * DAY, maturityGraceMs: 0 });
  });
});
