/**
 * The client SDK against the real broker, registry and the risk loop (in-process, exactly_once):
 * decide() for 5 000 transactions returns every decision, each equal to the one on the decisions
 * topic; a retry of the same transaction id returns the same decision and does not change later
 * velocity features; a deadline shorter than the loop's processing time returns the documented
 * error or fallback, and the late decision is still written once and labelled once; a transaction
 * the loop refuses comes back as TransactionRejectedError with the loop's reason; KYC published
 * through the SDK lands where the loop joins it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { buildRiskLoopApp, type RiskLoopApp } from '../../bin/riskLoopApp.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes, type TopicSerdes } from '../../schemas/createSerdes.js';
import type { Decision, TrainingExample, Transaction } from '../../schemas/types.js';
import { DecisionTimeoutError, RiskloopClient, TransactionRejectedError, isFallback } from '../../sdk/index.js';
import { testAppConfig } from '../support/appConfig.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { loopData, luhnComplete } from '../support/loopData.js';
import { TEST_TOKENIZER_CONFIG } from '../support/riskLoopFixture.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-sdk-'));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };
const logger = pino({ level: 'error' });
const id = uniq('sdk');
const config = testAppConfig(id, stateRoot);
const DAY = 86_400_000;

let app: RiskLoopApp;
let serdes: TopicSerdes;
const clients: RiskloopClient[] = [];

function client(extra: Partial<ConstructorParameters<typeof RiskloopClient>[0]> = {}): RiskloopClient {
  const c = new RiskloopClient({
    brokers: brokers(),
    schemaRegistryUrl: schemaRegistryUrl(),
    topicPrefix: config.topicPrefix,
    accountTokenKey: TEST_TOKENIZER_CONFIG.accountTokenKey,
    clientId: 'sdk-test',
    ...extra,
  });
  clients.push(c);
  return c;
}

async function decisionsOnTopic(done: (ds: Decision[]) => boolean, timeoutMs = 60_000): Promise<Decision[]> {
  let decoded: Decision[] = [];
  const records = await readTopic(brokers(), `${config.topicPrefix}decisions`, {
    timeoutMs,
    done: (rs) => {
      if (rs.length === decoded.length) return false;
      // Writer schemas are the loop's own, registered before it started: no prefetch needed after the first batch.
      decoded = rs.map((r) => serdes.decisions.deserialize(r.value!));
      return done(decoded);
    },
  });
  await serdes.decisions.prefetch?.(records.map((r) => r.value!));
  return records.map((r) => serdes.decisions.deserialize(r.value!));
}

/** A decision as the topic holds it, without the retry marker (a repeat carries duplicate = true). */
const core = (d: Decision): Decision => ({ ...d, duplicate: false });

function txn(accountId: string, transactionId: string, eventTime: number, pan: string, amountMinor = 2500): Transaction {
  return {
    transactionId,
    eventTime,
    accountId,
    pan,
    amountMinor,
    currency: 'EUR',
    merchantId: 'M-sdk',
    merchantName: null,
    terminalId: null,
    mcc: '5411',
    merchantCountry: 'DE',
    channel: 'POS',
    cardPresent: true,
    threeDsAuthenticated: null,
    lat: null,
    lon: null,
    deviceId: null,
    ip: null,
  };
}

beforeAll(async () => {
  await ensureTopics(config, io, { keepHistory: true });
  serdes = await createSerdes(new SchemaRegistry({ host: config.schemaRegistryUrl }), buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions }));
  app = await buildRiskLoopApp(config, logger);
  await app.streams.start();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await app?.close();
  rmSync(stateRoot, { recursive: true, force: true });
});

describe('client SDK: decide() through the real loop', () => {
  it('returns a decision for each of 5 000 transactions, equal to the one on the decisions topic', async () => {
    const data = loopData(new Tokenizer(config.tokenizer), { accounts: 1500, transactions: 5200, invalidEvery: 0, chargebacks: 0, unknownChargebacks: 0 });
    const enc = <T>(serde: { serialize(v: T): Buffer }, rows: { key: string; value: T }[], ts: (v: T) => number) =>
      rows.map((r) => ({ key: r.key, value: serde.serialize(r.value), timestamp: String(ts(r.value)) }));
    await produce(brokers(), `${config.topicPrefix}kyc`, enc(serdes.kyc, data.kyc, (v) => v.updatedAt));
    await produce(brokers(), `${config.topicPrefix}device-signals`, enc(serdes.deviceSignals, data.devices, (v) => v.eventTime));
    const sdk = client();
    await sdk.connect();
    const txns = data.transactions.map((t) => t.value).slice(0, 5000);
    const t0 = Date.now();
    const answers = await Promise.all(txns.map((t) => sdk.decide(t, { deadlineMs: 150_000 })));
    console.log(`sdk: 5000 decide() calls answered in ${Date.now() - t0} ms; stats ${JSON.stringify(sdk.stats)}`);
    expect(answers.map((a) => a.transactionId)).toEqual(txns.map((t) => t.transactionId));
    expect(answers.some(isFallback)).toBe(false);
    const wanted = new Set(txns.map((t) => t.transactionId));
    const onTopic = await decisionsOnTopic((ds) => ds.filter((d) => wanted.has(d.transactionId)).length >= wanted.size);
    const byId = new Map(onTopic.map((d) => [d.transactionId, d]));
    expect(onTopic.filter((d) => wanted.has(d.transactionId))).toHaveLength(5000);
    for (const a of answers) expect(a).toEqual(byId.get(a.transactionId));
    const kinds = { APPROVE: 0, REVIEW: 0, DECLINE: 0, CHALLENGE: 0 };
    for (const a of answers) kinds[a.decision]++;
    console.log(`sdk: decisions ${JSON.stringify(kinds)}`);
    expect(sdk.stats.pending).toBe(0);
  });

  it('KYC published through the SDK is joined: the decision carries its facts, not KYC_MISSING', async () => {
    const sdk = client();
    await sdk.connect();
    const accountId = `SDK-KYC-${id}`;
    const now = Date.now();
    const kycAt = await sdk.publishKyc({ accountId, entityType: 'PERSON', status: 'VERIFIED', riskTier: 'HIGH', accountOpenedAt: now - 400 * DAY, pep: false, sanctioned: false, watchlistHits: 0, country: 'DE', updatedAt: now - DAY });
    await sdk.publishDeviceSignal({ deviceId: `dev-${id}`, eventTime: now - DAY, accountId, emulator: false, rooted: false, blocked: false, os: 'android' });
    expect(kycAt.partition).toBe(sdk.partitionOfAccount(accountId));
    // The loop reads KYC and transactions from separate partitions and does not wait for one to
    // catch up with the other (max.task.idle.ms 0): give it a moment to take the KYC row in first.
    await new Promise((r) => setTimeout(r, 3000));
    const d = await sdk.decide({ ...txn(accountId, `kyc-${id}`, now, luhnComplete('411111777000001')), deviceId: `dev-${id}` }, { deadlineMs: 30_000 });
    expect(d.accountToken).toBe(sdk.accountToken(accountId));
    expect(d.facts['kyc.status']).toBe('VERIFIED');
    expect(d.features['kyc.missing']).toBe(0);
    expect(d.features['kyc.risk_tier']).toBe(2);
    expect(d.reasonCodes).not.toContain('KYC_MISSING');
    expect(d.features['device.missing']).toBe(0);
  });

  it('a retry of the same transaction id returns the same decision and does not change later velocity features', async () => {
    const sdk = client();
    await sdk.connect();
    const now = Date.now();
    // Two fresh accounts with the same history; only one of them sees a gateway retry.
    const run = async (accountId: string, retry: boolean): Promise<{ first: Decision; again?: Decision; next: Decision }> => {
      const pan = luhnComplete(retry ? '550000111111111' : '550000222222222');
      const first = await sdk.decide(txn(accountId, `${accountId}-a`, now - 60_000, pan, 4000), { deadlineMs: 30_000 });
      const again = retry ? await sdk.decide(txn(accountId, `${accountId}-a`, now - 60_000, pan, 4000), { deadlineMs: 30_000 }) : undefined;
      const next = await sdk.decide(txn(accountId, `${accountId}-b`, now, pan, 1500), { deadlineMs: 30_000 });
      return { first, ...(again ? { again } : {}), next };
    };
    const withRetry = await run(`SDK-RETRY-${id}`, true);
    const control = await run(`SDK-CTRL-${id}`, false);
    expect(core(withRetry.again!)).toEqual(core(withRetry.first));
    const velocity = (d: Decision) => Object.fromEntries(Object.entries(d.features).filter(([k]) => /^(card|account)\.(count|sum)_/.test(k)));
    expect(velocity(withRetry.next)).toEqual(velocity(control.next));
    expect(control.next.features['account.count_1h']).toBeGreaterThan(0);
    // The topic holds the one decision, plus at most its marked repeat.
    const onTopic = await decisionsOnTopic((ds) => ds.some((d) => d.transactionId === `SDK-RETRY-${id}-b`));
    const firsts = onTopic.filter((d) => d.transactionId === `SDK-RETRY-${id}-a`);
    expect(firsts.filter((d) => !d.duplicate)).toHaveLength(1);
  });

  it('a deadline shorter than the loop takes: the typed error by default, the configured fallback otherwise; the late decision is written and labelled once', async () => {
    const strict = client();
    const lenient = client({ onDeadline: { mode: 'rules', rulesPath: 'rules/ruleset.json', noHit: 'REVIEW' } });
    await Promise.all([strict.connect(), lenient.connect()]);
    const now = Date.now();
    const a = txn(`SDK-LATE-A-${id}`, `late-a-${id}`, now, luhnComplete('411111888000001'));
    const b = txn(`SDK-LATE-B-${id}`, `late-b-${id}`, now, luhnComplete('411111888000002'), 900_000_00);
    // 2 ms: less than one produce round trip, and under exactly_once a decision is only visible after the loop's commit.
    const err = await strict.decide(a, { deadlineMs: 2 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DecisionTimeoutError);
    expect((err as DecisionTimeoutError).retriable).toBe(true);
    const fb = await lenient.decide(b, { deadlineMs: 2 });
    expect(isFallback(fb)).toBe(true);
    expect(fb.reasonCodes[0]).toBe('DEADLINE_FALLBACK');
    expect(fb.score).toBeNull();
    expect(fb.transactionId).toBe(b.transactionId);
    // The amount rule of the rule set can be evaluated from the transaction alone.
    expect(fb.features['txn.amount_minor']).toBe(900_000_00);

    const onTopic = await decisionsOnTopic((ds) => ds.some((d) => d.transactionId === a.transactionId) && ds.some((d) => d.transactionId === b.transactionId));
    for (const t of [a, b]) expect(onTopic.filter((d) => d.transactionId === t.transactionId)).toHaveLength(1);
    // The SDKs saw the late decisions and dropped them.
    const until = Date.now() + 10_000;
    while ((strict.stats.lateReplies < 1 || lenient.stats.lateReplies < 1) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(strict.stats.lateReplies).toBe(1);
    expect(lenient.stats.lateReplies).toBe(1);
    // A retry after the deadline gets the loop's decision, not a new one.
    const late = onTopic.find((d) => d.transactionId === b.transactionId)!;
    const retried = await lenient.decide(b, { deadlineMs: 30_000 });
    expect(core(retried)).toEqual(core(late));
    // Labelled once: a chargeback on the late-decided transaction gives one training example.
    await lenient.publishChargeback({ chargebackId: `cb-${id}`, transactionId: b.transactionId, accountId: b.accountId, reasonCode: '10.4', amountMinor: b.amountMinor, currency: 'EUR', reportedAt: now + 1000, fraud: true });
    const labelled = (rs: { value: Buffer | null }[]) => rs.map((r) => serdes.trainingExamples.deserialize(r.value!) as TrainingExample).filter((e) => e.transactionId === b.transactionId);
    await readTopic(brokers(), `${config.topicPrefix}training-examples`, { timeoutMs: 60_000, done: (rs) => labelled(rs).length > 0 });
    // Anything extra (a second label would be a bug) gets time to arrive before counting.
    const examples = await readTopic(brokers(), `${config.topicPrefix}training-examples`, { timeoutMs: 30_000, idleMs: 3000 });
    const mine = labelled(examples);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.label).toBe(1);
    expect(mine[0]!.decision).toBe(late.decision);
  });

  it('a transaction the loop refuses comes back as TransactionRejectedError with the loop’s reason', async () => {
    const sdk = client();
    await sdk.connect();
    const bad = txn(`SDK-BAD-${id}`, `bad-${id}`, Date.now(), '4111111111111112');
    const err = await sdk.decide(bad, { deadlineMs: 30_000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransactionRejectedError);
    expect((err as TransactionRejectedError).reason).toBe('INVALID_PAN_LUHN');
    expect(String((err as Error).message)).not.toContain('4111111111111112');
  });
});
