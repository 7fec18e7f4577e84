/**
 * When two schema texts are "the same schema" for the registry (same id, no new version): as Java
 * Avro prints them after parsing (registry/avro.ts), and with normalize=true by the normalized form.
 */
import { describe, expect, it } from 'vitest';
import { parseAvroSchema } from '../../../registry/avro.js';

const form = (s: unknown) => parseAvroSchema(JSON.stringify(s)).form;
const normal = (s: unknown) => parseAvroSchema(JSON.stringify(s)).normal;

const payment = {
  type: 'record',
  name: 'Payment',
  namespace: 'riskloop.test',
  doc: 'a payment',
  fields: [
    { name: 'id', type: 'string', doc: 'id' },
    { name: 'channel', type: ['null', { type: 'enum', name: 'Channel', symbols: ['ECOM', 'POS'] }], default: null },
    { name: 'at', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
};

function reverse(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(reverse);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(Object.entries(node).reverse().map(([k, v]) => [k, reverse(v)]));
}

describe('registry schema forms', () => {
  it('ignores attribute order and whitespace', () => {
    expect(form(reverse(payment))).toBe(form(payment));
    expect(parseAvroSchema(JSON.stringify(payment, null, 4)).form).toBe(form(payment));
  });

  it('prints attributes in Java Avro’s order', () => {
    expect(Object.keys(JSON.parse(form(reverse(payment))))).toEqual(['type', 'name', 'namespace', 'doc', 'fields']);
    const channel = JSON.parse(form(reverse(payment))).fields[1];
    expect(Object.keys(channel)).toEqual(['name', 'type', 'default']);
  });

  it('treats a namespace repeated from the enclosing type, a full name and a qualified reference as the same', () => {
    const repeated = structuredClone(payment) as typeof payment;
    (repeated.fields[1]!.type as unknown[])[1] = { type: 'enum', name: 'Channel', namespace: 'riskloop.test', symbols: ['ECOM', 'POS'] };
    expect(form(repeated)).toBe(form(payment));
    const { namespace: _ns, ...rest } = payment;
    expect(form({ ...rest, name: 'riskloop.test.Payment' })).toBe(form(payment));
    const twice = { ...payment, fields: [...payment.fields, { name: 'previous', type: ['null', 'riskloop.test.Channel'], default: null }] };
    const twiceShort = { ...payment, fields: [...payment.fields, { name: 'previous', type: ['null', 'Channel'], default: null }] };
    expect(form(twice)).toBe(form(twiceShort));
  });

  it('unwraps {"type": "string"} as Java prints it, but keeps logical types', () => {
    const wrapped = { ...payment, fields: [{ name: 'id', type: { type: 'string' }, doc: 'id' }, ...payment.fields.slice(1)] };
    expect(form(wrapped)).toBe(form(payment));
    expect(form(payment)).toContain('timestamp-millis');
  });

  it('keeps apart schemas that read data differently: another default, another namespace', () => {
    const otherDefault = { ...payment, fields: [...payment.fields, { name: 'n', type: 'int', default: 1 }] };
    const otherDefault2 = { ...payment, fields: [...payment.fields, { name: 'n', type: 'int', default: 2 }] };
    expect(form(otherDefault)).not.toBe(form(otherDefault2));
    expect(form({ ...payment, namespace: 'riskloop.other' })).not.toBe(form(payment));
  });

  it('compares custom properties and aliases as sets, as Java does, without normalize', () => {
    const a = { type: 'record', name: 'R', aliases: ['Old', 'Older'], 'x-owner': 'risk', 'x-pii': false, fields: [{ name: 'a', type: 'int' }] };
    const b = { 'x-pii': false, 'x-owner': 'risk', type: 'record', name: 'R', aliases: ['Older', 'Old'], fields: [{ name: 'a', type: 'int' }] };
    expect(form(a)).toBe(form(b));
    expect(form({ ...a, 'x-owner': 'fraud' })).not.toBe(form(a));
  });

  it('normalize gives Confluent’s normalized string: full name first, field order written, docs and sorted properties', () => {
    const s = {
      type: 'record', namespace: 'a', name: 'P', doc: 'p', 'x-b': 1, 'x-a': 2,
      fields: [{ doc: 'd', type: { type: 'enum', name: 'E', symbols: ['X'], default: 'X' }, name: 'x' }, { name: 'y', type: ['null', 'E'], default: null }],
    };
    expect(normal(s)).toBe(
      '{"name":"a.P","type":"record","fields":[' +
        '{"name":"x","type":{"name":"a.E","type":"enum","symbols":["X"],"default":"X"},"order":"ascending","doc":"d"},' +
        '{"name":"y","type":["null","a.E"],"order":"ascending","default":null}],' +
        '"doc":"p","x-a":2,"x-b":1}',
    );
  });

  it('normalize: qualified names and sorted properties make more texts equal, never fewer', () => {
    const a = { type: 'string', 'x-owner': 'risk', 'x-pii': false };
    const b = { 'x-pii': false, 'x-owner': 'risk', type: 'string' };
    expect(normal(a)).toBe(normal(b));
    expect(normal(reverse(payment))).toBe(normal(payment));
    expect(JSON.parse(normal(payment)).name).toBe('riskloop.test.Payment');
    expect(JSON.parse(normal(payment)).namespace).toBeUndefined();
    expect(normal({ ...payment, namespace: 'riskloop.other' })).not.toBe(normal(payment));
  });
});
