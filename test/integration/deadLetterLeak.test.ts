/**
 * No identifier in clear past ingress, dead letters included (issue 15, point 6). A distinctive
 * account id and a Luhn-valid PAN are piped through every path that writes a dead letter or
 * re-routes a record: the transactions topic (wrong magic byte, unknown schema id, Avro that does
 * not decode, a validation failure, a key that is the clear account id, a near-limit record, a
 * tombstone keyed by the clear id, a reused transaction id, a record on the wrong partition),
 * chargebacks (keyed with another account's token, wrong magic byte, tombstone), KYC (keyed by
 * the clear id, wrong magic byte), analyst outcomes (keyed by the clear id, tombstone) and device
 * signals (wrong magic byte). Then every byte of every topic the loop wrote (its catalogue topics
 * except the five the producers wrote, and its internal changelog and repartition topics, listed
 * with the admin client) and every line the process logged is searched for either string: raw
 * UTF-8, Avro string encoding, hex and base64.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { expectedPartition } from '../../processors/partitionCheck.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import avro from 'avsc';
import type { DeadLetter } from '../../schemas/types.js';
import { testAppConfig } from '../support/appConfig.js';
import { brokers, uniq } from '../support/env.js';
import { kafkaFor, produce } from '../support/kafkaIo.js';
import { testTransaction } from '../support/riskLoopFixture.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-leak-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };

function luhnComplete(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return body + String((10 - (sum % 10)) % 10);
}

const ACCOUNT = `ACC-LEAK-7Q9Z-${Math.random().toString(36).slice(2, 8).toUpperCase()}`;
const OTHER_ACCOUNT = `${ACCOUNT}-OTHER`;
const PAN = luhnComplete('492973551188246');

/** Avro's encoding of a string: zig-zag length, then the UTF-8 bytes. */
const avroString = avro.Type.forSchema('string');

/** Every form in which one of the secrets could sit in a byte string. */
function forms(secret: string): { name: string; bytes: Buffer }[] {
  const raw = Buffer.from(secret, 'utf8');
  const out = [
    { name: 'utf8', bytes: raw },
    { name: 'avro string', bytes: avroString.toBuffer(secret) },
    { name: 'hex', bytes: Buffer.from(raw.toString('hex'), 'utf8') },
    { name: 'HEX', bytes: Buffer.from(raw.toString('hex').toUpperCase(), 'utf8') },
  ];
  // base64 of a longer buffer holds the secret's base64 only at its alignment: try all three,
  // dropping the characters that depend on the neighbouring bytes.
  for (let pad = 0; pad < 3; pad++) {
    const b64 = Buffer.concat([Buffer.alloc(pad), raw]).toString('base64');
    const inner = b64.slice(Math.ceil((pad * 4) / 3), Math.floor(((pad + raw.length) * 4) / 3) - 1);
    out.push({ name: `base64/${pad}`, bytes: Buffer.from(inner, 'utf8') });
    out.push({ name: `base64url/${pad}`, bytes: Buffer.from(inner.replaceAll('+', '-').replaceAll('/', '_'), 'utf8') });
  }
  return out;
}

const NEEDLES = [...forms(ACCOUNT).map((f) => ({ ...f, what: 'account id' })), ...forms(OTHER_ACCOUNT).map((f) => ({ ...f, what: 'other account id' })), ...forms(PAN).map((f) => ({ ...f, what: 'PAN' }))];

function leaksIn(bytes: Buffer | null): string[] {
  if (bytes === null) return [];
  return NEEDLES.filter((n) => bytes.includes(n.bytes)).map((n) => `${n.what} (${n.name})`);
}

interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer][];
}

/** Every record of `topics`, uncommitted ones included (an aborted write is on disk too). */
async function readEverything(topics: string[]): Promise<TopicRecord[]> {
  const kafka = kafkaFor(brokers());
  const admin = kafka.admin();
  await admin.connect();
  const remaining = new Map<string, number>();
  try {
    for (const topic of topics) {
      for (const p of await admin.fetchTopicOffsets(topic)) if (Number(p.high) > Number(p.low)) remaining.set(`${topic}/${p.partition}`, Number(p.high));
    }
  } finally {
    await admin.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `leak-reader-${Date.now()}-${Math.random()}`, readUncommitted: true, maxWaitTimeInMs: 100 });
  const records: TopicRecord[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        const headers: [string, Buffer][] = [];
        for (const [name, v] of Object.entries(m.headers ?? {})) {
          for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) headers.push([name, Buffer.isBuffer(one) ? one : Buffer.from(one)]);
        }
        records.push({ topic: batch.topic, partition: batch.partition, offset: m.offset, key: m.key, value: m.value, headers });
        const id = `${batch.topic}/${batch.partition}`;
        if (Number(m.offset) + 1 >= (remaining.get(id) ?? 0)) remaining.delete(id);
      }
      last = Date.now();
    },
  });
  const deadline = Date.now() + 60_000;
  try {
    // Transaction markers take the last offsets of a partition, so "caught up" is also "quiet for 4 s".
    while (remaining.size > 0 && Date.now() < deadline && Date.now() - last < 4000) await new Promise((r) => setTimeout(r, 100));
  } finally {
    await consumer.disconnect();
  }
  return records;
}

describe('dead letters and internal topics carry no identifier in clear', () => {
  it('finds neither the account id nor the PAN in any topic the loop wrote, nor in its logs', { timeout: 180_000 }, async () => {
    const id = uniq('leak');
    const c = testAppConfig(id, stateRoot, { RISKLOOP_GUARANTEE: 'at_least_once' });
    await ensureTopics(c, io, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const tokenizer = new Tokenizer(c.tokenizer);
    const token = tokenizer.accountToken(ACCOUNT);
    const otherToken = tokenizer.accountToken('ACC-SOMEONE-ELSE');
    const now = Date.now();

    const logLines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);

    const txn = (n: number, over: Parameters<typeof testTransaction>[0] extends infer T ? Partial<T> : never = {}) =>
      testTransaction({ transactionId: `leak-${id}-${n}`, eventTime: now - 1000, accountId: ACCOUNT, pan: PAN, merchantName: `shop of ${ACCOUNT}`, ...over });
    const tx = (v: ReturnType<typeof txn>) => serdes.transactions.serialize(v);
    const framed = tx(txn(0));
    const schemaIdOf = (b: Buffer) => b.readInt32BE(1);
    const unknownId = Buffer.from(framed);
    unknownId.writeInt32BE(schemaIdOf(framed) + 900_000, 1);
    const jsonBody = Buffer.from(JSON.stringify({ accountId: ACCOUNT, pan: PAN, note: `card ${PAN} of ${ACCOUNT}` }), 'utf8');
    const nearLimit = Buffer.alloc(1_040_000, 0x20);
    jsonBody.copy(nearLimit, 0);
    Buffer.from(`${ACCOUNT} ${PAN}`).copy(nearLimit, 500_000);
    const part = (key: string) => expectedPartition(key, c.partitions);
    const wrongPartition = (key: string) => (part(key) + 1) % c.partitions;
    const leakHeaders = { 'x-account': ACCOUNT, 'x-card': PAN, traceparent: `00-${ACCOUNT}-${PAN}-01` };

    const transactions = [
      // Decided: the valid one, and the same one on the wrong partition (re-routed through an internal topic).
      { key: token, value: tx(txn(1)), headers: leakHeaders, partition: part(token) },
      { key: token, value: tx(txn(2)), headers: leakHeaders, partition: wrongPartition(token) },
      // Same transaction id as #1, other amount: an idempotency dead letter.
      { key: token, value: tx(txn(1, { amountMinor: 99 })), headers: leakHeaders, partition: part(token) },
      // Deserialization failures.
      { key: ACCOUNT, value: jsonBody, headers: leakHeaders, partition: part(ACCOUNT) },
      { key: ACCOUNT, value: unknownId, headers: leakHeaders, partition: part(ACCOUNT) },
      { key: ACCOUNT, value: framed.subarray(0, framed.length - 20), headers: leakHeaders, partition: part(ACCOUNT) },
      // Ingress rejections: invalid amount; keyed by the other account's clear id.
      { key: token, value: tx(txn(3, { amountMinor: -5, currency: `X${ACCOUNT}` })), headers: leakHeaders, partition: part(token) },
      { key: OTHER_ACCOUNT, value: tx(txn(4, { transactionId: `tx-of-${ACCOUNT}` })), headers: leakHeaders, partition: part(OTHER_ACCOUNT) },
      // Near the broker's limit: its dead letter cannot carry it.
      { key: ACCOUNT, value: nearLimit, headers: leakHeaders, partition: part(ACCOUNT) },
      // Tombstone keyed by the clear id.
      { key: ACCOUNT, value: null, headers: leakHeaders, partition: part(ACCOUNT) },
    ];
    const cb = serdes.chargebacks.serialize(
      { chargebackId: `cb-${ACCOUNT}`, transactionId: `leak-${id}-1`, accountId: ACCOUNT, reasonCode: `10.4 ${ACCOUNT}`, amountMinor: 2500, currency: 'EUR', reportedAt: now, fraud: true },
    );
    const chargebacks = [
      // Valid, for the decided transaction, on the wrong partition: re-routed, then joined.
      { key: token, value: cb, headers: leakHeaders, partition: wrongPartition(token) },
      { key: otherToken, value: cb, headers: leakHeaders, partition: part(otherToken) },
      { key: ACCOUNT, value: jsonBody, headers: leakHeaders, partition: part(ACCOUNT) },
      { key: ACCOUNT, value: null, headers: leakHeaders, partition: part(ACCOUNT) },
    ];
    const kyc = [
      {
        key: ACCOUNT,
        value: serdes.kyc.serialize(
          { accountToken: ACCOUNT, entityType: 'PERSON', status: 'VERIFIED', riskTier: 'LOW', accountOpenedAt: now - 1e9, pep: false, sanctioned: false, watchlistHits: 0, country: 'DE', updatedAt: now },
        ),
        headers: leakHeaders,
        partition: wrongPartition(ACCOUNT),
      },
      { key: ACCOUNT, value: jsonBody, headers: leakHeaders, partition: part(ACCOUNT) },
    ];
    const outcomes = [
      {
        key: ACCOUNT,
        value: serdes.analystOutcomes.serialize({ transactionId: `leak-${id}-77`, accountToken: ACCOUNT, outcome: 'FRAUD', analystId: ACCOUNT, caseId: PAN, decidedAt: now }),
        headers: leakHeaders,
        partition: wrongPartition(ACCOUNT),
      },
      { key: ACCOUNT, value: null, headers: leakHeaders, partition: part(ACCOUNT) },
    ];
    // Transactions 8, chargebacks 3 (the valid one joins), KYC 2, analyst outcomes 2. (Device signals feed a global store,
    // whose task stops on a record it cannot decode instead of dead-lettering it: not a leak path.)
    const expectedLetters = 8 + 3 + 2 + 2;

    const app = await buildRiskLoopApp(c, logger);
    await app.streams.start();
    let letters: DeadLetter[] = [];
    try {
      await produce(brokers(), catalogue.kyc.name, kyc);
      await produce(brokers(), catalogue.transactions.name, transactions.slice(0, 2));
      // The retry after its original, so that it meets the stored decision or the in-flight entry.
      await new Promise((r) => setTimeout(r, 3000));
      await produce(brokers(), catalogue.transactions.name, transactions.slice(2));
      // Chargebacks after their transaction's decision, as in life: the valid one must find its snapshot.
      const decisionsBy = Date.now() + 60_000;
      while ((await readEverything([catalogue.decisions.name])).length < 2 && Date.now() < decisionsBy) await new Promise((r) => setTimeout(r, 1000));
      await produce(brokers(), catalogue.chargebacks.name, chargebacks);
      await produce(brokers(), catalogue.analystOutcomes.name, outcomes);
      const deadline = Date.now() + 90_000;
      for (;;) {
        const recs = (await readEverything([catalogue.deadLetters.name])).filter((r) => r.value !== null);
        letters = recs.map((r) => serdes.deadLetters.deserialize(r.value!));
        if (letters.length >= expectedLetters || Date.now() > deadline) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      await app.close();
    }

    // Every path wrote its dead letter, and each says where the record is and why it was refused.
    const summary = letters.map((l) => `${l.sourceTopic.slice(c.topicPrefix.length)}:${l.reason}`).sort();
    expect.soft(summary, JSON.stringify(summary)).toHaveLength(expectedLetters);
    for (const l of letters) {
      expect.soft(l.offset).toBeGreaterThanOrEqual(0);
      expect.soft(l.partition).toBeGreaterThanOrEqual(0);
    }

    // Still useful to an operator: the producer's bytes match the keyed digest of the letter that
    // describes them, and a record keyed by the clear id carries that account's token as key.
    const described = letters.filter((l) => l.reduced !== null && l.reduced !== undefined);
    for (const bytes of [jsonBody, nearLimit, unknownId]) {
      expect(described.some((l) => l.reduced!.sha256 === tokenizer.deadLetterDigest(bytes) && l.key?.toString() === token)).toBe(true);
    }
    expect(letters.filter((l) => l.reason === 'ACCOUNT_TOKEN_MISMATCH' && l.sourceTopic === catalogue.transactions.name).map((l) => l.key?.toString())).toEqual([tokenizer.accountToken(OTHER_ACCOUNT)]);

    const admin = kafkaFor(brokers()).admin();
    await admin.connect();
    const all = await admin.listTopics();
    await admin.disconnect();
    const producerWritten = new Set([catalogue.transactions.name, catalogue.chargebacks.name, catalogue.kyc.name, catalogue.analystOutcomes.name, catalogue.deviceSignals.name]);
    const written = all.filter((t) => (t.startsWith(c.topicPrefix) || t.startsWith(`${c.applicationId}-`)) && !producerWritten.has(t));
    expect(written).toContain(catalogue.deadLetters.name);
    expect(written.some((t) => t.endsWith('-changelog')), `internal topics: ${written.join(', ')}`).toBe(true);
    expect(written.some((t) => t.endsWith('-rerouted-repartition'))).toBe(true);
    const records = await readEverything(written);
    expect(records.length).toBeGreaterThan(expectedLetters);
    // The valid records went all the way: two decisions, and the chargeback's training example.
    expect(records.filter((r) => r.topic === catalogue.decisions.name && r.value !== null)).toHaveLength(2);
    expect(records.filter((r) => r.topic === catalogue.trainingExamples.name && r.value !== null)).toHaveLength(1);

    const leaks: string[] = [];
    for (const r of records) {
      const at = `${r.topic}/${r.partition}@${r.offset}`;
      for (const l of leaksIn(r.key)) leaks.push(`${at} key: ${l}`);
      for (const l of leaksIn(r.value)) leaks.push(`${at} value: ${l}`);
      for (const [name, v] of r.headers) for (const l of [...leaksIn(Buffer.from(name)), ...leaksIn(v)]) leaks.push(`${at} header ${name}: ${l}`);
    }
    // Decoded dead letters too: a field of bytes inside Avro is still the bytes, but say which field.
    for (const l of letters) {
      const fields = { key: l.key, value: l.value, message: Buffer.from(l.message), headers: Buffer.from(JSON.stringify(l.headers)), excerpt: l.reduced?.excerpt ?? null };
      for (const [name, b] of Object.entries(fields)) for (const x of leaksIn(b)) leaks.push(`dead letter ${l.sourceTopic}@${l.offset} ${l.reason} ${name}: ${x}`);
    }
    const logs = Buffer.from(logLines.join(''), 'utf8');
    expect(logLines.length).toBeGreaterThan(10);
    for (const l of leaksIn(logs)) leaks.push(`log: ${l}`);
    expect(leaks, leaks.join('\n')).toEqual([]);
  });
});
