/**
 * Cross-entity statistics: the per-entity bucket series that the side sub-topologies build
 * (entityVelocity.ts, merchantRisk.ts) and the hot path reads as of a transaction's event time
 * (features.ts). Pure functions, no stores: the same code runs in the aggregator and in tests.
 *
 * One `EntityStats` per entity key (`device:<id>`, `ip:<pseudonym>`, `merchant:<id>`, see
 * entityKeys.ts) holds three sparse series of buckets aligned to epoch multiples of their size:
 *   minute buckets  count, sum of amountMinor        (1 min and 1 h windows)
 *   hour buckets    count, sum, distinct accounts     (24 h window; accounts for device / IP only)
 *   day buckets     count, sum, fraud labels          (7 d window; 30 / 90 d merchant fraud rate)
 * A transaction adds to the bucket of its event time in each series; a merchant fraud label adds
 * +1 (or −1 for a fraud label overturned) to the day bucket of the label's ARRIVAL time.
 *
 * EXACT WINDOW DEFINITION (what the README repeats). For a transaction at event time t, a feature
 * over a window W built from buckets of size g with lag L reads
 *     a = t − L,   e = floor(a / g) · g,   buckets with  e − W ≤ bucketStart < e
 * i.e. the last W/g buckets that had closed by t − L, covering exactly [e − W, e). So the data used
 * ends between L and L + g before t (never at or after t − L: no future, not even the transaction
 * itself), and the window's edges sit on bucket boundaries. That is coarser than the card/account
 * windows, which are exact sliding windows ending at t:
 *   _1m  g = 1 min, W = 1 min  → the one minute bucket closed by t − L
 *   _1h  g = 1 min, W = 60 min
 *   _24h g = 1 h,   W = 24 h   (also distinct_accounts_24h: the union of the 24 hour buckets' sets)
 *   _7d  g = 1 d,   W = 7 d    (ends at the last UTC midnight at or before t − L)
 *   merchant fraud_*_Nd: g = 1 d, W = N days, lag L_merchant: labels that ARRIVED in [e − W, e)
 *        over transactions with event time in [e − W, e).
 *   merchant txn_fraud_*_Nd: g = 1 d, W = N days, lag L_merchant: labels of the transactions with
 *        event time in [e − W, e) that ARRIVED before e, over those transactions (label buckets).
 *   Longer windows of the feature set follow the same rule on their series (≤ 1 h minute
 *   buckets, ≤ 24 h hour buckets, else day buckets).
 * An entity is known as of a when its first transaction lies in a bucket closed by then
 * (firstSeenAt < floor(a / 1 min) · 1 min); an unknown entity gives no features at all (absent),
 * a known one with nothing in a window gives 0.
 *
 * Order independence. Records reach the aggregator through repartition topics that several tasks
 * write, so their order differs between runs. Every operation here is commutative (sums, set
 * unions capped to the smallest tokens), and pruning is relative to the entity's own latest times
 * with the same cut for accepting and for dropping a bucket, so the final series is the same
 * whatever the order: a replay that reads the table at its end reads the same buckets.
 */
import { z } from 'zod';
import type { EntityBucket, EntityStats, LabelBucket } from '../../schemas/types.js';

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** The series' types are the Avro record's (schemas/EntityStats.avsc): the topic carries them as they are. */
export type { EntityBucket, EntityStats, LabelBucket };

export type Series = 'minuteBuckets' | 'hourBuckets' | 'dayBuckets';
export const SERIES_SIZE: { readonly [S in Series]: number } = { minuteBuckets: MINUTE, hourBuckets: HOUR, dayBuckets: DAY };

export const NOT_SEEN = Number.MAX_SAFE_INTEGER;

export const CrossEntityConfig = z
  .object({
    /** Velocity lag L: a bucket is used once bucket end + L ≤ t. */
    lagMs: z.number().int().nonnegative().default(MINUTE),
    /** Lag of the merchant fraud features (label-arrival day buckets). */
    merchantRiskLagMs: z.number().int().nonnegative().default(HOUR),
    /** Fewer transactions than this in the window: the merchant fraud rate is absent. */
    merchantMinVolume: z.number().int().min(1).default(20),
    /** Account prefixes kept per device / IP hour bucket (a device farm saturates at this). */
    maxAccountsPerBucket: z.number().int().min(1).max(1_000).default(32),
    /** How far behind the entity's latest time each series is kept. */
    minuteRetentionMs: z.number().int().positive().default(3 * HOUR),
    hourRetentionMs: z.number().int().positive().default(2 * DAY),
    dayRetentionMs: z.number().int().positive().default(100 * DAY),
    /**
     * Keep every bucket (no pruning). Replays set it: the hot path of a replay reads the tables at
     * their end, so they must still hold the buckets of the replay's first days.
     */
    retainAll: z.boolean().default(false),
  })
  .refine((c) => c.minuteRetentionMs >= HOUR + MINUTE + c.lagMs, { message: 'minuteRetentionMs must cover 1 h + 1 min + lagMs', path: ['minuteRetentionMs'] })
  .refine((c) => c.hourRetentionMs >= DAY + HOUR + c.lagMs, { message: 'hourRetentionMs must cover 24 h + 1 h + lagMs', path: ['hourRetentionMs'] })
  .refine((c) => c.dayRetentionMs >= 91 * DAY + Math.max(c.lagMs, c.merchantRiskLagMs), {
    message: 'dayRetentionMs must cover 90 d + 1 d + the larger lag',
    path: ['dayRetentionMs'],
  });
export type CrossEntityConfig = z.output<typeof CrossEntityConfig>;
export type CrossEntityConfigInput = z.input<typeof CrossEntityConfig>;

/** Characters of an account token kept for distinct counts (prefix 'at_' + 72 bits of the MAC). */
export const ACCOUNT_PREFIX_CHARS = 15;

export function emptyStats(entityKey: string): EntityStats {
  return { entityKey, firstSeenAt: NOT_SEEN, lastSeenAt: 0, lastLabelAt: 0, minuteBuckets: [], hourBuckets: [], dayBuckets: [], labelBuckets: [] };
}

function retentionOf(series: Series, config: CrossEntityConfig): number {
  return series === 'minuteBuckets' ? config.minuteRetentionMs : series === 'hourBuckets' ? config.hourRetentionMs : config.dayRetentionMs;
}

/** The time a series is pruned against: transactions for minute/hour, transactions and labels for days. */
function horizonOf(stats: EntityStats, series: Series): number {
  return series === 'dayBuckets' ? Math.max(stats.lastSeenAt, stats.lastLabelAt) : stats.lastSeenAt;
}

/** Oldest bucket end still kept; a bucket ending at or before it is dropped (and never created). */
function cutoff(stats: EntityStats, series: Series, config: CrossEntityConfig): number {
  return config.retainAll ? Number.NEGATIVE_INFINITY : horizonOf(stats, series) - retentionOf(series, config);
}

function bucketFor(list: EntityBucket[], start: number): EntityBucket {
  let i = list.length - 1;
  while (i >= 0 && list[i]!.bucketStart > start) i--;
  if (i >= 0 && list[i]!.bucketStart === start) return list[i]!;
  const bucket: EntityBucket = { bucketStart: start, count: 0, sumMinor: 0, fraudLabels: 0, accounts: [] };
  list.splice(i + 1, 0, bucket);
  return bucket;
}

function prune(stats: EntityStats, series: Series, config: CrossEntityConfig): void {
  const cut = cutoff(stats, series, config);
  const size = SERIES_SIZE[series];
  const list = stats[series];
  let drop = 0;
  while (drop < list.length && list[drop]!.bucketStart + size <= cut) drop++;
  if (drop > 0) list.splice(0, drop);
}

function addAccount(bucket: EntityBucket, account: string, max: number): void {
  const list = bucket.accounts;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < account) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo] === account) return;
  if (lo >= max) return; // larger than every kept token of a full bucket
  list.splice(lo, 0, account);
  if (list.length > max) list.length = max;
}

export interface TransactionActivity {
  eventTime: number;
  amountMinor: number;
  /** Account token; kept (as a prefix) only when `trackAccounts`. */
  accountToken: string;
}

/** Adds a transaction to the entity's series (mutates and returns `stats`). */
export function applyTransaction(stats: EntityStats, activity: TransactionActivity, trackAccounts: boolean, config: CrossEntityConfig): EntityStats {
  const t = activity.eventTime;
  stats.firstSeenAt = Math.min(stats.firstSeenAt, t);
  stats.lastSeenAt = Math.max(stats.lastSeenAt, t);
  for (const series of ['minuteBuckets', 'hourBuckets', 'dayBuckets'] as const) {
    const size = SERIES_SIZE[series];
    const start = Math.floor(t / size) * size;
    if (start + size > cutoff(stats, series, config)) {
      const bucket = bucketFor(stats[series], start);
      bucket.count += 1;
      bucket.sumMinor += activity.amountMinor;
      if (trackAccounts && series === 'hourBuckets') addAccount(bucket, activity.accountToken.slice(0, ACCOUNT_PREFIX_CHARS), config.maxAccountsPerBucket);
    }
    prune(stats, series, config);
  }
  // A transaction moves the day cut too: label buckets follow it whatever the arrival order.
  pruneLabels(stats, config);
  return stats;
}

/**
 * Adds a fraud label (+1) or an overturned one (−1) to the day bucket of its arrival time and,
 * when the labelled transaction's event time is known, to the label bucket (transaction day,
 * arrival day): the "by the transactions' own days" merchant features read those.
 */
export function applyFraudLabel(stats: EntityStats, arrivedAt: number, delta: 1 | -1, config: CrossEntityConfig, txnEventTime?: number): EntityStats {
  stats.lastLabelAt = Math.max(stats.lastLabelAt, arrivedAt);
  const start = Math.floor(arrivedAt / DAY) * DAY;
  const cut = cutoff(stats, 'dayBuckets', config);
  if (start + DAY > cut) bucketFor(stats.dayBuckets, start).fraudLabels += delta;
  prune(stats, 'dayBuckets', config);
  const labels = (stats.labelBuckets ??= []);
  if (txnEventTime !== undefined) {
    const txnDay = Math.floor(txnEventTime / DAY) * DAY;
    if (txnDay + DAY > cut) {
      // Sorted by (txnDay, arrivalDay); one entry per pair.
      let i = labels.length;
      while (i > 0 && (labels[i - 1]!.txnDay > txnDay || (labels[i - 1]!.txnDay === txnDay && labels[i - 1]!.arrivalDay > start))) i--;
      const at = labels[i - 1];
      if (at !== undefined && at.txnDay === txnDay && at.arrivalDay === start) at.fraudLabels += delta;
      else labels.splice(i, 0, { txnDay, arrivalDay: start, fraudLabels: delta });
    }
  }
  pruneLabels(stats, config);
  return stats;
}

/** Drops label buckets whose transaction day ended at or before the day series' cut (as `prune`). */
function pruneLabels(stats: EntityStats, config: CrossEntityConfig): void {
  const labels = stats.labelBuckets;
  if (labels === undefined || labels.length === 0) return;
  const cut = cutoff(stats, 'dayBuckets', config);
  let drop = 0;
  while (drop < labels.length && labels[drop]!.txnDay + DAY <= cut) drop++;
  if (drop > 0) labels.splice(0, drop);
}

/**
 * Fraud labels of the transactions made in [e − widthMs, e) that had arrived before e, with
 * e = the last UTC midnight ≤ a: labels are counted when known, by their transaction's own day.
 */
export function labelsByTransactionDay(stats: EntityStats, a: number, widthMs: number): number {
  const labels = stats.labelBuckets;
  if (labels === undefined) return 0;
  const e = windowEnd(a, DAY);
  const from = e - widthMs;
  let n = 0;
  for (const b of labels) {
    if (b.txnDay < from) continue;
    if (b.txnDay >= e) break;
    if (b.arrivalDay < e) n += b.fraudLabels;
  }
  return n;
}

export interface WindowTotals {
  count: number;
  sumMinor: number;
  fraudLabels: number;
}

/** End (exclusive) of the window of bucket size `size` as of time a: the last bucket boundary ≤ a. */
export function windowEnd(a: number, size: number): number {
  return Math.floor(a / size) * size;
}

/** Totals of the buckets with e − widthMs ≤ bucketStart < e, e = windowEnd(a, size). */
export function windowTotals(list: readonly EntityBucket[], size: number, a: number, widthMs: number): WindowTotals {
  const e = windowEnd(a, size);
  const from = e - widthMs;
  const out: WindowTotals = { count: 0, sumMinor: 0, fraudLabels: 0 };
  for (let i = list.length - 1; i >= 0; i--) {
    const b = list[i]!;
    if (b.bucketStart >= e) continue;
    if (b.bucketStart < from) break;
    out.count += b.count;
    out.sumMinor += b.sumMinor;
    out.fraudLabels += b.fraudLabels;
  }
  return out;
}

/** Distinct account prefixes over the hour buckets of the window (capped by what the buckets kept). */
export function distinctAccounts(list: readonly EntityBucket[], a: number, widthMs: number): number {
  const e = windowEnd(a, HOUR);
  const from = e - widthMs;
  const seen = new Set<string>();
  for (let i = list.length - 1; i >= 0; i--) {
    const b = list[i]!;
    if (b.bucketStart >= e) continue;
    if (b.bucketStart < from) break;
    for (const acc of b.accounts) seen.add(acc);
  }
  return seen.size;
}

/** Whether the entity's first transaction lies in a minute bucket closed by time a. */
export function knownAsOf(stats: EntityStats, a: number): boolean {
  return stats.firstSeenAt < windowEnd(a, MINUTE);
}
