/**
 * Contract of riskloop's schema registry, through the real @kafkajs/confluent-schema-registry
 * client (and raw HTTP where the client has no method), against a real broker:
 *  - the stack's registry (schemaRegistryUrl()) for the Confluent API itself;
 *  - extra instances started in-process on their own topic for restart and multi-instance.
 */
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import kafkajs, { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRegistryConfig, type RunningRegistry, startRegistry } from '../../registry/index.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

interface HttpAnswer {
  status: number;
  contentType: string | null;
  // `any`: bodies are whatever JSON the registry answered, and each test asserts the fields it
  // expects; typing every Confluent response shape here would only restate the assertions.
  body: any;
}

async function http(base: string, method: string, path: string, body?: unknown): Promise<HttpAnswer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': CONTENT_TYPE },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.json() };
}

const avro = (schema: object | string) => ({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }) as const;
const enc = encodeURIComponent;

const paymentV1 = {
  type: 'record' as const,
  name: 'Payment',
  namespace: 'riskloop.test',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'amountMinor', type: 'long' },
  ],
};
const paymentV2 = {
  ...paymentV1,
  fields: [...paymentV1.fields, { name: 'channel', type: ['null', 'string'], default: null }],
};
/** Breaking for BACKWARD: the new reader has a field old data lacks, with no default. */
const paymentRequiredField = {
  ...paymentV1,
  fields: [...paymentV1.fields, { name: 'merchantId', type: 'string' }],
};
/** Breaking for BACKWARD: old data holds a string where the new reader wants an int. */
const paymentTypeChange = {
  ...paymentV1,
  fields: [{ name: 'id', type: 'int' }, paymentV1.fields[1]],
};

describe('schema registry: Confluent REST contract (stack registry)', () => {
  const url = schemaRegistryUrl();
  const registry = new SchemaRegistry({ host: url });

  it('registers several Avro schemas and round-trips records through encode/decode in wire format', async () => {
    const cases: { schema: object | string; value: unknown; viaHttp?: boolean }[] = [
      { schema: paymentV1, value: { id: 'tx-1', amountMinor: 1250 } },
      {
        schema: {
          type: 'record',
          name: 'Decision',
          namespace: 'riskloop.test',
          fields: [
            { name: 'txId', type: 'string' },
            { name: 'outcome', type: { type: 'enum', name: 'Outcome', symbols: ['APPROVE', 'REVIEW', 'DECLINE'] } },
            { name: 'score', type: 'double' },
            { name: 'reasons', type: { type: 'array', items: 'string' } },
            { name: 'features', type: { type: 'map', values: 'float' } },
            { name: 'decidedAt', type: { type: 'long', logicalType: 'timestamp-millis' } },
            {
              name: 'card',
              type: ['null', { type: 'record', name: 'Card', fields: [{ name: 'bin', type: { type: 'fixed', name: 'Bin', size: 6 } }] }],
              default: null,
            },
            { name: 'raw', type: 'bytes' },
          ],
        },
        value: {
          txId: 'tx-2',
          outcome: 'REVIEW',
          score: 0.73,
          reasons: ['velocity', 'new-device'],
          features: { amountZ: 1.5 },
          decidedAt: 1_700_000_000_000,
          card: { bin: Buffer.from('411111') },
          raw: Buffer.from([0, 1, 2, 255]),
        },
      },
      { schema: { type: 'enum', name: 'Channel', namespace: 'riskloop.test', symbols: ['ECOM', 'POS'] }, value: 'POS' },
      // The client only registers named types, so a primitive goes in by HTTP; encode/decode still use the client.
      { schema: 'string', value: 'plain string payload', viaHttp: true },
    ];
    const fresh = new SchemaRegistry({ host: url }); // no cache: decode must fetch the schema by id
    const ids = new Set<number>();
    for (const c of cases) {
      const subject = uniq('rt-value');
      const id: number = c.viaHttp
        ? (await http(url, 'POST', `/subjects/${enc(subject)}/versions`, { schema: JSON.stringify(c.schema) })).body.id
        : (await registry.register(avro(c.schema), { subject })).id;
      expect(id).toBeGreaterThan(0);
      ids.add(id);
      const wire = await registry.encode(id, c.value);
      // Confluent wire format: magic byte 0, 4-byte big-endian schema id, then Avro binary.
      expect(wire[0]).toBe(0);
      expect(wire.readInt32BE(1)).toBe(id);
      expect(await fresh.decode(wire)).toEqual(c.value);
      const byId = await http(url, 'GET', `/schemas/ids/${id}`);
      expect(byId.status).toBe(200);
      expect(byId.contentType).toBe(CONTENT_TYPE);
      expect(JSON.parse(byId.body.schema)).toEqual(c.schema);
    }
    expect(ids.size).toBe(cases.length);
  });

  it('gives the same id to the same schema: twice, with other whitespace, and under another subject', async () => {
    const subject = uniq('same-value');
    const first = await registry.register(avro(paymentV1), { subject });
    const again = await registry.register(avro(paymentV1), { subject });
    expect(again.id).toBe(first.id);
    const spaced = await http(url, 'POST', `/subjects/${enc(subject)}/versions`, {
      schema: JSON.stringify(paymentV1, null, 2),
    });
    expect(spaced).toMatchObject({ status: 200, body: { id: first.id } });
    expect((await http(url, 'GET', `/subjects/${enc(subject)}/versions`)).body).toEqual([1]);
    const other = await registry.register(avro(paymentV1), { subject: uniq('same-other-value') });
    expect(other.id).toBe(first.id);
    const uses = await http(url, 'GET', `/schemas/ids/${first.id}/versions`);
    expect(uses.body).toEqual(expect.arrayContaining([{ subject, version: 1 }]));
  });

  it('answers getLatestSchemaId, lookup (POST /subjects/{subject}) and GET versions', async () => {
    const subject = uniq('lookup-value');
    const { id: id1 } = await registry.register(avro(paymentV1), { subject });
    expect(await registry.getLatestSchemaId(subject)).toBe(id1);
    expect(await registry.getRegistryIdBySchema(subject, avro(paymentV1))).toBe(id1);

    const { id: id2 } = await registry.register(avro(paymentV2), { subject });
    expect(await registry.getLatestSchemaId(subject)).toBe(id2);
    expect(await registry.getRegistryIdBySchema(subject, avro(paymentV1))).toBe(id1);

    const lookup = await http(url, 'POST', `/subjects/${enc(subject)}`, { schema: JSON.stringify(paymentV2) });
    expect(lookup.status).toBe(200);
    expect(lookup.body).toMatchObject({ subject, id: id2, version: 2 });
    expect(JSON.parse(lookup.body.schema)).toEqual(paymentV2);

    await expect(registry.getRegistryIdBySchema(subject, avro(paymentTypeChange))).rejects.toThrow(/not found/i);
    const missing = await http(url, 'POST', `/subjects/${enc(subject)}`, { schema: JSON.stringify(paymentTypeChange) });
    expect(missing).toMatchObject({ status: 404, body: { error_code: 40403 } });
    const noSubject = await http(url, 'POST', `/subjects/${enc(uniq('nope'))}`, { schema: JSON.stringify(paymentV1) });
    expect(noSubject).toMatchObject({ status: 404, body: { error_code: 40401 } });

    const latest = await http(url, 'GET', `/subjects/${enc(subject)}/versions/latest`);
    expect(latest.body).toMatchObject({ subject, id: id2, version: 2 });
    expect((await http(url, 'GET', `/subjects/${enc(subject)}/versions/1`)).body).toMatchObject({ id: id1, version: 1 });
    expect(await http(url, 'GET', `/subjects/${enc(subject)}/versions/3`)).toMatchObject({
      status: 404,
      body: { error_code: 40402 },
    });
    expect(await http(url, 'GET', `/subjects/${enc(uniq('nope'))}/versions/latest`)).toMatchObject({
      status: 404,
      body: { error_code: 40401 },
    });
    expect(await http(url, 'GET', '/schemas/ids/2147483000')).toMatchObject({ status: 404, body: { error_code: 40403 } });
    expect((await http(url, 'GET', '/subjects')).body).toEqual(expect.arrayContaining([subject]));
  });

  it('accepts an evolution that adds an optional field with a default, and old data reads with it', async () => {
    const subject = uniq('evolve-value');
    const { id: v1 } = await registry.register(avro(paymentV1), { subject });
    const oldRecord = await registry.encode(v1, { id: 'tx-old', amountMinor: 99 });
    const { id: v2 } = await registry.register(avro(paymentV2), { subject });
    expect(v2).toBeGreaterThan(v1);
    expect((await http(url, 'GET', `/subjects/${enc(subject)}/versions`)).body).toEqual([1, 2]);
    const read = await registry.decode(oldRecord, {
      [SchemaType.AVRO]: { readerSchema: paymentV2 },
    });
    expect(read).toEqual({ id: 'tx-old', amountMinor: 99, channel: null });
  });

  it('refuses breaking changes with 409 and says which version and why', async () => {
    const subject = uniq('break-value');
    await registry.register(avro(paymentV1), { subject });

    await expect(registry.register(avro(paymentRequiredField), { subject })).rejects.toMatchObject({
      status: 409,
      message: expect.stringMatching(/incompatible with version 1 .*default-less .*merchantId/),
    });
    const typeChange = await http(url, 'POST', `/subjects/${enc(subject)}/versions`, {
      schema: JSON.stringify(paymentTypeChange),
    });
    expect(typeChange.status).toBe(409);
    // Confluent's code: 409 up to 7.x, 40901 since (riskloop's registry answers 40901); clients branch on the status.
    expect([409, 40901]).toContain(typeChange.body.error_code);
    expect(typeChange.body.message).toMatch(/incompatible with version 1/);
    expect(typeChange.body.message).toMatch(/BACKWARD/);
    expect(typeChange.body.message).toMatch(/cannot read "string" as "int"/);
    // Nothing was registered by the refused attempts.
    expect((await http(url, 'GET', `/subjects/${enc(subject)}/versions`)).body).toEqual([1]);

    const check = await http(url, 'POST', `/compatibility/subjects/${enc(subject)}/versions/latest?verbose=true`, {
      schema: JSON.stringify(paymentRequiredField),
    });
    expect(check.status).toBe(200);
    expect(check.body.is_compatible).toBe(false);
    expect(check.body.messages.join('\n')).toMatch(/merchantId/);
    const ok = await http(url, 'POST', `/compatibility/subjects/${enc(subject)}/versions/1`, {
      schema: JSON.stringify(paymentV2),
    });
    expect(ok.body).toEqual({ is_compatible: true });
  });

  it('enforces FORWARD and *_TRANSITIVE levels as configured', async () => {
    const subject = uniq('levels-value');
    await registry.register(avro(paymentV1), { subject });
    // Under FORWARD the old schema must read new data: removing a field the old one needs breaks it.
    expect((await http(url, 'PUT', `/config/${enc(subject)}`, { compatibility: 'FORWARD' })).status).toBe(200);
    const dropped = await http(url, 'POST', `/subjects/${enc(subject)}/versions`, {
      schema: JSON.stringify({ ...paymentV1, fields: [paymentV1.fields[0]] }),
    });
    expect(dropped.status).toBe(409);
    expect(dropped.body.message).toMatch(/version 1 cannot read data written with the new schema \(FORWARD\)/);
    // A required new field is fine under FORWARD (old readers ignore it).
    expect((await http(url, 'POST', `/subjects/${enc(subject)}/versions`, { schema: JSON.stringify(paymentRequiredField) })).status).toBe(200);

    // v3 adds another required field: incompatible with v2 and, checked transitively, with v1.
    expect((await http(url, 'PUT', `/config/${enc(subject)}`, { compatibility: 'BACKWARD_TRANSITIVE' })).status).toBe(200);
    const v3 = { ...paymentV1, fields: [...paymentV1.fields, { name: 'merchantId', type: 'string' }, { name: 'mcc', type: 'int' }] };
    const transitive = await http(url, 'POST', `/subjects/${enc(subject)}/versions`, { schema: JSON.stringify(v3) });
    expect(transitive.status).toBe(409);
    expect(transitive.body.message).toMatch(/incompatible with version 2/);
    expect(transitive.body.message).toMatch(/incompatible with version 1/);
  });

  it('rejects an invalid Avro schema and non-Avro schema types with 422 / 42201', async () => {
    const subject = uniq('invalid-value');
    const badType = await http(url, 'POST', `/subjects/${enc(subject)}/versions`, {
      schema: JSON.stringify({ type: 'record', name: 'Bad', fields: [{ name: 'x', type: 'no.such.Type' }] }),
    });
    expect(badType.status).toBe(422);
    expect(badType.body.error_code).toBe(42201);
    expect(badType.body.message).toMatch(/undefined type name: no\.such\.Type/);
    const notJson = await http(url, 'POST', `/subjects/${enc(subject)}/versions`, { schema: '{"type": "record",' });
    expect(notJson).toMatchObject({ status: 422, body: { error_code: 42201 } });
    const badDefault = await http(url, 'POST', `/subjects/${enc(subject)}/versions`, {
      schema: JSON.stringify({ type: 'record', name: 'B', fields: [{ name: 'n', type: 'int', default: 'x' }] }),
    });
    expect(badDefault).toMatchObject({ status: 422, body: { error_code: 42201 } });
    expect(badDefault.body.message).toMatch(/incompatible field default/);
    const proto = await http(url, 'POST', `/subjects/${enc(subject)}/versions`, {
      schemaType: 'PROTOBUF',
      schema: 'syntax = "proto3"; message M { string a = 1; }',
    });
    expect(proto).toMatchObject({ status: 422, body: { error_code: 42201 } });
    expect(proto.body.message).toMatch(/PROTOBUF is not supported/);
    expect(await http(url, 'GET', `/subjects/${enc(subject)}/versions`)).toMatchObject({ status: 404, body: { error_code: 40401 } });
  });

  it('keeps per-subject config: NONE lets the breaking change in; GET config answers 40408 without one', async () => {
    const subject = uniq('config-value');
    expect(await http(url, 'GET', `/config/${enc(subject)}`)).toMatchObject({ status: 404, body: { error_code: 40408 } });
    expect((await http(url, 'GET', `/config/${enc(subject)}?defaultToGlobal=true`)).body).toEqual({
      compatibilityLevel: 'BACKWARD',
    });
    expect((await http(url, 'GET', '/config')).body).toEqual({ compatibilityLevel: 'BACKWARD' });

    // The client sets the subject's level on first registration (BACKWARD by default).
    await registry.register(avro(paymentV1), { subject });
    expect((await http(url, 'GET', `/config/${enc(subject)}`)).body).toEqual({ compatibilityLevel: 'BACKWARD' });
    await expect(registry.register(avro(paymentRequiredField), { subject })).rejects.toMatchObject({ status: 409 });

    const put = await http(url, 'PUT', `/config/${enc(subject)}`, { compatibility: 'NONE' });
    expect(put).toMatchObject({ status: 200, body: { compatibility: 'NONE' } });
    expect((await http(url, 'GET', `/config/${enc(subject)}`)).body).toEqual({ compatibilityLevel: 'NONE' });
    const accepted = await registry.register(avro(paymentRequiredField), { subject, compatibility: COMPATIBILITY.NONE });
    expect((await http(url, 'GET', `/subjects/${enc(subject)}/versions/latest`)).body).toMatchObject({
      id: accepted.id,
      version: 2,
    });
    expect(await http(url, 'PUT', `/config/${enc(subject)}`, { compatibility: 'SIDEWAYS' })).toMatchObject({
      status: 422,
      body: { error_code: 42203 },
    });
  });

  it('soft-deletes a subject: hidden from listings, ids still resolve, versions continue on re-register', async () => {
    const subject = uniq('delete-value');
    const { id } = await registry.register(avro(paymentV1), { subject });
    await registry.register(avro(paymentV2), { subject });
    expect(await http(url, 'DELETE', `/subjects/${enc(subject)}`)).toMatchObject({ status: 200, body: [1, 2] });
    expect((await http(url, 'GET', '/subjects')).body).not.toContain(subject);
    expect((await http(url, 'GET', '/subjects?deleted=true')).body).toContain(subject);
    expect(await http(url, 'GET', `/subjects/${enc(subject)}/versions`)).toMatchObject({ status: 404, body: { error_code: 40401 } });
    expect((await http(url, 'GET', `/schemas/ids/${id}`)).status).toBe(200);
    expect(await http(url, 'DELETE', `/subjects/${enc(subject)}`)).toMatchObject({ status: 404, body: { error_code: 40404 } });
    const again = await registry.register(avro(paymentV1), { subject });
    expect(again.id).toBe(id);
    expect((await http(url, 'GET', `/subjects/${enc(subject)}/versions`)).body).toEqual([3]);
  });

  it('answers unknown routes, wrong methods and bad bodies as Confluent does', async () => {
    expect(await http(url, 'GET', '/no/such/route')).toMatchObject({ status: 404, body: { error_code: 404 } });
    expect(await http(url, 'PUT', '/subjects')).toMatchObject({ status: 405, body: { error_code: 405 } });
    const notJson = await fetch(`${url}/subjects/x/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error_code: number }).error_code).toBe(400);
    expect(await http(url, 'GET', '/subjects/x/versions/0')).toMatchObject({ status: 422, body: { error_code: 42202 } });
  });
});

describe('schema registry: state in the topic (in-process instances)', () => {
  const topics: string[] = [];
  const running: RunningRegistry[] = [];
  const kafka = new Kafka({ clientId: 'registry-test', brokers: brokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();

  // Each schemas topic gets its own audit topic, so these tests never write into riskloop.audit-events.
  const auditTopicOf = (topic: string): string => `${topic}-audit`;
  const start = async (topic: string): Promise<RunningRegistry> => {
    const r = await startRegistry(parseRegistryConfig({ brokers: brokers(), port: 0, topic, auditTopic: auditTopicOf(topic), logLevel: 'warn' }));
    running.push(r);
    if (!topics.includes(auditTopicOf(topic))) topics.push(auditTopicOf(topic));
    return r;
  };
  /** The committed audit events of a topic (read_committed, as the PostgreSQL sink reads them). */
  const auditEvents = async (topic: string, expected: number): Promise<{ action: string; target: string; outcome: string }[]> => {
    const consumer = kafka.consumer({ groupId: uniq('registry-test-audit'), readUncommitted: false });
    const events: { action: string; target: string; outcome: string }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void events.push(JSON.parse(message.value?.toString() ?? '{}')) });
    const deadline = Date.now() + 20_000;
    while (events.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    // A little longer, so that an event too many would be seen too.
    await new Promise((r) => setTimeout(r, 1_000));
    await consumer.disconnect();
    return events;
  };
  const close = async (r: RunningRegistry): Promise<void> => {
    await r.close();
    running.splice(running.indexOf(r), 1);
  };

  beforeAll(async () => {
    await admin.connect();
  });

  afterAll(async () => {
    await Promise.allSettled(running.map((r) => r.close()));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  });

  it('creates its topic compacted with one partition, and ids and versions survive a restart', async () => {
    const topic = uniq('_schemas-test');
    topics.push(topic);
    const first = await start(topic);

    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]?.partitions).toHaveLength(1);
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
    });
    expect(configs.resources[0]?.configEntries[0]?.configValue).toBe('compact');

    const client = new SchemaRegistry({ host: first.url });
    const a1 = await client.register(avro(paymentV1), { subject: 'payments-value' });
    const a2 = await client.register(avro(paymentV2), { subject: 'payments-value' });
    const b1 = await client.register(avro({ type: 'enum', name: 'Outcome', symbols: ['A', 'B'] }), { subject: 'outcome-value' });
    const shared = await client.register(avro(paymentV1), { subject: 'payments-copy-value' });
    expect(shared.id).toBe(a1.id);
    expect([a1.id, a2.id, b1.id]).toEqual([1, 2, 3]);
    expect((await http(first.url, 'PUT', '/config/outcome-value', { compatibility: 'FULL' })).status).toBe(200);
    // A permanently deleted schema's id must stay taken as well.
    const gone = await http(first.url, 'POST', '/subjects/gone-value/versions', { schema: JSON.stringify('string') });
    expect(gone.body.id).toBe(4);
    await http(first.url, 'DELETE', '/subjects/gone-value');
    expect(await http(first.url, 'DELETE', '/subjects/gone-value?permanent=true')).toMatchObject({ status: 200, body: [1] });
    const encoded = await client.encode(a2.id, { id: 'tx-9', amountMinor: 5, channel: 'web' });

    const snapshot = async (base: string) => ({
      subjects: (await http(base, 'GET', '/subjects')).body,
      payments: await Promise.all([1, 2].map(async (v) => (await http(base, 'GET', `/subjects/payments-value/versions/${v}`)).body)),
      outcome: (await http(base, 'GET', '/subjects/outcome-value/versions/latest')).body,
      copy: (await http(base, 'GET', '/subjects/payments-copy-value/versions/1')).body,
      config: (await http(base, 'GET', '/config/outcome-value')).body,
      schema2: (await http(base, 'GET', '/schemas/ids/2')).body,
    });
    const before = await snapshot(first.url);
    expect(before.subjects).toEqual(['outcome-value', 'payments-copy-value', 'payments-value']);
    await close(first);

    const second = await start(topic);
    expect(second.url).not.toBe(first.url);
    expect(await snapshot(second.url)).toEqual(before);
    expect(await http(second.url, 'GET', '/schemas/ids/4')).toMatchObject({ status: 404, body: { error_code: 40403 } });
    // A new client (empty cache) on the new instance still decodes what was written before.
    const client2 = new SchemaRegistry({ host: second.url });
    expect(await client2.decode(encoded)).toEqual({ id: 'tx-9', amountMinor: 5, channel: 'web' });
    // The next id continues after the highest ever handed out (4, though deleted): no reuse.
    const next = await client2.register(avro({ type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] }), {
      subject: 'other-value',
    });
    expect(next.id).toBe(5);
    // Already known schemas keep their ids on the new instance.
    expect((await client2.register(avro(paymentV2), { subject: 'payments-value' })).id).toBe(a2.id);
    expect((await client2.register(avro(paymentV2), { subject: 'payments-v2-copy-value' })).id).toBe(a2.id);
    // The refused-change rule survived too: outcome-value is FULL.
    const narrowed = await http(second.url, 'POST', '/subjects/outcome-value/versions', {
      schema: JSON.stringify({ type: 'enum', name: 'Outcome', symbols: ['A'] }),
    });
    expect(narrowed.status).toBe(409);
  });

  it('two instances at once agree on every id and version, also under concurrent registration', async () => {
    const topic = uniq('_schemas-test');
    topics.push(topic);
    const [a, b] = await Promise.all([start(topic), start(topic)]);
    if (a === undefined || b === undefined) throw new Error('instances did not start');

    // Registered on A, visible on B at once (B catches up before answering "not found").
    const first = await http(a.url, 'POST', '/subjects/first-value/versions', { schema: JSON.stringify(paymentV1) });
    expect(first.body.id).toBe(1);
    // Confluent 8 and riskloop's registry add a `guid`.
    expect((await http(b.url, 'GET', '/schemas/ids/1')).body).toMatchObject({ schema: JSON.stringify(paymentV1) });
    expect((await http(b.url, 'GET', '/subjects/first-value/versions/latest')).body).toMatchObject({ id: 1, version: 1 });
    expect((await http(b.url, 'POST', '/subjects/again-value/versions', { schema: JSON.stringify(paymentV1) })).body.id).toBe(1);

    await http(a.url, 'PUT', '/config/shared-value', { compatibility: 'NONE' });
    const variant = (i: number) =>
      JSON.stringify({ type: 'record', name: 'Variant', fields: [{ name: `f${i}`, type: 'int' }] });
    // A registers variants 0-5 and B variants 3-8 in the same subject, all at once: 3-5 race.
    const fromA = [0, 1, 2, 3, 4, 5].map((i) => ({ i, at: a }));
    const fromB = [3, 4, 5, 6, 7, 8].map((i) => ({ i, at: b }));
    const answers = await Promise.all(
      [...fromA, ...fromB].map(async ({ i, at }) => {
        const res = await http(at.url, 'POST', '/subjects/shared-value/versions', { schema: variant(i) });
        expect(res.status).toBe(200);
        return { i, id: res.body.id as number };
      }),
    );
    const idOf = new Map<number, number>();
    for (const { i, id } of answers) {
      if (idOf.has(i)) expect(id).toBe(idOf.get(i));
      idOf.set(i, id);
    }
    // Nine distinct schemas got nine distinct ids, handed out without gaps after id 1.
    expect([...idOf.values()].sort((x, y) => x - y)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);

    // Listings answer from each instance's own state, as Confluent's followers do: the other
    // instance's last write reaches it a fetch later. Both must arrive at the same nine versions.
    const all = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    for (const instance of [a, b]) {
      await expect
        .poll(async () => (await http(instance.url, 'GET', '/subjects/shared-value/versions')).body, { timeout: 5_000 })
        .toEqual(all);
    }
    for (const v of all) {
      const [onA, onB] = await Promise.all([
        http(a.url, 'GET', `/subjects/shared-value/versions/${v}`),
        http(b.url, 'GET', `/subjects/shared-value/versions/${v}`),
      ]);
      expect(onB.body).toEqual(onA.body);
      expect(idOf.get(Number(JSON.parse(onA.body.schema).fields[0].name.slice(1)))).toBe(onA.body.id);
    }
    for (let id = 1; id <= 10; id++) {
      const [onA, onB] = await Promise.all([http(a.url, 'GET', `/schemas/ids/${id}`), http(b.url, 'GET', `/schemas/ids/${id}`)]);
      expect(onA.status).toBe(200);
      expect(onB.body).toEqual(onA.body);
    }

    // Every write that changed the registry left exactly one committed audit event, including any
    // write whose first transaction the other instance fenced (the event is in the write's
    // transaction, so an aborted attempt leaves none); the 3 repeats of a known schema left none.
    const events = await auditEvents(auditTopicOf(topic), 12);
    expect(events.map((e) => `${e.action} ${e.target} ${e.outcome}`).sort()).toEqual(
      [
        'schema.register first-value ok',
        'schema.register again-value ok',
        'config.update shared-value ok',
        ...Array.from({ length: 9 }, () => 'schema.register shared-value ok'),
      ].sort(),
    );
  });
});

describe('schema registry: audit topic', () => {
  it('creates the audit topic again when it is deleted under a running registry, and the writes stay audited', async () => {
    const topic = uniq('_schemas-test');
    const auditTopic = `${topic}-audit`;
    const kafka = new Kafka({ clientId: 'registry-test-audit', brokers: brokers(), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    const registry = await startRegistry(parseRegistryConfig({ brokers: brokers(), port: 0, topic, auditTopic, logLevel: 'silent' }));
    try {
      const schema = (f: string) => JSON.stringify({ type: 'record', name: 'A', fields: [{ name: f, type: 'int' }] });
      await http(registry.url, 'PUT', '/config/a-value', { compatibility: 'NONE' });
      await admin.deleteTopics({ topics: [auditTopic] });
      const res = await http(registry.url, 'POST', '/subjects/a-value/versions', { schema: schema('x') });
      expect(res.status).toBe(200);
      expect(await admin.listTopics()).toContain(auditTopic);
      const consumer = kafka.consumer({ groupId: uniq('registry-test-audit') });
      const seen: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: auditTopic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(JSON.parse(message.value!.toString()).action) });
      await expect.poll(() => seen, { timeout: 15_000 }).toEqual(['schema.register']);
      await consumer.disconnect();
    } finally {
      await registry.close();
      await admin.deleteTopics({ topics: [topic, auditTopic] }).catch(() => undefined);
      await admin.disconnect();
    }
  }, 60_000);
});
