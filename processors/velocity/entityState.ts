/**
 * Reads and writes the velocity state of one entity (a card or an account) for one transaction.
 *
 * Windows are half-open in event time, [from, toExclusive); the processor asks for
 * (t − W, t] as [t − W + 1, t + 1). A window is tiled greedily: whole day buckets where whole
 * days fit, whole hours in what is left, whole minutes in what is left of that, and the events of
 * at most two minutes at the very edges, filtered by their own event time. Every piece is exact,
 * so a window is exact to the millisecond at both ends while a read touches at most
 * (days + 2·23 hours + 2·59 minutes) buckets and two minutes' events, however many transactions the
 * window holds.
 *
 * Exactness at the right edge is what makes out-of-order events safe: a transaction arriving after
 * later ones reads only buckets that end at or before its own minute, and from its own minute only
 * the events with an event time ≤ its own. Later transactions live in later buckets or are filtered
 * out, so nothing from the future leaks in.
 *
 * A range scan has a fixed cost (store cache merge, engine iterator per segment) well above that
 * of the few buckets it returns, so the reads are batched: per bucket level, one scan over the span
 * most windows of the transaction touch (the last two hours of minutes, yesterday and today in
 * hours, 30 days of days), loaded on first use and sliced in memory. The far edges of the 24-hour
 * and 7-day windows are scanned on their own.
 *
 * One instance per entity per transaction, built for that transaction's event time; `record` is
 * called last (the loaded spans do not see its writes).
 */
import type { WindowStore, WindowedValue } from '../../state/types.js';
import type { LocatedEvent } from '../impossibleTravel.js';
import {
  type Bucket,
  DAY_MS,
  type DistinctSets,
  type EventEntry,
  HOUR_MS,
  MINUTE_MS,
  type VelocityValue,
  addToBucket,
  addToSets,
  asBucket,
  asSets,
  ceilTo,
  eventsKey,
  floorTo,
  hourKey,
  hourSetsKey,
  isLocated,
  minuteKey,
  minuteSetsKey,
} from './buckets.js';
import { EMPTY_STATS, type RunningStats, addValue, mergeStats } from './stats.js';

export type Level = 'day' | 'hour' | 'minute';
const LEVELS: readonly Level[] = ['day', 'hour', 'minute'];
const UNIT: { readonly [L in Level]: number } = { day: DAY_MS, hour: HOUR_MS, minute: MINUTE_MS };

export interface EntityStores {
  /** Minute events, minute and hour buckets and sets. */
  velocity: WindowStore<string, VelocityValue>;
  /** Day buckets. */
  history: WindowStore<string, Bucket>;
}

export interface EntityOptions {
  /** Cap of the distinct merchant/country sets per minute and hour; null keeps no sets. */
  distinctCap: number | null;
  /** How many day buckets back a "previous transaction" is searched for (and days are loaded). */
  historyDays: number;
}

interface Span {
  from: number;
  to: number;
}

/** Index of the first entry with windowStart ≥ time. */
function lowerBound<T>(sorted: readonly WindowedValue<T>[], time: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.windowStart < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Entries of one key over a span, fetched by one range scan on first use and sliced after; a
 * request outside the span is scanned on its own (and remembered).
 */
class SpanReader<T> {
  private loaded: WindowedValue<T>[] | undefined;
  private readonly outside = new Map<string, readonly WindowedValue<T>[]>();

  constructor(
    private readonly span: Span,
    private readonly scan: (from: number, to: number) => WindowedValue<T>[],
  ) {}

  /** Entries with from ≤ windowStart ≤ to, oldest first. */
  get(from: number, to: number): readonly WindowedValue<T>[] {
    if (from > to) return [];
    if (from >= this.span.from && to <= this.span.to) {
      this.loaded ??= this.scan(this.span.from, this.span.to);
      return this.loaded.slice(lowerBound(this.loaded, from), lowerBound(this.loaded, to + 1));
    }
    const key = `${from}:${to}`;
    let out = this.outside.get(key);
    if (out === undefined) {
      out = this.scan(from, to);
      this.outside.set(key, out);
    }
    return out;
  }
}

function scanner<V, T>(store: WindowStore<string, V>, key: string, decode: (v: V) => T | undefined) {
  return (from: number, to: number): WindowedValue<T>[] => {
    const out: WindowedValue<T>[] = [];
    for (const { windowStart, value } of store.fetchRange(key, from, to)) {
      const decoded = decode(value);
      if (decoded !== undefined) out.push({ windowStart, value: decoded });
    }
    return out;
  };
}

/** What a window adds up to. */
export class WindowAccumulator {
  count = 0;
  sum = 0;
  stats: RunningStats = EMPTY_STATS;
  readonly merchants = new Set<string>();
  readonly countries = new Set<string>();

  addBucket(b: Bucket): void {
    this.count += b.n;
    this.sum += b.sum;
    this.stats = mergeStats(this.stats, b);
  }

  addSets(s: DistinctSets): void {
    for (const m of s.mer) this.merchants.add(m);
    for (const c of s.cty) this.countries.add(c);
  }

  addEvent(e: EventEntry): void {
    this.count += 1;
    this.sum += e[1];
    this.stats = addValue(this.stats, e[1]);
    this.merchants.add(e[2]);
    this.countries.add(e[3]);
  }
}

export class EntityState {
  private readonly buckets: { readonly [L in Level]: SpanReader<Bucket> };
  private readonly sets: { readonly [L in 'hour' | 'minute']: SpanReader<DistinctSets> };
  private readonly minuteEvents = new Map<number, readonly EventEntry[]>();

  constructor(
    private readonly stores: EntityStores,
    private readonly token: string,
    private readonly options: EntityOptions,
    /** The event time of the transaction being handled: the spans loaded are around it. */
    asOf: number,
  ) {
    const day = floorTo(asOf, DAY_MS);
    const hour = floorTo(asOf, HOUR_MS);
    const minute = floorTo(asOf, MINUTE_MS);
    const { velocity, history } = stores;
    const recentMinutes: Span = { from: hour - HOUR_MS, to: minute };
    this.buckets = {
      day: new SpanReader({ from: day - options.historyDays * DAY_MS, to: day }, scanner(history, token, (b: Bucket) => b)),
      // The last day of hours: the 24-hour window, today's hours of the longer windows and the
      // previous-transaction search. The far edge of the 7-day window is read on its own.
      hour: new SpanReader({ from: day - DAY_MS, to: hour }, scanner(velocity, hourKey(token), asBucket)),
      minute: new SpanReader(recentMinutes, scanner(velocity, minuteKey(token), asBucket)),
    };
    this.sets = {
      hour: new SpanReader({ from: hour - DAY_MS, to: hour }, scanner(velocity, hourSetsKey(token), asSets)),
      minute: new SpanReader(recentMinutes, scanner(velocity, minuteSetsKey(token), asSets)),
    };
  }

  /**
   * Transactions recorded so far with from ≤ eventTime < toExclusive, tiled down from `coarsest`.
   * With `distinct`, the merchant and country sets are gathered too; days keep no sets, so such a
   * window must start at 'hour' or finer.
   */
  window(from: number, toExclusive: number, coarsest: Level, distinct = false): WindowAccumulator {
    if (distinct && coarsest === 'day') throw new Error('distinct counts are kept per hour and minute, not per day');
    const acc = new WindowAccumulator();
    this.cover(from, toExclusive, LEVELS.indexOf(coarsest), distinct, acc);
    return acc;
  }

  /** Event time of the latest transaction recorded so far with eventTime ≤ t, or null. */
  previousTime(t: number): number | null {
    return this.latest(
      t,
      (e) => e[0],
      (b) => (b.n > 0 ? b.last : null),
    );
  }

  /** The latest located transaction recorded so far with eventTime ≤ t, or null. */
  previousLocated(t: number): LocatedEvent | null {
    return this.latest(
      t,
      (e) => (isLocated(e) ? { time: e[0], lat: e[4], lon: e[5] } : null),
      (b) => (b.loc === null ? null : { time: b.loc[0], lat: b.loc[1], lon: b.loc[2] }),
    );
  }

  /** Adds a transaction to its minute's events and to its minute, hour and day buckets (and sets). */
  record(e: EventEntry): void {
    const t = e[0];
    const minute = floorTo(t, MINUTE_MS);
    const hour = floorTo(t, HOUR_MS);
    const day = floorTo(t, DAY_MS);
    const { velocity, history } = this.stores;
    const token = this.token;
    const events = velocity.fetch(eventsKey(token), minute);
    // A new array: the store's cache may hand out the stored instance.
    velocity.put(eventsKey(token), Array.isArray(events) ? [...events, e] : [e], minute);
    velocity.put(minuteKey(token), addToBucket(asBucket(velocity.fetch(minuteKey(token), minute)), e), minute);
    velocity.put(hourKey(token), addToBucket(asBucket(velocity.fetch(hourKey(token), hour)), e), hour);
    history.put(token, addToBucket(history.fetch(token, day), e), day);
    const cap = this.options.distinctCap;
    if (cap !== null) {
      velocity.put(minuteSetsKey(token), addToSets(asSets(velocity.fetch(minuteSetsKey(token), minute)), e, cap), minute);
      velocity.put(hourSetsKey(token), addToSets(asSets(velocity.fetch(hourSetsKey(token), hour)), e, cap), hour);
    }
  }

  private cover(from: number, toExclusive: number, levelIndex: number, distinct: boolean, acc: WindowAccumulator): void {
    if (from >= toExclusive) return;
    const level = LEVELS[levelIndex]!;
    if (level === 'minute') {
      this.coverMinutes(from, toExclusive, distinct, acc);
      return;
    }
    const unit = UNIT[level];
    const a = ceilTo(from, unit);
    const b = floorTo(toExclusive, unit);
    if (a >= b) {
      this.cover(from, toExclusive, levelIndex + 1, distinct, acc);
      return;
    }
    this.addWhole(level, a, b - unit, distinct, acc);
    this.cover(from, a, levelIndex + 1, distinct, acc);
    this.cover(b, toExclusive, levelIndex + 1, distinct, acc);
  }

  private addWhole(level: Level, from: number, to: number, distinct: boolean, acc: WindowAccumulator): void {
    for (const { value } of this.buckets[level].get(from, to)) acc.addBucket(value);
    if (distinct && level !== 'day') for (const { value } of this.sets[level].get(from, to)) acc.addSets(value);
  }

  private coverMinutes(from: number, toExclusive: number, distinct: boolean, acc: WindowAccumulator): void {
    const first = floorTo(from, MINUTE_MS);
    const last = floorTo(toExclusive - 1, MINUTE_MS);
    let fullFrom = first;
    let fullTo = last;
    if (from > first) {
      this.addEventsWithin(first, from, toExclusive, acc);
      fullFrom = first + MINUTE_MS;
    }
    if (toExclusive < last + MINUTE_MS && last >= fullFrom) {
      this.addEventsWithin(last, from, toExclusive, acc);
      fullTo = last - MINUTE_MS;
    }
    if (fullFrom <= fullTo) this.addWhole('minute', fullFrom, fullTo, distinct, acc);
  }

  private addEventsWithin(minute: number, from: number, toExclusive: number, acc: WindowAccumulator): void {
    for (const e of this.events(minute)) if (e[0] >= from && e[0] < toExclusive) acc.addEvent(e);
  }

  /**
   * The newest match at or before t: first t's own minute event by event (ties to the later
   * arrival), then whole minutes of t's hour, hours of t's day and days of the history, newest
   * first. Every bucket searched ends before t's minute/hour/day, so all its events are ≤ t.
   */
  private latest<T>(t: number, fromEvent: (e: EventEntry) => T | null, fromBucket: (b: Bucket) => T | null): T | null {
    let best: T | null = null;
    let bestTime = -Infinity;
    for (const e of this.events(floorTo(t, MINUTE_MS))) {
      if (e[0] > t || e[0] < bestTime) continue;
      const found = fromEvent(e);
      if (found !== null) {
        best = found;
        bestTime = e[0];
      }
    }
    if (best !== null) return best;
    const day = floorTo(t, DAY_MS);
    const searches: [Level, number, number][] = [
      ['minute', floorTo(t, HOUR_MS), floorTo(t, MINUTE_MS) - MINUTE_MS],
      ['hour', day, floorTo(t, HOUR_MS) - HOUR_MS],
      ['day', day - this.options.historyDays * DAY_MS, day - DAY_MS],
    ];
    for (const [level, from, to] of searches) {
      const buckets = this.buckets[level].get(from, to);
      for (let i = buckets.length - 1; i >= 0; i--) {
        const found = fromBucket(buckets[i]!.value);
        if (found !== null) return found;
      }
    }
    return null;
  }

  private events(minute: number): readonly EventEntry[] {
    let list = this.minuteEvents.get(minute);
    if (list === undefined) {
      const v = this.stores.velocity.fetch(eventsKey(this.token), minute);
      list = Array.isArray(v) ? v : [];
      this.minuteEvents.set(minute, list);
    }
    return list;
  }
}
