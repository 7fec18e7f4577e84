/**
 * Rotating the account-token key on a running loop (docs/operations.md, "Rotating the
 * account-token key"), on the real broker: a transaction is decided under the old key; the loop
 * restarts with the new key current and the old one previous; a producer still keying with the old
 * token and one already on the new token are both decided under the new token; a chargeback for
 * the transaction decided before the rotation still becomes its training example (through the copy
 * under the old token), one for a transaction decided after it too, and the copy that finds no
 * snapshot leaves no dead letter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { buildRiskLoopApp, type RiskLoopApp } from '../../bin/riskLoopApp.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import type { Chargeback, DeadLetter, Decision, TrainingExample } from '../../schemas/types.js';
import { testAppConfig } from '../support/appConfig.js';
import { brokers, uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { TEST_TOKENIZER_CONFIG, testTransaction } from '../support/riskLoopFixture.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-rotation-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };
const NEW_KEY = '5a'.repeat(32);
const ACCOUNT = 'ACC-ROTATE-0001';

describe('account-token key rotation', () => {
  it('decides under the new token whichever key the producer used, and keeps joining labels of transactions decided before', { timeout: 180_000 }, async () => {
    const id = uniq('rotate');
    const before = testAppConfig(id, stateRoot, { RISKLOOP_GUARANTEE: 'at_least_once' });
    const after = testAppConfig(id, stateRoot, { RISKLOOP_GUARANTEE: 'at_least_once', RISKLOOP_ACCOUNT_TOKEN_KEY: NEW_KEY, RISKLOOP_PREVIOUS_ACCOUNT_TOKEN_KEYS: TEST_TOKENIZER_CONFIG.accountTokenKey });
    expect(after.applicationId).toBe(before.applicationId);
    await ensureTopics(before, io, { keepHistory: true });
    const oldTokenizer = new Tokenizer(before.tokenizer);
    const newTokenizer = new Tokenizer(after.tokenizer);
    const oldToken = oldTokenizer.accountToken(ACCOUNT);
    const newToken = newTokenizer.accountToken(ACCOUNT);
    expect(newToken).not.toBe(oldToken);
    const logger = pino({ level: 'warn' });
    const now = Date.now();
    const tx = (n: number) => testTransaction({ transactionId: `${id}-tx-${n}`, eventTime: now - 60_000 + n, accountId: ACCOUNT });
    const cb = (n: number): Chargeback => ({ chargebackId: `${id}-cb-${n}`, transactionId: `${id}-tx-${n}`, accountId: ACCOUNT, reasonCode: '10.4', amountMinor: 2500, currency: 'EUR', reportedAt: now + n, fraud: true });

    let app: RiskLoopApp = await buildRiskLoopApp(before, logger);
    const { catalogue, serdes } = app;
    const decode = <T>(serde: { deserialize(b: Buffer): T }, rs: { value: Buffer | null }[]) => rs.filter((r) => r.value !== null).map((r) => serde.deserialize(r.value!));
    await app.streams.start();
    try {
      await produce(brokers(), catalogue.transactions.name, [{ key: oldToken, value: serdes.transactions.serialize(tx(1)) }]);
      await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= 1, timeoutMs: 60_000 });
    } finally {
      await app.close();
    }

    app = await buildRiskLoopApp(after, logger);
    await app.streams.start();
    let decisions: Decision[] = [];
    let examples: TrainingExample[] = [];
    let letters: DeadLetter[] = [];
    try {
      // One producer still on the old key, one already on the new one.
      await produce(brokers(), catalogue.transactions.name, [
        { key: oldToken, value: serdes.transactions.serialize(tx(2)) },
        { key: newToken, value: serdes.transactions.serialize(tx(3)) },
      ]);
      decisions = decode(serdes.decisions, await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= 3, timeoutMs: 60_000 }));
      // The chargeback feed switched to the new key: labels for a pre- and a post-rotation transaction.
      await produce(brokers(), catalogue.chargebacks.name, [
        { key: newToken, value: serdes.chargebacks.serialize(cb(1)) },
        { key: newToken, value: serdes.chargebacks.serialize(cb(3)) },
      ]);
      examples = decode(serdes.trainingExamples, await readTopic(brokers(), catalogue.trainingExamples.name, { done: (r) => r.length >= 2, timeoutMs: 60_000 }));
      letters = decode(serdes.deadLetters, await readTopic(brokers(), catalogue.deadLetters.name, { idleMs: 4000, timeoutMs: 30_000 }));
    } finally {
      await app.close();
    }

    expect(decisions.map((d) => [d.transactionId, d.accountToken]).sort()).toEqual([
      [`${id}-tx-1`, oldToken],
      [`${id}-tx-2`, newToken],
      [`${id}-tx-3`, newToken],
    ]);
    // Each label joined the snapshot it belongs to, under the token that snapshot was made with.
    expect(examples.map((e) => [e.transactionId, e.accountToken, e.label]).sort()).toEqual([
      [`${id}-tx-1`, oldToken, 1],
      [`${id}-tx-3`, newToken, 1],
    ]);
    // The new-token record of the pre-rotation chargeback finds no snapshot of its token: the one
    // dead letter (UNKNOWN_TRANSACTION, or ACCOUNT_TOKEN_MISMATCH when both tokens share a
    // partition and it meets the old-token snapshot). The old-token copy of the post-rotation
    // chargeback finds no snapshot either and is dropped quietly.
    expect(letters.map((l) => l.key?.toString())).toEqual([newToken]);
    expect(['UNKNOWN_TRANSACTION', 'ACCOUNT_TOKEN_MISMATCH']).toContain(letters[0]!.reason);
  });
});
