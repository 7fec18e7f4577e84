/**
 * The records of a default-size run (2 000 customers, 30 days, seed 1) are what the loop's ingress
 * expects: schema-valid, keyed by the account token (device signals by device id), sorted by
 * their timestamps, valid for ingress, free of truth and of anything ingress would take for a PAN
 * outside the `pan` field, and labels that refer to transactions that exist and precede them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { accountTokenOf } from '../../../processors/tokenizer.js';
import { luhnValid, validateTransaction } from '../../../processors/validation.js';
import { RECORD_FIELDS } from '../../../schemas/fields.js';
import { avroType } from '../../../schemas/load.js';
import { maskPans } from '../../../schemas/redactPan.js';
import type { SchemaName, Transaction } from '../../../schemas/types.js';
import { SIMULATED_TOPICS, simulate, type SimulatedTopic, type SimulationResult, type TruthRecord } from '../../../simulator/simulate.js';

const KEY = Buffer.alloc(32, 0x21);
const keyFor = (id: string): string => accountTokenOf(KEY, id);
const DAY = 86_400_000;
const START = Date.parse('2026-01-05T00:00:00Z');
const END = START + 30 * DAY;

const SCHEMA_OF: Record<SimulatedTopic, SchemaName> = {
  kyc: 'KycRecord',
  deviceSignals: 'DeviceSignal',
  transactions: 'Transaction',
  chargebacks: 'Chargeback',
  analystOutcomes: 'AnalystOutcome',
};
const TIME_FIELD: Record<SimulatedTopic, string> = {
  kyc: 'updatedAt',
  deviceSignals: 'eventTime',
  transactions: 'eventTime',
  chargebacks: 'reportedAt',
  analystOutcomes: 'decidedAt',
};

/** Plain assertion for loops over 150k records, where expect() per record costs seconds. */
function check(ok: boolean, message: () => string): void {
  if (!ok) throw new Error(message());
}

let run: SimulationResult;
let txnById: Map<string, { key: string; value: Transaction }>;
let truthById: Map<string, TruthRecord>;

beforeAll(() => {
  run = simulate({ seed: 1 }, { keyFor });
  txnById = new Map(run.records.transactions.map((r) => [r.value.transactionId, r]));
  truthById = new Map(run.truth.map((t) => [t.transactionId, t]));
});

describe('simulated records', () => {
  it('has the expected volume: 100-200k transactions for 2 000 customers over 30 days', () => {
    expect(run.records.transactions.length).toBeGreaterThan(100_000);
    expect(run.records.transactions.length).toBeLessThan(200_000);
    expect(txnById.size).toBe(run.records.transactions.length);
    expect(run.truth.map((t) => t.transactionId)).toEqual(run.records.transactions.map((r) => r.value.transactionId));
  });

  it('match their Avro schemas field for field, with nothing extra (no truth in the records)', () => {
    for (const topic of SIMULATED_TOPICS) {
      const schema = SCHEMA_OF[topic];
      const type = avroType(schema);
      const fields = [...RECORD_FIELDS[schema]!].sort();
      for (const r of run.records[topic]) {
        check(Object.keys(r.value).sort().join() === fields.join(), () => `${topic}: fields ${Object.keys(r.value).join()}`);
        check(type.isValid(r.value), () => `${topic} record is not a valid ${schema}: ${JSON.stringify(r.value)}`);
      }
    }
  });

  it('are sorted per topic by timestamp, which is the record time field', () => {
    for (const topic of SIMULATED_TOPICS) {
      let previous = Number.NEGATIVE_INFINITY;
      for (const r of run.records[topic]) {
        check(r.timestamp === (r.value as unknown as Record<string, number>)[TIME_FIELD[topic]], () => `${topic}: timestamp is not ${TIME_FIELD[topic]}`);
        check(r.timestamp >= previous, () => `${topic} out of order at ${r.timestamp}`);
        previous = r.timestamp;
      }
    }
  });

  it('are keyed by the account token of the account, device signals by device id', () => {
    for (const r of run.records.transactions) check(r.key === keyFor(r.value.accountId), () => `${r.value.transactionId}: key`);
    for (const r of run.records.chargebacks) expect(r.key).toBe(keyFor(r.value.accountId));
    const accountKeys = new Set(run.records.transactions.map((r) => r.key));
    for (const r of run.records.kyc) {
      expect(r.value.accountToken).toBe(r.key);
      expect(r.key).toMatch(/^at_/);
    }
    for (const r of run.records.analystOutcomes) {
      expect(r.value.accountToken).toBe(r.key);
      expect(r.key).toBe(txnById.get(r.value.transactionId)!.key);
    }
    for (const r of run.records.deviceSignals) {
      expect(r.key).toBe(r.value.deviceId);
      if (r.value.accountToken !== null && !accountKeys.has(r.value.accountToken)) {
        // An account with no transaction in the period can still have logged in; it has KYC then.
        expect(run.records.kyc.some((k) => k.key === r.value.accountToken)).toBe(true);
      }
    }
    // Every account has exactly one KYC record at or before the start, and a few more during the run.
    const initial = new Map<string, number>();
    for (const r of run.records.kyc) if (r.timestamp <= START) initial.set(r.key, (initial.get(r.key) ?? 0) + 1);
    expect(initial.size).toBe(2000);
  });

  it('carry Luhn-valid PANs, 1-2 cards per account and each card on one account', () => {
    const cardsOf = new Map<string, Set<string>>();
    const accountOf = new Map<string, string>();
    for (const { value } of run.records.transactions) {
      check(/^[0-9]{16}$/.test(value.pan) && luhnValid(value.pan), () => `${value.transactionId}: PAN not 16 digits with a Luhn check digit`);
      check(/^ACC-[0-9]{6}$/.test(value.accountId), () => `${value.transactionId}: account id ${value.accountId}`);
      const cards = cardsOf.get(value.accountId) ?? new Set();
      cards.add(value.pan);
      cardsOf.set(value.accountId, cards);
      check((accountOf.get(value.pan) ?? value.accountId) === value.accountId, () => `${value.transactionId}: card on two accounts`);
      accountOf.set(value.pan, value.accountId);
    }
    expect(Math.max(...[...cardsOf.values()].map((c) => c.size))).toBe(2);
    expect(Math.min(...[...cardsOf.values()].map((c) => c.size))).toBe(1);
  });

  it('pass ingress validation and lie inside the simulated period', () => {
    const bounds = { maxPastMs: 30 * DAY, maxFutureMs: 5 * 60_000 };
    for (const r of run.records.transactions) {
      const v = r.value;
      const reasons = validateTransaction(v, r.timestamp, bounds);
      check(reasons.length === 0, () => `${v.transactionId} rejected: ${reasons.join(', ')}`);
      check(v.eventTime >= START && v.eventTime < END, () => `${v.transactionId} outside the period`);
      check(v.cardPresent === (v.channel === 'POS' || v.channel === 'ATM'), () => `${v.transactionId}: cardPresent vs channel`);
      check(v.cardPresent === (v.terminalId !== null), () => `${v.transactionId}: terminal only when card-present`);
    }
  });

  it('pay out ATM withdrawals in whole notes of the local currency', () => {
    // Smallest note counted, in major units: 10 of a currency worth about a euro or more per unit,
    // 100 where a euro buys tens of units (SEK, CZK, INR, ...), 1 000 yen.
    const NOTE: Record<string, number> = {
      EUR: 10, GBP: 10, USD: 10, CHF: 10, DKK: 10, PLN: 10, CAD: 10, BRL: 10, AED: 10, SGD: 10, AUD: 10,
      SEK: 100, NOK: 100, CZK: 100, TRY: 100, MXN: 100, ZAR: 100, INR: 100, JPY: 1000,
    };
    const atm = run.records.transactions.filter((r) => r.value.channel === 'ATM');
    expect(atm.length).toBeGreaterThan(1000);
    for (const { value } of atm) {
      const minorPerNote = NOTE[value.currency]! * (value.currency === 'JPY' ? 1 : 100);
      check(value.amountMinor % minorPerNote === 0 && value.amountMinor >= 2 * minorPerNote, () => `${value.transactionId}: ${value.amountMinor} ${value.currency}`);
      check(value.mcc === '6011' && value.cardPresent, () => `${value.transactionId}: ATM not 6011 card-present`);
    }
  });

  it('hold nothing ingress would mask as a PAN in a string field other than pan', () => {
    // Ingress scans string fields (ids, names, IPs); numbers such as epoch-ms times are not text.
    const strings = (value: object): string[] =>
      Object.entries(value).flatMap(([field, v]) => (field !== 'pan' && typeof v === 'string' ? [v] : []));
    // The check itself catches what it should: a 12-digit run and a grouped card number.
    expect(maskPans(Buffer.from('tx-123456789012')).masked).toBe(true);
    expect(maskPans(Buffer.from('ab123456-123456x')).masked).toBe(true);
    for (const topic of SIMULATED_TOPICS) {
      for (const r of run.records[topic]) {
        for (const text of [r.key, ...strings(r.value)]) {
          if (maskPans(Buffer.from(text)).masked) throw new Error(`${topic}: ${text} looks like a PAN to ingress`);
        }
      }
    }
  });

  it('give chargebacks only for existing transactions, after them, within the dispute limits', () => {
    expect(run.records.chargebacks.length).toBeGreaterThan(0);
    const ids = new Set<string>();
    for (const { value } of run.records.chargebacks) {
      expect(ids.has(value.chargebackId)).toBe(false);
      ids.add(value.chargebackId);
      const txn = txnById.get(value.transactionId);
      expect(txn).toBeDefined();
      expect(value.accountId).toBe(txn!.value.accountId);
      expect(value.currency).toBe(txn!.value.currency);
      expect(value.amountMinor).toBeGreaterThan(0);
      expect(value.amountMinor).toBeLessThanOrEqual(txn!.value.amountMinor);
      const delayDays = (value.reportedAt - txn!.value.eventTime) / DAY;
      // Defaults: at least 1 day (3 for service disputes), at most the 120-day scheme limit.
      expect(delayDays).toBeGreaterThanOrEqual(value.fraud ? 1 : 3);
      expect(delayDays).toBeLessThanOrEqual(120);
    }
    // Fraud chargebacks on transactions the truth calls legitimate are exactly the friendly-fraud ones.
    const onLegit = run.records.chargebacks.filter((c) => c.value.fraud && !truthById.get(c.value.transactionId)!.fraud).length;
    expect(onLegit).toBe(run.summary.chargebacks.friendlyFraud);
    expect(run.records.chargebacks.filter((c) => !c.value.fraud).length).toBe(run.summary.chargebacks.disputes);
  });

  it('give analyst outcomes after the transaction, agreeing with the truth', () => {
    expect(run.records.analystOutcomes.length).toBeGreaterThan(0);
    for (const { value } of run.records.analystOutcomes) {
      const txn = txnById.get(value.transactionId)!;
      expect(txn).toBeDefined();
      const delayMs = value.decidedAt - txn.value.eventTime;
      expect(delayMs).toBeGreaterThanOrEqual(15 * 60_000);
      expect(delayMs).toBeLessThanOrEqual(7 * DAY);
      expect(value.outcome).toBe(truthById.get(value.transactionId)!.fraud ? 'FRAUD' : 'LEGITIMATE');
    }
  });

  it('announce every device with a signal before its first payment', () => {
    const firstSignal = new Map<string, number>();
    for (const r of run.records.deviceSignals) if (!firstSignal.has(r.key)) firstSignal.set(r.key, r.timestamp);
    for (const { value } of run.records.transactions) {
      if (value.deviceId === null) continue;
      const first = firstSignal.get(value.deviceId);
      check(first !== undefined && first < value.eventTime, () => `${value.transactionId}: device ${value.deviceId} not announced before`);
    }
  });

  it('block a device for good once it is blocked', () => {
    const blockedSince = new Map<string, number>();
    let blockedSignals = 0;
    for (const { value } of run.records.deviceSignals) {
      if (value.blocked) {
        blockedSignals++;
        if (!blockedSince.has(value.deviceId)) blockedSince.set(value.deviceId, value.eventTime);
      } else {
        expect(blockedSince.has(value.deviceId)).toBe(false);
      }
    }
    expect(blockedSignals).toBeGreaterThan(0);
  });
});
