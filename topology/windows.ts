/**
 * Window definitions for windowed aggregations and stream–stream joins, with Kafka Streams'
 * semantics. All times are epoch ms and windows never start before 0.
 *
 * - TimeWindows: fixed size, aligned to the epoch. Tumbling when advance = size, hopping when
 *   advance < size. A window is [start, end): a record at exactly `end` is in the next window.
 * - SlidingWindows: windows of `timeDifference` defined by the records themselves: for each record
 *   at t there is a window [t - diff, t] and, if later records are within diff of it, a window
 *   [t + 1, t + 1 + diff]. Both ends are inclusive. Every distinct set of records that fits within
 *   diff of each other is aggregated exactly once (see slidingWindowAggregate.ts).
 * - JoinWindows: a record at t joins records of the other stream with timestamps in
 *   [t - before, t + after] (both inclusive).
 *
 * Each has a grace period: a window closes when stream time reaches end + grace, and records for
 * closed windows are dropped (counted, and optionally routed to a late-records topic).
 */

export interface Window {
  readonly start: number;
  /** Exclusive for TimeWindows, inclusive for SlidingWindows (as in Kafka Streams). */
  readonly end: number;
}

export interface Windowed<K> {
  readonly key: K;
  readonly window: Window;
}

function checkDuration(what: string, ms: number, min: number): void {
  if (!Number.isSafeInteger(ms) || ms < min) throw new Error(`${what} must be an integer >= ${min} ms, got ${ms}`);
}

export class TimeWindows {
  private constructor(
    readonly sizeMs: number,
    readonly advanceMs: number,
    readonly graceMs: number,
  ) {}

  /** Tumbling windows of `sizeMs`, accepting records up to `graceMs` after a window's end. */
  static ofSizeWithGrace(sizeMs: number, graceMs: number): TimeWindows {
    checkDuration('window size', sizeMs, 1);
    checkDuration('grace period', graceMs, 0);
    return new TimeWindows(sizeMs, sizeMs, graceMs);
  }

  /** Tumbling windows with no grace: a record is late as soon as stream time passes its window's end. */
  static ofSizeWithNoGrace(sizeMs: number): TimeWindows {
    return TimeWindows.ofSizeWithGrace(sizeMs, 0);
  }

  /** Hopping windows: a new window every `advanceMs` (0 < advance <= size). */
  advanceBy(advanceMs: number): TimeWindows {
    checkDuration('window advance', advanceMs, 1);
    if (advanceMs > this.sizeMs) throw new Error(`window advance (${advanceMs} ms) must not exceed the window size (${this.sizeMs} ms)`);
    return new TimeWindows(this.sizeMs, advanceMs, this.graceMs);
  }

  /** The windows containing `timestamp`, oldest first. */
  windowsFor(timestamp: number): Window[] {
    const out: Window[] = [];
    // The oldest window still containing the timestamp starts after timestamp - size.
    let start = Math.floor(Math.max(0, timestamp - this.sizeMs + this.advanceMs) / this.advanceMs) * this.advanceMs;
    for (; start <= timestamp; start += this.advanceMs) out.push({ start, end: start + this.sizeMs });
    return out;
  }

  /** How long a store must keep windows so that none is dropped before it closes. */
  minimumRetentionMs(): number {
    return this.sizeMs + this.graceMs;
  }
}

export class SlidingWindows {
  private constructor(
    readonly timeDifferenceMs: number,
    readonly graceMs: number,
  ) {}

  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): SlidingWindows {
    checkDuration('time difference', timeDifferenceMs, 1);
    checkDuration('grace period', graceMs, 0);
    return new SlidingWindows(timeDifferenceMs, graceMs);
  }

  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): SlidingWindows {
    return SlidingWindows.ofTimeDifferenceAndGrace(timeDifferenceMs, 0);
  }

  /**
   * How long a store must keep windows. Closed windows are never updated, so a record matters only
   * while some window containing it is open, i.e. t >= stream time - grace; its aggregation then
   * reads windows starting up to 2 × diff before t (the previous record's windows), and the newest
   * window can start 1 ms after stream time. Hence 2 × diff + grace + 2 (Kafka Streams: 2 × diff + grace).
   */
  minimumRetentionMs(): number {
    return 2 * this.timeDifferenceMs + this.graceMs + 2;
  }
}

export class JoinWindows {
  private constructor(
    readonly beforeMs: number,
    readonly afterMs: number,
    readonly graceMs: number,
  ) {}

  /** Records join when their timestamps differ by at most `timeDifferenceMs`, either way. */
  static ofTimeDifferenceAndGrace(timeDifferenceMs: number, graceMs: number): JoinWindows {
    checkDuration('time difference', timeDifferenceMs, 0);
    checkDuration('grace period', graceMs, 0);
    return new JoinWindows(timeDifferenceMs, timeDifferenceMs, graceMs);
  }

  static ofTimeDifferenceWithNoGrace(timeDifferenceMs: number): JoinWindows {
    return JoinWindows.ofTimeDifferenceAndGrace(timeDifferenceMs, 0);
  }

  /** How far back (from this stream's record) the other stream's records may be. */
  before(beforeMs: number): JoinWindows {
    checkDuration('join window before', beforeMs, 0);
    return new JoinWindows(beforeMs, this.afterMs, this.graceMs);
  }

  /** How far ahead (from this stream's record) the other stream's records may be. */
  after(afterMs: number): JoinWindows {
    checkDuration('join window after', afterMs, 0);
    return new JoinWindows(this.beforeMs, afterMs, this.graceMs);
  }

  /** Join buffers keep records this long behind stream time. */
  retentionMs(): number {
    return this.beforeMs + this.afterMs + this.graceMs + 1;
  }
}

/**
 * Session windows: a key's records at most `inactivityGap` apart belong to one session [first,
 * last] (both inclusive); a record between two sessions within the gap of both merges them. A
 * session closes when stream time reaches its end + gap + grace (Kafka Streams' SessionWindows).
 */
export class SessionWindows {
  private constructor(
    readonly inactivityGapMs: number,
    readonly graceMs: number,
  ) {}

  static ofInactivityGapAndGrace(inactivityGapMs: number, graceMs: number): SessionWindows {
    checkDuration('inactivity gap', inactivityGapMs, 1);
    checkDuration('grace period', graceMs, 0);
    return new SessionWindows(inactivityGapMs, graceMs);
  }

  static ofInactivityGapWithNoGrace(inactivityGapMs: number): SessionWindows {
    return SessionWindows.ofInactivityGapAndGrace(inactivityGapMs, 0);
  }

  /** Sessions are kept by their end this long behind stream time (gap + grace, as Kafka Streams). */
  minimumRetentionMs(): number {
    return this.inactivityGapMs + this.graceMs + 1;
  }
}
