/**
 * The feature snapshot read out for an analyst (processors/snapshotReadout.ts): lines relative to
 * the account's own history, with their figures, unusual ones first; an ordinary payment raises
 * nothing; a missing history is said, not shown as zero.
 */
import { describe, expect, it } from 'vitest';
import { money, readSnapshot } from '../../../processors/snapshotReadout.js';

const ordinary = {
  'txn.amount_minor': 4_200,
  'account.mean_30d': 4_000,
  'account.max_30d': 9_000,
  'account.amount_zscore_30d': 0.1,
  'account.count_1h': 0,
  'account.count_24h': 1,
  'account.count_30d': 45,
  'account.sum_24h': 3_900,
  'account.sum_30d': 180_000,
  'account.distinct_merchants_24h': 1,
  'account.distinct_merchants_30d': 12,
  'account.secs_since_prev': 20_000,
  'device.missing': 0,
  'device.age_days': 200,
  'device.distinct_accounts_24h': 1,
  'kyc.missing': 0,
  'kyc.account_age_days': 900,
  'kyc.risk_tier': 0,
  'kyc.pep': 0,
  'kyc.sanctioned': 0,
  'kyc.watchlist_hits': 0,
};

describe('snapshot read-out', () => {
  it('formats minor units as a plain amount', () => {
    expect(money(250_000)).toBe('2,500.00');
    expect(money(5)).toBe('0.05');
    expect(money(-123_456)).toBe('-1,234.56');
  });

  it('raises nothing unusual for a payment like the account\'s usual ones', () => {
    const lines = readSnapshot(ordinary, { 'txn.currency': 'EUR', 'kyc.status': 'VERIFIED' });
    expect(lines.filter((l) => l.unusual)).toEqual([]);
    const amount = lines.find((l) => l.topic === 'amount')!;
    expect(amount.text).toBe("Amount 42.00 EUR is 1.1× the account's 30-day mean of 40.00; its 30-day largest was 90.00; z-score 0.1.");
    expect(lines.find((l) => l.topic === 'kyc')!.text).toBe('KYC VERIFIED; low risk tier; account 900 days old.');
  });

  it('says what was unusual against the account\'s own history, with the figures, unusual lines first', () => {
    const burst = { ...ordinary, 'txn.amount_minor': 250_000, 'account.amount_zscore_30d': 7.25, 'account.count_1h': 6, 'account.count_24h': 9, 'account.sum_24h': 400_000, 'device.age_days': 0.2, 'travel.impossible': 1, 'travel.distance_km': 1830.4, 'travel.speed_kmh': 2140 };
    const lines = readSnapshot(burst, { 'txn.currency': 'EUR' });
    const unusual = lines.filter((l) => l.unusual).map((l) => l.topic);
    expect(unusual).toEqual(['amount', 'velocity', 'velocity', 'velocity', 'travel', 'device']);
    expect(lines.slice(0, unusual.length).every((l) => l.unusual)).toBe(true);
    const byTopic = (t: string) => lines.filter((l) => l.topic === t).map((l) => l.text);
    expect(byTopic('amount')[0]).toBe("Amount 2,500.00 EUR is 63× the account's 30-day mean of 40.00; above its 30-day largest (90.00); z-score 7.3.");
    expect(byTopic('velocity')).toEqual([
      '6 earlier payments on the account in the hour before; usually under 0.1 an hour (30-day average).',
      '9 in the 24 hours before; usually 1.5 a day.',
      '4,000.00 spent in the 24 hours before, against 60.00 a day on average over 30 days.',
    ]);
    expect(byTopic('travel')[0]).toBe('Impossible travel: 1830 km from the previous located payment, 2140 km/h needed.');
    expect(byTopic('device')[0]).toBe('Device first seen less than a day ago; 1 account on it in 24 hours.');
    expect(lines.find((l) => l.topic === 'amount')!.from).toEqual({ 'txn.amount_minor': 250_000, 'account.mean_30d': 4_000, 'account.max_30d': 9_000, 'account.amount_zscore_30d': 7.25 });
  });

  it('says when there is no history instead of comparing with zero, and reads KYC flags', () => {
    const lines = readSnapshot({ 'txn.amount_minor': 99_900, 'account.count_30d': 0, 'kyc.missing': 0, 'kyc.pep': 1, 'kyc.watchlist_hits': 2, 'kyc.account_age_days': 10 }, { 'kyc.status': 'VERIFIED' });
    expect(lines.find((l) => l.topic === 'amount')!.text).toBe("Amount 999.00; the account has no earlier payments in the last 30 days to compare with.");
    const kyc = lines.find((l) => l.topic === 'kyc')!;
    expect(kyc).toMatchObject({ unusual: true, text: 'KYC VERIFIED; account 10 days old; politically exposed person; 2 watchlist hit(s).' });
    expect(readSnapshot({})).toEqual([]);
  });
});
