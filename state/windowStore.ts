/**
 * The segmented window store (layout in windowKeySchema.ts).
 *
 * Retention follows Kafka Streams: the store knows time only through what it is given, so its
 * observed stream time is the largest window start ever put (or restored). A window is live while
 * windowStart > observedStreamTime − retention; a put for a window that is no longer live is
 * dropped, and reads never return one, even before its segment is physically removed. A segment
 * (segmentInterval ms of window starts) is removed once all of its windows are expired: forgotten
 * by the cache at once, range-deleted from the engine at the next flush.
 */
import type { Serde } from '../topology/serde.js';
import { successor } from './bytes.js';
import { CachedStore, type CachedStoreOptions } from './cachedStore.js';
import type { EngineWrite, StoreEngine } from './engine.js';
import type { ChangeRecord, WindowedKeyValue, WindowedValue, WindowStore } from './types.js';
import {
  OBSERVED_TIME_KEY,
  changelogKey,
  checkWindowStart,
  decodeTime,
  encodeTime,
  isStoreKey,
  parseChangelogKey,
  parseStoreKey,
  segmentIdOf,
  segmentIdOfStoreKey,
  segmentPrefix,
  storeKey,
  windowStartOfStoreKey,
} from './windowKeySchema.js';
import type { FlushedEntry } from './writeCache.js';

export interface WindowStoreOptions extends CachedStoreOptions {
  retentionMs: number;
  segmentIntervalMs: number;
}

export function checkWindowOptions(name: string, retentionMs: number, segmentIntervalMs: number): void {
  if (!Number.isSafeInteger(retentionMs) || retentionMs <= 0) {
    throw new Error(`window store ${name}: retentionMs must be a positive integer, got ${retentionMs}`);
  }
  if (!Number.isSafeInteger(segmentIntervalMs) || segmentIntervalMs <= 0) {
    throw new Error(`window store ${name}: segmentIntervalMs must be a positive integer, got ${segmentIntervalMs}`);
  }
}

/** Nothing put yet. */
const NO_TIME = -1;
const FIRST_SEGMENT = segmentPrefix(0);

export class SegmentedWindowStore<K, V> extends CachedStore implements WindowStore<K, V> {
  readonly retentionMs: number;
  readonly segmentIntervalMs: number;
  private observedStreamTime = NO_TIME;
  /** Segments below this are gone from the cache and are (or will be at flush) gone from the engine. */
  private firstLiveSegment = 0;
  /** The engine may still hold segments below firstLiveSegment. */
  private dropPending = false;
  private expiredPuts = 0;

  constructor(
    options: WindowStoreOptions,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {
    super(options);
    checkWindowOptions(options.name, options.retentionMs, options.segmentIntervalMs);
    this.retentionMs = options.retentionMs;
    this.segmentIntervalMs = options.segmentIntervalMs;
  }

  /** Largest window start seen, or -1 before the first put. */
  get streamTime(): number {
    return this.observedStreamTime;
  }

  /** Puts dropped because their window had already expired (Kafka Streams logs these). */
  get droppedExpiredPuts(): number {
    return this.expiredPuts;
  }

  put(key: K, value: V | null, windowStart: number): void {
    checkWindowStart(this.name, windowStart);
    const { cache } = this.opened();
    if (windowStart < this.minLiveWindowStart()) {
      this.expiredPuts++;
      return;
    }
    if (windowStart > this.observedStreamTime) {
      this.observedStreamTime = windowStart;
      // Metadata rides along in the same flush batch; toChangeRecord keeps it out of the changelog.
      cache.put(OBSERVED_TIME_KEY, encodeTime(windowStart), 0);
      this.expireSegments();
    }
    const bytes = value === null ? null : this.valueSerde.serialize(value);
    const segment = segmentIdOf(windowStart, this.segmentIntervalMs);
    cache.put(storeKey(segment, this.keySerde.serialize(key), windowStart), bytes, this.eventTime(() => windowStart));
  }

  fetch(key: K, windowStart: number): V | undefined {
    checkWindowStart(this.name, windowStart);
    const { cache } = this.opened();
    if (windowStart < this.minLiveWindowStart() || windowStart > this.observedStreamTime) return undefined;
    const segment = segmentIdOf(windowStart, this.segmentIntervalMs);
    const bytes = cache.get(storeKey(segment, this.keySerde.serialize(key), windowStart));
    return bytes === undefined ? undefined : this.valueSerde.deserialize(bytes);
  }

  fetchRange(key: K, timeFrom: number, timeTo: number): IterableIterator<WindowedValue<V>> {
    this.opened();
    return this.fetchKeyRange(this.keySerde.serialize(key), timeFrom, timeTo);
  }

  fetchAll(timeFrom: number, timeTo: number): IterableIterator<WindowedKeyValue<K, V>> {
    this.opened();
    return this.fetchAllRange(timeFrom, timeTo);
  }

  all(): IterableIterator<WindowedKeyValue<K, V>> {
    return this.fetchAll(0, Number.MAX_SAFE_INTEGER);
  }

  /**
   * Ids of the segments the engine physically holds (not the cache), for tests and debugging.
   * One seek per segment: it hops from each segment's first key to the next segment's prefix.
   */
  persistedSegmentIds(): number[] {
    const { engine } = this.opened();
    const ids: number[] = [];
    const keys = engine.seekKeys({ gte: FIRST_SEGMENT, lt: OBSERVED_TIME_KEY }, FIRST_SEGMENT, (found) =>
      segmentPrefix(segmentIdOfStoreKey(found) + 1),
    );
    for (const key of keys) ids.push(segmentIdOfStoreKey(key));
    return ids;
  }

  /**
   * Bounds are clamped to what can exist (live windows up to stream time), so callers may pass
   * e.g. now − size below zero or Number.MAX_SAFE_INTEGER. Returns undefined when nothing can match.
   */
  private clamp(timeFrom: number, timeTo: number): { from: number; to: number } | undefined {
    if (Number.isNaN(timeFrom) || Number.isNaN(timeTo)) {
      throw new Error(`window store ${this.name}: time bounds must be numbers, got ${timeFrom}..${timeTo}`);
    }
    if (this.observedStreamTime === NO_TIME) return undefined;
    const from = Math.max(Math.ceil(timeFrom), this.minLiveWindowStart(), 0);
    const to = Math.min(Math.floor(timeTo), this.observedStreamTime);
    return from > to ? undefined : { from, to };
  }

  private *fetchKeyRange(key: Buffer, timeFrom: number, timeTo: number): IterableIterator<WindowedValue<V>> {
    const bounds = this.clamp(timeFrom, timeTo);
    if (!bounds) return;
    const { cache } = this.opened();
    const last = segmentIdOf(bounds.to, this.segmentIntervalMs);
    for (let segment = segmentIdOf(bounds.from, this.segmentIntervalMs); segment <= last; segment++) {
      // One key's windows in one segment are contiguous (length-prefixed key), so this is exact.
      const range = { gte: storeKey(segment, key, bounds.from), lt: successor(storeKey(segment, key, bounds.to)) };
      for (const entry of cache.scan(range)) {
        yield { windowStart: windowStartOfStoreKey(entry.key), value: this.valueSerde.deserialize(entry.value) };
      }
    }
  }

  private *fetchAllRange(timeFrom: number, timeTo: number): IterableIterator<WindowedKeyValue<K, V>> {
    const bounds = this.clamp(timeFrom, timeTo);
    if (!bounds) return;
    const { cache } = this.opened();
    const last = segmentIdOf(bounds.to, this.segmentIntervalMs);
    for (let segment = segmentIdOf(bounds.from, this.segmentIntervalMs); segment <= last; segment++) {
      // Within a segment keys run by (key length, key, window start); the contract wants
      // (window start, key bytes), so each segment is collected and sorted before it is yielded.
      const windows: Array<{ key: Buffer; windowStart: number; value: Buffer }> = [];
      for (const entry of cache.scan({ gte: segmentPrefix(segment), lt: segmentPrefix(segment + 1) })) {
        const { key, windowStart } = parseStoreKey(entry.key);
        if (windowStart >= bounds.from && windowStart <= bounds.to) windows.push({ key, windowStart, value: entry.value });
      }
      windows.sort((a, b) => a.windowStart - b.windowStart || Buffer.compare(a.key, b.key));
      for (const { key, windowStart, value } of windows) {
        yield { key: this.keySerde.deserialize(key), windowStart, value: this.valueSerde.deserialize(value) };
      }
    }
  }

  private minLiveWindowStart(): number {
    return this.observedStreamTime - this.retentionMs + 1;
  }

  /** Forgets segments whose newest window start is below the live bound. */
  private expireSegments(): void {
    const firstLive = segmentIdOf(Math.max(0, this.minLiveWindowStart()), this.segmentIntervalMs);
    if (firstLive <= this.firstLiveSegment) return;
    this.firstLiveSegment = firstLive;
    this.opened().cache.dropRange({ gte: FIRST_SEGMENT, lt: segmentPrefix(firstLive) });
    this.dropPending = true;
  }

  protected override async afterOpen(engine: StoreEngine): Promise<void> {
    const stored = engine.get(OBSERVED_TIME_KEY);
    this.observedStreamTime = stored === undefined ? NO_TIME : decodeTime(stored);
    this.firstLiveSegment = 0;
    this.dropPending = false;
    // A store reopened after stream time moved on may still hold segments that expired since.
    this.expireSegments();
  }

  protected override async afterFlush(engine: StoreEngine): Promise<void> {
    if (!this.dropPending) return;
    await engine.deleteRange({ gte: FIRST_SEGMENT, lt: segmentPrefix(this.firstLiveSegment) });
    this.dropPending = false;
  }

  protected async restoreToEngine(engine: StoreEngine, changes: readonly ChangeRecord[]): Promise<void> {
    const parsed = changes.map((change) => ({ ...parseChangelogKey(change.key), value: change.value }));
    const before = this.observedStreamTime;
    for (const { windowStart } of parsed) {
      if (windowStart > this.observedStreamTime) this.observedStreamTime = windowStart;
    }
    this.expireSegments();
    const minLive = this.minLiveWindowStart();
    const writes: EngineWrite[] = [];
    for (const { key, windowStart, value } of parsed) {
      if (windowStart < minLive) continue;
      writes.push({ key: storeKey(segmentIdOf(windowStart, this.segmentIntervalMs), key, windowStart), value });
    }
    if (this.observedStreamTime !== before) writes.push({ key: OBSERVED_TIME_KEY, value: encodeTime(this.observedStreamTime) });
    engine.write(writes);
    await this.afterFlush(engine);
  }

  protected toChangeRecord(entry: FlushedEntry): ChangeRecord | undefined {
    if (!isStoreKey(entry.key)) return undefined;
    const { key, windowStart } = parseStoreKey(entry.key);
    return { key: changelogKey(key, windowStart), value: entry.value, timestamp: entry.timestamp };
  }
}
