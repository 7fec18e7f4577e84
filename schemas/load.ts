/**
 * Loads the .avsc files of this folder. Each file is named after the record it defines
 * (`Transaction.avsc` defines `io.riskloop.Transaction`).
 *
 * Types are built without logical-type hooks on purpose: `timestamp-millis` then decodes to the
 * underlying `long`, a number of epoch milliseconds (see types.ts for why not `Date`), and the types
 * built here behave exactly like those the registry client builds from the same schema text.
 */
import { readFileSync } from 'node:fs';
import avsc from 'avsc';
import type { RecordTypes, SchemaName } from './types.js';

export const NAMESPACE = 'io.riskloop';

/** Every schema of the loop. The `satisfies` clause plus the mapped type below keep it complete. */
export const SCHEMA_NAMES = [
  'Transaction',
  'TokenizedTransaction',
  'KycRecord',
  'DeviceSignal',
  'Chargeback',
  'TokenizedChargeback',
  'AnalystOutcome',
  'ChallengeResult',
  'Decision',
  'TrainingExample',
  'ModelRelease',
  'DeadLetter',
  'Alert',
  'EntityStats',
  'ScreeningHit',
] as const satisfies readonly SchemaName[];

type Missing = Exclude<SchemaName, (typeof SCHEMA_NAMES)[number]>;
// A compile error here means a record in types.ts has no entry in SCHEMA_NAMES.
const complete: [Missing] extends [never] ? true : Missing = true;
void complete;

export interface AvroField {
  name: string;
  doc?: string;
  type: unknown;
  default?: unknown;
}

/** The subset of an Avro record schema the loop relies on; the rest passes through untouched. */
export interface AvroRecordSchema {
  type: 'record';
  name: string;
  namespace?: string;
  doc?: string;
  fields: AvroField[];
}

export function schemaFileUrl(name: string): URL {
  return new URL(`./${name}.avsc`, import.meta.url);
}

function read(name: SchemaName): AvroRecordSchema {
  const parsed = JSON.parse(readFileSync(schemaFileUrl(name), 'utf8')) as AvroRecordSchema;
  if (parsed.type !== 'record' || parsed.name !== name || parsed.namespace !== NAMESPACE) {
    throw new Error(`${name}.avsc must define the record ${NAMESPACE}.${name}`);
  }
  return parsed;
}

/** Parsed schema JSON per record name, read once at import (a dozen small files). */
export const SCHEMAS: { readonly [K in SchemaName]: AvroRecordSchema } = Object.freeze(
  Object.fromEntries(SCHEMA_NAMES.map((n) => [n, read(n)])) as { [K in SchemaName]: AvroRecordSchema },
);

const types = new Map<SchemaName, avsc.Type>();

/** The avsc type of a schema, built once. */
export function avroType(name: SchemaName): avsc.Type {
  let t = types.get(name);
  if (!t) {
    t = avsc.Type.forSchema(SCHEMAS[name] as avsc.schema.RecordType);
    types.set(name, t);
  }
  return t;
}

/** Phantom link from a schema name to its TypeScript record, for typed serde construction. */
export type RecordOf<N extends SchemaName> = RecordTypes[N];
