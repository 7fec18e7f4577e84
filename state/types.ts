/**
 * State store contracts. Processors see typed, synchronous stores; underneath, every store keeps
 * bytes (keys ordered by their serialized bytes, as in Kafka Streams) and can log each change to a
 * changelog so that a task's state can be rebuilt anywhere.
 *
 * Reads and writes are synchronous so that the per-record path needs no promise: writes land in a
 * write-back cache and reach the persistent engine (and the changelog) at `flush()`, which the
 * runtime calls at commit. Opening, flushing to disk and closing may be asynchronous.
 */
import type { Serde } from '../topology/serde.js';

export interface KeyValue<K, V> {
  key: K;
  value: V;
}

/** One change to a store in raw bytes, as written to and restored from a changelog topic. */
export interface ChangeRecord {
  key: Buffer;
  /** null is a tombstone (delete). */
  value: Buffer | null;
  /** Event time of the record that caused the change (the changelog record's timestamp). */
  timestamp: number;
}

/**
 * Where a logged store sends its changes. The test driver collects them in memory; the Kafka
 * runtime produces them to `<applicationId>-<storeName>-changelog` inside the task's transaction.
 */
export interface ChangelogSink {
  send(storeName: string, change: ChangeRecord): void;
}

/** Everything a store needs to open itself for one task. */
export interface StoreContext {
  /** Folder for this task's persistent stores, e.g. <stateDir>/<applicationId>/<taskId>. */
  taskDir: string;
  taskId: string;
  /** Present when the store is logged. */
  changelog?: ChangelogSink;
  /**
   * Event time of the record being processed; stores stamp the changelog records of its writes
   * with it. Optional: without it key-value stores use the wall clock and window stores the window
   * start.
   */
  currentTimestamp?(): number;
}

export interface StateStore {
  readonly name: string;
  readonly persistent: boolean;
  /** Whether changes are logged to a changelog. */
  readonly logged: boolean;
  open(ctx: StoreContext): Promise<void>;
  /**
   * Write the cache to the engine and send each key's latest change (deduplicated since the last
   * flush) to the changelog. Called at commit, before offsets are committed.
   */
  flush(): Promise<void>;
  /** Apply changelog records during restore: straight to the engine, never logged again. */
  restore(changes: readonly ChangeRecord[]): Promise<void>;
  /** Drop everything (used when local state cannot be trusted, e.g. after an unclean exactly-once crash). */
  wipe(): Promise<void>;
  close(): Promise<void>;
}

export interface KeyValueStore<K, V> extends StateStore {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  putIfAbsent(key: K, value: V): V | undefined;
  /** Returns the old value. */
  delete(key: K): V | undefined;
  /** Entries with from <= key <= to in serialized-key byte order; either bound may be undefined (open). */
  range(from: K | undefined, to: K | undefined): IterableIterator<KeyValue<K, V>>;
  /** Entries whose serialized key starts with the serialized prefix, in byte order. */
  prefixScan<P>(prefix: P, prefixSerde: Serde<P>): IterableIterator<KeyValue<K, V>>;
  all(): IterableIterator<KeyValue<K, V>>;
  approximateNumEntries(): number;
}

export interface WindowedValue<V> {
  /** Window start, epoch ms. */
  windowStart: number;
  value: V;
}

export interface WindowedKeyValue<K, V> extends WindowedValue<V> {
  key: K;
}

/**
 * A store of values per (key, window start). Old data is dropped by whole segments: a segment
 * covers `segmentInterval` ms of window starts, and a segment whose newest window start is older than
 * observed stream time − retention is removed.
 */
export interface WindowStore<K, V> extends StateStore {
  readonly retentionMs: number;
  readonly segmentIntervalMs: number;
  /**
   * The store's own stream time: the largest window start put so far (-1 before the first). Windows
   * starting at or before streamTime - retentionMs are expired: puts for them are dropped.
   */
  readonly streamTime: number;
  /** Stores the value for the window starting at windowStart; a null value deletes it. */
  put(key: K, value: V | null, windowStart: number): void;
  /** The value of one window, or undefined. */
  fetch(key: K, windowStart: number): V | undefined;
  /** Windows of one key with timeFrom <= windowStart <= timeTo, oldest first. */
  fetchRange(key: K, timeFrom: number, timeTo: number): IterableIterator<WindowedValue<V>>;
  /** Windows of all keys with timeFrom <= windowStart <= timeTo, ordered by window start then key bytes. */
  fetchAll(timeFrom: number, timeTo: number): IterableIterator<WindowedKeyValue<K, V>>;
  /** Windows of all keys, for tests and debugging. */
  all(): IterableIterator<WindowedKeyValue<K, V>>;
}

/** A recipe for a store: the topology holds builders; each task builds its own instance. */
export interface StoreBuilder<S extends StateStore = StateStore> {
  readonly name: string;
  readonly logged: boolean;
  build(): S;
}
