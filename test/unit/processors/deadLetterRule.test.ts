/**
 * The dead-letter rule for identifiers (schemas/deadLetter.ts) through the whole loop on the test
 * driver, and the account-token key rotation at ingress: what each kind of dead letter keeps, that
 * an operator can still match it (position, keyed digest of the producer's bytes, the account's
 * token as key), and that neither the account id nor the PAN is in it.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readAppConfig } from '../../../bin/config.js';
import { Tokenizer } from '../../../processors/tokenizer.js';
import { buildDeadLetter, isSafeHeader, scrubText, shapeOf } from '../../../schemas/deadLetter.js';
import type { DeadLetter, Decision, KycRecord } from '../../../schemas/types.js';
import { Serdes, TopologyTestDriver } from '../../../topology/index.js';
import { TEST_TOKENIZER_CONFIG, riskLoopFixture, testTransaction } from '../../support/riskLoopFixture.js';

const T0 = Date.UTC(2026, 9, 1, 12, 0, 0);
const ACCOUNT = 'ACC-RULE-7Q9Z-0001';
const PAN = '4929735511882467';
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

function assertClean(letter: DeadLetter, avro: Buffer): void {
  for (const secret of [ACCOUNT, PAN]) {
    expect(avro.includes(Buffer.from(secret)), `${secret} in the encoded letter`).toBe(false);
    expect(JSON.stringify({ ...letter, key: letter.key?.toString(), value: letter.value?.toString('latin1') })).not.toContain(secret);
  }
}

describe('dead-letter rule', () => {
  it('describes an undecodable record instead of copying it: keyed digest, size, shape; key tokenized; only a valid traceparent kept', async () => {
    const f = await riskLoopFixture();
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
    const value = Buffer.from(JSON.stringify({ accountId: ACCOUNT, pan: PAN }), 'utf8');
    const headers = { traceparent: Buffer.from(TRACEPARENT), 'x-account': Buffer.from(ACCOUNT) };
    await driver.pipeRaw(f.catalogue.transactions.name, { key: Buffer.from(ACCOUNT), value, timestamp: T0, headers });
    const raw = driver.readRaw(f.catalogue.deadLetters.name);
    expect(raw).toHaveLength(1);
    const letter = f.serdes.deadLetters.deserialize(raw[0]!.value!);
    expect(letter).toMatchObject({ sourceTopic: f.catalogue.transactions.name, partition: 0, offset: 0, value: null, redacted: true });
    // The operator's two ways back: the account's token as key, and the digest of the producer's bytes.
    expect(letter.key?.toString()).toBe(f.tokenizer.accountToken(ACCOUNT));
    expect(letter.reduced).toEqual({ originalSize: value.length + ACCOUNT.length + 'traceparent'.length + TRACEPARENT.length + 'x-account'.length + ACCOUNT.length, sha256: f.tokenizer.deadLetterDigest(value), excerpt: shapeOf(value) });
    expect(letter.reduced!.sha256).not.toBe(new Tokenizer(TEST_TOKENIZER_CONFIG).accountToken(value.toString()));
    expect(letter.headers).toEqual({ traceparent: TRACEPARENT, 'x-account': `[${ACCOUNT.length} bytes]` });
    assertClean(letter, raw[0]!.value!);
  });

  it('keeps the scrubbed parsed record of an ingress rejection, with a clear-id key replaced by its token', async () => {
    const f = await riskLoopFixture();
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
    const transactions = driver.createInputTopic(f.catalogue.transactions.name, Serdes.String, f.serdes.transactions);
    await transactions.pipeInput(ACCOUNT, testTransaction({ transactionId: `tx-${ACCOUNT}`, eventTime: T0, accountId: ACCOUNT, pan: PAN }), T0, { 'x-card': Buffer.from(PAN) });
    const raw = driver.readRaw(f.catalogue.deadLetters.name);
    const letter = f.serdes.deadLetters.deserialize(raw[0]!.value!);
    expect(letter.reason).toBe('ACCOUNT_TOKEN_MISMATCH');
    expect(letter.key?.toString()).toBe(f.tokenizer.accountToken(ACCOUNT));
    const original = f.serdes.transactions.deserialize(letter.value!);
    expect(original).toMatchObject({ accountId: f.tokenizer.accountToken(ACCOUNT), pan: '492973******2467', transactionId: `tx-${f.tokenizer.accountToken(ACCOUNT)}` });
    expect(letter.headers).toEqual({ 'x-card': `[${PAN.length} bytes]` });
    assertClean(letter, raw[0]!.value!);
  });

  it('refuses a KYC row keyed by a clear account id before it reaches the store or its changelog', async () => {
    const f = await riskLoopFixture();
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
    const kyc = driver.createInputTopic(f.catalogue.kyc.name, Serdes.String, f.serdes.kyc);
    const row: KycRecord = { accountToken: ACCOUNT, entityType: 'PERSON', status: 'VERIFIED', riskTier: 'LOW', accountOpenedAt: T0 - 1000, pep: false, sanctioned: false, watchlistHits: 0, country: 'DE', updatedAt: T0 };
    await kyc.pipeInput(ACCOUNT, row, T0);
    const raw = driver.readRaw(f.catalogue.deadLetters.name);
    const letter = f.serdes.deadLetters.deserialize(raw[0]!.value!);
    expect(letter).toMatchObject({ reason: 'ACCOUNT_TOKEN_MISMATCH', errorClass: 'AccountKeyError', value: null });
    expect(letter.key?.toString()).toBe(f.tokenizer.accountToken(ACCOUNT));
    assertClean(letter, raw[0]!.value!);
    for (const topic of driver.topicNames().filter((t) => t !== f.catalogue.kyc.name)) for (const r of driver.readRaw(topic)) expect(Buffer.concat([r.key ?? Buffer.alloc(0), r.value ?? Buffer.alloc(0)]).includes(Buffer.from(ACCOUNT)), topic).toBe(false);
  });

  it('scrubs error texts: known ids, quoted values, card numbers, long digit runs', () => {
    expect(scrubText(`invalid "ACC-1" for ${ACCOUNT}: card ${PAN}, acct 123456789`, [ACCOUNT])).toBe('invalid "[5 chars]" for [id]: card 492973******2467, acct #########');
    expect(isSafeHeader('traceparent', TRACEPARENT)).toBe(true);
    expect(isSafeHeader('traceparent', `00-${ACCOUNT}-01`)).toBe(false);
    expect(isSafeHeader('tracestate', 'a=b')).toBe(false);
    const letter = buildDeadLetter(
      { sourceTopic: 't', partition: 0, offset: 1, key: Buffer.from(ACCOUNT), value: Buffer.from(PAN), processor: 'p', error: new Error(`bad ${ACCOUNT}`) },
      { protect: new Tokenizer(TEST_TOKENIZER_CONFIG), value: 'describe' },
    );
    expect(letter.message).toBe('bad [id]');
    expect(letter.reduced!.excerpt.toString()).toBe('9'.repeat(16));
  });
});

describe('account-token key rotation', () => {
  const NEW_KEY = '33'.repeat(32);

  it('accepts a record keyed with the token under a previous key and re-keys it to the current token', async () => {
    const rotated = new Tokenizer({ ...TEST_TOKENIZER_CONFIG, accountTokenKey: NEW_KEY, previousAccountTokenKeys: [TEST_TOKENIZER_CONFIG.accountTokenKey] });
    const old = new Tokenizer(TEST_TOKENIZER_CONFIG);
    const f = await riskLoopFixture({ tokenizer: rotated });
    driver = await TopologyTestDriver.create(f.topology, { errorHandlers: f.errorHandlers });
    const transactions = driver.createInputTopic(f.catalogue.transactions.name, Serdes.String, f.serdes.transactions);
    const decisions = driver.createOutputTopic(f.catalogue.decisions.name, Serdes.String, f.serdes.decisions);
    await transactions.pipeInput(old.accountToken(ACCOUNT), testTransaction({ transactionId: 'tx-old-key', eventTime: T0, accountId: ACCOUNT }), T0);
    await transactions.pipeInput(rotated.accountToken(ACCOUNT), testTransaction({ transactionId: 'tx-new-key', eventTime: T0 + 1, accountId: ACCOUNT }), T0 + 1);
    // A token under a key that is neither current nor previous is still refused.
    await transactions.pipeInput(new Tokenizer({ ...TEST_TOKENIZER_CONFIG, accountTokenKey: '44'.repeat(32) }).accountToken(ACCOUNT), testTransaction({ transactionId: 'tx-other-key', eventTime: T0 + 2, accountId: ACCOUNT }), T0 + 2);
    const out = decisions.readKeyValuesToList() as { key: string; value: Decision }[];
    expect(out.map((d) => [d.value.transactionId, d.key, d.value.accountToken])).toEqual([
      ['tx-old-key', rotated.accountToken(ACCOUNT), rotated.accountToken(ACCOUNT)],
      ['tx-new-key', rotated.accountToken(ACCOUNT), rotated.accountToken(ACCOUNT)],
    ]);
    const letters = driver.readRaw(f.catalogue.deadLetters.name).map((r) => f.serdes.deadLetters.deserialize(r.value!));
    expect(letters.map((l) => l.reason)).toEqual(['ACCOUNT_TOKEN_MISMATCH']);
  });

  it('reads the current and previous keys from files, and names the variable, never the key, when one is wrong', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-keys-'));
    try {
      writeFileSync(path.join(dir, 'current'), `${NEW_KEY}\n`, { mode: 0o600 });
      writeFileSync(path.join(dir, 'previous'), `${TEST_TOKENIZER_CONFIG.accountTokenKey}\n`, { mode: 0o600 });
      const env = {
        KAFKA_BROKERS: '127.0.0.1:9092',
        SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081',
        RISKLOOP_CARD_KEYS: JSON.stringify(TEST_TOKENIZER_CONFIG.cardKeys),
        RISKLOOP_CARD_KEY_ID: TEST_TOKENIZER_CONFIG.currentCardKeyId,
        RISKLOOP_ACCOUNT_TOKEN_KEY_FILE: path.join(dir, 'current'),
        RISKLOOP_PREVIOUS_ACCOUNT_TOKEN_KEYS_FILE: path.join(dir, 'previous'),
      };
      const c = readAppConfig(env);
      expect(c.tokenizer.accountTokenKey).toBe(NEW_KEY);
      expect(c.tokenizer.previousAccountTokenKeys).toEqual([TEST_TOKENIZER_CONFIG.accountTokenKey]);
      expect(() => readAppConfig({ ...env, RISKLOOP_ACCOUNT_TOKEN_KEY: NEW_KEY })).toThrow(/RISKLOOP_ACCOUNT_TOKEN_KEY or RISKLOOP_ACCOUNT_TOKEN_KEY_FILE, not both/);
      expect(() => readAppConfig({ ...env, RISKLOOP_ACCOUNT_TOKEN_KEY_FILE: path.join(dir, 'missing') })).toThrow(/cannot read RISKLOOP_ACCOUNT_TOKEN_KEY_FILE .*ENOENT/);
      writeFileSync(path.join(dir, 'previous'), 'not-a-key!', { mode: 0o600 });
      let message = '';
      try {
        readAppConfig(env);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/previousAccountTokenKeys/);
      expect(message).not.toContain('not-a-key');
      expect(message).not.toContain(NEW_KEY);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
