/**
 * A small, deterministic data set for the loop's integration tests: accounts with one card each,
 * KYC rows (some missing, some sanctioned), devices (some blocked), valid transactions and
 * invalid ones of known kinds. Expected outcomes are counted here, independently of the loop.
 */
import type { Chargeback, DeviceSignal, KycRecord, Transaction } from '../../schemas/types.js';
import type { Tokenizer } from '../../processors/tokenizer.js';

export function luhnComplete(partial: string): string {
  let sum = 0;
  for (let i = 0; i < partial.length; i++) {
    let d = Number(partial[partial.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return partial + String((10 - (sum % 10)) % 10);
}

export interface LoopData {
  kyc: { key: string; value: KycRecord }[];
  devices: { key: string; value: DeviceSignal }[];
  transactions: { key: string; value: Transaction }[];
  chargebacks: { key: string; value: Chargeback }[];
  validIds: Set<string>;
  invalid: Map<string, string>;
  unknownChargebacks: number;
  base: number;
  spanMs: number;
}

const DAY = 86_400_000;

export function loopData(tokenizer: Tokenizer, opts: { accounts: number; transactions: number; invalidEvery: number; chargebacks: number; unknownChargebacks: number }): LoopData {
  const base = Date.UTC(2026, 9, 1);
  const kyc: LoopData['kyc'] = [];
  const devices: LoopData['devices'] = [];
  const pans: string[] = [];
  for (let a = 0; a < opts.accounts; a++) {
    const accountId = `ACC-${String(a).padStart(6, '0')}`;
    const token = tokenizer.accountToken(accountId);
    pans.push(luhnComplete(`411111${String(a).padStart(9, '0')}`));
    if (a % 20 !== 7) {
      kyc.push({
        key: token,
        value: {
          accountToken: token,
          entityType: 'PERSON',
          status: 'VERIFIED',
          riskTier: a % 3 === 0 ? 'MEDIUM' : 'LOW',
          accountOpenedAt: base - (100 + (a % 900)) * DAY,
          pep: a % 97 === 5,
          sanctioned: a % 211 === 3,
          watchlistHits: 0,
          country: 'DE',
          updatedAt: base - 5 * DAY,
        },
      });
    }
    const deviceId = `dev-${a}`;
    devices.push({
      key: deviceId,
      value: { deviceId, eventTime: base - 60 * DAY, accountToken: token, emulator: false, rooted: a % 50 === 1, blocked: a % 101 === 2, os: 'ios', userAgent: null, ip: null },
    });
  }
  const transactions: LoopData['transactions'] = [];
  const validIds = new Set<string>();
  const invalid = new Map<string, string>();
  const spanMs = 10 * DAY;
  for (let i = 0; i < opts.transactions; i++) {
    const a = (i * 7919) % opts.accounts;
    const accountId = `ACC-${String(a).padStart(6, '0')}`;
    const eventTime = base + Math.floor((i / opts.transactions) * spanMs);
    const transactionId = `tx-${String(i).padStart(7, '0')}`;
    let pan = pans[a]!;
    let currency = 'EUR';
    let amountMinor = 500 + ((i * 104729) % 60_000);
    if (opts.invalidEvery > 0 && i % opts.invalidEvery === opts.invalidEvery - 1) {
      const kind = (i / opts.invalidEvery) % 3;
      if (kind < 1) {
        pan = pan.slice(0, -1) + String((Number(pan.at(-1)) + 1) % 10);
        invalid.set(transactionId, 'INVALID_PAN_LUHN');
      } else if (kind < 2) {
        currency = 'XYZ';
        invalid.set(transactionId, 'INVALID_CURRENCY');
      } else {
        amountMinor = 0;
        invalid.set(transactionId, 'INVALID_AMOUNT');
      }
    } else {
      validIds.add(transactionId);
    }
    transactions.push({
      key: tokenizer.accountToken(accountId),
      value: {
        transactionId,
        eventTime,
        accountId,
        pan,
        amountMinor,
        currency,
        merchantId: `M-${i % 400}`,
        merchantName: `Merchant ${i % 400}`,
        terminalId: `T-${i % 900}`,
        mcc: ['5411', '5812', '5999', '4121'][i % 4]!,
        merchantCountry: i % 50 === 0 ? 'FR' : 'DE',
        channel: i % 3 === 0 ? 'ECOM' : 'POS',
        cardPresent: i % 3 !== 0,
        threeDsAuthenticated: null,
        lat: 52.5 + (a % 10) * 0.01,
        lon: 13.4 + (a % 10) * 0.01,
        deviceId: `dev-${a}`,
        ip: null,
      },
    });
  }
  const valid = [...validIds];
  const chargebacks: LoopData['chargebacks'] = [];
  for (let c = 0; c < opts.chargebacks; c++) {
    const t = transactions[Number(valid[(c * 131) % valid.length]!.slice(3))]!;
    chargebacks.push({
      key: t.key,
      value: { chargebackId: `cb-${c}`, transactionId: t.value.transactionId, accountId: t.value.accountId, reasonCode: '10.4', amountMinor: t.value.amountMinor, currency: 'EUR', reportedAt: t.value.eventTime + 20 * DAY, fraud: true },
    });
  }
  for (let u = 0; u < opts.unknownChargebacks; u++) {
    const t = transactions[u]!;
    chargebacks.push({
      key: t.key,
      value: { chargebackId: `cb-unknown-${u}`, transactionId: `tx-never-${u}`, accountId: t.value.accountId, reasonCode: '10.4', amountMinor: 100, currency: 'EUR', reportedAt: base + 20 * DAY, fraud: true },
    });
  }
  return { kyc, devices, transactions, chargebacks, validIds, invalid, unknownChargebacks: opts.unknownChargebacks, base, spanMs };
}
