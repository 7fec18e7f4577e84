/**
 * The pure parts of the client SDK and the decision API: input validation messages (fields named,
 * values never quoted), the deadline fallback's decision, API-key checks and the recent-decisions
 * cache. The request–reply path itself is tested on the real broker (test/integration/sdk.test.ts).
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { authenticate } from '../../../api/auth.js';
import { parseApiConfig } from '../../../api/config.js';
import { RecentDecisions, fingerprintOf } from '../../../api/recentDecisions.js';
import { requestSchema } from '../../../api/server.js';
import { parseRuleSet } from '../../../processors/ruleSet.js';
import type { Decision, Transaction } from '../../../schemas/types.js';
import { InvalidInputError } from '../../../sdk/errors.js';
import { fallbackDecision, isFallback } from '../../../sdk/fallback.js';
import { TransactionInput, parseInput } from '../../../sdk/inputs.js';

const PAN = '4111111111111111';
const txn: Transaction = {
  transactionId: 't-1',
  eventTime: Date.UTC(2026, 0, 1, 13),
  accountId: 'ACC-1',
  pan: PAN,
  amountMinor: 250_000,
  currency: 'EUR',
  merchantId: 'M',
  merchantName: null,
  terminalId: null,
  mcc: '5411',
  merchantCountry: 'DE',
  channel: 'ECOM',
  cardPresent: false,
  threeDsAuthenticated: null,
  lat: null,
  lon: null,
  deviceId: null,
  ip: null,
};

describe('transaction input', () => {
  it('fills left-out nullable fields with null and names broken fields without quoting them', () => {
    const { merchantName, ip, ...required } = txn;
    void merchantName;
    void ip;
    expect(parseInput(TransactionInput, 'transaction', required)).toEqual(txn);
    try {
      parseInput(TransactionInput, 'transaction', { ...txn, pan: `${PAN}-x`, currency: 'eur' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidInputError);
      const e = err as InvalidInputError;
      expect(e.issues.map((i) => i.path).sort()).toEqual(['currency', 'pan']);
      expect(e.message).not.toContain(PAN);
    }
  });

  it('the HTTP body bounds the deadline and refuses unknown top-level fields', () => {
    const schema = requestSchema(5000);
    expect(schema.safeParse({ transaction: txn, deadlineMs: 5000 }).success).toBe(true);
    expect(schema.safeParse({ transaction: txn, deadlineMs: 5001 }).success).toBe(false);
    expect(schema.safeParse({ transaction: txn, deadlineMs: 0 }).success).toBe(false);
    expect(schema.safeParse({ transaction: txn, deadline: 10 }).success).toBe(false);
  });
});

describe('deadline fallback', () => {
  const ruleSet = parseRuleSet({
    version: '2026-12-02.1',
    rules: [
      { id: 'big-ecom', description: 'large card-not-present', when: { all: [{ feature: 'txn.amount_minor', op: '>=', value: 100_000 }, { feature: 'txn.card_present', op: '==', value: 0 }] }, action: 'REVIEW', reasonCode: 'BIG_ECOM' },
      { id: 'velocity', description: 'needs history', when: { feature: 'card.count_1h', op: '>=', value: 0 }, action: 'DECLINE', reasonCode: 'VELOCITY' },
    ],
  });

  it('static: the configured outcome, marked DEADLINE_FALLBACK, no score', () => {
    const d = fallbackDecision(txn, 'at_x', { kind: 'static', decision: 'DECLINE' }, 1000, 1250);
    expect(d.decision).toBe('DECLINE');
    expect(d.reasonCodes).toEqual(['DEADLINE_FALLBACK']);
    expect(isFallback(d)).toBe(true);
    expect(d.score).toBeNull();
    expect(d.pipelineLatencyMs).toBe(250);
    expect(JSON.stringify(d)).not.toContain(PAN);
  });

  it('rules: rules over the transaction alone fire, rules needing history never do', () => {
    const d = fallbackDecision(txn, 'at_x', { kind: 'rules', ruleSet, noHit: 'APPROVE' }, 0, 1);
    expect(d.decision).toBe('REVIEW');
    expect(d.reasonCodes).toEqual(['DEADLINE_FALLBACK', 'BIG_ECOM']);
    expect(d.ruleSetVersion).toBe('2026-12-02.1');
    expect(d.features['txn.hour_of_day']).toBe(13);
    const small = fallbackDecision({ ...txn, amountMinor: 500 }, 'at_x', { kind: 'rules', ruleSet, noHit: 'REVIEW' }, 0, 1);
    expect(small.decision).toBe('REVIEW');
    expect(small.reasonCodes).toEqual(['DEADLINE_FALLBACK']);
  });
});

describe('API keys', () => {
  const config = parseApiConfig({ keys: JSON.stringify([{ id: 'gw', token: 'a'.repeat(40) }]) });
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

  it('accepts the bearer token or X-API-Key and refuses anything else', () => {
    expect(authenticate(req({ authorization: `Bearer ${'a'.repeat(40)}` }), config.keys, false)).toEqual({ keyId: 'gw' });
    expect(authenticate(req({ 'x-api-key': 'a'.repeat(40) }), config.keys, false)).toEqual({ keyId: 'gw' });
    expect(authenticate(req({ authorization: `Bearer ${'b'.repeat(40)}` }), config.keys, false)).toBeUndefined();
    expect(authenticate(req({}), config.keys, false)).toBeUndefined();
    expect(authenticate(req({}), config.keys, true)).toEqual({ keyId: null, anonymous: true });
    expect(authenticate(req({ authorization: `Bearer ${'b'.repeat(40)}` }), config.keys, true)).toBeUndefined();
  });

  it('will not start without keys unless anonymous calls are allowed, and never prints a token', () => {
    expect(() => parseApiConfig({})).toThrow(/RISKLOOP_API_KEYS/);
    expect(parseApiConfig({ allowAnonymous: 'true' }).allowAnonymous).toBe(true);
    expect(() => parseApiConfig({ keys: JSON.stringify([{ id: 'gw', token: 'short-secret' }]) })).toThrow(/at least 32/);
    try {
      parseApiConfig({ keys: JSON.stringify([{ id: 'gw', token: 'short-secret' }]) });
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret');
    }
  });
});

describe('recent decisions', () => {
  const d = { transactionId: 't-1', decision: 'APPROVE' } as Decision;

  it('answers a retry of the same transaction within the TTL, not a different one under the same id', () => {
    let now = 0;
    const cache = new RecentDecisions(1000, 2, () => now);
    const fp = fingerprintOf(txn);
    cache.put('t-1', fp, d);
    expect(cache.get('t-1', fp)).toBe(d);
    expect(cache.get('t-1', fingerprintOf({ ...txn, amountMinor: 1 }))).toBeUndefined();
    now = 1001;
    expect(cache.get('t-1', fp)).toBeUndefined();
  });

  it('keeps at most max entries, oldest out first', () => {
    const cache = new RecentDecisions(60_000, 2);
    for (const id of ['a', 'b', 'c']) cache.put(id, 'f', { ...d, transactionId: id });
    expect(cache.size).toBe(2);
    expect(cache.get('a', 'f')).toBeUndefined();
    expect(cache.get('c', 'f')?.transactionId).toBe('c');
  });
});
