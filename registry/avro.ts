/**
 * Parsing of Avro schemas, and the two forms the registry compares them in.
 *
 * "The same schema" is decided as Confluent decides it: by the schema as Java Avro prints it after
 * parsing (`Schema.toString()`, Confluent's `AvroSchema.canonicalString()`), not by the text. So
 * attribute order, whitespace, `{"type":"string"}` for `"string"` and a namespace repeated from the
 * enclosing type do not make a new version — a Java `KafkaAvroSerializer` registers the schema in
 * Java's attribute order and must get the id a TypeScript producer got for the same schema.
 *
 *  - `form`: Java's printing — attributes in Java's order (record: type, name, namespace, doc,
 *    fields, other properties, aliases; field: name, type, doc, default, order, properties,
 *    aliases), a namespace printed only where it differs from the enclosing one, references to
 *    named types relative to it. Defaults, docs and properties stay: two schemas differing in a
 *    default must not share an id, because the default changes how data is read.
 *  - `normal` (`?normalize=true`): the form with every name fully qualified, no `namespace`
 *    attribute, properties sorted by name and aliases qualified and sorted — our reading of
 *    Confluent's `AvroSchema.normalize()`; it is what a normalized registration stores.
 *
 * avsc validates (it is the judge of "is this Avro"); the forms are computed on the JSON because
 * avsc's `Type#schema()` drops `logicalType`, docs and enum defaults.
 */
import avro from 'avsc';
import { Errors } from './errors.js';

export interface ParsedSchema {
  /** The text to store: the request's JSON without insignificant whitespace (or `normal`). */
  canonical: string;
  /** Comparison key for plain registrations and lookups. */
  form: string;
  /** Comparison key with `normalize=true`. */
  normal: string;
  type: avro.Type;
}

export function parseAvroSchema(raw: string, normalize = false): ParsedSchema {
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
  const { form, normal } = schemaForms(JSON.stringify(json));
  return { canonical: normalize ? normal : JSON.stringify(unwrapPrimitive(json)), form, normal, type };
}

const formsCache = new Map<string, { form: string; normal: string }>();
/** Bounds the cache of forms of stored schemas; registries hold hundreds, not millions. */
const MAX_CACHED_FORMS = 10_000;

/** Both comparison forms of a schema text that is already known to be valid Avro JSON. */
export function schemaForms(text: string): { form: string; normal: string } {
  const cached = formsCache.get(text);
  if (cached !== undefined) return cached;
  let forms: { form: string; normal: string };
  try {
    const json = JSON.parse(text) as unknown;
    forms = { form: JSON.stringify(printType(json, '', false)), normal: JSON.stringify(printType(json, '', true)) };
  } catch {
    // Only a foreign record in the topic can hold a schema that is not JSON: it is its own form.
    forms = { form: text, normal: text };
  }
  if (formsCache.size >= MAX_CACHED_FORMS) formsCache.clear();
  formsCache.set(text, forms);
  return forms;
}

const NAMED = new Set(['record', 'error', 'enum', 'fixed']);
/** Attributes Java Avro prints in its own places; everything else is a property. */
const RESERVED = new Set([
  'type', 'name', 'namespace', 'doc', 'fields', 'symbols', 'items', 'values', 'size', 'default', 'aliases', 'order',
]);

function fullName(name: string, namespace: string): string {
  return name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;
}

function namespaceOf(full: string): string {
  const dot = full.lastIndexOf('.');
  return dot < 0 ? '' : full.slice(0, dot);
}

function shortName(full: string): string {
  return full.slice(full.lastIndexOf('.') + 1);
}

/** A reference to a named type, as Java prints it: short when it lives in the enclosing namespace. */
function reference(name: string, enclosing: string, normalize: boolean): string {
  const full = fullName(name, enclosing);
  if (normalize) return full;
  return namespaceOf(full) === enclosing ? shortName(full) : full;
}

function props(o: Record<string, unknown>, normalize: boolean): [string, unknown][] {
  const entries = Object.entries(o).filter(([k]) => !RESERVED.has(k));
  return normalize ? entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)) : entries;
}

function aliases(o: Record<string, unknown>, namespace: string, normalize: boolean): string[] | undefined {
  if (!Array.isArray(o.aliases) || o.aliases.length === 0) return undefined;
  const names = (o.aliases as unknown[]).map(String);
  return normalize ? names.map((a) => fullName(a, namespace)).sort() : names;
}

function printType(t: unknown, enclosing: string, normalize: boolean): unknown {
  if (typeof t === 'string') return PRIMITIVES.has(t) ? t : reference(t, enclosing, normalize);
  if (Array.isArray(t)) return t.map((b) => printType(b, enclosing, normalize));
  if (t === null || typeof t !== 'object') return t;
  const o = t as Record<string, unknown>;
  const type = o.type;
  if (typeof type !== 'string') return printType(type, enclosing, normalize);
  const out: Record<string, unknown> = {};
  if (NAMED.has(type)) {
    const ns = typeof o.namespace === 'string' ? o.namespace : enclosing;
    const full = fullName(String(o.name), ns);
    const own = namespaceOf(full);
    out.type = type;
    if (normalize) {
      out.name = full;
    } else {
      out.name = shortName(full);
      if (own !== enclosing) out.namespace = own;
    }
    if (o.doc !== undefined) out.doc = o.doc;
    if (type === 'enum') {
      out.symbols = o.symbols;
      if (o.default !== undefined) out.default = o.default;
    } else if (type === 'fixed') {
      out.size = o.size;
    } else {
      out.fields = (Array.isArray(o.fields) ? (o.fields as Record<string, unknown>[]) : []).map((f) => {
        const field: Record<string, unknown> = { name: f.name, type: printType(f.type, own, normalize) };
        if (f.doc !== undefined) field.doc = f.doc;
        if (f.default !== undefined) field.default = f.default;
        if (f.order !== undefined && f.order !== 'ascending') field.order = f.order;
        for (const [k, v] of props(f, normalize)) field[k] = v;
        const a = aliases(f, '', normalize);
        if (a !== undefined) field.aliases = a;
        return field;
      });
    }
    for (const [k, v] of props(o, normalize)) out[k] = v;
    const a = aliases(o, own, normalize);
    if (a !== undefined) out.aliases = a;
    return out;
  }
  if (type === 'array' || type === 'map') {
    out.type = type;
    if (type === 'array') out.items = printType(o.items, enclosing, normalize);
    else out.values = printType(o.values, enclosing, normalize);
    for (const [k, v] of props(o, normalize)) out[k] = v;
    return out;
  }
  // A primitive, or a reference written as {"type": "Name"}: without properties Java prints the bare name.
  const p = props(o, normalize);
  if (p.length === 0) return printType(type, enclosing, normalize);
  out.type = PRIMITIVES.has(type) ? type : reference(type, enclosing, normalize);
  for (const [k, v] of p) out[k] = v;
  return out;
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
