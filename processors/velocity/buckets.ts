/**
 * The shapes velocity state is kept in. Per entity (a card token or an account token):
 *
 *   minute events   '<token>|e'  @ minute start   the minute's transactions, one small tuple each
 *   minute bucket   '<token>|m'  @ minute start   aggregate of that minute
 *   hour bucket     '<token>|h'  @ hour start     aggregate of that hour
 *   minute sets     '<token>|ms' @ minute start   distinct merchants/countries of that minute
 *   hour sets       '<token>|hs' @ hour start     distinct merchants/countries of that hour
 *   day bucket      '<token>'    @ day start      aggregate of that day (in the history store)
 *
 * A transaction updates one of each (O(1) puts); a window is read as whole buckets plus the events
 * of at most two minutes at its edges (see entityState.ts), so reading costs O(buckets), never
 * O(transactions in the window). Buckets are sparse: a quiet card stores nothing. The distinct
 * sets sit under their own keys because only the 24-hour distinct counts need them: the count and
 * sum windows (7 days of buckets) then never parse them.
 *
 * Values are JSON (small, and the tuple keeps event entries compact); numbers round-trip exactly.
 */
import { type RunningStats, addValue } from './stats.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

export const floorTo = (t: number, unit: number): number => Math.floor(t / unit) * unit;
export const ceilTo = (t: number, unit: number): number => Math.ceil(t / unit) * unit;

/** One transaction as its minute keeps it: what window edges and out-of-order reads need. */
export type EventEntry = [eventTime: number, amountMinor: number, merchantId: string, country: string, lat: number | null, lon: number | null];

export interface Bucket extends RunningStats {
  /** Sum of amounts in minor units: exact (integers), unlike n × mean. */
  sum: number;
  /** Latest event time in the bucket. */
  last: number;
  /** Latest located event in the bucket: [eventTime, lat, lon]. */
  loc: [number, number, number] | null;
}

/** Distinct merchant ids and merchant countries of a minute or an hour, each capped. */
export interface DistinctSets {
  mer: string[];
  cty: string[];
}

/** What the velocity window store holds under a key: events, an aggregate, or distinct sets. */
export type VelocityValue = Bucket | EventEntry[] | DistinctSets;

export const eventsKey = (token: string): string => `${token}|e`;
export const minuteKey = (token: string): string => `${token}|m`;
export const hourKey = (token: string): string => `${token}|h`;
export const minuteSetsKey = (token: string): string => `${token}|ms`;
export const hourSetsKey = (token: string): string => `${token}|hs`;

export function asBucket(v: VelocityValue | undefined): Bucket | undefined {
  return v !== undefined && !Array.isArray(v) && 'n' in v ? v : undefined;
}

export function asSets(v: VelocityValue | undefined): DistinctSets | undefined {
  return v !== undefined && !Array.isArray(v) && 'mer' in v ? v : undefined;
}

export function isLocated(e: EventEntry): e is [number, number, string, string, number, number] {
  return e[4] !== null && e[5] !== null;
}

/**
 * The bucket with one more event (a new object; the stored one is never mutated in place, since
 * the store's cache may hand back the same instance).
 */
export function addToBucket(bucket: Bucket | undefined, e: EventEntry): Bucket {
  const [t, amount] = e;
  const stats = addValue(bucket ?? { n: 0, mean: 0, m2: 0 }, amount);
  const prevLoc = bucket?.loc ?? null;
  // Ties go to the later arrival, the same rule the event scan in entityState.ts applies.
  const loc = isLocated(e) && (prevLoc === null || t >= prevLoc[0]) ? ([t, e[4], e[5]] as [number, number, number]) : prevLoc;
  return {
    ...stats,
    sum: (bucket?.sum ?? 0) + amount,
    last: bucket === undefined ? t : Math.max(bucket.last, t),
    loc,
  };
}

function withValue(values: readonly string[] | undefined, value: string, cap: number): string[] {
  const out = values === undefined ? [] : values.slice();
  // Past the cap a bucket keeps the first `cap` values it saw: distinct counts become lower
  // bounds for that bucket, and a card-testing burst cannot grow one bucket without limit.
  if (out.length < cap && !out.includes(value)) out.push(value);
  return out;
}

/** The sets with this event's merchant and country added (a new object, as for buckets). */
export function addToSets(sets: DistinctSets | undefined, e: EventEntry, cap: number): DistinctSets {
  return { mer: withValue(sets?.mer, e[2], cap), cty: withValue(sets?.cty, e[3], cap) };
}
