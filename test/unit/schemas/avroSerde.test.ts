/**
 * Wire-format behaviour of AvroSerde with an in-process stand-in for the registry. Everything that
 * involves the real registry (registration, prefetch by id, schema evolution) is covered by
 * test/integration/schemas.test.ts.
 */
import avsc from 'avsc';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  AvroSerde,
  EXAMPLES,
  SCHEMAS,
  SchemaRegistryUnavailableError,
  SerdeError,
  schemaIdOf,
  type SchemaRegistryClient,
  type SerdeErrorReason,
  type Transaction,
} from '../../../schemas/index.js';

/** Ids by schema text, like a registry; `failWith` simulates an unreachable one. */
class InProcessRegistry implements SchemaRegistryClient {
  private readonly ids = new Map<string, number>();
  private readonly schemas = new Map<number, unknown>();
  failWith: number | undefined;
  fetches = 0;

  async register(schema: { schema: string }): Promise<{ id: number }> {
    let id = this.ids.get(schema.schema);
    if (id === undefined) {
      id = 100 + this.ids.size;
      this.ids.set(schema.schema, id);
      this.schemas.set(id, avsc.Type.forSchema(JSON.parse(schema.schema)));
    }
    return { id };
  }

  /** Stores a non-Avro schema (as the registry would hold a JSON Schema) under an id. */
  putOther(id: number): void {
    this.schemas.set(id, { jsonSchema: true });
  }

  async getSchema(id: number): Promise<unknown> {
    this.fetches++;
    if (this.failWith !== undefined) throw Object.assign(new Error(`HTTP ${this.failWith}`), { status: this.failWith });
    const s = this.schemas.get(id);
    if (!s) throw Object.assign(new Error('Schema not found'), { status: 404 });
    return s;
  }
}

function reasonOf(fn: () => unknown): SerdeErrorReason | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SerdeError);
    return (err as SerdeError).reason;
  }
  throw new Error('expected a SerdeError');
}

describe('AvroSerde wire format', () => {
  let registry: InProcessRegistry;
  let serde: AvroSerde<Transaction>;

  beforeEach(async () => {
    registry = new InProcessRegistry();
    serde = await new AvroSerde<Transaction>({ registry, topic: 'riskloop.transactions', schema: SCHEMAS.Transaction }).init();
  });

  it('uses the <topic>-value subject', () => {
    expect(serde.subject).toBe('riskloop.transactions-value');
  });

  it('frames Avro binary as magic byte 0 + big-endian schema id', () => {
    const bytes = serde.serialize(EXAMPLES.Transaction);
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(serde.schemaId);
    expect(schemaIdOf(bytes)).toBe(serde.schemaId);
    expect(bytes.subarray(5)).toEqual(avsc.Type.forSchema(SCHEMAS.Transaction as avsc.schema.RecordType).toBuffer(EXAMPLES.Transaction));
    expect(serde.deserialize(bytes)).toEqual(EXAMPLES.Transaction);
  });

  it('rejects a wrong magic byte with BAD_MAGIC', () => {
    const bytes = serde.serialize(EXAMPLES.Transaction);
    bytes[0] = 1;
    expect(reasonOf(() => serde.deserialize(bytes))).toBe('BAD_MAGIC');
    expect(reasonOf(() => serde.deserialize(Buffer.from('{"transactionId":"x"}')))).toBe('BAD_MAGIC');
  });

  it('rejects payloads shorter than the header, truncated bodies and trailing bytes with MALFORMED', () => {
    const bytes = serde.serialize(EXAMPLES.Transaction);
    expect(reasonOf(() => serde.deserialize(Buffer.alloc(0)))).toBe('MALFORMED');
    expect(reasonOf(() => serde.deserialize(bytes.subarray(0, 3)))).toBe('MALFORMED');
    expect(reasonOf(() => serde.deserialize(bytes.subarray(0, bytes.length - 7)))).toBe('MALFORMED');
    expect(reasonOf(() => serde.deserialize(Buffer.concat([bytes, Buffer.from([1, 2, 3])])))).toBe('MALFORMED');
  });

  it('rejects an id it has not prefetched with UNKNOWN_SCHEMA_ID, without touching the registry', () => {
    const bytes = serde.serialize(EXAMPLES.Transaction);
    bytes.writeInt32BE(9999, 1);
    expect(reasonOf(() => serde.deserialize(bytes))).toBe('UNKNOWN_SCHEMA_ID');
    expect(registry.fetches).toBe(0);
  });

  it('prefetch leaves ids the registry does not know unknown (per-record error), without throwing', async () => {
    const bytes = serde.serialize(EXAMPLES.Transaction);
    bytes.writeInt32BE(9999, 1);
    await serde.prefetch([bytes, Buffer.from('garbage'), Buffer.alloc(2)]);
    expect(registry.fetches).toBe(1);
    expect(reasonOf(() => serde.deserialize(bytes))).toBe('UNKNOWN_SCHEMA_ID');
  });

  it('prefetch rejects with SchemaRegistryUnavailableError when the registry fails (retry, do not dead-letter)', async () => {
    const bytes = serde.serialize(EXAMPLES.Transaction);
    bytes.writeInt32BE(9999, 1);
    registry.failWith = 503;
    await expect(serde.prefetch([bytes])).rejects.toBeInstanceOf(SchemaRegistryUnavailableError);
  });

  it('prefetch fetches each unknown id once per batch and never ids it already has', async () => {
    const own = serde.serialize(EXAMPLES.Transaction);
    const other = await new AvroSerde<unknown>({ registry, topic: 'x', schema: SCHEMAS.Alert }).init();
    const alien = other.serialize(EXAMPLES.Alert);
    await serde.prefetch([own, own, alien, alien]);
    expect(registry.fetches).toBe(1);
    await serde.prefetch([alien]);
    expect(registry.fetches).toBe(1);
  });

  it('rejects a writer schema that cannot resolve to the reader, or is not Avro, with INCOMPATIBLE_SCHEMA', async () => {
    const alerts = await new AvroSerde<unknown>({ registry, topic: 'x', schema: SCHEMAS.Alert }).init();
    const alien = alerts.serialize(EXAMPLES.Alert);
    await serde.prefetch([alien]);
    expect(reasonOf(() => serde.deserialize(alien))).toBe('INCOMPATIBLE_SCHEMA');

    registry.putOther(7);
    const json = Buffer.from(alien);
    json.writeInt32BE(7, 1);
    await serde.prefetch([json]);
    expect(reasonOf(() => serde.deserialize(json))).toBe('INCOMPATIBLE_SCHEMA');
  });

  it('rejects an invalid value with INVALID_VALUE naming the field but never quoting the value', () => {
    const bad = { ...EXAMPLES.Transaction, amountMinor: 'lots' as unknown as number };
    let caught: unknown;
    try {
      serde.serialize(bad);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SerdeError);
    const err = caught as SerdeError;
    expect(err.reason).toBe('INVALID_VALUE');
    expect(err.message).toContain('amountMinor');
    expect(err.message).not.toContain(EXAMPLES.Transaction.pan);
    expect(err.cause).toBeUndefined();
  });

  it('refuses to serialize before init, and a consumer-only serde registers nothing', async () => {
    const consumer = new AvroSerde<Transaction>({ registry, topic: 't', schema: SCHEMAS.Transaction, register: false });
    await consumer.init();
    expect(consumer.schemaId).toBeUndefined();
    expect(() => consumer.serialize(EXAMPLES.Transaction)).toThrow(/before init/);
    const bytes = serde.serialize(EXAMPLES.Transaction);
    await consumer.prefetch([bytes]);
    expect(consumer.deserialize(bytes)).toEqual(EXAMPLES.Transaction);
  });

  it("registers under the subject's own compatibility level when it is not the default (FULL set by a platform team)", async () => {
    // What @kafkajs/confluent-schema-registry does when the subject's level differs from the one passed.
    const levels: (string | undefined)[] = [];
    const strict: SchemaRegistryClient = {
      async register(schema, opts) {
        levels.push(opts.compatibility);
        if (opts.compatibility !== 'FULL') throw Object.assign(new Error(`Compatibility does not match the configuration (${opts.compatibility} != FULL)`), { name: 'ConfluentSchemaRegistryCompatibilityError' });
        return registry.register(schema);
      },
      getSchema: (id) => registry.getSchema(id),
    };
    const s = await new AvroSerde<Transaction>({ registry: strict, topic: 'public', schema: SCHEMAS.Transaction }).init();
    expect(levels).toEqual(['BACKWARD', 'FULL']);
    expect(s.schemaId).toBeDefined();
    // Anything else stays a rejection with the subject named.
    const refusing: SchemaRegistryClient = { register: async () => Promise.reject(Object.assign(new Error('Schema being registered is incompatible'), { status: 409 })), getSchema: (id) => registry.getSchema(id) };
    await expect(new AvroSerde<Transaction>({ registry: refusing, topic: 'public', schema: SCHEMAS.Transaction }).init()).rejects.toThrow(/rejected the schema for public-value/);
  });
});
