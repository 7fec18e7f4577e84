/**
 * The records of the `_schemas` topic, in Confluent's JSON layout, so that the topic reads the same
 * to anyone who knows Confluent's (and a topic written by Confluent's registry replays here).
 *
 * The key decides what compaction keeps: the last record per key. So every fact that must survive
 * compaction has its own key (one per subject version, one per subject config), and a change is a
 * new record under the same key, never an edit. Keys are serialised with a fixed field order:
 * `{"subject":"a","keytype":...}` and `{"keytype":...,"subject":"a"}` would be two keys to Kafka.
 */
import { z } from 'zod';
import { type CompatibilityLevel, COMPATIBILITY_LEVELS } from './compatibility.js';

export type RecordKey =
  | { keytype: 'SCHEMA'; subject: string; version: number }
  | { keytype: 'CONFIG'; subject: string | null }
  | { keytype: 'DELETE_SUBJECT'; subject: string }
  | { keytype: 'NOOP' }
  /** Confluent's mode of the registry (subject null) or of one subject. */
  | { keytype: 'MODE'; subject: string | null }
  /**
   * riskloop's own: the highest id ever handed out. Only written with permanent deletes, whose
   * tombstones would otherwise let compaction forget the highest id and so hand it out again.
   */
  | { keytype: 'ID_WATERMARK' };

export interface SchemaValue {
  subject: string;
  version: number;
  id: number;
  schema: string;
  deleted: boolean;
}

export interface ConfigValue {
  compatibilityLevel: CompatibilityLevel;
}

export const MODES = ['READWRITE', 'READONLY', 'READONLY_OVERRIDE', 'IMPORT'] as const;
export type Mode = (typeof MODES)[number];

export interface ModeValue {
  mode: Mode;
}

export interface DeleteSubjectValue {
  subject: string;
  /** Every version up to and including this one is soft-deleted. */
  version: number;
}

export interface IdWatermarkValue {
  maxId: number;
}

/** A decoded record; `value: null` is a tombstone (the key's fact is gone). */
export type TopicRecord =
  | { key: Extract<RecordKey, { keytype: 'SCHEMA' }>; value: SchemaValue | null }
  | { key: Extract<RecordKey, { keytype: 'CONFIG' }>; value: ConfigValue | null }
  | { key: Extract<RecordKey, { keytype: 'DELETE_SUBJECT' }>; value: DeleteSubjectValue | null }
  | { key: Extract<RecordKey, { keytype: 'NOOP' }>; value: null }
  | { key: Extract<RecordKey, { keytype: 'MODE' }>; value: ModeValue | null }
  | { key: Extract<RecordKey, { keytype: 'ID_WATERMARK' }>; value: IdWatermarkValue | null };

export function encodeKey(key: RecordKey): Buffer {
  // Literal objects with Confluent's field order; `magic` is Confluent's key format version.
  switch (key.keytype) {
    case 'SCHEMA':
      return json({ keytype: 'SCHEMA', subject: key.subject, version: key.version, magic: 1 });
    case 'CONFIG':
      return json({ keytype: 'CONFIG', subject: key.subject, magic: 0 });
    case 'DELETE_SUBJECT':
      return json({ keytype: 'DELETE_SUBJECT', subject: key.subject, magic: 0 });
    case 'NOOP':
      return json({ keytype: 'NOOP', magic: 0 });
    case 'MODE':
      return json({ keytype: 'MODE', subject: key.subject, magic: 0 });
    case 'ID_WATERMARK':
      return json({ keytype: 'ID_WATERMARK', magic: 0 });
  }
}

export function encodeValue(record: TopicRecord): Buffer | null {
  const v = record.value;
  if (v === null) return null;
  if (record.key.keytype === 'SCHEMA') {
    const s = v as SchemaValue;
    // Confluent omits schemaType for AVRO, the only type riskloop stores.
    return json({ subject: s.subject, version: s.version, id: s.id, schema: s.schema, deleted: s.deleted });
  }
  return json(v);
}

const KeySchema = z.discriminatedUnion('keytype', [
  z.object({ keytype: z.literal('SCHEMA'), subject: z.string(), version: z.number().int().positive() }),
  z.object({ keytype: z.literal('CONFIG'), subject: z.string().nullable().default(null) }),
  z.object({ keytype: z.literal('DELETE_SUBJECT'), subject: z.string() }),
  z.object({ keytype: z.literal('NOOP') }),
  z.object({ keytype: z.literal('MODE'), subject: z.string().nullable().default(null) }),
  z.object({ keytype: z.literal('ID_WATERMARK') }),
]);

const SchemaValueSchema = z.object({
  subject: z.string(),
  version: z.number().int().positive(),
  id: z.number().int().positive(),
  schema: z.string(),
  deleted: z.boolean().default(false),
  schemaType: z.string().optional(),
});

const ConfigValueSchema = z.object({
  // Confluent writes `compatibilityLevel`; accept `compatibility` too for hand-written records.
  compatibilityLevel: z.enum(COMPATIBILITY_LEVELS).optional(),
  compatibility: z.enum(COMPATIBILITY_LEVELS).optional(),
});

const ModeValueSchema = z.object({ mode: z.enum(MODES) });
const DeleteSubjectValueSchema = z.object({ subject: z.string(), version: z.number().int().positive() });
const IdWatermarkValueSchema = z.object({ maxId: z.number().int().nonnegative() });

/**
 * Decodes one record of the topic. Returns `undefined` for records this registry does not model
 * (non-Avro schemas, foreign data): they are skipped, with the reason.
 */
export function decodeRecord(
  key: Buffer | null,
  value: Buffer | null,
): { record: TopicRecord } | { skipped: string } {
  if (key === null) return { skipped: 'record without key' };
  const k = KeySchema.safeParse(parseJson(key));
  if (!k.success) return { skipped: `unknown key ${key.toString('utf8').slice(0, 200)}` };
  const raw = value === null ? null : parseJson(value);
  if (value !== null && raw === undefined) return { skipped: 'value is not JSON' };
  switch (k.data.keytype) {
    case 'SCHEMA': {
      if (raw === null) return { record: { key: k.data, value: null } };
      const v = SchemaValueSchema.safeParse(raw);
      if (!v.success) return { skipped: `malformed SCHEMA value: ${v.error.message}` };
      if (v.data.schemaType !== undefined && v.data.schemaType !== 'AVRO') {
        return { skipped: `schemaType ${v.data.schemaType} is not supported` };
      }
      const { schemaType: _ignored, ...schemaValue } = v.data;
      return { record: { key: k.data, value: schemaValue } };
    }
    case 'CONFIG': {
      if (raw === null) return { record: { key: k.data, value: null } };
      const v = ConfigValueSchema.safeParse(raw);
      const level = v.success ? (v.data.compatibilityLevel ?? v.data.compatibility) : undefined;
      if (level === undefined) return { skipped: 'CONFIG value without a known compatibility level' };
      return { record: { key: k.data, value: { compatibilityLevel: level } } };
    }
    case 'DELETE_SUBJECT': {
      if (raw === null) return { record: { key: k.data, value: null } };
      const v = DeleteSubjectValueSchema.safeParse(raw);
      if (!v.success) return { skipped: `malformed DELETE_SUBJECT value: ${v.error.message}` };
      return { record: { key: k.data, value: v.data } };
    }
    case 'NOOP':
      return { record: { key: k.data, value: null } };
    case 'MODE': {
      if (raw === null) return { record: { key: k.data, value: null } };
      const v = ModeValueSchema.safeParse(raw);
      if (!v.success) return { skipped: `malformed MODE value: ${v.error.message}` };
      return { record: { key: k.data, value: v.data } };
    }
    case 'ID_WATERMARK': {
      if (raw === null) return { record: { key: k.data, value: null } };
      const v = IdWatermarkValueSchema.safeParse(raw);
      if (!v.success) return { skipped: `malformed ID_WATERMARK value: ${v.error.message}` };
      return { record: { key: k.data, value: v.data } };
    }
  }
}

function json(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

function parseJson(b: Buffer): unknown {
  try {
    return JSON.parse(b.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
