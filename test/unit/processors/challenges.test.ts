/**
 * Step-up as an outcome (processors/challenges.ts, decide.ts): CHALLENGE decisions from the shipped
 * rules and from a configured score band, challenge results coming back as labels (FAILED → fraud,
 * PASSED → legitimate, ABANDONED → nothing) and as features of the account's later transactions,
 * worked at the 24-hour and 30-day edges; and the schema change done the compatible way.
 */
import avro from 'avsc';
import { afterEach, describe, expect, it } from 'vitest';
import { CHALLENGE_WINDOW_MS, ChallengeFeatures, addChallengeFeatures, recordChallenge } from '../../../processors/challenges.js';
import { compatibilityProblems } from '../../../registry/compatibility.js';
import { EXAMPLES, SCHEMAS } from '../../../schemas/index.js';
import type { ChallengeResult, Decision, TrainingExample, Transaction } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { type RiskLoopFixture, riskLoopFixture, testTransaction } from '../../support/riskLoopFixture.js';

const T0 = Date.UTC(2026, 9, 5, 10, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const result = (transactionId: string, outcome: ChallengeResult['result'], completedAt: number, accountToken = 'acct'): ChallengeResult => ({
  transactionId,
  accountToken,
  result: outcome,
  method: 'THREE_DS',
  completedAt,
});

describe('challenge history and features', () => {
  it('counts results strictly before t and strictly inside 30 days', () => {
    let h = recordChallenge([], result('a', 'FAILED', T0), 64);
    h = recordChallenge(h, result('b', 'PASSED', T0 + HOUR), 64);
    h = recordChallenge(h, result('c', 'ABANDONED', T0 - HOUR), 64); // out of order: sorted in
    expect(h.map((e) => e[0])).toEqual([T0 - HOUR, T0, T0 + HOUR]);
    const at = (t: number) => {
      const f: { [k: string]: number } = {};
      addChallengeFeatures(f, h, t);
      return f;
    };
    // At the failure's own millisecond it is not yet known.
    expect(at(T0)).toEqual({ [ChallengeFeatures.failed30d]: 0, [ChallengeFeatures.passed30d]: 0, [ChallengeFeatures.abandoned30d]: 1 });
    expect(at(T0 + 1)).toMatchObject({ [ChallengeFeatures.failed30d]: 1, [ChallengeFeatures.secsSinceFailed]: 0.001 });
    // Exactly 30 days after the failure it has left the window (t − 30 d, t).
    expect(at(T0 + CHALLENGE_WINDOW_MS)).toEqual({ [ChallengeFeatures.failed30d]: 0, [ChallengeFeatures.passed30d]: 1, [ChallengeFeatures.abandoned30d]: 0 });
    expect(at(T0 + CHALLENGE_WINDOW_MS - 1)[ChallengeFeatures.failed30d]).toBe(1);
  });

  it('keeps at most maxResults and nothing older than 30 days behind the newest', () => {
    let h = recordChallenge([], result('old', 'FAILED', T0), 3);
    h = recordChallenge(h, result('new', 'PASSED', T0 + CHALLENGE_WINDOW_MS), 3);
    expect(h).toEqual([[T0 + CHALLENGE_WINDOW_MS, 0]]);
    for (let i = 1; i <= 5; i++) h = recordChallenge(h, result(`r${i}`, 'FAILED', T0 + CHALLENGE_WINDOW_MS + i), 3);
    expect(h.map((e) => e[0] - T0 - CHALLENGE_WINDOW_MS)).toEqual([3, 4, 5]);
  });
});

interface Loop {
  f: RiskLoopFixture;
  pay(t: Transaction): Promise<Decision>;
  challenge(r: ChallengeResult): Promise<void>;
  examples(): TrainingExample[];
}

async function loop(opts: Parameters<typeof riskLoopFixture>[0] = {}): Promise<Loop> {
  const f = await riskLoopFixture(opts);
  driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
  const d = driver;
  const t = f.catalogue;
  const txIn = d.createInputTopic(t.transactions.name, Serdes.String, f.serdes.transactions);
  const challengeIn = d.createInputTopic(t.challengeResults.name, Serdes.String, f.serdes.challengeResults);
  const decisions = d.createOutputTopic(t.decisions.name, Serdes.String, f.serdes.decisions);
  const training = d.createOutputTopic(t.trainingExamples.name, Serdes.String, f.serdes.trainingExamples);
  const seen: TrainingExample[] = [];
  return {
    f,
    async pay(txn) {
      await txIn.pipeInput(f.tokenizer.accountToken(txn.accountId), txn, txn.eventTime);
      const out = decisions.readValuesToList().filter((x) => x !== null && x.transactionId === txn.transactionId) as Decision[];
      expect(out, txn.transactionId).toHaveLength(1);
      return out[0]!;
    },
    async challenge(r) {
      await challengeIn.pipeInput(r.accountToken, r, r.completedAt);
    },
    examples() {
      seen.push(...(training.readValuesToList() as TrainingExample[]));
      return seen;
    },
  };
}

/** A card-not-present payment (no device: the new-device rules stay quiet). */
const online = (transactionId: string, eventTime: number, amountMinor: number): Transaction =>
  testTransaction({ transactionId, eventTime, amountMinor, channel: 'ECOM', cardPresent: false, terminalId: null, lat: null, lon: null });
const inStore = (transactionId: string, eventTime: number): Transaction => testTransaction({ transactionId, eventTime });

describe('step-up through the whole loop (test driver)', () => {
  it('a large online payment is challenged; a failed challenge becomes a fraud label and a feature of the next payments', async () => {
    const l = await loop({ model: false });
    const account = l.f.tokenizer.accountToken('ACC-A');

    const big = await l.pay(online('tx-big', T0, 250_000));
    expect(big.decision).toBe('CHALLENGE');
    expect(big.reasonCodes).toContain('STEP_UP_LARGE_AMOUNT');
    // The boundary: 1,999.99 online is not challenged by that rule.
    expect((await l.pay(online('tx-under', T0 + 1_000, 199_999))).reasonCodes).not.toContain('STEP_UP_LARGE_AMOUNT');

    await l.challenge(result('tx-big', 'FAILED', T0 + 90_000, account));
    expect(l.examples().map((e) => [e.transactionId, e.label, e.labelSource, e.labeledAt, e.decision])).toEqual([['tx-big', 1, 'CHALLENGE', T0 + 90_000, 'CHALLENGE']]);

    // One hour later: the failure is 58.5 minutes old and the review rule fires.
    const next = await l.pay(inStore('tx-next', T0 + HOUR));
    expect(next.features[ChallengeFeatures.failed30d]).toBe(1);
    expect(next.features[ChallengeFeatures.secsSinceFailed]).toBe((HOUR - 90_000) / 1000);
    expect(next.decision).toBe('REVIEW');
    expect(next.reasonCodes).toContain('FAILED_CHALLENGE_24H');

    // 24 h after the failure the rule is quiet, the count stays for 30 days.
    const dayAfter = await l.pay(inStore('tx-day-after', T0 + 90_000 + DAY));
    expect(dayAfter.features[ChallengeFeatures.secsSinceFailed]).toBe(86_400);
    expect(dayAfter.reasonCodes).not.toContain('FAILED_CHALLENGE_24H');
    expect(dayAfter.decision).toBe('APPROVE');
    const monthAfter = await l.pay(inStore('tx-month-after', T0 + 90_000 + CHALLENGE_WINDOW_MS));
    expect(monthAfter.features[ChallengeFeatures.failed30d]).toBe(0);
    expect(monthAfter.features).not.toHaveProperty(ChallengeFeatures.secsSinceFailed);
  });

  it('PASSED labels legitimate (a later fraud chargeback corrects it), ABANDONED labels nothing', async () => {
    const l = await loop({ model: false });
    const account = l.f.tokenizer.accountToken('ACC-A');
    await l.pay(online('tx-p', T0, 300_000));
    await l.pay(online('tx-a', T0 + 1_000, 300_000));
    await l.challenge(result('tx-p', 'PASSED', T0 + 60_000, account));
    await l.challenge(result('tx-a', 'ABANDONED', T0 + 61_000, account));
    expect(l.examples().map((e) => [e.transactionId, e.label, e.labelSource, e.isCorrection])).toEqual([['tx-p', 0, 'CHALLENGE', false]]);
    const later = await l.pay(inStore('tx-later', T0 + HOUR));
    expect([later.features[ChallengeFeatures.passed30d], later.features[ChallengeFeatures.abandoned30d], later.features[ChallengeFeatures.failed30d]]).toEqual([1, 1, 0]);

    const chargebacks = driver!.createInputTopic(l.f.catalogue.chargebacks.name, Serdes.String, l.f.serdes.chargebacks);
    await chargebacks.pipeInput(account, { chargebackId: 'cb-1', transactionId: 'tx-p', accountId: 'ACC-A', reasonCode: '10.4', amountMinor: 300_000, currency: 'EUR', reportedAt: T0 + 20 * DAY, fraud: true }, T0 + 20 * DAY);
    expect(l.examples().map((e) => [e.transactionId, e.label, e.labelSource, e.isCorrection])).toEqual([
      ['tx-p', 0, 'CHALLENGE', false],
      ['tx-p', 1, 'CHARGEBACK', true],
    ]);
  });

  it('a configured score band challenges what the model puts in it', async () => {
    // The whole score range below the bootstrap model's decline threshold: every scored payment no rule decides is challenged.
    const l = await loop({ config: { decide: { defaultThresholds: { review: 0.5, decline: 0.9 }, challengeBand: { from: 0, to: 1 } } } });
    const d = await l.pay(inStore('tx-band', T0));
    expect(d.score).not.toBeNull();
    expect(d.decision).toBe('CHALLENGE');
    expect(d.reasonCodes[0]).toBe('SCORE_IN_CHALLENGE_BAND');
  });
});

describe('the schema change', () => {
  const current = SCHEMAS.Decision as { fields: { name: string; type: unknown }[] };
  // The decisions topic's schema before this change: the same record without the CHALLENGE symbol.
  const previous = JSON.parse(JSON.stringify(current).replace(/"DECLINE","CHALLENGE"/g, '"DECLINE"')) as typeof current;

  it('adds CHALLENGE the compatible way: BACKWARD and FORWARD (old consumers read new records)', () => {
    const symbols = (schema: typeof current) => (schema.fields.find((f) => f.name === 'decision')!.type as { symbols: string[] }).symbols;
    expect([symbols(previous), symbols(current)]).toEqual([['APPROVE', 'REVIEW', 'DECLINE'], ['APPROVE', 'REVIEW', 'DECLINE', 'CHALLENGE']]);
    const newType = avro.Type.forSchema(current as avro.schema.RecordType);
    const oldType = avro.Type.forSchema(previous as avro.schema.RecordType);
    expect(compatibilityProblems('FULL_TRANSITIVE', newType, [{ version: 1, id: 1, type: oldType }])).toEqual([]);
    // An old consumer resolves the new symbol to the enum's default, REVIEW: held, never approved.
    const read = oldType.fromBuffer(newType.toBuffer({ ...EXAMPLES.Decision, decision: 'CHALLENGE' }), oldType.createResolver(newType)) as Decision;
    expect(read.decision).toBe('REVIEW');
    expect(read.transactionId).toBe(EXAMPLES.Decision.transactionId);
  });

  it('TrainingExample.labelSource CHALLENGE reads as an explicit label (ANALYST) for old readers', () => {
    const cur = SCHEMAS.TrainingExample as object;
    const old = JSON.parse(JSON.stringify(cur).replace(/"MATURITY","CHALLENGE"/g, '"MATURITY"').replace(/"DECLINE","CHALLENGE"/g, '"DECLINE"')) as object;
    const newType = avro.Type.forSchema(cur as avro.schema.RecordType);
    const oldType = avro.Type.forSchema(old as avro.schema.RecordType);
    expect(compatibilityProblems('FULL_TRANSITIVE', newType, [{ version: 1, id: 1, type: oldType }])).toEqual([]);
    const read = oldType.fromBuffer(newType.toBuffer({ ...EXAMPLES.TrainingExample, labelSource: 'CHALLENGE' }), oldType.createResolver(newType)) as TrainingExample;
    expect(read.labelSource).toBe('ANALYST');
  });
});
