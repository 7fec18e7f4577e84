import { describe, expect, it } from 'vitest';
import {
  AvroSerde,
  EXAMPLES,
  SCHEMAS,
  SerdeError,
  avroType,
  buildCatalogue,
  buildDeadLetter,
  maskPans,
  redactorFor,
  type SchemaRegistryClient,
  type Transaction,
} from '../../../schemas/index.js';

const PAN = EXAMPLES.Transaction.pan; // 4111111111111111

describe('maskPans', () => {
  it('keeps BIN and last 4 and masks the middle, preserving length', () => {
    const { bytes, masked } = maskPans(Buffer.from(`card ${PAN} ok`));
    expect(masked).toBe(true);
    expect(bytes.toString()).toBe('card 411111******1111 ok');
  });

  it('masks grouped card numbers and leaves short digit runs alone', () => {
    expect(maskPans(Buffer.from('5500-0000-0000-0004 / 5500 0000 0000 0004')).bytes.toString()).toBe(
      '5500-00**-****-0004 / 5500 00** **** 0004',
    );
    const short = Buffer.from('amount 12999, mcc 5812, 2024-06-14 18:42');
    expect(maskPans(short)).toEqual({ bytes: short, masked: false });
  });

  it('never modifies its input', () => {
    const input = Buffer.from(PAN);
    maskPans(input);
    expect(input.toString()).toBe(PAN);
  });

  it('masks an Avro-encoded Transaction so that it still decodes, with the PAN replaced', () => {
    const type = avroType('Transaction');
    const masked = maskPans(type.toBuffer(EXAMPLES.Transaction)).bytes;
    expect(masked.includes(Buffer.from(PAN))).toBe(false);
    const decoded = type.fromBuffer(masked) as Transaction;
    expect(decoded.pan).toBe('411111******1111');
    expect({ ...decoded, pan: PAN }).toEqual(EXAMPLES.Transaction);
  });
});

describe('buildDeadLetter', () => {
  const registry: SchemaRegistryClient = {
    register: async () => ({ id: 42 }),
    getSchema: async () => {
      throw Object.assign(new Error('nope'), { status: 404 });
    },
  };

  it('records position, error class and SerdeError reason, and passes bytes through by default', () => {
    const value = Buffer.from([1, 2, 3]);
    const dl = buildDeadLetter({
      sourceTopic: 'riskloop.decisions',
      partition: 2,
      offset: '77',
      key: Buffer.from('acct'),
      value,
      headers: { trace: Buffer.from('abc'), multi: ['a', Buffer.from('b')], gone: undefined },
      processor: 'label-joiner',
      error: new SerdeError('BAD_MAGIC', 'payload starts with byte 1'),
      failedAt: 1000,
    });
    expect(dl).toEqual({
      sourceTopic: 'riskloop.decisions',
      partition: 2,
      offset: 77,
      key: Buffer.from('acct'),
      value,
      redacted: false,
      headers: { trace: 'abc', multi: 'a,b' },
      processor: 'label-joiner',
      errorClass: 'SerdeError',
      reason: 'BAD_MAGIC',
      message: 'payload starts with byte 1',
      failedAt: 1000,
      reduced: null,
    });
    expect(avroType('DeadLetter').isValid(dl, { noUndeclaredFields: true })).toBe(true);
  });

  it('a reduced dead letter drops key, value and headers, keeps the description, and stays small in Avro', () => {
    const big = Buffer.alloc(1_048_400, 0x41);
    big.write(`{"pan":"${PAN}","account":"ACC-0042-7781"}`, 0);
    const reduced = { originalSize: big.length + 4, sha256: 'ab'.repeat(32), excerpt: Buffer.from('{"xxx":"9999999999999999","xxxxxxx":"xxx-9999-9999"}') };
    const dl = buildDeadLetter(
      { sourceTopic: 'riskloop.transactions', partition: 1, offset: 9, key: Buffer.from('ACC-0042-7781'), value: big, headers: { h: 'v' }, processor: 'ingress', error: new Error('too large'), reason: 'RECORD_TOO_LARGE', failedAt: 5, reduced },
      redactorFor({ containsPan: true }),
    );
    expect(dl).toMatchObject({ key: null, value: null, headers: {}, reduced, reason: 'RECORD_TOO_LARGE', sourceTopic: 'riskloop.transactions', partition: 1, offset: 9 });
    const bytes = avroType('DeadLetter').toBuffer(dl);
    expect(bytes.length).toBeLessThan(512);
    expect(bytes.includes(Buffer.from(PAN))).toBe(false);
    expect(bytes.includes(Buffer.from('ACC-0042'))).toBe(false);
    expect(avroType('DeadLetter').fromBuffer(bytes)).toEqual(dl);
  });

  it('uses PROCESSING for other errors unless a reason is given', () => {
    const base = { sourceTopic: 't', partition: 0, offset: 1, key: null, value: null, processor: 'p' };
    expect(buildDeadLetter({ ...base, error: new TypeError('boom') })).toMatchObject({ errorClass: 'TypeError', reason: 'PROCESSING' });
    expect(buildDeadLetter({ ...base, error: 'str', reason: 'RULE_FAILED' })).toMatchObject({ errorClass: 'string', reason: 'RULE_FAILED' });
  });

  it('never lets the PAN of a raw transaction through for a PAN-bearing topic', async () => {
    const catalogue = buildCatalogue();
    const serde = await new AvroSerde<Transaction>({ registry, topic: catalogue.transactions.name, schema: SCHEMAS.Transaction }).init();
    const value = serde.serialize(EXAMPLES.Transaction);
    const dl = buildDeadLetter(
      {
        sourceTopic: catalogue.transactions.name,
        partition: 0,
        offset: 5,
        key: Buffer.from(EXAMPLES.Transaction.accountId),
        value,
        headers: { note: `pan=${PAN}` },
        processor: 'ingress-tokenizer',
        error: new Error(`could not tokenise ${PAN}`),
      },
      redactorFor(catalogue.transactions),
    );
    expect(dl.redacted).toBe(true);
    const everything = Buffer.concat([dl.value!, dl.key!, Buffer.from(JSON.stringify(dl.headers)), Buffer.from(dl.message)]);
    expect(everything.includes(Buffer.from(PAN))).toBe(false);
    // Still decodable with the ingress serde, showing BIN + last 4 only.
    expect(serde.deserialize(dl.value!).pan).toBe('411111******1111');
    expect(redactorFor(catalogue.decisions)).toEqual({});
  });
});

describe('maskPans next to other digits', () => {
  it('masks a grouped PAN directly followed by a contiguous one, keeping each BIN where it can', () => {
    const out = maskPans(Buffer.from('4111 1111 1111 1111 4111111111111111')).bytes.toString();
    expect(out).toBe('4111 11** **** 1111 411111******1111');
  });
});

describe('maskPans on grouped digits', () => {
  it('masks a grouped PAN after a long id, but leaves date-like ids alone', () => {
    expect(maskPans(Buffer.from('order 12345678 4111 1111 1111 1111')).bytes.toString()).toBe('order 12345678 4111 11** **** 1111');
    expect(maskPans(Buffer.from('txn-20240614-000917')).masked).toBe(false);
    expect(maskPans(Buffer.from('amex 3782-822463-10005')).bytes.toString()).toBe('amex 3782-82****-*0005');
  });
});
