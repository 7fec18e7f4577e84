/**
 * Ingress through the test driver: raw Avro transactions in, RiskContexts keyed by account token
 * out, one masked Avro dead letter per rejected record, and the stream going on after each.
 */
import avsc from 'avsc';
import { afterEach, describe, expect, it } from 'vitest';
import { INGRESS_PAN_SCRUBBED, IngressRejection, ingressProcessor, tokenizeChargeback } from '../../../processors/ingress.js';
import { Tokenizer } from '../../../processors/tokenizer.js';
import type { RiskContext } from '../../../processors/types.js';
import { AvroSerde, EXAMPLES, SCHEMAS, type SchemaRegistryClient } from '../../../schemas/index.js';
import type { Chargeback, DeadLetter, Transaction } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';

/** Ids by schema text, like a registry. */
class InProcessRegistry implements SchemaRegistryClient {
  private readonly ids = new Map<string, number>();
  private readonly schemas = new Map<number, unknown>();

  async register(schema: { schema: string }): Promise<{ id: number }> {
    let id = this.ids.get(schema.schema);
    if (id === undefined) {
      id = 1 + this.ids.size;
      this.ids.set(schema.schema, id);
      this.schemas.set(id, avsc.Type.forSchema(JSON.parse(schema.schema)));
    }
    return { id };
  }

  async getSchema(id: number): Promise<unknown> {
    const s = this.schemas.get(id);
    if (!s) throw Object.assign(new Error('Schema not found'), { status: 404 });
    return s;
  }
}

const DAY = 86_400_000;
const PAN = '5105105105105100';
const ACCOUNT = 'ACC-0042-7781';
const T0 = Date.UTC(2024, 5, 14, 18, 42, 7, 311);
const WALL = Date.UTC(2024, 5, 14, 18, 45, 0, 0);

const tokenizer = new Tokenizer({
  accountTokenKey: 'aa'.repeat(32),
  cardKeys: [{ id: 'k2024', key: Buffer.alloc(32, 1).toString('base64') }],
  currentCardKeyId: 'k2024',
});
const TOKEN = tokenizer.accountToken(ACCOUNT);

function txn(over: Partial<Transaction> = {}): Transaction {
  return { ...EXAMPLES.Transaction, accountId: ACCOUNT, pan: PAN, eventTime: T0, ...over };
}

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

async function setup(ingressConfig: Parameters<typeof ingressProcessor>[0] = {}) {
  const registry = new InProcessRegistry();
  const rawSerde = await new AvroSerde<Transaction>({ registry, topic: 'raw-transactions', schema: SCHEMAS.Transaction }).init();
  const deadLetterSerde = await new AvroSerde<DeadLetter>({ registry, topic: 'dead-letters', schema: SCHEMAS.DeadLetter }).init();
  const topology = new Topology({ applicationId: 'ingress-test' })
    .addSource('raw', 'raw-transactions', { keySerde: Serdes.String, valueSerde: rawSerde })
    .addProcessor('ingress', ingressProcessor(ingressConfig, { tokenizer, encodeOriginal: (v) => rawSerde.serialize(v) }), 'raw')
    .addSink('hot-path', 'risk', { keySerde: Serdes.String, valueSerde: Serdes.Json<RiskContext>() }, 'ingress')
    .addSink('ingress-dead-letters', 'dead-letters', { keySerde: Serdes.String, valueSerde: deadLetterSerde }, 'ingress');
  driver = await TopologyTestDriver.create(topology, { initialWallClockTimeMs: WALL });
  return {
    d: driver,
    rawSerde,
    input: driver.createInputTopic('raw-transactions', Serdes.String, rawSerde),
    out: driver.createOutputTopic('risk', Serdes.String, Serdes.Json<RiskContext>()),
    dead: driver.createOutputTopic('dead-letters', Serdes.String, deadLetterSerde),
  };
}

describe('ingress', () => {
  it('tokenizes a valid transaction into a RiskContext keyed by the account token, at event time', async () => {
    const { input, out, dead } = await setup();
    await input.pipeInput(TOKEN, txn(), T0 + 35);
    const [r] = out.readRecordsToList();
    expect(dead.isEmpty()).toBe(true);
    expect(r!.key).toBe(TOKEN);
    expect(r!.timestamp).toBe(T0);
    const risk = r!.value!;
    expect(risk.ingressAt).toBe(WALL);
    expect(risk.features).toEqual({});
    expect(risk.reasonCodes).toEqual([]);
    expect(risk.txn).toEqual({
      ...EXAMPLES.TokenizedTransaction,
      eventTime: T0,
      ingestedAt: WALL,
      accountToken: TOKEN,
      cardToken: tokenizer.cardToken(PAN).token,
      tokenKeyId: 'k2024',
      bin: '510510',
      last4: '5100',
    });
    expect(JSON.stringify(risk)).not.toContain(PAN);
    expect(JSON.stringify(risk)).not.toContain(ACCOUNT);
  });

  it('dead-letters one record per reason, masked, and goes on with the stream', async () => {
    const { d, input, out, dead, rawSerde } = await setup();
    const recordTs = T0 + 35;
    const bad: [string, string, Transaction][] = [
      ['INVALID_PAN_LUHN', TOKEN, txn({ transactionId: 'bad-luhn', pan: '5105105105105101' })],
      ['INVALID_PAN_LENGTH', TOKEN, txn({ transactionId: 'bad-length', pan: '51051051051' })],
      ['INVALID_CURRENCY', TOKEN, txn({ transactionId: 'bad-currency', currency: 'XYZ' })],
      ['INVALID_AMOUNT', TOKEN, txn({ transactionId: 'bad-amount', amountMinor: 0 })],
      // 30 days + 1 ms before the record timestamp: just out (the bound itself is tested below).
      ['EVENT_TIME_OUT_OF_RANGE', TOKEN, txn({ transactionId: 'bad-time', eventTime: recordTs - 30 * DAY - 1 })],
      // Keyed by the clear account id, the classic producer mistake.
      ['ACCOUNT_TOKEN_MISMATCH', ACCOUNT, txn({ transactionId: 'bad-key' })],
    ];
    let offset = 0;
    const expectedOffsets: number[] = [];
    for (const [, key, value] of bad) {
      await input.pipeInput(TOKEN, txn({ transactionId: `good-before-${value.transactionId}` }), recordTs);
      expectedOffsets.push(++offset);
      await input.pipeInput(key, value, recordTs);
      offset++;
    }
    await input.pipeInput(TOKEN, txn({ transactionId: 'good-last' }), recordTs);

    const good = out.readValuesToList().map((r) => r!.txn.transactionId);
    expect(good).toEqual([...bad.map(([, , v]) => `good-before-${v.transactionId}`), 'good-last']);

    const letters = dead.readRecordsToList();
    expect(letters.map((l) => l.value!.reason)).toEqual(bad.map(([reason]) => reason));
    for (const [i, letter] of letters.entries()) {
      const dl = letter.value!;
      const [reason, , original] = bad[i]!;
      expect(letter.key).toBe(`raw-transactions/0/${expectedOffsets[i]}`);
      expect(dl).toMatchObject({
        sourceTopic: 'raw-transactions',
        partition: 0,
        offset: expectedOffsets[i],
        processor: 'ingress',
        errorClass: 'IngressRejection',
        redacted: true,
        failedAt: WALL,
      });
      expect(dl.message).toBe(`rejected at ingress: ${reason}`);
      // The original, decodable, with the PAN cut to BIN + last 4 and the account id tokenized.
      const kept = rawSerde.deserialize(dl.value!);
      const maskedPan = original.pan.length > 10 ? original.pan.slice(0, 6) + '*'.repeat(original.pan.length - 10) + original.pan.slice(-4) : '*'.repeat(original.pan.length);
      expect(kept).toEqual({ ...original, pan: maskedPan, accountId: TOKEN });
      expect(dl.key!.toString()).toBe(TOKEN);
    }
    expect(d.metrics().deadLetters).toBe(0); // handled by ingress itself, not by the task's error handler
  });

  it('accepts event times on the configured bounds and rejects one millisecond beyond', async () => {
    const { input, out, dead } = await setup({ maxPastMs: 10_000, maxFutureMs: 1_000 });
    const ts = T0;
    await input.pipeInput(TOKEN, txn({ transactionId: 'past-edge', eventTime: ts - 10_000 }), ts);
    await input.pipeInput(TOKEN, txn({ transactionId: 'past-out', eventTime: ts - 10_001 }), ts);
    await input.pipeInput(TOKEN, txn({ transactionId: 'future-edge', eventTime: ts + 1_000 }), ts);
    await input.pipeInput(TOKEN, txn({ transactionId: 'future-out', eventTime: ts + 1_001 }), ts);
    expect(out.readValuesToList().map((r) => r!.txn.transactionId)).toEqual(['past-edge', 'future-edge']);
    expect(dead.readValuesToList().map((l) => l!.reason)).toEqual(['EVENT_TIME_OUT_OF_RANGE', 'EVENT_TIME_OUT_OF_RANGE']);
  });

  it('names every failure in the message but dead-letters under the first reason', async () => {
    const { input, dead } = await setup();
    await input.pipeInput('wrong-key', txn({ pan: '5105105105105101', currency: 'eur', amountMinor: -1 }), T0);
    const dl = dead.readValue()!;
    expect(dl.reason).toBe('INVALID_PAN_LUHN');
    expect(dl.message).toBe('rejected at ingress: INVALID_PAN_LUHN, INVALID_CURRENCY, INVALID_AMOUNT, ACCOUNT_TOKEN_MISMATCH');
  });

  it('masks card numbers in descriptive fields and pseudonymizes other identifiers that hold one', async () => {
    const { input, out } = await setup();
    await input.pipeInput(TOKEN, txn({ transactionId: 'auth-1', merchantName: `Kiosk card 5105 1051 0510 5100 ok`, terminalId: `T-${PAN}`, ip: PAN }), T0);
    const risk = out.readValue()!;
    expect(risk.reasonCodes).toEqual([INGRESS_PAN_SCRUBBED]);
    expect(risk.txn.merchantName).toBe('Kiosk card 5105 10** **** 5100 ok');
    expect(risk.txn.ip).toBe('510510******5100');
    expect(risk.txn.terminalId).toBe(tokenizer.identifierPseudonym(`T-${PAN}`));
    expect(risk.txn.transactionId).toBe('auth-1');
  });

  it('gives back transaction ids as sent unless they hold a real card number (Luhn-valid, 13–19 digits)', async () => {
    const { input, out, dead } = await setup();
    const asSent = [
      '7f3c9a12-4e5b-4c1d-9a8b-123456789012', // a UUID whose groups are all digits
      '0123456789ab4cde8f0123456789abcd', // hex without dashes, with digit runs
      '202406141842', // a 12-digit order number
      'ord-5105105105105101', // 16 digits failing Luhn (a mistyped card number is not one)
      '51051051051051000000', // 20 digits: longer than any PAN
      'ref 4111 1111 1111', // 12 digits in groups
    ];
    for (const [i, transactionId] of asSent.entries()) await input.pipeInput(TOKEN, txn({ transactionId, eventTime: T0 + i }), T0);
    const passed = out.readValuesToList();
    expect(passed.map((r) => r!.txn.transactionId)).toEqual(asSent);
    expect(passed.every((r) => !r!.reasonCodes.includes(INGRESS_PAN_SCRUBBED))).toBe(true);

    for (const transactionId of [`auth-${PAN}`, 'order 5105 1051 0510 5100', '4111111111111111', '378282246310005']) {
      await input.pipeInput(TOKEN, txn({ transactionId }), T0);
    }
    expect(out.readValuesToList()).toEqual([]);
    const letters = dead.readValuesToList();
    expect(letters.map((l) => l!.reason)).toEqual(Array(4).fill('TRANSACTION_ID_CONTAINS_PAN'));
    for (const l of letters) {
      for (const secret of [PAN, '4111111111111111', '378282246310005', '5105 1051 0510 5100']) expect(l!.value!.includes(Buffer.from(secret))).toBe(false);
    }

    // A chargeback naming such an id is refused the same way; one with a plain id keeps it.
    const cb: Chargeback = { ...EXAMPLES.Chargeback, accountId: ACCOUNT, transactionId: `auth-${PAN}` };
    expect(() => tokenizeChargeback(cb, tokenizer, TOKEN)).toThrow(expect.objectContaining({ reason: 'TRANSACTION_ID_CONTAINS_PAN' }) as Error);
    const plain = tokenizeChargeback({ ...cb, transactionId: asSent[0]! }, tokenizer, TOKEN);
    expect(plain.transactionId).toBe(asSent[0]);
    expect(plain.accountToken).toBe(TOKEN);
    expect(plain).not.toHaveProperty('accountId');
  });

  it('forwards only allow-listed headers, PAN-masked', async () => {
    const { input, out } = await setup();
    await input.pipeInput(TOKEN, txn(), T0, {
      traceparent: Buffer.from('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'),
      tracestate: Buffer.from(`vendor=${PAN}`),
      'x-gateway-pan': Buffer.from(PAN),
    });
    const { headers } = out.readRecord();
    expect(Object.keys(headers).sort()).toEqual(['traceparent', 'tracestate']);
    expect(headers.tracestate!.toString()).toBe('vendor=510510******5100');
  });

  it('refuses to start without its dead-letter child', async () => {
    const topology = new Topology({ applicationId: 'ingress-test' })
      .addSource('raw', 'raw-transactions', { keySerde: Serdes.String, valueSerde: Serdes.Json<Transaction>() })
      .addProcessor('ingress', ingressProcessor({ deadLetterChild: 'dlq' }, { tokenizer }), 'raw')
      .addSink('hot-path', 'risk', { keySerde: Serdes.String, valueSerde: Serdes.Json<RiskContext>() }, 'ingress');
    await expect(TopologyTestDriver.create(topology)).rejects.toThrow(/no child named dlq/);
  });
});

describe('tokenizeChargeback', () => {
  const cb: Chargeback = { ...EXAMPLES.Chargeback, accountId: ACCOUNT };

  it('replaces the account id by its token when the key is that token', () => {
    expect(tokenizeChargeback(cb, tokenizer, TOKEN)).toEqual({
      chargebackId: cb.chargebackId,
      transactionId: cb.transactionId,
      accountToken: TOKEN,
      reasonCode: cb.reasonCode,
      amountMinor: cb.amountMinor,
      currency: cb.currency,
      reportedAt: cb.reportedAt,
      fraud: cb.fraud,
    });
  });

  it('rejects a record keyed by anything else, without quoting the account id', () => {
    for (const key of [ACCOUNT, null, tokenizer.accountToken('ACC-other')]) {
      let error: unknown;
      try {
        tokenizeChargeback(cb, tokenizer, key);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(IngressRejection);
      expect((error as IngressRejection).reason).toBe('ACCOUNT_TOKEN_MISMATCH');
      expect(String(error)).not.toContain(ACCOUNT);
    }
  });
});
