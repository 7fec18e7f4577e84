/**
 * The registry's operations, with Confluent's semantics, on top of the topic-backed store.
 * HTTP lives in server.ts; this file knows nothing of requests, only of subjects and schemas.
 *
 * Reads answer from this instance's state, as Confluent's do: listings and "latest" may trail a
 * write made through another instance by one fetch of the topic reader (milliseconds). A read
 * that would answer "not found" first catches up with the topic and looks again, so an id or
 * version registered on another instance a moment ago is found: a consumer never fails to decode
 * a record because it asked another instance than the producer did. Writes never trail: they plan
 * on a caught-up state under the writer fence (store.ts).
 */
import type avro from 'avsc';
import { z } from 'zod';
import { parseAvroSchema, type ParsedSchema } from './avro.js';
import {
  type CompatibilityLevel,
  DEFAULT_COMPATIBILITY,
  compatibilityProblems,
  parseCompatibilityLevel,
} from './compatibility.js';
import { Errors, RegistryError } from './errors.js';
import type { TopicRecord } from './records.js';
import type { RegistryState, SchemaVersion } from './state.js';
import type { KafkaSchemaStore } from './store.js';

export interface SubjectVersion {
  subject: string;
  id: number;
  version: number;
  schema: string;
}

/** A version path parameter: a number, or the latest live version ("latest" or -1). */
export type VersionRef = number | 'latest';

const MAX_VERSION = 2 ** 31 - 1;

export function parseVersionRef(raw: string): VersionRef {
  if (raw === 'latest' || raw === '-1') return 'latest';
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_VERSION) throw Errors.invalidVersion(raw);
  return n;
}

const SchemaRequestSchema = z.object({
  schema: z.string({ error: 'the request body needs a string field "schema"' }),
  schemaType: z.string().nullish(),
  references: z.array(z.unknown()).nullish(),
});

export class SchemaRegistryService {
  /** Parsed avsc types by canonical schema, for compatibility checks against stored versions. */
  private readonly types = new Map<string, avro.Type>();

  constructor(private readonly store: KafkaSchemaStore) {}

  private get state(): RegistryState {
    return this.store.state;
  }

  // ---- subjects and versions ----

  async subjects(includeDeleted: boolean): Promise<string[]> {
    return this.state.subjectNames(includeDeleted);
  }

  async versions(subject: string, includeDeleted: boolean): Promise<number[]> {
    return this.readOrCatchUp(() => {
      const versions = this.state.versions(subject, includeDeleted);
      if (versions.length === 0) throw Errors.subjectNotFound(subject);
      return versions.map((v) => v.version);
    });
  }

  async version(subject: string, ref: VersionRef, includeDeleted: boolean): Promise<SubjectVersion> {
    return this.readOrCatchUp(() => view(this.findVersion(this.state, subject, ref, includeDeleted)));
  }

  async register(subject: string, body: unknown): Promise<{ id: number }> {
    const parsed = this.parseRequestSchema(body);
    // Producers register on every start: answering a known schema needs no trip through the topic.
    const known = this.state.versions(subject, false).find((v) => v.schema === parsed.canonical);
    if (known !== undefined) return { id: known.id };
    return this.store.write((state) => {
      const live = state.versions(subject, false);
      const same = live.find((v) => v.schema === parsed.canonical);
      if (same !== undefined) return { records: [], result: { id: same.id } };
      const level = effectiveLevel(state, subject);
      const problems = compatibilityProblems(level, parsed.type, live.map((v) => this.existing(v)));
      if (problems.length > 0) {
        throw Errors.incompatibleSchema(
          `Schema being registered is incompatible with an earlier schema for subject "${subject}" ` +
            `(compatibility ${level}): ${problems.join('; ')}`,
        );
      }
      // The same schema under another subject keeps its id, as in Confluent.
      const id = state.idOfSchema(parsed.canonical) ?? state.maxId() + 1;
      const version = state.maxVersion(subject) + 1;
      return {
        records: [schemaRecord({ subject, version, id, schema: parsed.canonical, deleted: false })],
        result: { id },
      };
    });
  }

  /** Is this schema registered under the subject? (POST /subjects/{subject}) */
  async lookup(subject: string, body: unknown, includeDeleted: boolean): Promise<SubjectVersion> {
    const parsed = this.parseRequestSchema(body);
    return this.readOrCatchUp(() => {
      const versions = this.state.versions(subject, includeDeleted);
      if (versions.length === 0) throw Errors.subjectNotFound(subject);
      const match = versions.filter((v) => v.schema === parsed.canonical).at(-1);
      if (match === undefined) throw Errors.schemaNotFound(`Schema not found under subject '${subject}'`);
      return view(match);
    });
  }

  async deleteSubject(subject: string, permanent: boolean): Promise<number[]> {
    return this.store.write((state) => {
      const all = state.versions(subject, true);
      if (all.length === 0) throw Errors.subjectNotFound(subject);
      const live = all.filter((v) => !v.deleted);
      if (!permanent) {
        if (live.length === 0) throw Errors.subjectSoftDeleted(subject);
        const records: TopicRecord[] = live.map((v) => schemaRecord({ ...v, deleted: true }));
        // Confluent drops a deleted subject's own config too.
        if (state.subjectLevel(subject) !== undefined) records.push({ key: { keytype: 'CONFIG', subject }, value: null });
        return { records, result: live.map((v) => v.version) };
      }
      if (live.length > 0) throw Errors.subjectNotSoftDeleted(subject);
      return {
        records: [...all.map((v) => tombstone(v)), idWatermark(state)],
        result: all.map((v) => v.version),
      };
    });
  }

  async deleteVersion(subject: string, ref: VersionRef, permanent: boolean): Promise<number> {
    return this.store.write((state) => {
      const v = this.findVersion(state, subject, ref, permanent);
      if (!permanent) {
        if (v.deleted) throw Errors.versionSoftDeleted(subject, v.version);
        return { records: [schemaRecord({ ...v, deleted: true })], result: v.version };
      }
      if (!v.deleted) throw Errors.versionNotSoftDeleted(subject, v.version);
      return { records: [tombstone(v), idWatermark(state)], result: v.version };
    });
  }

  // ---- schemas by id ----

  async schemaById(id: number): Promise<{ schema: string }> {
    return this.readOrCatchUp(() => {
      const schema = this.state.schemaOfId(id);
      if (schema === undefined) throw Errors.schemaNotFound(`Schema ${id} not found`);
      return { schema };
    });
  }

  async usesOfId(id: number): Promise<{ subject: string; version: number }[]> {
    return this.readOrCatchUp(() => {
      if (this.state.schemaOfId(id) === undefined) throw Errors.schemaNotFound(`Schema ${id} not found`);
      return this.state.usesOf(id);
    });
  }

  // ---- compatibility ----

  /**
   * Would `body`'s schema be accepted? Against one given version, or with `ref` "latest" or absent
   * against what registration checks (the latest version, or all under a *_TRANSITIVE level).
   */
  async testCompatibility(
    subject: string,
    ref: VersionRef | undefined,
    body: unknown,
  ): Promise<{ compatible: boolean; messages: string[] }> {
    const parsed = this.parseRequestSchema(body);
    return this.readOrCatchUp(() => {
      const state = this.state;
      const level = effectiveLevel(state, subject);
      let against: SchemaVersion[];
      if (ref === undefined) {
        against = state.versions(subject, false);
      } else if (ref === 'latest') {
        against = state.versions(subject, false);
        if (against.length === 0) throw Errors.subjectNotFound(subject);
      } else {
        against = [this.findVersion(state, subject, ref, false)];
      }
      const messages = compatibilityProblems(level, parsed.type, against.map((v) => this.existing(v)));
      return { compatible: messages.length === 0, messages };
    });
  }

  // ---- config ----

  globalConfig(): { compatibilityLevel: CompatibilityLevel } {
    return { compatibilityLevel: this.state.globalLevel() ?? DEFAULT_COMPATIBILITY };
  }

  async subjectConfig(subject: string, defaultToGlobal: boolean): Promise<{ compatibilityLevel: CompatibilityLevel }> {
    if (defaultToGlobal) return { compatibilityLevel: effectiveLevel(this.state, subject) };
    return this.readOrCatchUp(() => {
      const level = this.state.subjectLevel(subject);
      if (level === undefined) throw Errors.subjectConfigNotFound(subject);
      return { compatibilityLevel: level };
    });
  }

  /** PUT /config and PUT /config/{subject}; `subject` null is the global level. */
  async setConfig(subject: string | null, body: unknown): Promise<{ compatibility: CompatibilityLevel }> {
    const requested =
      body !== null && typeof body === 'object'
        ? ((body as { compatibility?: unknown; compatibilityLevel?: unknown }).compatibility ??
          (body as { compatibilityLevel?: unknown }).compatibilityLevel)
        : undefined;
    const level = parseCompatibilityLevel(requested);
    if (level === undefined) throw Errors.invalidCompatibilityLevel(requested);
    return this.store.write((state) => {
      const current = subject === null ? state.globalLevel() : state.subjectLevel(subject);
      const records: TopicRecord[] =
        current === level ? [] : [{ key: { keytype: 'CONFIG', subject }, value: { compatibilityLevel: level } }];
      return { records, result: { compatibility: level } };
    });
  }

  /** DELETE /config and DELETE /config/{subject}: back to the global level / the default. */
  async deleteConfig(subject: string | null): Promise<{ compatibilityLevel: CompatibilityLevel }> {
    return this.store.write((state) => {
      const current = subject === null ? state.globalLevel() : state.subjectLevel(subject);
      if (current === undefined) {
        if (subject !== null) throw Errors.subjectConfigNotFound(subject);
        return { records: [], result: { compatibilityLevel: DEFAULT_COMPATIBILITY } };
      }
      return { records: [{ key: { keytype: 'CONFIG', subject }, value: null }], result: { compatibilityLevel: current } };
    });
  }

  // ---- helpers ----

  private parseRequestSchema(body: unknown): ParsedSchema {
    const req = SchemaRequestSchema.safeParse(body);
    if (!req.success) {
      throw Errors.invalidSchema(`Invalid request: ${req.error.issues.map((i) => i.message).join('; ')}`);
    }
    const type = req.data.schemaType ?? 'AVRO';
    if (type.toUpperCase() !== 'AVRO') {
      throw Errors.invalidSchema(
        `Schema type ${type} is not supported: riskloop's schema registry stores AVRO schemas only`,
      );
    }
    if ((req.data.references ?? []).length > 0) {
      throw Errors.invalidSchema("Schema references are not supported by riskloop's schema registry");
    }
    return parseAvroSchema(req.data.schema);
  }

  private existing(v: SchemaVersion): { version: number; id: number; type: avro.Type } {
    let type = this.types.get(v.schema);
    if (type === undefined) {
      type = parseAvroSchema(v.schema).type;
      this.types.set(v.schema, type);
    }
    return { version: v.version, id: v.id, type };
  }

  private findVersion(state: RegistryState, subject: string, ref: VersionRef, includeDeleted: boolean): SchemaVersion {
    if (state.versions(subject, includeDeleted).length === 0) throw Errors.subjectNotFound(subject);
    const v = ref === 'latest' ? state.latest(subject, includeDeleted) : state.version(subject, ref);
    if (v === undefined || (v.deleted && !includeDeleted)) {
      throw Errors.versionNotFound(subject, ref === 'latest' ? -1 : ref);
    }
    return v;
  }

  /** Runs `read`; if it answers 404, catches up with the topic and runs it once more. */
  private async readOrCatchUp<T>(read: () => T): Promise<T> {
    try {
      return read();
    } catch (err) {
      if (!(err instanceof RegistryError) || err.status !== 404) throw err;
      await this.store.catchUp();
      return read();
    }
  }
}

function effectiveLevel(state: RegistryState, subject: string): CompatibilityLevel {
  return state.subjectLevel(subject) ?? state.globalLevel() ?? DEFAULT_COMPATIBILITY;
}

function view(v: SchemaVersion): SubjectVersion {
  return { subject: v.subject, id: v.id, version: v.version, schema: v.schema };
}

function schemaRecord(v: SchemaVersion): TopicRecord {
  return {
    key: { keytype: 'SCHEMA', subject: v.subject, version: v.version },
    value: { subject: v.subject, version: v.version, id: v.id, schema: v.schema, deleted: v.deleted },
  };
}

function tombstone(v: SchemaVersion): TopicRecord {
  return { key: { keytype: 'SCHEMA', subject: v.subject, version: v.version }, value: null };
}

/** Keeps the highest id taken after tombstones let compaction drop the records that held it. */
function idWatermark(state: RegistryState): TopicRecord {
  return { key: { keytype: 'ID_WATERMARK' }, value: { maxId: state.maxId() } };
}
