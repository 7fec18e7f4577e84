/**
 * The producer contract from outside: a Python producer (confluent-kafka from PyPI, i.e. librdkafka,
 * Avro through the registry; test/outside/produce.py) writes KYC, transactions and chargebacks with
 * keys it derives itself from docs/producers.md.
 *  - With librdkafka's DEFAULT partitioner (consistent_random, CRC32) most records land on the
 *    wrong partition for their key: the loop counts exactly those as re-routed, per topic, and the
 *    joins are exact anyway — no KYC_MISSING although KYC exists, every fraud chargeback joined
 *    (no UNKNOWN_TRANSACTION), velocity sees both transactions of an account.
 *  - With the documented setting (partitioner=murmur2_random) every record is on the murmur2
 *    partition already and nothing is re-routed.
 * The loop runs in-process (buildRiskLoopApp) under at_least_once, so its counters can be read.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { expectedPartition } from '../../processors/partitionCheck.js';
import { decodeSecret } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import type { Decision, DeadLetter, TrainingExample } from '../../schemas/types.js';
import { repartitionTopicName } from '../../topology/topology.js';
import { testAppConfig } from '../support/appConfig.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';
import { kafkaFor, readTopic } from '../support/kafkaIo.js';
import { outsidePython, runOutsideScript } from '../support/outsideClient.js';

const DAY = 86_400_000;
const ACCOUNTS = 60;
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-contract-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };
const logger = pino({ level: 'error' });

interface Delivered {
  kind: 'kyc' | 'transactions' | 'chargebacks';
  key: string;
  partition: number;
  offset: number;
}

async function runProducer(python: string, job: object): Promise<Delivered[]> {
  return (await runOutsideScript<{ delivered: Delivered[] }>(python, 'produce.py', job)).delivered;
}

/** Waits until the loop's group has committed every input partition of `topics` to its end. */
async function waitCaughtUp(groupId: string, topics: string[], timeoutMs: number): Promise<void> {
  const admin = kafkaFor(brokers()).admin();
  await admin.connect();
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      let behind = 0;
      for (const topic of topics) {
        const ends = await admin.fetchTopicOffsets(topic);
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const at = new Map(committed!.partitions.map((p) => [p.partition, Number(p.offset)]));
        for (const e of ends) behind += Math.max(0, Number(e.high) - Math.max(0, at.get(e.partition) ?? 0));
      }
      if (behind === 0) return;
      if (Date.now() > deadline) throw new Error(`group ${groupId} still ${behind} records behind on ${topics.join(', ')}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await admin.disconnect();
  }
}

async function scenario(partitioner: string | null) {
  const id = uniq(partitioner === null ? 'contract-default' : 'contract-murmur2');
  const c = testAppConfig(id, stateRoot, { RISKLOOP_GUARANTEE: 'at_least_once' });
  await ensureTopics(c, io, { keepHistory: true });
  const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
  const serdes = await createSerdes(new SchemaRegistry({ host: schemaRegistryUrl() }), catalogue, { register: false });
  const python = outsidePython();
  const now = Date.now();
  const accountIds = Array.from({ length: ACCOUNTS }, (_, i) => `py-${id}-${i}`);
  const keyHex = decodeSecret(c.tokenizer.accountTokenKey)!.toString('hex');
  const job = (records: object[]) => ({
    brokers: brokers().join(','),
    registry: schemaRegistryUrl(),
    partitioner,
    accountTokenKeyHex: keyHex,
    topics: {
      kyc: { name: catalogue.kyc.name, schemaFile: 'schemas/KycRecord.avsc' },
      transactions: { name: catalogue.transactions.name, schemaFile: 'schemas/Transaction.avsc' },
      chargebacks: { name: catalogue.chargebacks.name, schemaFile: 'schemas/Chargeback.avsc' },
    },
    records,
  });
  const kyc = accountIds.map((accountId) => ({
    kind: 'kyc',
    value: { accountId, entityType: 'PERSON', status: 'VERIFIED', riskTier: 'LOW', accountOpenedAt: now - 900 * DAY, pep: false, sanctioned: false, watchlistHits: 0, country: 'DE', updatedAt: now - 10 * DAY },
  }));
  const txId = (a: number, n: number) => `${id}-tx-${a}-${n}`;
  const transactions = accountIds.flatMap((accountId, a) =>
    [0, 1].map((n) => ({
      kind: 'transactions',
      value: {
        transactionId: txId(a, n),
        eventTime: now - 60_000 + n * 20_000 + a,
        accountId,
        pan: '4111111111111111',
        amountMinor: 1_000 + a,
        currency: 'EUR',
        merchantId: `M-${a % 7}`,
        merchantName: 'Bakery',
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
      },
    })),
  );
  const fraudulent = accountIds.filter((_, a) => a % 2 === 0).map((accountId, k) => ({ accountId, transactionId: txId(k * 2, 0) }));
  const chargebacks = fraudulent.map((f, k) => ({
    kind: 'chargebacks',
    value: { chargebackId: `${id}-cb-${k}`, transactionId: f.transactionId, accountId: f.accountId, reasonCode: '10.4', amountMinor: 1_000 + k * 2, currency: 'EUR', reportedAt: now + 1_000, fraud: true },
  }));

  const app = await buildRiskLoopApp(c, logger);
  await app.streams.start();
  const rerouted = repartitionTopicName(c.applicationId, 'rerouted');
  try {
    const delivered: Delivered[] = [];
    // KYC first and settled (including its re-routes), as a KYC row exists before the account pays.
    delivered.push(...(await runProducer(python, job(kyc))));
    await waitCaughtUp(c.applicationId, [catalogue.kyc.name, rerouted], 60_000);
    delivered.push(...(await runProducer(python, job(transactions))));
    const decisionRecords = await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= transactions.length, timeoutMs: 90_000 });
    delivered.push(...(await runProducer(python, job(chargebacks))));
    const trainingRecords = await readTopic(brokers(), catalogue.trainingExamples.name, { done: (r) => r.length >= chargebacks.length, timeoutMs: 90_000 });
    await waitCaughtUp(c.applicationId, [catalogue.transactions.name, catalogue.chargebacks.name, rerouted], 60_000);
    const letterRecords = await readTopic(brokers(), catalogue.deadLetters.name, { idleMs: 2000, timeoutMs: 10_000 });

    const decode = async <T>(serde: { prefetch?: (v: Buffer[]) => Promise<void>; deserialize(b: Buffer): unknown }, rs: { value: Buffer | null }[]) => {
      const values = rs.map((r) => r.value!);
      await serde.prefetch?.(values);
      return values.map((v) => serde.deserialize(v) as T);
    };
    const decisions = await decode<Decision>(serdes.decisions, decisionRecords);
    const examples = await decode<TrainingExample>(serdes.trainingExamples, trainingRecords);
    const letters = await decode<DeadLetter>(serdes.deadLetters, letterRecords);
    const wrong = (kind: Delivered['kind']) => delivered.filter((d) => d.kind === kind && d.partition !== expectedPartition(d.key, c.partitions)).length;
    return { c, catalogue, delivered, decisions, examples, letters, wrong, misrouted: new Map(app.counters.misrouted.entries()), expected: { transactions, chargebacks, kyc } };
  } finally {
    await app.close();
  }
}

function expectCleanJoins(r: Awaited<ReturnType<typeof scenario>>): void {
  expect(r.delivered).toHaveLength(r.expected.kyc.length + r.expected.transactions.length + r.expected.chargebacks.length);
  // Every transaction decided once, with the KYC that exists, by the task that saw the account's other payment.
  expect(new Set(r.decisions.map((d) => d.transactionId)).size).toBe(r.expected.transactions.length);
  expect(r.decisions.filter((d) => d.reasonCodes.includes('KYC_MISSING'))).toEqual([]);
  expect(r.decisions.every((d) => d.features['kyc.missing'] === 0)).toBe(true);
  const second = r.decisions.filter((d) => d.transactionId.endsWith('-1'));
  expect(second.every((d) => d.features['account.count_1h'] === 1)).toBe(true);
  // Every fraud chargeback joined to its decision: one training example each, no UNKNOWN_TRANSACTION.
  expect(r.examples.map((e) => e.transactionId).sort()).toEqual(r.expected.chargebacks.map((cb) => (cb.value as { transactionId: string }).transactionId).sort());
  expect(r.examples.every((e) => e.label === 1 && e.labelSource === 'CHARGEBACK')).toBe(true);
  // Nothing dead-lettered: the keys the Python side derived are the loop's tokens (no ACCOUNT_TOKEN_MISMATCH).
  expect(r.letters.map((l) => l.reason)).toEqual([]);
}

describe('producer contract from a Python confluent-kafka producer (librdkafka)', () => {
  it("librdkafka's default partitioner: mis-partitioned records are re-routed, counted per topic, and join exactly", async () => {
    const r = await scenario(null);
    const counts = { kyc: r.wrong('kyc'), transactions: r.wrong('transactions'), chargebacks: r.wrong('chargebacks') };
    console.log(`default partitioner: ${JSON.stringify(counts)} of ${ACCOUNTS} KYC / ${r.expected.transactions.length} transactions / ${r.expected.chargebacks.length} chargebacks on the wrong partition; re-routed ${JSON.stringify(Object.fromEntries(r.misrouted))}`);
    // CRC32 and murmur2 disagree for most keys (5 in 6 on 6 partitions by chance).
    expect(counts.kyc).toBeGreaterThan(ACCOUNTS / 2);
    expect(counts.transactions).toBeGreaterThan(r.expected.transactions.length / 2);
    expect(counts.chargebacks).toBeGreaterThan(r.expected.chargebacks.length / 2);
    // Detected exactly: one re-route per record the producer put on the wrong partition.
    expect(r.misrouted.get(r.catalogue.kyc.name)).toBe(counts.kyc);
    expect(r.misrouted.get(r.catalogue.transactions.name)).toBe(counts.transactions);
    expect(r.misrouted.get(r.catalogue.chargebacks.name)).toBe(counts.chargebacks);
    expectCleanJoins(r);
  });

  it('the documented setting (partitioner=murmur2_random): every record on its murmur2 partition, zero re-routes', async () => {
    const r = await scenario('murmur2_random');
    expect(r.wrong('kyc') + r.wrong('transactions') + r.wrong('chargebacks')).toBe(0);
    expect([...r.misrouted.entries()]).toEqual([]);
    expectCleanJoins(r);
  });
});
