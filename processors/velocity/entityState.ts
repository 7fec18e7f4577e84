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
 * One instance per entity per transaction: range reads are memoised for the windows that share
 * them, and `record` is called last (the memo does not see its writes).
 */
import type { WindowStore, WindowedValue } from '../../state/types.js';
import type { LocatedEvent } from '../impossibleTravel.js';
import {
  type Bucket,
  DAY_MS,
  type EventEntry,
  HOUR_MS,
  MINUTE_MS,
  type VelocityValue,
  addToBucket,
  ceilTo,
  eventsKey,
  floorTo,
  hourKey,
  isLocated,
  minuteKey,
} from './buckets.js';
import { EMPTY_STATS, type RunningStats, addValue, mergeStats } from './stats.js';

export type Level = 'day' | 'hour' | 'minute';
const LEVELS: readonly Level[] = ['day', 'hour', 'minute'];
const UNIT: { readonly [L in Level]: number } = { day: DAY_MS, hour: HOUR_MS, minute: MINUTE_MS };

export interface EntityStores {
  /** Minute events, minute and hour buckets. */
  velocity: WindowStore<string, VelocityValue>;
  /** Day buckets. */
  history: WindowStore<string, Bucket>;
}

export interface EntityOptions {
  /** Cap of the distinct merchant/country sets per minute and hour bucket; null keeps no sets. */
  distinctCap: number | null;
  /** How many day buckets back a "previous transaction" is searched for. */
  historyDays: number;
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
    for (const m of b.mer ?? []) this.merchants.add(m);
    for (const c of b.cty ?? []) this.countries.add(c);
  }

  addEvent(e: EventEntry): void {
    this.count += 1;
    this.sum += e[1];
    this.stats = addValue(this.stats, e[1]);
    this.merchants.add(e[2]);
    this.countries.add(e[3]);
  }
}

function asBucket(v: VelocityValue | undefined): Bucket | undefined {
  return v === undefined || Array.isArray(v) ? undefined : v;
}

export class EntityState {
  private readonly ranges = new Map<string, readonly WindowedValue<Bucket>[]>();
  private readonly minuteEvents = new Map<number, readonly EventEntry[]>();

  constructor(
    private readonly stores: EntityStores,
    private readonly token: string,
    private readonly options: EntityOptions,
  ) {}

  /** Transactions recorded so far with from ≤ eventTime < toExclusive, tiled down from `coarsest`. */
  window(from: number, toExclusive: number, coarsest: Level): WindowAccumulator {
    const acc = new WindowAccumulator();
    this.cover(from, toExclusive, LEVELS.indexOf(coarsest), acc);
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

  /** Adds a transaction to its minute's events and to its minute, hour and day buckets. */
  record(e: EventEntry): void {
    const t = e[0];
    const minute = floorTo(t, MINUTE_MS);
    const hour = floorTo(t, HOUR_MS);
    const day = floorTo(t, DAY_MS);
    const { velocity, history } = this.stores;
    const events = velocity.fetch(eventsKey(this.token), minute);
    // A new array: the store's cache may hand out the stored instance.
    velocity.put(eventsKey(this.token), Array.isArray(events) ? [...events, e] : [e], minute);
    velocity.put(minuteKey(this.token), addToBucket(asBucket(velocity.fetch(minuteKey(this.token), minute)), e, this.options.distinctCap), minute);
    velocity.put(hourKey(this.token), addToBucket(asBucket(velocity.fetch(hourKey(this.token), hour)), e, this.options.distinctCap), hour);
    history.put(this.token, addToBucket(history.fetch(this.token, day), e, null), day);
  }

  private cover(from: number, toExclusive: number, levelIndex: number, acc: WindowAccumulator): void {
    if (from >= toExclusive) return;
    const level = LEVELS[levelIndex]!;
    if (level === 'minute') {
      this.coverMinutes(from, toExclusive, acc);
      return;
    }
    const unit = UNIT[level];
    const a = ceilTo(from, unit);
    const b = floorTo(toExclusive, unit);
    if (a >= b) {
      this.cover(from, toExclusive, levelIndex + 1, acc);
      return;
    }
    for (const { value } of this.range(level, a, b - unit)) acc.addBucket(value);
    this.cover(from, a, levelIndex + 1, acc);
    this.cover(b, toExclusive, levelIndex + 1, acc);
  }

  private coverMinutes(from: number, toExclusive: number, acc: WindowAccumulator): void {
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
    if (fullFrom <= fullTo) for (const { value } of this.range('minute', fullFrom, fullTo)) acc.addBucket(value);
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
      const buckets = this.range(level, from, to);
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

  /** Buckets of a level with from ≤ start ≤ to, oldest first. */
  private range(level: Level, from: number, to: number): readonly WindowedValue<Bucket>[] {
    if (from > to) return [];
    const memoKey = `${level}:${from}:${to}`;
    let out = this.ranges.get(memoKey);
    if (out === undefined) {
      if (level === 'day') {
        out = [...this.stores.history.fetchRange(this.token, from, to)];
      } else {
        const key = level === 'hour' ? hourKey(this.token) : minuteKey(this.token);
        const list: WindowedValue<Bucket>[] = [];
        for (const { windowStart, value } of this.stores.velocity.fetchRange(key, from, to)) {
          const bucket = asBucket(value);
          if (bucket !== undefined) list.push({ windowStart, value: bucket });
        }
        out = list;
      }
      this.ranges.set(memoKey, out);
    }
    return out;
  }
}
