/**
 * Parsing and canonical form of Avro schemas.
 *
 * The canonical form decides when two registrations are "the same schema" (same id, no new
 * version). It is the schema's JSON without insignificant whitespace, as Confluent compares
 * its normalised string. It is not Avro's Parsing Canonical Form: that drops `default`, `doc`
 * and `aliases`, and two schemas differing in a default must not share an id, because the
 * default changes how data is read. avsc's own `Type#schema()` is no good either: it drops
 * `logicalType` and enum defaults.
 */
import avro from 'avsc';
import { Errors } from './errors.js';

export interface ParsedSchema {
  canonical: string;
  type: avro.Type;
}

export function parseAvroSchema(raw: string): ParsedSchema {
  let json: unknown;
  try {
    json = JSON.parse(raw) as unknown;
  } catch (err) {
    throw Errors.invalidSchema(`Invalid schema: not valid JSON: ${(err as Error).message}`);
  }
  let type: avro.Type;
  try {
    // avsc's Schema type is a union of object shapes; the parsed JSON is checked by avsc itself.
    type = avro.Type.forSchema(json as avro.Schema);
  } catch (err) {
    throw Errors.invalidSchema(`Invalid schema ${truncate(raw)}: ${(err as Error).message}`);
  }
  return { canonical: JSON.stringify(unwrapPrimitive(json)), type };
}

/** `{"type":"string"}` and `"string"` are the same schema; store the short one, as Avro prints it. */
function unwrapPrimitive(json: unknown): unknown {
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const keys = Object.keys(json);
    const t = (json as { type?: unknown }).type;
    if (keys.length === 1 && typeof t === 'string' && PRIMITIVES.has(t)) return t;
  }
  return json;
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

function truncate(s: string): string {
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}
