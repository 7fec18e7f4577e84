/**
 * The second generator (generators/handbook/generate.py, the Fraud Detection Handbook's simulator
 * plus card testing), run with the trainer's Python (the venv stack/setup.sh builds): seeded and
 * byte-identical per seed, records the loop's schemas and ingress accept, keyed like the loop's
 * tokenizer keys them, and fraud scenarios in the shares its mechanics imply.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { accountTokenOf } from '../../../processors/tokenizer.js';
import { validateTransaction } from '../../../processors/validation.js';
import { RECORD_FIELDS } from '../../../schemas/fields.js';
import { avroType } from '../../../schemas/load.js';
import type { Chargeback, KycRecord, Transaction } from '../../../schemas/types.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const SCRIPT = path.join(ROOT, 'generators/handbook/generate.py');
const KEY_HEX = '21'.repeat(32);
const KEY = Buffer.from(KEY_HEX, 'hex');
const DAY = 86_400_000;
const START = Date.parse('2026-01-05T00:00:00Z');

interface Line<T> {
  key: string;
  timestamp: number;
  value: T;
}
interface Truth {
  transactionId: string;
  eventTime: number;
  fraud: boolean;
  pattern: string | null;
}

function generate(args: string[]): string {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
  const dir = mkdtempSync(path.join(tmpdir(), 'riskloop-handbook-'));
  execFileSync(PYTHON, [SCRIPT, '--out-dir', dir, ...args], { env: { ...process.env, RISKLOOP_ACCOUNT_TOKEN_KEY: KEY_HEX }, encoding: 'utf8' });
  return dir;
}
const read = (dir: string, file: string): string => readFileSync(path.join(dir, file), 'utf8');
function lines<T>(dir: string, file: string): T[] {
  return read(dir, file)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as T);
}
function check(ok: boolean, message: () => string): void {
  if (!ok) throw new Error(message());
}

const FILES = ['transactions.jsonl', 'kyc.jsonl', 'device-signals.jsonl', 'chargebacks.jsonl', 'analyst-outcomes.jsonl', 'truth.jsonl', 'summary.json'];

describe('handbook generator', () => {
  let small: string;
  let full: string;
  beforeAll(() => {
    small = generate(['--seed', '3', '--customers', '200', '--days', '14']);
    full = generate(['--seed', '1']);
    // Two Python runs (~5 s alone): far longer on a loaded machine.
  }, 180_000);

  it('is deterministic by seed: the same seed gives byte-identical files, another seed other traffic', () => {
    const again = generate(['--seed', '3', '--customers', '200', '--days', '14']);
    for (const f of FILES) expect(read(again, f), f).toBe(read(small, f));
    const other = generate(['--seed', '4', '--customers', '200', '--days', '14']);
    expect(read(other, 'transactions.jsonl')).not.toBe(read(small, 'transactions.jsonl'));
  }, 120_000);

  it('writes records the loop accepts: schema-valid, sorted, keyed by the account token, valid at ingress', () => {
    const txns = lines<Line<Transaction>>(full, 'transactions.jsonl');
    const kyc = lines<Line<KycRecord>>(full, 'kyc.jsonl');
    const cbs = lines<Line<Chargeback>>(full, 'chargebacks.jsonl');
    expect(txns.length).toBeGreaterThan(80_000);
    const kycKeys = new Set(kyc.map((k) => k.key));
    const types = { Transaction: avroType('Transaction'), KycRecord: avroType('KycRecord'), Chargeback: avroType('Chargeback') };
    const fields = (s: keyof typeof types) => [...RECORD_FIELDS[s]!].sort().join();
    let previous = 0;
    const bounds = { maxPastMs: 400 * DAY, maxFutureMs: 5 * 60_000 };
    const panOf = new Map<string, string>();
    for (const r of txns) {
      const v = r.value;
      check(types.Transaction.isValid(v) && Object.keys(v).sort().join() === fields('Transaction'), () => `not a Transaction: ${v.transactionId}`);
      check(r.timestamp === v.eventTime && r.timestamp >= previous, () => `${v.transactionId}: timestamp`);
      previous = r.timestamp;
      check(r.key === accountTokenOf(KEY, v.accountId) && kycKeys.has(r.key), () => `${v.transactionId}: key`);
      const reasons = validateTransaction(v, r.timestamp, bounds);
      check(reasons.length === 0, () => `${v.transactionId}: ${reasons.join()}`);
      check(v.cardPresent && v.channel === 'POS' && v.terminalId === v.merchantId && v.deviceId === null, () => `${v.transactionId}: card-present at a terminal`);
      // One card per account.
      check((panOf.get(v.accountId) ?? v.pan) === v.pan, () => `${v.transactionId}: a second card`);
      panOf.set(v.accountId, v.pan);
    }
    for (const r of kyc) expect(types.KycRecord.isValid(r.value) && r.value.accountToken === r.key && Object.keys(r.value).sort().join() === fields('KycRecord')).toBe(true);
    const txById = new Map(txns.map((t) => [t.value.transactionId, t]));
    for (const r of cbs) {
      check(types.Chargeback.isValid(r.value) && r.timestamp === r.value.reportedAt, () => `not a Chargeback: ${r.value.chargebackId}`);
      const tx = txById.get(r.value.transactionId)!;
      check(tx !== undefined && tx.key === r.key && tx.value.amountMinor === r.value.amountMinor, () => `${r.value.chargebackId}: transaction`);
    }
    expect(read(full, 'device-signals.jsonl')).toBe('');
  });

  it('makes fraud of the four scenarios in the shares their rates imply, with chargebacks about 7 days later', () => {
    const truth = lines<Truth>(full, 'truth.jsonl');
    const fraud = truth.filter((t) => t.fraud);
    const rate = fraud.length / truth.length;
    // Handbook: ~0.8 % over a long run; this run starts with nothing compromised (warm-up weeks).
    expect(rate).toBeGreaterThan(0.004);
    expect(rate).toBeLessThan(0.012);
    const share = (p: string) => fraud.filter((t) => t.pattern === p).length / fraud.length;
    expect(share('compromised_terminal')).toBeGreaterThan(0.2);
    expect(share('compromised_card')).toBeGreaterThan(0.2);
    expect(share('amount_threshold')).toBeGreaterThan(0.02);
    expect(share('card_testing')).toBeGreaterThan(0.03);
    expect(fraud.every((t) => t.pattern !== null) && truth.every((t) => t.fraud === (t.pattern !== null))).toBe(true);
    // Every amount above 220 EUR is fraud (scenario 1), and a compromised card's fraud is at 5x.
    const txns = lines<Line<Transaction>>(full, 'transactions.jsonl');
    const truthById = new Map(truth.map((t) => [t.transactionId, t]));
    const eventTimeOf = new Map(txns.map((t) => [t.value.transactionId, t.value.eventTime]));
    for (const r of txns) if (r.value.amountMinor > 22_000) check(truthById.get(r.value.transactionId)!.fraud, () => `${r.value.transactionId}: above 220 EUR, not fraud`);
    const delays = lines<Line<Chargeback>>(full, 'chargebacks.jsonl')
      .filter((c) => c.value.fraud)
      .map((c) => (c.value.reportedAt - eventTimeOf.get(c.value.transactionId)!) / DAY);
    expect(delays.length / fraud.length).toBeGreaterThan(0.8);
    expect(Math.min(...delays)).toBeGreaterThan(5);
    expect(Math.max(...delays)).toBeLessThan(9);
    // Within the period and on the first day given.
    expect(txns[0]!.timestamp).toBeGreaterThanOrEqual(START);
    expect(txns.at(-1)!.timestamp).toBeLessThan(START + 56 * DAY);
  });
});
