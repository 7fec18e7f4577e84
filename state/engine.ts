/**
 * The byte-level storage under a store's write-back cache. The typed stores (key-value, window)
 * and their cache are written once against this interface; the RocksDB and in-memory
 * implementations differ only in the engine, which keeps their semantics identical by construction.
 *
 * Everything on the per-record path (get, scan, write) is synchronous because the processor API
 * is; dropping a whole range is only needed at flush time and may be asynchronous.
 */
import type { KeyRange } from './bytes.js';

export interface EngineEntry {
  key: Buffer;
  value: Buffer;
}

/** One write of a batch; a null value deletes the key. */
export interface EngineWrite {
  key: Buffer;
  value: Buffer | null;
}

export interface StoreEngine {
  readonly persistent: boolean;
  open(): Promise<void>;
  get(key: Buffer): Buffer | undefined;
  /**
   * Entries of the range in key byte order, as of the moment the scan starts: writes made while
   * the caller iterates are not seen (RocksDB iterators read a snapshot; the memory engine clones).
   */
  scan(range: KeyRange): IterableIterator<EngineEntry>;
  /**
   * For a chain of seek targets, the first key at or after each one (within the range): lets a
   * caller hop between key groups (e.g. window segments) without reading what lies between.
   * `nextTarget` receives the key just found and returns the next target, or undefined to stop.
   */
  seekKeys(range: KeyRange, first: Buffer, nextTarget: (found: Buffer) => Buffer | undefined): IterableIterator<Buffer>;
  /** Applies all writes atomically. */
  write(writes: readonly EngineWrite[]): void;
  /** Removes every key in [gte, lt). Cheap for large ranges (a range tombstone in RocksDB). */
  deleteRange(range: { gte: Buffer; lt: Buffer }): Promise<void>;
  approximateNumEntries(): number;
  /** Drops all data, leaving the engine open and empty. */
  wipe(): Promise<void>;
  close(): Promise<void>;
}
