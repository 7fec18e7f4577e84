/**
 * Avro values in the Confluent wire format: magic byte 0, the writer schema's registry id as a
 * 4-byte big-endian int, then Avro binary.
 *
 * The serde is synchronous on the hot path (see topology/serde.ts). Everything that needs the
 * network happens beforehand: `init()` registers the writer schema and keeps its id; `prefetch()`
 * fetches the writer schemas of ids it has not seen. `deserialize` then only reads caches, and a
 * payload whose id was not prefetched fails with UNKNOWN_SCHEMA_ID instead of blocking.
 */
import avsc from 'avsc';
import { COMPATIBILITY, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Serde } from '../topology/serde.js';
import { SchemaRegistryUnavailableError, SerdeError } from './errors.js';
import type { AvroRecordSchema } from './load.js';

export const MAGIC_BYTE = 0;
export const HEADER_LENGTH = 5;

/**
 * The two registry calls the serde makes. `SchemaRegistry` from @kafkajs/confluent-schema-registry
 * satisfies it; unit tests of the wire format pass an in-process stand-in.
 */
export interface SchemaRegistryClient {
  register(
    schema: { type: SchemaType.AVRO; schema: string },
    opts: { subject: string; compatibility?: COMPATIBILITY },
  ): Promise<{ id: number }>;
  /** Resolves to the avsc type of an Avro schema; rejects with an error whose `status` is 404 if unknown. */
  getSchema(id: number): Promise<unknown>;
}

export interface AvroSerdeOptions {
  registry: SchemaRegistryClient;
  /** Topic the serde is for; the subject is `<topic>-value` or `<topic>-key` (TopicNameStrategy). */
  topic: string;
  /** Reader schema, which is also the writer schema when the serde registers. */
  schema: AvroRecordSchema;
  isKey?: boolean;
  /**
   * Register the schema at init (producers). A pure consumer passes false: it must not change the
   * subject, and it decodes every writer version through prefetch + resolution. Default true.
   */
  register?: boolean;
  /** Subject compatibility set at first registration. Default BACKWARD (consumers upgrade first). */
  compatibility?: COMPATIBILITY;
}

/** The schema id of a Confluent-framed payload, or undefined when it is not one. */
export function schemaIdOf(payload: Buffer): number | undefined {
  if (payload.length < HEADER_LENGTH || payload[0] !== MAGIC_BYTE) return undefined;
  return payload.readInt32BE(1);
}

function httpStatus(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'status' in err && typeof err.status === 'number') return err.status;
  return undefined;
}

export class AvroSerde<T> implements Serde<T> {
  readonly subject: string;
  private readonly registry: SchemaRegistryClient;
  private readonly schemaText: string;
  private readonly reader: avsc.Type;
  private readonly registerOnInit: boolean;
  private readonly compatibility: COMPATIBILITY;
  private writerId: number | undefined;
  /** Writer id → resolver to the reader type; null when writer and reader are the same schema. */
  private readonly resolvers = new Map<number, avsc.Resolver | null>();
  /** Ids whose writer schema is known but unusable here, with the reason. */
  private readonly unusable = new Map<number, string>();
  private readonly fetching = new Map<number, Promise<void>>();

  constructor(opts: AvroSerdeOptions) {
    this.registry = opts.registry;
    this.subject = `${opts.topic}-${opts.isKey ? 'key' : 'value'}`;
    this.schemaText = JSON.stringify(opts.schema);
    this.reader = avsc.Type.forSchema(opts.schema as avsc.schema.RecordType);
    this.registerOnInit = opts.register ?? true;
    this.compatibility = opts.compatibility ?? COMPATIBILITY.BACKWARD;
  }

  /** The registry id this serde writes with; undefined before init or for a consumer-only serde. */
  get schemaId(): number | undefined {
    return this.writerId;
  }

  /** Registers the schema (idempotent on the registry's side: same schema, same id). */
  async init(): Promise<this> {
    if (!this.registerOnInit || this.writerId !== undefined) return this;
    let id: number;
    try {
      ({ id } = await this.registerUnderSubjectLevel());
    } catch (err) {
      const status = httpStatus(err);
      // 409 (incompatible), 422 (invalid schema) and a subject configured with another compatibility
      // level are the schema's or the subject's fault, not an outage: retrying will not help.
      if (status === 409 || status === 422 || (err instanceof Error && err.name === 'ConfluentSchemaRegistryCompatibilityError')) {
        throw new Error(`schema registry rejected the schema for ${this.subject}: ${(err as Error).message}`, { cause: err });
      }
      // Credentials or role (registry/auth.ts): configuration, not an outage. The registry's message
      // names the user and the role needed, never the password.
      if (status === 401 || status === 403) {
        throw new Error(
          `schema registry refused to register the schema for ${this.subject} (HTTP ${status}): ${(err as Error).message}; ` +
            'check SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO[_FILE] and that the user has the write role',
          { cause: err },
        );
      }
      throw new SchemaRegistryUnavailableError(`cannot register schema for ${this.subject}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    this.writerId = id;
    this.resolvers.set(id, null);
    return this;
  }

  /**
   * Registers under the subject's own compatibility level. @kafkajs/confluent-schema-registry refuses
   * to register when the subject's level differs from the one passed (Confluent's serializers never
   * check it: the registry enforces the subject's level itself). A platform team that made a public
   * topic FULL or FULL_TRANSITIVE is stricter than riskloop's BACKWARD default, and must not stop
   * the loop from starting: the registry still refuses a schema that breaks that level (409).
   * `compatibility` is what a subject gets at its first registration.
   */
  private async registerUnderSubjectLevel(): Promise<{ id: number }> {
    const schema = { type: SchemaType.AVRO, schema: this.schemaText } as const;
    try {
      return await this.registry.register(schema, { subject: this.subject, compatibility: this.compatibility });
    } catch (err) {
      const level = err instanceof Error && err.name === 'ConfluentSchemaRegistryCompatibilityError' ? /!= ([A-Z_]+)\)/.exec(err.message)?.[1] : undefined;
      if (level === undefined || !(level in COMPATIBILITY)) throw err;
      return this.registry.register(schema, { subject: this.subject, compatibility: level as COMPATIBILITY });
    }
  }

  serialize(value: T): Buffer {
    if (this.writerId === undefined) {
      throw new Error(`AvroSerde for ${this.subject} serialized before init() registered its schema`);
    }
    let body: Buffer;
    try {
      body = this.reader.toBuffer(value);
    } catch {
      // avsc's message quotes the offending value, which may be a PAN: report paths only, no cause.
      const paths: string[] = [];
      this.reader.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') });
      throw new SerdeError('INVALID_VALUE', `value does not match ${this.subject}: invalid ${paths.join(', ') || 'value'}`, {
        subject: this.subject,
        schemaId: this.writerId,
      });
    }
    const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
    out[0] = MAGIC_BYTE;
    out.writeInt32BE(this.writerId, 1);
    body.copy(out, HEADER_LENGTH);
    return out;
  }

  deserialize(data: Buffer): T {
    if (data.length < HEADER_LENGTH) {
      throw new SerdeError('MALFORMED', `payload of ${data.length} bytes is shorter than the ${HEADER_LENGTH}-byte header`, {
        subject: this.subject,
      });
    }
    if (data[0] !== MAGIC_BYTE) {
      throw new SerdeError('BAD_MAGIC', `payload starts with byte ${data[0]}, not the magic byte ${MAGIC_BYTE}`, {
        subject: this.subject,
      });
    }
    const id = data.readInt32BE(1);
    const resolver = this.resolvers.get(id);
    if (resolver === undefined) {
      const why = this.unusable.get(id);
      if (why !== undefined) throw new SerdeError('INCOMPATIBLE_SCHEMA', why, { subject: this.subject, schemaId: id });
      throw new SerdeError('UNKNOWN_SCHEMA_ID', `schema id ${id} is not in the registry or was not prefetched`, {
        subject: this.subject,
        schemaId: id,
      });
    }
    try {
      return (resolver ? this.reader.fromBuffer(data.subarray(HEADER_LENGTH), resolver) : this.reader.fromBuffer(data.subarray(HEADER_LENGTH))) as T;
    } catch (err) {
      throw new SerdeError('MALFORMED', `payload does not decode with schema id ${id}: ${(err as Error).message}`, {
        subject: this.subject,
        schemaId: id,
      }, { cause: err });
    }
  }

  /**
   * Fetches the writer schemas of every id in the batch that this serde has not seen. Ids the
   * registry does not know are left unknown (their records then fail with UNKNOWN_SCHEMA_ID and
   * are dead-lettered one by one); a registry that cannot be reached rejects the whole call.
   */
  async prefetch(payloads: readonly Buffer[]): Promise<void> {
    const wanted = new Set<number>();
    for (const p of payloads) {
      const id = schemaIdOf(p);
      if (id !== undefined && !this.resolvers.has(id) && !this.unusable.has(id)) wanted.add(id);
    }
    if (wanted.size === 0) return;
    await Promise.all([...wanted].map((id) => this.fetchWriter(id)));
  }

  private fetchWriter(id: number): Promise<void> {
    let pending = this.fetching.get(id);
    if (!pending) {
      pending = this.loadWriter(id).finally(() => this.fetching.delete(id));
      this.fetching.set(id, pending);
    }
    return pending;
  }

  private async loadWriter(id: number): Promise<void> {
    let writer: unknown;
    try {
      writer = await this.registry.getSchema(id);
    } catch (err) {
      // Not cached: an id can appear later (registry replicas catching up), so ask again next batch.
      if (httpStatus(err) === 404) return;
      throw new SchemaRegistryUnavailableError(`cannot fetch schema id ${id} for ${this.subject}: ${(err as Error)?.message ?? String(err)}`, { cause: err });
    }
    if (!avsc.Type.isType(writer)) {
      this.unusable.set(id, `schema id ${id} is not an Avro schema`);
      return;
    }
    const writerType = writer as avsc.Type;
    try {
      this.resolvers.set(id, writerType.equals(this.reader) ? null : this.reader.createResolver(writerType));
    } catch (err) {
      this.unusable.set(id, `writer schema id ${id} cannot be read as ${this.subject}'s reader schema: ${(err as Error).message}`);
    }
  }
}
