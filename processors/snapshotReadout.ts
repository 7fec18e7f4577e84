/**
 * A decision's feature snapshot read out for a person (issue 20.1): not 120 numbers, but what was
 * unusual about this payment relative to the account's own history: the amount against the
 * account's means and z-score, the last hour and day against the account's usual rate (its 30-day
 * average), merchants and countries against the month, how long since the previous payment,
 * travel speed, device and KYC signals. Each line has the figures it is made from, so the analyst
 * can check it, and `unusual` says whether it should catch the eye (thresholds below, chosen to
 * match the rule file's own: e.g. a z-score of 3, the rules' review at 4).
 *
 * Only features present in the snapshot are read out: the feature set decides what exists
 * (features/*.json), and a missing window (no history yet) is said as such rather than as zero.
 */

export interface ReadoutLine {
  /** The aspect: amount, velocity, spread, timing, travel, device, kyc, merchant, challenge. */
  topic: string;
  text: string;
  unusual: boolean;
  /** The features the line was made from, with their values. */
  from: Record<string, number>;
}

const DAY_HOURS = 24;
const MONTH_DAYS = 30;

/** Minor units as a plain amount with two decimals and thousands separators (1234567 → 12,345.67). */
export function money(minor: number): string {
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(Math.round(minor));
  const units = Math.floor(abs / 100).toLocaleString('en-US');
  return `${sign}${units}.${String(abs % 100).padStart(2, '0')}`;
}

function times(x: number): string {
  return x >= 10 ? `${Math.round(x)}×` : `${x.toFixed(1)}×`;
}

function rate(x: number): string {
  if (x === 0) return 'none';
  if (x < 0.1) return 'under 0.1';
  return x >= 10 ? String(Math.round(x)) : x.toFixed(1);
}

function duration(secs: number): string {
  if (secs < 120) return `${Math.round(secs)} s`;
  if (secs < 7200) return `${Math.round(secs / 60)} min`;
  if (secs < 2 * 86_400) return `${(secs / 3600).toFixed(1)} h`;
  return `${(secs / 86_400).toFixed(1)} days`;
}

/** The lines for one snapshot, most telling first within each topic; unusual lines first overall. */
export function readSnapshot(features: Readonly<Record<string, number>>, facts: Readonly<Record<string, string>> = {}): ReadoutLine[] {
  const f = (name: string): number | undefined => (Number.isFinite(features[name]) ? features[name] : undefined);
  const pick = (...names: string[]): Record<string, number> => Object.fromEntries(names.flatMap((n) => (f(n) === undefined ? [] : [[n, f(n)!]])));
  const lines: ReadoutLine[] = [];
  const currency = facts['txn.currency'] && facts['txn.currency'] !== 'MISSING' ? ` ${facts['txn.currency']}` : '';

  // Amount against the account's own history.
  const amount = f('txn.amount_minor');
  if (amount !== undefined) {
    const mean30 = f('account.mean_30d');
    const max30 = f('account.max_30d');
    const z = f('account.amount_zscore_30d');
    if (mean30 !== undefined && mean30 > 0) {
      const ratio = amount / mean30;
      const parts = [`Amount ${money(amount)}${currency} is ${times(ratio)} the account's 30-day mean of ${money(mean30)}`];
      if (max30 !== undefined) parts.push(amount > max30 ? `above its 30-day largest (${money(max30)})` : `its 30-day largest was ${money(max30)}`);
      if (z !== undefined) parts.push(`z-score ${z.toFixed(1)}`);
      lines.push({ topic: 'amount', text: `${parts.join('; ')}.`, unusual: ratio >= 3 || (z !== undefined && z >= 3) || (max30 !== undefined && amount > max30 && ratio >= 1.5), from: pick('txn.amount_minor', 'account.mean_30d', 'account.max_30d', 'account.amount_zscore_30d') });
    } else {
      lines.push({ topic: 'amount', text: `Amount ${money(amount)}${currency}; the account has no earlier payments in the last 30 days to compare with.`, unusual: false, from: pick('txn.amount_minor', 'account.count_30d') });
    }
  }

  // Velocity: the last hour and day against the usual rate over 30 days.
  const c30 = f('account.count_30d');
  const usualPerHour = c30 !== undefined ? c30 / (MONTH_DAYS * DAY_HOURS) : undefined;
  const c1h = f('account.count_1h');
  if (c1h !== undefined) {
    const usual = usualPerHour !== undefined ? `; usually ${rate(usualPerHour)} an hour (30-day average)` : '';
    lines.push({ topic: 'velocity', text: `${c1h} earlier payment${c1h === 1 ? '' : 's'} on the account in the hour before${usual}.`, unusual: c1h >= 3 && (usualPerHour === undefined || c1h >= 5 * Math.max(usualPerHour, 0.1)), from: pick('account.count_1h', 'account.count_30d') });
  }
  const c24 = f('account.count_24h');
  if (c24 !== undefined && c30 !== undefined) {
    const perDay = c30 / MONTH_DAYS;
    lines.push({ topic: 'velocity', text: `${c24} in the 24 hours before; usually ${rate(perDay)} a day.`, unusual: c24 >= 5 && c24 >= 3 * Math.max(perDay, 1), from: pick('account.count_24h', 'account.count_30d') });
  }
  const s24 = f('account.sum_24h');
  const s30 = f('account.sum_30d');
  if (s24 !== undefined && s30 !== undefined && s30 > 0) {
    const perDay = s30 / MONTH_DAYS;
    lines.push({ topic: 'velocity', text: `${money(s24)} spent in the 24 hours before, against ${money(perDay)} a day on average over 30 days.`, unusual: s24 >= 3 * perDay && s24 > 0, from: pick('account.sum_24h', 'account.sum_30d') });
  }
  const card1m = f('card.count_1m');
  if (card1m !== undefined && card1m > 0) {
    lines.push({ topic: 'velocity', text: `${card1m} earlier payment${card1m === 1 ? '' : 's'} on the card in the minute before.`, unusual: card1m >= 3, from: pick('card.count_1m') });
  }

  // Spread: merchants and countries in a day against the month.
  const m24 = f('account.distinct_merchants_24h');
  const m30 = f('account.distinct_merchants_30d');
  if (m24 !== undefined) {
    lines.push({ topic: 'spread', text: `${m24} different merchant${m24 === 1 ? '' : 's'} in 24 hours${m30 !== undefined ? ` (${m30} in 30 days)` : ''}.`, unusual: m24 >= 5, from: pick('account.distinct_merchants_24h', 'account.distinct_merchants_30d') });
  }
  const k24 = f('account.distinct_countries_24h');
  const k30 = f('account.distinct_countries_30d');
  if (k24 !== undefined && k24 > 1) {
    lines.push({ topic: 'spread', text: `${k24} merchant countries in 24 hours${k30 !== undefined ? ` (${k30} in 30 days)` : ''}.`, unusual: k24 >= 3, from: pick('account.distinct_countries_24h', 'account.distinct_countries_30d') });
  }

  // Timing.
  const since = f('account.secs_since_prev');
  if (since !== undefined) lines.push({ topic: 'timing', text: `${duration(since)} since the account's previous payment.`, unusual: since < 30, from: pick('account.secs_since_prev') });

  // Travel.
  if (f('travel.impossible') === 1) {
    const km = f('travel.distance_km');
    const kmh = f('travel.speed_kmh');
    lines.push({ topic: 'travel', text: `Impossible travel: ${km !== undefined ? `${Math.round(km)} km` : 'far'} from the previous located payment${kmh !== undefined ? `, ${Math.round(kmh)} km/h needed` : ''}.`, unusual: true, from: pick('travel.impossible', 'travel.distance_km', 'travel.speed_kmh') });
  }

  // Device.
  if (f('device.missing') === 0) {
    const age = f('device.age_days');
    const accounts = f('device.distinct_accounts_24h');
    const flags = ['device.blocked', 'device.emulator', 'device.rooted'].filter((n) => f(n) === 1).map((n) => n.slice('device.'.length));
    const parts = [age !== undefined ? `device first seen ${age < 1 ? 'less than a day' : `${Math.floor(age)} days`} ago` : 'device known'];
    if (accounts !== undefined) parts.push(`${accounts} account${accounts === 1 ? '' : 's'} on it in 24 hours`);
    if (flags.length > 0) parts.push(`flagged ${flags.join(', ')}`);
    const text = parts.join('; ');
    lines.push({ topic: 'device', text: `${text[0]!.toUpperCase()}${text.slice(1)}.`, unusual: (age !== undefined && age < 1) || (accounts !== undefined && accounts >= 3) || flags.length > 0, from: pick('device.age_days', 'device.distinct_accounts_24h', 'device.blocked', 'device.emulator', 'device.rooted') });
  } else if (f('device.missing') === 1 && f('device.id_present') === 1) {
    lines.push({ topic: 'device', text: 'Unknown device: never seen before this payment.', unusual: true, from: pick('device.missing', 'device.id_present') });
  }

  // KYC.
  if (f('kyc.missing') === 1) {
    lines.push({ topic: 'kyc', text: 'No KYC record for the account.', unusual: true, from: pick('kyc.missing') });
  } else if (f('kyc.missing') === 0) {
    const flags = [f('kyc.sanctioned') === 1 ? 'sanctioned' : '', f('kyc.pep') === 1 ? 'politically exposed person' : '', (f('kyc.watchlist_hits') ?? 0) > 0 ? `${f('kyc.watchlist_hits')} watchlist hit(s)` : ''].filter(Boolean);
    const age = f('kyc.account_age_days');
    const tier = ['low', 'medium', 'high'][f('kyc.risk_tier') ?? -1];
    const parts = [`KYC ${facts['kyc.status'] ?? 'on file'}`, ...(tier ? [`${tier} risk tier`] : []), ...(age !== undefined ? [`account ${Math.floor(age)} days old`] : []), ...flags];
    lines.push({ topic: 'kyc', text: `${parts.join('; ')}.`, unusual: flags.length > 0 || (age !== undefined && age < 30), from: pick('kyc.account_age_days', 'kyc.risk_tier', 'kyc.pep', 'kyc.sanctioned', 'kyc.watchlist_hits') });
  }

  // Merchant.
  const mfr = f('merchant.fraud_rate_90d');
  if (mfr !== undefined) lines.push({ topic: 'merchant', text: `Merchant's fraud rate over 90 days: ${(100 * mfr).toFixed(1)} %.`, unusual: mfr >= 0.05, from: pick('merchant.fraud_rate_90d') });

  // Step-up history.
  const failed = f('challenge.failed_30d');
  if (failed !== undefined && failed > 0) {
    const secs = f('challenge.secs_since_failed');
    lines.push({ topic: 'challenge', text: `${failed} failed step-up challenge${failed === 1 ? '' : 's'} in 30 days${secs !== undefined ? `, the last ${duration(secs)} before` : ''}.`, unusual: true, from: pick('challenge.failed_30d', 'challenge.secs_since_failed') });
  }

  // Stable: unusual first, each group in the order above.
  return [...lines.filter((l) => l.unusual), ...lines.filter((l) => !l.unusual)];
}
