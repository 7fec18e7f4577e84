import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { ENUM_SYMBOLS, EXAMPLES, NAMESPACE, RECORD_FIELDS, SCHEMA_NAMES, SCHEMAS, avroType } from '../../../schemas/index.js';

const schemasDir = fileURLToPath(new URL('../../../schemas/', import.meta.url));

interface NamedNode {
  type: string;
  name?: string;
  fields?: { name: string; type: unknown; doc?: string; default?: unknown }[];
  symbols?: string[];
  items?: unknown;
  values?: unknown;
}

/** Every named record and enum defined anywhere inside a schema, by short name. */
function namedTypes(schema: unknown, out = new Map<string, NamedNode>()): Map<string, NamedNode> {
  if (Array.isArray(schema)) schema.forEach((s) => namedTypes(s, out));
  else if (schema && typeof schema === 'object') {
    const node = schema as NamedNode;
    if ((node.type === 'record' || node.type === 'enum') && node.name) out.set(node.name, node);
    node.fields?.forEach((f) => namedTypes(f.type, out));
    if (node.items) namedTypes(node.items, out);
    if (node.values) namedTypes(node.values, out);
    if (typeof node.type === 'object') namedTypes(node.type, out);
  }
  return out;
}

describe('Avro schemas', () => {
  it('the folder holds exactly one .avsc per schema name', () => {
    const files = readdirSync(schemasDir).filter((f) => f.endsWith('.avsc')).sort();
    expect(files).toEqual(SCHEMA_NAMES.map((n) => `${n}.avsc`).sort());
  });

  it.each(SCHEMA_NAMES)('%s parses, lives in io.riskloop and documents every field', (name) => {
    const type = avroType(name);
    expect(type.name).toBe(`${NAMESPACE}.${name}`);
    for (const node of namedTypes(SCHEMAS[name]).values()) {
      for (const f of node.fields ?? []) {
        expect(f.doc, `${node.name}.${f.name} has no doc`).toMatch(/\S{3,}/);
      }
    }
  });

  it.each(SCHEMA_NAMES)('%s: nullable fields are ["null", T] with default null, timestamps are timestamp-millis longs', (name) => {
    for (const node of namedTypes(SCHEMAS[name]).values()) {
      for (const f of node.fields ?? []) {
        if (Array.isArray(f.type)) {
          expect(f.type[0], `${node.name}.${f.name}`).toBe('null');
          expect(f.type).toHaveLength(2);
          expect(f.default, `${node.name}.${f.name}`).toBeNull();
        }
        if (/(Time|At|Start|End)$/.test(f.name)) {
          expect(f.type, `${node.name}.${f.name}`).toEqual({ type: 'long', logicalType: 'timestamp-millis' });
        }
      }
    }
  });

  it('every record interface lists exactly the fields of its schema, in order', () => {
    const seen = new Set<string>();
    for (const name of SCHEMA_NAMES) {
      for (const [typeName, node] of namedTypes(SCHEMAS[name])) {
        if (node.type !== 'record') continue;
        seen.add(typeName);
        expect(RECORD_FIELDS[typeName], `no field list for ${typeName}`).toBeDefined();
        expect(node.fields!.map((f) => f.name), typeName).toEqual(RECORD_FIELDS[typeName]);
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(RECORD_FIELDS).sort());
  });

  it('every enum union type lists exactly the symbols of its schema, everywhere it is defined', () => {
    const seen = new Set<string>();
    for (const name of SCHEMA_NAMES) {
      for (const [typeName, node] of namedTypes(SCHEMAS[name])) {
        if (node.type !== 'enum') continue;
        seen.add(typeName);
        expect(node.symbols, `${name}: ${typeName}`).toEqual(ENUM_SYMBOLS[typeName]);
      }
    }
    expect([...seen].sort()).toEqual(Object.keys(ENUM_SYMBOLS).sort());
  });

  it.each(SCHEMA_NAMES)('the %s example is valid against its schema, with no undeclared fields, and round-trips', (name) => {
    const type = avroType(name);
    const errors: string[] = [];
    const ok = type.isValid(EXAMPLES[name], { noUndeclaredFields: true, errorHook: (path) => errors.push(path.join('.')) });
    expect(errors).toEqual([]);
    expect(ok).toBe(true);
    expect(type.fromBuffer(type.toBuffer(EXAMPLES[name]))).toEqual(EXAMPLES[name]);
  });

  it('decodes timestamp-millis as a number of epoch milliseconds', () => {
    const t = avroType('Decision');
    const decoded = t.fromBuffer(t.toBuffer(EXAMPLES.Decision)) as { eventTime: unknown };
    expect(typeof decoded.eventTime).toBe('number');
    expect(decoded.eventTime).toBe(EXAMPLES.Decision.eventTime);
  });

  it('no schema past ingress has a pan or clear accountId field', () => {
    const ingress = new Set(['Transaction', 'Chargeback']);
    for (const name of SCHEMA_NAMES) {
      const fields = namedTypes(SCHEMAS[name]).get(name)!.fields!.map((f) => f.name);
      if (ingress.has(name)) continue;
      expect(fields, name).not.toContain('pan');
      expect(fields, name).not.toContain('accountId');
    }
  });

  it('a reader default on an enum lets an old reader read a new symbol', () => {
    const old = avroType('Decision');
    const newer = avsc.Type.forSchema(
      JSON.parse(JSON.stringify(SCHEMAS.Decision).replace('"APPROVE","REVIEW","DECLINE"', '"APPROVE","REVIEW","DECLINE","STEP_UP"')),
    );
    const bytes = newer.toBuffer({ ...EXAMPLES.Decision, decision: 'STEP_UP' });
    expect((old.fromBuffer(bytes, old.createResolver(newer)) as { decision: string }).decision).toBe('REVIEW');
  });
});
