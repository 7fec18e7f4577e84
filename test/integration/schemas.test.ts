/**
 * Schemas, serdes and topics against the real broker and schema registry: the CLI creates the
 * catalogue idempotently, every schema round-trips through the registry and Kafka, and readers
 * with newer or older schemas read what the other wrote.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import kafkajs, { type Admin, type Consumer, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AvroSerde,
  EXAMPLES,
  SCHEMAS,
  SchemaRegistryUnavailableError,
  SerdeError,
  TOPIC_IDS,
  buildCatalogue,
  catalogueTopics,
  createSerdes,
  schemaIdOf,
  type AvroRecordSchema,
  type Decision,
  type RecordTypes,
  type TopicId,
} from '../../schemas/index.js';
import { ensureTopics } from '../../bin/commands/topics.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';

const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const kafka = () => new Kafka({ clientId: 'schemas-test', brokers: brokers(), logLevel: logLevel.NOTHING });

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', path.join(root, 'bin/riskloop.ts'), ...args],
      { cwd: root, env: { ...process.env, KAFKA_BROKERS: brokers().join(',') }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The record key each topic is written with, taken from its example record. */
const EXAMPLE_KEYS: { [K in TopicId]: string } = {
  transactions: EXAMPLES.Transaction.accountId,
  transactionsTokenized: EXAMPLES.TokenizedTransaction.accountToken,
  kyc: EXAMPLES.KycRecord.accountToken,
  deviceSignals: EXAMPLES.DeviceSignal.deviceId,
  chargebacks: EXAMPLES.Chargeback.accountId,
  chargebacksTokenized: EXAMPLES.TokenizedChargeback.accountToken,
  analystOutcomes: EXAMPLES.AnalystOutcome.accountToken,
  challengeResults: EXAMPLES.ChallengeResult.accountToken,
  decisions: EXAMPLES.Decision.accountToken,
  trainingExamples: EXAMPLES.TrainingExample.accountToken,
  modelReleases: EXAMPLES.ModelRelease.version,
  deadLetters: `${EXAMPLES.DeadLetter.sourceTopic}/${EXAMPLES.DeadLetter.partition}/${EXAMPLES.DeadLetter.offset}`,
  alerts: EXAMPLES.Alert.subject,
  entityStats: EXAMPLES.EntityStats.entityKey,
  screeningHits: EXAMPLES.ScreeningHit.accountToken,
};

interface Received {
  topic: string;
  key: string | null;
  value: Buffer;
}

/** Reads `topics` from the beginning with a fresh group until `count` records arrived. */
async function consume(topics: string[], count: number, timeoutMs = 60_000): Promise<Received[]> {
  const consumer: Consumer = kafka().consumer({ groupId: uniq('schemas-test'), maxWaitTimeInMs: 200 });
  await consumer.connect();
  const got: Received[] = [];
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${count} records within ${timeoutMs} ms`)), timeoutMs);
      void consumer
        .run({
          eachMessage: async ({ topic, message }) => {
            got.push({ topic, key: message.key?.toString('utf8') ?? null, value: message.value! });
            if (got.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return got;
}

const createdPrefixes: string[] = [];
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  admin = kafka().admin();
  await admin.connect();
  producer = kafka().producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  if (admin) {
    const mine = (await admin.listTopics()).filter((t) => createdPrefixes.some((p) => t.startsWith(p)));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
  }
});

describe('riskloop topics create', () => {
  it('creates every catalogue topic with its partitions and configs, and a second run changes nothing', async () => {
    const prefix = `${uniq('topics')}.`;
    createdPrefixes.push(prefix);
    const first = await runCli(['topics', 'create', '--prefix', prefix]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const specs = catalogueTopics(buildCatalogue({ prefix }));
    for (const s of specs) expect(first.stdout).toContain(`created ${s.name}:`);

    const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
    const partitions = Object.fromEntries(topics.map((t) => [t.name, t.partitions.length]));
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: specs.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.name })),
    });
    for (const s of specs) {
      expect(partitions[s.name], s.name).toBe(s.partitions);
      const actual = Object.fromEntries(
        configs.resources.find((r) => r.resourceName === s.name)!.configEntries.map((e) => [e.configName, e.configValue]),
      );
      for (const [name, value] of Object.entries(s.configs)) expect(actual[name], `${s.name} ${name}`).toBe(value);
    }
    expect(partitions[`${prefix}decisions`]).toBe(6);
    expect(partitions[`${prefix}model-releases`]).toBe(1);

    const second = await runCli(['topics', 'create', '--prefix', prefix]);
    expect(second.code).toBe(0);
    expect(second.stdout).not.toContain('created');
    for (const s of specs) expect(second.stdout).toContain(`exists  ${s.name}:`);

    const list = await runCli(['topics', 'list', '--prefix', prefix]);
    expect(list.code).toBe(0);
    for (const s of specs) expect(list.stdout).toMatch(new RegExp(`${s.name.replace(/\./g, '\\.')}\\s.*\\sok\\n`));
  });

  it('reports a topic that exists with another partition count as an error and exits non-zero', async () => {
    const prefix = `${uniq('topics-bad')}.`;
    createdPrefixes.push(prefix);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: `${prefix}decisions`, numPartitions: 2 }] });
    const run = await runCli(['topics', 'create', '--prefix', prefix]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`error   ${prefix}decisions: has 2 partitions, the catalogue wants 6`);
    // Everything else was still created.
    expect(run.stdout).toContain(`created ${prefix}kyc:`);
    const list = await runCli(['topics', 'list', '--prefix', prefix]);
    expect(list.stdout).toMatch(new RegExp(`${prefix.replace(/\./g, '\\.')}decisions\\s.*2 \\(want 6\\).*mismatch`));
  });
});

describe('Avro serdes through the registry and the broker', () => {
  it('round-trips a realistic record of every catalogue topic', async () => {
    const prefix = `${uniq('roundtrip')}.`;
    createdPrefixes.push(prefix);
    const catalogue = buildCatalogue({ prefix, partitions: 3 });
    const reports = await ensureTopics(admin, catalogueTopics(catalogue));
    expect(reports.filter((r) => r.outcome !== 'created')).toEqual([]);

    const writers = await createSerdes(new SchemaRegistry({ host: schemaRegistryUrl() }), catalogue);
    for (const id of TOPIC_IDS) {
      const spec = catalogue[id];
      const serde = writers[id] as AvroSerde<RecordTypes[typeof spec.valueSchema]>;
      await producer.send({
        topic: spec.name,
        messages: [{ key: EXAMPLE_KEYS[id], value: serde.serialize(EXAMPLES[spec.valueSchema]) }],
      });
    }

    // Every subject is registered with the id the writer uses.
    for (const id of TOPIC_IDS) {
      const res = await fetch(`${schemaRegistryUrl()}/subjects/${encodeURIComponent(`${catalogue[id].name}-value`)}/versions/latest`);
      expect(res.status, catalogue[id].name).toBe(200);
      expect(((await res.json()) as { id: number }).id).toBe(writers[id].schemaId);
    }

    // A separate client with consumer-only serdes: every writer schema must come from the registry by id.
    const confluentClient = new SchemaRegistry({ host: schemaRegistryUrl() });
    const readers = await createSerdes(new SchemaRegistry({ host: schemaRegistryUrl() }), catalogue, { register: false });
    const received = await consume(
      TOPIC_IDS.map((id) => catalogue[id].name),
      TOPIC_IDS.length,
    );
    expect(received).toHaveLength(TOPIC_IDS.length);
    for (const id of TOPIC_IDS) {
      const spec = catalogue[id];
      const msg = received.find((r) => r.topic === spec.name);
      expect(msg, spec.name).toBeDefined();
      expect(msg!.key).toBe(EXAMPLE_KEYS[id]);
      expect(schemaIdOf(msg!.value)).toBe(writers[id].schemaId);
      const reader = readers[id];
      expect(() => reader.deserialize(msg!.value)).toThrow(SerdeError); // not prefetched yet: never blocks
      await reader.prefetch([msg!.value]);
      expect(reader.deserialize(msg!.value), spec.name).toEqual(EXAMPLES[spec.valueSchema]);
      // Same bytes as the reference client's wire format: it decodes them too.
      expect(await confluentClient.decode(msg!.value), spec.name).toEqual(EXAMPLES[spec.valueSchema]);
    }
  });

  it('reads old records with a newer reader schema, and new records with the old one', async () => {
    const topic = uniq('schemas-evolution');
    createdPrefixes.push(topic);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 1 }] });

    const v1 = SCHEMAS.Decision;
    const v2: AvroRecordSchema = {
      ...v1,
      fields: [
        ...v1.fields,
        { name: 'explanationUrl', type: ['null', 'string'], default: null, doc: 'Link to a rendered explanation of the decision.' },
      ],
    };
    type DecisionV2 = Decision & { explanationUrl: string | null };
    const host = schemaRegistryUrl();

    const oldWriter = await new AvroSerde<Decision>({ registry: new SchemaRegistry({ host }), topic, schema: v1 }).init();
    const oldRecord = EXAMPLES.Decision;
    await producer.send({ topic, messages: [{ key: oldRecord.accountToken, value: oldWriter.serialize(oldRecord) }] });

    // The producer upgrades: v2 adds an optional field, which the subject's BACKWARD rule accepts.
    const newWriter = await new AvroSerde<DecisionV2>({ registry: new SchemaRegistry({ host }), topic, schema: v2 }).init();
    expect(newWriter.schemaId).not.toBe(oldWriter.schemaId);
    const newRecord: DecisionV2 = { ...EXAMPLES.Decision, transactionId: 'txn-v2', explanationUrl: 'https://risk.example/x/txn-v2' };
    await producer.send({ topic, messages: [{ key: newRecord.accountToken, value: newWriter.serialize(newRecord) }] });

    const [first, second] = (await consume([topic], 2)).map((r) => r.value);
    expect(schemaIdOf(first!)).toBe(oldWriter.schemaId);
    expect(schemaIdOf(second!)).toBe(newWriter.schemaId);

    const newReader = new AvroSerde<DecisionV2>({ registry: new SchemaRegistry({ host }), topic, schema: v2, register: false });
    await newReader.prefetch([first!, second!]);
    expect(newReader.deserialize(first!)).toEqual({ ...oldRecord, explanationUrl: null });
    expect(newReader.deserialize(second!)).toEqual(newRecord);

    const oldReader = new AvroSerde<Decision>({ registry: new SchemaRegistry({ host }), topic, schema: v1, register: false });
    await oldReader.prefetch([first!, second!]);
    expect(oldReader.deserialize(first!)).toEqual(oldRecord);
    const { explanationUrl: _dropped, ...newAsOld } = newRecord;
    expect(oldReader.deserialize(second!)).toEqual(newAsOld);
  });

  it('refuses to register an incompatible change, as a schema error rather than an outage', async () => {
    const topic = uniq('schemas-incompatible');
    const host = schemaRegistryUrl();
    await new AvroSerde<unknown>({ registry: new SchemaRegistry({ host }), topic, schema: SCHEMAS.Alert }).init();
    const breaking: AvroRecordSchema = {
      ...SCHEMAS.Alert,
      fields: [...SCHEMAS.Alert.fields, { name: 'severity', type: 'string', doc: 'Required and without a default: breaks old data.' }],
    };
    const err = await new AvroSerde<unknown>({ registry: new SchemaRegistry({ host }), topic, schema: breaking })
      .init()
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(SchemaRegistryUnavailableError);
    expect((err as Error).message).toMatch(/rejected/);
  });

  it('leaves an id unknown to the registry as a per-record UNKNOWN_SCHEMA_ID, without failing the batch', async () => {
    const host = schemaRegistryUrl();
    const serde = await new AvroSerde<unknown>({
      registry: new SchemaRegistry({ host }),
      topic: uniq('schemas-unknown'),
      schema: SCHEMAS.Alert,
    }).init();
    const good = serde.serialize(EXAMPLES.Alert);
    const alien = Buffer.from(good);
    alien.writeInt32BE(2_000_000_000, 1);
    await serde.prefetch([good, alien]);
    expect(serde.deserialize(good)).toEqual(EXAMPLES.Alert);
    expect(() => serde.deserialize(alien)).toThrow(expect.objectContaining({ reason: 'UNKNOWN_SCHEMA_ID' }));
  });
});
