/**
 * Parsing of Avro schemas, and the two forms the registry compares them in.
 *
 * "The same schema" is decided as Confluent decides it: by the parsed schema, not by the text
 * (Confluent's AvroSchema.equals: Java Avro's Schema.equals plus docs and aliases). So attribute
 * order, whitespace, `{"type":"string"}` for `"string"`, a namespace repeated from the enclosing
 * type, the order of custom properties and of aliases do not make a new version — a Java
 * `KafkaAvroSerializer` registers the schema as Java's `Schema.toString()` prints it and must get
 * the id a TypeScript producer got for the same schema.
 *
 *  - `form`: the comparison key — the schema printed as Java prints it (record: type, name,
 *    namespace, doc, fields; field: name, type, doc, default), a namespace only where it differs
 *    from the enclosing one, references relative to it, custom properties sorted, aliases
 *    qualified and sorted (Java compares both as sets). Defaults, docs and properties stay: two
 *    schemas differing in a default must not share an id, because the default changes how data is read.
 *  - `normal` (`?normalize=true`): Confluent's normalized string (AvroSchemaUtils.toNormalizedString,
 *    adapted from Avro's SchemaNormalization): full names and no namespace attribute, name before
 *    type, field `order` always written, docs, sorted aliases, enum default, sorted properties. It
 *    is the key of normalized lookups and what a normalized registration stores.
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
    forms = { form: JSON.stringify(printType(json, '')), normal: JSON.stringify(printNormal(json, '')) };
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
function reference(name: string, enclosing: string): string {
  const full = fullName(name, enclosing);
  return namespaceOf(full) === enclosing ? shortName(full) : full;
}

/** Custom properties, sorted by name: Java keeps them in a map and compares them as one. */
function props(o: Record<string, unknown>): [string, unknown][] {
  return Object.entries(o)
    .filter(([k]) => !RESERVED.has(k))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Aliases as Java holds them: a set of full names (field aliases are not qualified). */
function aliases(o: Record<string, unknown>, namespace: string | undefined): string[] | undefined {
  if (!Array.isArray(o.aliases) || o.aliases.length === 0) return undefined;
  const names = (o.aliases as unknown[]).map(String);
  return [...new Set(namespace === undefined ? names : names.map((a) => fullName(a, namespace)))].sort();
}

/** Confluent's normalized string of a schema (see the top of this file). */
function printNormal(t: unknown, enclosing: string): unknown {
  if (typeof t === 'string') return PRIMITIVES.has(t) ? t : fullName(t, enclosing);
  if (Array.isArray(t)) return t.map((b) => printNormal(b, enclosing));
  if (t === null || typeof t !== 'object') return t;
  const o = t as Record<string, unknown>;
  const type = o.type;
  if (typeof type !== 'string') return printNormal(type, enclosing);
  const out: Record<string, unknown> = {};
  const logical = (): void => {
    if (typeof o.logicalType !== 'string') return;
    out.logicalType = o.logicalType;
    if (o.logicalType === 'decimal') {
      out.precision = o.precision;
      if (o.scale !== undefined && o.scale !== 0) out.scale = o.scale;
    }
  };
  const simple = (): void => {
    for (const [k, v] of props(o)) if (!(k in out) && !(o.logicalType === 'decimal' && (k === 'precision' || k === 'scale'))) out[k] = v;
  };
  if (NAMED.has(type)) {
    const full = fullName(String(o.name), typeof o.namespace === 'string' ? o.namespace : enclosing);
    const own = namespaceOf(full);
    out.name = full;
    out.type = type;
    if (type === 'enum') out.symbols = o.symbols;
    else if (type === 'fixed') out.size = o.size;
    else {
      out.fields = (Array.isArray(o.fields) ? (o.fields as Record<string, unknown>[]) : []).map((f) => {
        const field: Record<string, unknown> = { name: f.name, type: printNormal(f.type, own) };
        field.order = typeof f.order === 'string' ? f.order : 'ascending';
        if (f.doc !== undefined) field.doc = f.doc;
        const a = aliases(f, undefined);
        if (a !== undefined) field.aliases = a;
        if (f.default !== undefined) field.default = f.default;
        for (const [k, v] of props(f)) field[k] = v;
        return field;
      });
    }
    logical();
    if (typeof o.doc === 'string' && o.doc !== '') out.doc = o.doc;
    const a = aliases(o, own);
    if (a !== undefined) out.aliases = a;
    if (type === 'enum' && o.default !== undefined) out.default = o.default;
    simple();
    return out;
  }
  if (type === 'array' || type === 'map') {
    out.type = type;
    if (type === 'array') out.items = printNormal(o.items, enclosing);
    else out.values = printNormal(o.values, enclosing);
    logical();
    simple();
    return out;
  }
  if (props(o).length === 0) return printNormal(type, enclosing);
  out.type = PRIMITIVES.has(type) ? type : fullName(type, enclosing);
  logical();
  simple();
  return out;
}

/** The comparison key of a schema (see the top of this file). */
function printType(t: unknown, enclosing: string): unknown {
  if (typeof t === 'string') return PRIMITIVES.has(t) ? t : reference(t, enclosing);
  if (Array.isArray(t)) return t.map((b) => printType(b, enclosing));
  if (t === null || typeof t !== 'object') return t;
  const o = t as Record<string, unknown>;
  const type = o.type;
  if (typeof type !== 'string') return printType(type, enclosing);
  const out: Record<string, unknown> = {};
  if (NAMED.has(type)) {
    const ns = typeof o.namespace === 'string' ? o.namespace : enclosing;
    const full = fullName(String(o.name), ns);
    const own = namespaceOf(full);
    out.type = type;
    out.name = shortName(full);
    if (own !== enclosing) out.namespace = own;
    if (o.doc !== undefined) out.doc = o.doc;
    if (type === 'enum') {
      out.symbols = o.symbols;
      if (o.default !== undefined) out.default = o.default;
    } else if (type === 'fixed') {
      out.size = o.size;
    } else {
      out.fields = (Array.isArray(o.fields) ? (o.fields as Record<string, unknown>[]) : []).map((f) => {
        const field: Record<string, unknown> = { name: f.name, type: printType(f.type, own) };
        if (f.doc !== undefined) field.doc = f.doc;
        if (f.default !== undefined) field.default = f.default;
        if (f.order !== undefined && f.order !== 'ascending') field.order = f.order;
        for (const [k, v] of props(f)) field[k] = v;
        const a = aliases(f, undefined);
        if (a !== undefined) field.aliases = a;
        return field;
      });
    }
    for (const [k, v] of props(o)) out[k] = v;
    const a = aliases(o, own);
    if (a !== undefined) out.aliases = a;
    return out;
  }
  if (type === 'array' || type === 'map') {
    out.type = type;
    if (type === 'array') out.items = printType(o.items, enclosing);
    else out.values = printType(o.values, enclosing);
    for (const [k, v] of props(o)) out[k] = v;
    return out;
  }
  // A primitive, or a reference written as {"type": "Name"}: without properties Java prints the bare name.
  const p = props(o);
  if (p.length === 0) return printType(type, enclosing);
  out.type = PRIMITIVES.has(type) ? type : reference(type, enclosing);
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
