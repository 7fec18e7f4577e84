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
import { createHash } from 'node:crypto';
import type avro from 'avsc';
import { z } from 'zod';
import { type Actor, auditEvent } from './audit.js';
import { parseAvroSchema, type ParsedSchema, schemaForms } from './avro.js';
import {
  type CompatibilityLevel,
  DEFAULT_COMPATIBILITY,
  compatibilityProblems,
  parseCompatibilityLevel,
} from './compatibility.js';
import { Errors, RegistryError } from './errors.js';
import { type Mode, MODES, type TopicRecord } from './records.js';
import type { RegistryState, SchemaVersion } from './state.js';
import type { KafkaSchemaStore, PlannedWrite } from './store.js';

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
  /** Only in IMPORT mode: the id and version the schema had in the registry it comes from. */
  id: z.number().int().positive().nullish(),
  version: z.number().int().positive().nullish(),
});

export interface ListOptions {
  subjectPrefix: string;
  deleted: boolean;
  deletedOnly: boolean;
  offset: number;
  /** Negative or 0: no limit (Confluent's default is -1). */
  limit: number;
}

export interface SchemaListOptions extends ListOptions {
  latestOnly: boolean;
}

/**
 * A stable GUID for a schema id (Confluent 8 serves schemas by GUID). Confluent draws a random one
 * at registration and stores it; riskloop derives it from the schema's normalized form (SHA-256,
 * laid out as an RFC 9562 version-8 UUID), so every instance, and every restart, gives the same
 * schema the same GUID without storing anything new — just as the same schema keeps its id.
 */
export function schemaGuid(schema: string): string {
  const h = createHash('sha256').update(schemaForms(schema).normal).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x80;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

function page<T>(items: T[], offset: number, limit: number): T[] {
  const from = Math.max(0, offset);
  return limit > 0 ? items.slice(from, from + limit) : items.slice(from);
}

export class SchemaRegistryService {
  /** Parsed avsc types by canonical schema, for compatibility checks against stored versions. */
  private readonly types = new Map<string, avro.Type>();

  constructor(private readonly store: KafkaSchemaStore) {}

  private get state(): RegistryState {
    return this.store.state;
  }

  // ---- subjects and versions ----

  /** GET /subjects. Confluent's default prefix `:*:` means every subject of the default context. */
  async subjects(o: ListOptions): Promise<string[]> {
    const prefix = o.subjectPrefix === ':*:' ? '' : o.subjectPrefix;
    let names = this.state.subjectNames(o.deleted || o.deletedOnly).filter((n) => n.startsWith(prefix));
    // Deleted only: subjects whose every version is soft-deleted.
    if (o.deletedOnly) names = names.filter((n) => this.state.versions(n, false).length === 0);
    return page(names, o.offset, o.limit);
  }

  /** GET /schemas: subject versions, by subject then version. */
  async schemas(o: SchemaListOptions): Promise<(SubjectVersion & { guid: string })[]> {
    const prefix = o.subjectPrefix === ':*:' ? '' : o.subjectPrefix;
    const out: (SubjectVersion & { guid: string })[] = [];
    for (const subject of this.state.subjectNames(o.deleted).filter((n) => n.startsWith(prefix))) {
      const versions = this.state.versions(subject, o.deleted);
      for (const v of o.latestOnly ? versions.slice(-1) : versions) out.push({ ...view(v), guid: schemaGuid(v.schema) });
    }
    return page(out, o.offset, o.limit);
  }

  /**
   * GET /subjects/{subject}/metadata: the latest version whose metadata holds every given
   * key/value. riskloop stores no data-contract metadata, so with no pair this is the latest
   * version and with any pair nothing matches (40403), as Confluent answers for a schema without
   * that metadata.
   */
  async latestWithMetadata(subject: string, pairs: [string, string][], includeDeleted: boolean): Promise<SubjectVersion> {
    return this.readOrCatchUp(() => {
      const latest = this.state.latest(subject, includeDeleted);
      if (latest === undefined) throw Errors.subjectNotFound(subject);
      if (pairs.length > 0) throw Errors.schemaNotFound(`Schema not found with metadata ${pairs.map(([k, v]) => `${k}=${v}`).join(', ')} under subject '${subject}'`);
      return view(latest);
    });
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

  async register(subject: string, body: unknown, normalize: boolean, actor: Actor): Promise<{ id: number }> {
    const { parsed, id: importId, version: importVersion } = this.parseRegisterRequest(body, normalize);
    checkRegisterMode(subject, effectiveMode(this.state, subject), importId);
    // Producers register on every start: answering a known schema needs no trip through the topic.
    const known = this.state.versions(subject, false).find((v) => sameSchema(v.schema, parsed, normalize));
    if (known !== undefined && importId === undefined) return { id: known.id };
    return this.store.write((state) => {
      const mode = effectiveMode(state, subject);
      checkRegisterMode(subject, mode, importId);
      const live = state.versions(subject, false);
      const same = live.find((v) => sameSchema(v.schema, parsed, normalize));
      if (same !== undefined && (importId === undefined || importId === same.id)) {
        return { records: [], result: { id: same.id } };
      }
      if (mode === 'IMPORT') return this.planImport(state, subject, parsed, normalize, importId, importVersion, actor);
      const level = effectiveLevel(state, subject);
      const problems = compatibilityProblems(level, parsed.type, live.map((v) => this.existing(v)));
      if (problems.length > 0) {
        throw Errors.incompatibleSchema(
          `Schema being registered is incompatible with an earlier schema for subject "${subject}" ` +
            `(compatibility ${level}): ${problems.join('; ')}`,
        );
      }
      // The same schema under another subject keeps its id, as in Confluent.
      const id = state.idOfSchema(normalize ? parsed.normal : parsed.form, normalize) ?? state.maxId() + 1;
      const version = state.maxVersion(subject) + 1;
      return {
        records: [schemaRecord({ subject, version, id, schema: parsed.canonical, deleted: false })],
        result: { id },
        audit: auditEvent(actor, 'schema.register', subject, 'ok', { id, version, normalize }),
      };
    });
  }

  /** IMPORT mode: keep the id (and version) the schema had where it comes from, compatibility unchecked. */
  private planImport(
    state: RegistryState,
    subject: string,
    parsed: ParsedSchema,
    normalize: boolean,
    importId: number | undefined,
    importVersion: number | undefined,
    actor: Actor,
  ): PlannedWrite<{ id: number }> {
    const id = importId ?? state.idOfSchema(normalize ? parsed.normal : parsed.form, normalize) ?? state.maxId() + 1;
    const holder = state.schemaOfId(id);
    if (holder !== undefined && !sameSchema(holder, parsed, normalize)) {
      throw Errors.idConflict(`Overwrite new schema with id ${id} is not permitted.`);
    }
    const version = importVersion ?? state.maxVersion(subject) + 1;
    const taken = state.version(subject, version);
    if (taken !== undefined && !sameSchema(taken.schema, parsed, normalize)) {
      throw Errors.idConflict(`Overwrite new schema with version ${version} of subject '${subject}' is not permitted.`);
    }
    const records: TopicRecord[] = [schemaRecord({ subject, version, id, schema: holder ?? parsed.canonical, deleted: false })];
    // An imported id above every id seen so far must stay taken after deletes, like any other.
    if (id > state.maxId()) records.push({ key: { keytype: 'ID_WATERMARK' }, value: { maxId: id } });
    return { records, result: { id }, audit: auditEvent(actor, 'schema.register', subject, 'ok', { id, version, normalize, mode: 'IMPORT' }) };
  }

  /** Is this schema registered under the subject? (POST /subjects/{subject}) */
  async lookup(subject: string, body: unknown, includeDeleted: boolean, normalize: boolean): Promise<SubjectVersion> {
    const parsed = this.parseRequestSchema(body, normalize);
    return this.readOrCatchUp(() => {
      const versions = this.state.versions(subject, includeDeleted);
      if (versions.length === 0) throw Errors.subjectNotFound(subject);
      const match = versions.filter((v) => sameSchema(v.schema, parsed, normalize)).at(-1);
      if (match === undefined) throw Errors.schemaNotFound(`Schema not found under subject '${subject}'`);
      return view(match);
    });
  }

  async deleteSubject(subject: string, permanent: boolean, actor: Actor): Promise<number[]> {
    return this.store.write((state) => {
      this.assertWritable(subject, effectiveMode(state, subject));
      const all = state.versions(subject, true);
      if (all.length === 0) throw Errors.subjectNotFound(subject);
      const live = all.filter((v) => !v.deleted);
      if (!permanent) {
        if (live.length === 0) throw Errors.subjectSoftDeleted(subject);
        const records: TopicRecord[] = live.map((v) => schemaRecord({ ...v, deleted: true }));
        // Confluent drops a deleted subject's own config too.
        if (state.subjectLevel(subject) !== undefined) records.push({ key: { keytype: 'CONFIG', subject }, value: null });
        const versions = live.map((v) => v.version);
        return { records, result: versions, audit: auditEvent(actor, 'schema.delete', subject, 'ok', { versions, permanent }) };
      }
      if (live.length > 0) throw Errors.subjectNotSoftDeleted(subject);
      const versions = all.map((v) => v.version);
      return {
        records: [...all.map((v) => tombstone(v)), idWatermark(state)],
        result: versions,
        audit: auditEvent(actor, 'schema.delete', subject, 'ok', { versions, permanent }),
      };
    });
  }

  async deleteVersion(subject: string, ref: VersionRef, permanent: boolean, actor: Actor): Promise<number> {
    return this.store.write((state) => {
      this.assertWritable(subject, effectiveMode(state, subject));
      const v = this.findVersion(state, subject, ref, permanent);
      const audit = auditEvent(actor, 'schema.delete', subject, 'ok', { versions: [v.version], permanent });
      if (!permanent) {
        if (v.deleted) throw Errors.versionSoftDeleted(subject, v.version);
        return { records: [schemaRecord({ ...v, deleted: true })], result: v.version, audit };
      }
      if (!v.deleted) throw Errors.versionNotSoftDeleted(subject, v.version);
      return { records: [tombstone(v), idWatermark(state)], result: v.version, audit };
    });
  }

  // ---- schemas by id ----

  /** GET /schemas/ids/{id}: Confluent's SchemaString, `schema` and (Confluent 8) `guid`. */
  async schemaById(id: number): Promise<{ schema: string; guid: string }> {
    return this.readOrCatchUp(() => {
      const schema = this.state.schemaOfId(id);
      if (schema === undefined) throw Errors.schemaNotFound(`Schema ${id} not found`);
      return { schema, guid: schemaGuid(schema) };
    });
  }

  /** GET /schemas/guids/{guid} (see schemaGuid). */
  async schemaByGuid(guid: string): Promise<{ schema: string; guid: string }> {
    return this.readOrCatchUp(() => {
      const id = this.idsOfGuid(guid)[0];
      if (id === undefined) throw Errors.schemaNotFound(`Schema ${guid} not found`);
      return { schema: this.state.schemaOfId(id) as string, guid: guid.toLowerCase() };
    });
  }

  /** GET /schemas/guids/{guid}/ids: Confluent's ContextIds, all in the default context. */
  async idsByGuid(guid: string): Promise<{ context: string; id: number }[]> {
    return this.idsOfGuid(guid).map((id) => ({ context: '.', id }));
  }

  private idsOfGuid(guid: string): number[] {
    const wanted = guid.toLowerCase();
    return this.state.ids().filter((id) => schemaGuid(this.state.schemaOfId(id) as string) === wanted);
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

  /**
   * PUT /config and PUT /config/{subject}; `subject` null is the global level. `firstOnly` (a
   * caller with the write role, not admin): only a subject without a level of its own may get one,
   * and not NONE — what a producer's first registration does, and nothing that loosens a check.
   */
  async setConfig(
    subject: string | null,
    body: unknown,
    actor: Actor,
    firstOnly = false,
  ): Promise<{ compatibility: CompatibilityLevel }> {
    const requested =
      body !== null && typeof body === 'object'
        ? ((body as { compatibility?: unknown; compatibilityLevel?: unknown }).compatibility ??
          (body as { compatibilityLevel?: unknown }).compatibilityLevel)
        : undefined;
    const level = parseCompatibilityLevel(requested);
    if (level === undefined) throw Errors.invalidCompatibilityLevel(requested);
    return this.store.write((state) => {
      // Confluent refuses config changes too while the subject (or, for the global level, the registry) is read-only.
      this.assertWritable(subject ?? '(global)', subject === null ? (state.globalMode() ?? 'READWRITE') : effectiveMode(state, subject));
      const current = subject === null ? state.globalLevel() : state.subjectLevel(subject);
      if (firstOnly && (subject === null || (current !== undefined && current !== level) || level === 'NONE')) {
        throw Errors.forbidden(actor.principal, 'admin');
      }
      const records: TopicRecord[] =
        current === level ? [] : [{ key: { keytype: 'CONFIG', subject }, value: { compatibilityLevel: level } }];
      const audit = auditEvent(actor, 'config.update', subject ?? '(global)', 'ok', { compatibility: level, previous: current ?? null });
      return { records, result: { compatibility: level }, audit };
    });
  }

  /** DELETE /config and DELETE /config/{subject}: back to the global level / the default. */
  async deleteConfig(subject: string | null, actor: Actor): Promise<{ compatibilityLevel: CompatibilityLevel }> {
    return this.store.write((state) => {
      // Confluent refuses config changes too while the subject (or, for the global level, the registry) is read-only.
      this.assertWritable(subject ?? '(global)', subject === null ? (state.globalMode() ?? 'READWRITE') : effectiveMode(state, subject));
      const current = subject === null ? state.globalLevel() : state.subjectLevel(subject);
      if (current === undefined) {
        if (subject !== null) throw Errors.subjectConfigNotFound(subject);
        return { records: [], result: { compatibilityLevel: DEFAULT_COMPATIBILITY } };
      }
      return {
        records: [{ key: { keytype: 'CONFIG', subject }, value: null }],
        result: { compatibilityLevel: current },
        audit: auditEvent(actor, 'config.delete', subject ?? '(global)', 'ok', { previous: current }),
      };
    });
  }

  // ---- mode ----

  globalMode(): { mode: Mode } {
    return { mode: this.state.globalMode() ?? 'READWRITE' };
  }

  async subjectMode(subject: string, defaultToGlobal: boolean): Promise<{ mode: Mode }> {
    if (defaultToGlobal) return { mode: effectiveMode(this.state, subject) };
    return this.readOrCatchUp(() => {
      const mode = this.state.subjectMode(subject);
      if (mode === undefined) throw Errors.subjectModeNotFound(subject);
      return { mode };
    });
  }

  /**
   * PUT /mode and PUT /mode/{subject}. IMPORT is only for an empty registry (or subject), as in
   * Confluent, unless `force`: imported ids must not collide with ids handed out here.
   */
  async setMode(subject: string | null, body: unknown, force: boolean, actor: Actor): Promise<{ mode: Mode }> {
    const requested = body !== null && typeof body === 'object' ? (body as { mode?: unknown }).mode : undefined;
    const mode = MODES.find((m) => typeof requested === 'string' && m === requested.toUpperCase());
    if (mode === undefined) throw Errors.invalidMode(requested);
    return this.store.write((state) => {
      if (mode === 'IMPORT' && !force) {
        const nonEmpty = subject === null ? state.subjectNames(true).length > 0 : state.hasSubject(subject);
        if (nonEmpty) {
          throw Errors.operationNotPermitted(
            `Cannot import since found existing subjects${subject === null ? '' : ` ('${subject}')`}; use force=true to override`,
          );
        }
      }
      const current = subject === null ? state.globalMode() : state.subjectMode(subject);
      const records: TopicRecord[] = current === mode ? [] : [{ key: { keytype: 'MODE', subject }, value: { mode } }];
      const audit = auditEvent(actor, 'mode.update', subject ?? '(global)', 'ok', { mode, previous: current ?? null, force });
      return { records, result: { mode }, audit };
    });
  }

  /**
   * DELETE /mode/{subject} (back to the global mode) and DELETE /mode (`subject` null: back to
   * READWRITE); answers the mode it had. Without one: 40401, as Confluent's ModeResource answers.
   */
  async deleteMode(subject: string | null, actor: Actor): Promise<{ mode: Mode }> {
    return this.store.write((state) => {
      const current = subject === null ? state.globalMode() : state.subjectMode(subject);
      if (current === undefined) throw Errors.subjectNotFound(subject ?? '');
      return {
        records: [{ key: { keytype: 'MODE', subject }, value: null }],
        result: { mode: current },
        audit: auditEvent(actor, 'mode.delete', subject ?? '(global)', 'ok', { previous: current }),
      };
    });
  }

  // ---- helpers ----

  private assertWritable(subject: string, mode: Mode): void {
    if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') throw Errors.operationNotPermitted(readOnlyMessage(subject));
  }

  private parseRegisterRequest(body: unknown, normalize: boolean): { parsed: ParsedSchema; id?: number; version?: number } {
    const parsed = this.parseRequestSchema(body, normalize);
    const req = body as { id?: number | null; version?: number | null };
    return { parsed, id: req.id ?? undefined, version: req.version ?? undefined };
  }

  private parseRequestSchema(body: unknown, normalize = false): ParsedSchema {
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
    return parseAvroSchema(req.data.schema, normalize);
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

/** Same schema as a stored one: by Java's printed form, or with normalize by the normalized form. */
function sameSchema(stored: string, parsed: ParsedSchema, normalize: boolean): boolean {
  const forms = schemaForms(stored);
  return normalize ? forms.normal === parsed.normal : forms.form === parsed.form;
}

function readOnlyMessage(subject: string): string {
  return `Subject ${subject} in context . is in read-only mode`;
}

/**
 * Confluent's rule for a registration: nothing in a read-only mode; an explicit id only in IMPORT
 * mode, and in IMPORT mode only with an explicit id (ids there come from the registry imported).
 */
function checkRegisterMode(subject: string, mode: Mode, importId: number | undefined): void {
  if (mode === 'READONLY' || mode === 'READONLY_OVERRIDE') throw Errors.operationNotPermitted(readOnlyMessage(subject));
  if (importId !== undefined && mode !== 'IMPORT') {
    throw Errors.operationNotPermitted(`Subject ${subject} in context . is not in import mode`);
  }
  if (importId === undefined && mode !== 'READWRITE') {
    throw Errors.operationNotPermitted(`Subject ${subject} in context . is not in read-write mode`);
  }
}

function effectiveMode(state: RegistryState, subject: string): Mode {
  return state.subjectMode(subject) ?? state.globalMode() ?? 'READWRITE';
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
