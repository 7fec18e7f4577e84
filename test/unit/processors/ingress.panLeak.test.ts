/**
 * The PAN (and the clear account id) must not get past ingress: records carrying a PAN in every
 * string field where one could sneak in, valid and invalid, go through source → ingress → velocity
 * → sinks, and then every byte of every topic (outputs, dead letters, changelogs), every store
 * entry and every captured log line is searched for it.
 */
import { Writable } from 'node:stream';
import avsc from 'avsc';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ingressProcessor } from '../../../processors/ingress.js';
import { Tokenizer } from '../../../processors/tokenizer.js';
import { type RiskContext, StoreNames } from '../../../processors/types.js';
import { velocityFeaturesProcessor, velocityStoreBuilders } from '../../../processors/velocityFeatures.js';
import { AvroSerde, EXAMPLES, SCHEMAS, type SchemaRegistryClient } from '../../../schemas/index.js';
import type { DeadLetter, Transaction } from '../../../schemas/types.js';
import type { KeyValueStore } from '../../../state/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';

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

const PAN = '5105105105105100';
/** The same card mistyped (fails Luhn): still a card number that must not leak. */
const PAN_TYPO = '5105105105105101';
const ACCOUNT = 'ACC-31337-4242';
const T0 = Date.UTC(2024, 5, 14, 18, 42, 7, 311);

const tokenizer = new Tokenizer({
  accountTokenKey: 'cc'.repeat(32),
  cardKeys: [{ id: 'k1', key: Buffer.alloc(32, 9).toString('base64') }],
  currentCardKeyId: 'k1',
});

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** Whether a text holds a secret as is or typed with spaces/dashes. */
function leaks(text: string): string[] {
  const found: string[] = [];
  const squeezed = text.replace(/[ -]/g, '');
  for (const secret of [PAN, PAN_TYPO]) if (text.includes(secret) || squeezed.includes(secret)) found.push(secret);
  if (text.includes(ACCOUNT)) found.push(ACCOUNT);
  return found;
}

describe('no PAN or account id past ingress', () => {
  it('leaves no trace in outputs, dead letters, changelogs, stores or logs', async () => {
    const logLines: string[] = [];
    const logger = pino(
      { level: 'trace' },
      new Writable({
        write(chunk: Buffer, _enc, done) {
          logLines.push(chunk.toString('utf8'));
          done();
        },
      }),
    );
    const registry = new InProcessRegistry();
    const rawSerde = await new AvroSerde<Transaction>({ registry, topic: 'raw-transactions', schema: SCHEMAS.Transaction }).init();
    const deadLetterSerde = await new AvroSerde<DeadLetter>({ registry, topic: 'dead-letters', schema: SCHEMAS.DeadLetter }).init();
    const topology = new Topology({ applicationId: 'pan-leak' })
      .addSource('raw', 'raw-transactions', { keySerde: Serdes.String, valueSerde: rawSerde })
      .addProcessor('ingress', ingressProcessor({}, { tokenizer, encodeOriginal: (v) => rawSerde.serialize(v) }), 'raw')
      .addProcessor('velocity', velocityFeaturesProcessor(), 'ingress')
      .addSink('ingress-dead-letters', 'dead-letters', { keySerde: Serdes.String, valueSerde: deadLetterSerde }, 'ingress')
      .addSink('out', 'risk', { keySerde: Serdes.String, valueSerde: Serdes.Json<RiskContext>() }, 'velocity');
    // Logged stores: their changelog topics are searched too.
    for (const b of velocityStoreBuilders({}, { persistent: false })) topology.addStateStore(b, ['velocity']);
    driver = await TopologyTestDriver.create(topology, { logger });
    const input = driver.createInputTopic('raw-transactions', Serdes.String, rawSerde);

    const token = tokenizer.accountToken(ACCOUNT);
    const everywhere: Partial<Transaction> = {
      transactionId: `tx-${PAN}`,
      merchantId: `m${PAN}`,
      merchantName: `card ${PAN} thanks`,
      terminalId: PAN,
      mcc: PAN,
      merchantCountry: PAN,
      deviceId: `dev-${PAN}`,
      ip: `${PAN}`,
    };
    const base: Transaction = { ...EXAMPLES.Transaction, accountId: ACCOUNT, pan: PAN, eventTime: T0 };
    const headers = { traceparent: Buffer.from(`00-${PAN}-01`), note: Buffer.from(`pan=${PAN} acct=${ACCOUNT}`) };
    const cases: [key: string, value: Transaction][] = [
      // Valid, PAN in every string field but the transaction id (which would make it a dead letter).
      [token, { ...base, ...everywhere, transactionId: 'tx-everywhere' }],
      // Valid, PAN typed in groups.
      [token, { ...base, transactionId: 'tx-grouped', merchantName: '5105 1051 0510 5100', terminalId: '5105-1051-0510-5100', eventTime: T0 + 1_000 }],
      // The PAN as the account id: tokenized like any account id.
      [tokenizer.accountToken(PAN), { ...base, transactionId: 'tx-pan-account', accountId: PAN, eventTime: T0 + 2_000 }],
      // Rejected: PAN as currency; mistyped PAN; PAN glued to more digits; clear account id as key.
      [token, { ...base, ...everywhere, currency: PAN }],
      [token, { ...base, ...everywhere, pan: PAN_TYPO }],
      [token, { ...base, ...everywhere, pan: `${PAN}0000` }],
      [ACCOUNT, { ...base, ...everywhere, merchantName: `acct ${ACCOUNT} card ${PAN}` }],
      // Rejected: a transaction id holding the PAN, contiguous or grouped (ids are never rewritten).
      [token, { ...base, ...everywhere }],
      [token, { ...base, transactionId: 'order 5105 1051 0510 5100', eventTime: T0 + 2_500 }],
    ];
    for (const [key, value] of cases) await input.pipeInput(key, value, T0 + 3_000, headers);

    // The scenario ran: three transactions through, six dead letters.
    const out = driver.createOutputTopic('risk', Serdes.String, Serdes.Json<RiskContext>()).readValuesToList();
    expect(out).toHaveLength(3);
    const letters = driver.createOutputTopic('dead-letters', Serdes.String, deadLetterSerde).readValuesToList();
    expect(letters.map((l) => l!.reason)).toEqual(['INVALID_CURRENCY', 'INVALID_PAN_LUHN', 'INVALID_PAN_LENGTH', 'ACCOUNT_TOKEN_MISMATCH', 'TRANSACTION_ID_CONTAINS_PAN', 'TRANSACTION_ID_CONTAINS_PAN']);
    // Dead letters keep the record, decodable, minus the secrets.
    const kept = rawSerde.deserialize(letters[3]!.value!);
    expect(kept.pan).toBe('510510******5100');
    expect(kept.merchantName).toBe(`acct ${token} card 510510******5100`);

    const findings: string[] = [];
    const velocityChangelogs = velocityStoreBuilders().map((b) => `pan-leak-${b.name}-changelog`);
    // Every topic but the raw input, which is the one place the PAN is allowed.
    const downstream = driver.topicNames().filter((t) => t !== 'raw-transactions');
    expect(downstream.sort()).toEqual(['dead-letters', 'risk', ...velocityChangelogs].sort());
    for (const topic of downstream) {
      for (const r of driver.readRaw(topic)) {
        const parts = [r.key, r.value, ...Object.values(r.headers)].filter((b): b is Buffer => b !== null);
        for (const part of parts) for (const f of leaks(part.toString('latin1'))) findings.push(`${topic}@${r.offset}: ${f}`);
      }
    }
    for (const name of [StoreNames.velocityProfiles]) {
      const store = driver.getStateStore<KeyValueStore<string, unknown>>(name);
      let entries = 0;
      for (const entry of store.all()) {
        entries++;
        for (const f of leaks(JSON.stringify(entry))) findings.push(`store ${name}: ${f}`);
      }
      expect(entries, name).toBeGreaterThan(0);
    }
    expect(logLines.some((l) => l.includes('transaction rejected at ingress'))).toBe(true);
    expect(logLines.some((l) => l.includes('PAN-like digits removed'))).toBe(true);
    for (const line of logLines) for (const f of leaks(line)) findings.push(`log: ${f}`);
    expect(findings).toEqual([]);
  });
});
