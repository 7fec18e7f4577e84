/**
 * The write-back cache in front of every store (Kafka Streams' record cache, per store).
 *
 * Writes land in an ordered dirty map and reach the engine only at flush, in one batch, and each
 * key's latest change is reported once per flush, so N updates of a hot key between commits cost
 * one engine write and one changelog record. Reads look at the dirty map first, then a small LRU of
 * clean engine reads (a miss is remembered too), then the engine. Scans merge the dirty map and the
 * engine in key order, with dirty tombstones hiding engine entries.
 *
 * Bounded: when the dirty map outgrows `maxDirtyEntries`, the put that crossed the limit flushes
 * early (engine write and changelog records alike, so nothing is lost, only deduplicated less).
 */
import { isEmptyRange, keyBytes, keyString, type KeyRange } from './bytes.js';
import type { EngineEntry, StoreEngine } from './engine.js';
import { ByteBoundedLru } from './byteLru.js';
import { newSortedStringMap, type SortedStringMap } from './sortedMap.js';

interface DirtyValue {
  /** null is a pending delete. */
  value: Buffer | null;
  /** Event time of the latest write, for the changelog record. */
  timestamp: number;
}

/** One key's latest change as flushed to the engine. */
export interface FlushedEntry {
  key: Buffer;
  value: Buffer | null;
  timestamp: number;
}

export interface WriteCacheOptions {
  /** Dirty entries allowed before a put forces an early flush; 0 writes through on every put. */
  maxDirtyEntries: number;
  /** Clean engine reads kept in an LRU; 0 disables it (sensible when the engine is memory). */
  maxCleanEntries: number;
  /** Bytes of clean values the LRU may hold besides its entry count (values grow: profiles, series); default unbounded. */
  maxCleanBytes?: number;
  /** Receives each flush's entries in key order, after the engine has applied them. */
  onFlush(entries: readonly FlushedEntry[]): void;
}

export class WriteBackCache {
  private dirty: SortedStringMap<DirtyValue> = newSortedStringMap();
  /** Clean engine reads (null: known absent), weighed by their length (keys not counted). */
  private readonly clean: ByteBoundedLru<Buffer | null>;

  constructor(
    private readonly engine: StoreEngine,
    private readonly options: WriteCacheOptions,
  ) {
    if (!Number.isInteger(options.maxDirtyEntries) || options.maxDirtyEntries < 0) {
      throw new Error(`cache max entries must be a non-negative integer, got ${options.maxDirtyEntries}`);
    }
    this.clean = new ByteBoundedLru(options.maxCleanEntries, options.maxCleanBytes);
  }

  /** Entries waiting for the next flush. */
  get dirtySize(): number {
    return this.dirty.size;
  }

  get cleanSize(): number {
    return this.clean.size;
  }

  get(key: Buffer): Buffer | undefined {
    const k = keyString(key);
    const pending = this.dirty.get(k);
    if (pending !== undefined) return pending.value ?? undefined;
    if (this.options.maxCleanEntries > 0) {
      const cached = this.clean.get(k);
      if (cached !== undefined) {
        // A copy, so that a caller mutating what it got cannot change what the next get returns.
        return cached.value === null ? undefined : Buffer.from(cached.value);
      }
    }
    const value = this.engine.get(key);
    // The LRU keeps its own copy: the caller may mutate the Buffer it gets (e.g. Serdes.Buffer).
    if (this.options.maxCleanEntries > 0) {
      const own = value === undefined ? null : ownCopy(value);
      this.clean.set(k, own, own?.length ?? 0);
    }
    return value;
  }

  /** Records a write (null deletes); may flush early, see the class comment. */
  put(key: Buffer, value: Buffer | null, timestamp: number): void {
    const k = keyString(key);
    this.dirty.set(k, { value, timestamp });
    this.clean.delete(k);
    if (this.dirty.size > this.options.maxDirtyEntries) this.flush();
  }

  /**
   * Entries of the range in key order, merging pending writes over the engine. The view is the
   * store as of the first `next()`: writes made while iterating (including an early flush) are not
   * seen, as with a RocksDB iterator.
   */
  *scan(range: KeyRange): IterableIterator<EngineEntry> {
    if (isEmptyRange(range)) return;
    // O(1) copy-on-write snapshot, taken together with the engine's own snapshot below.
    const dirty = this.dirty.clone();
    const engine = this.engine.scan(range);
    try {
      const upper = range.lt === undefined ? undefined : keyString(range.lt);
      const dirtyEntries = dirty.entries(range.gte === undefined ? undefined : keyString(range.gte));
      const nextDirty = (): [string, DirtyValue] | undefined => {
        const step = dirtyEntries.next();
        if (step.done || (upper !== undefined && step.value[0] >= upper)) return undefined;
        return step.value;
      };
      const nextEngine = (): [string, EngineEntry] | undefined => {
        const step = engine.next();
        return step.done ? undefined : [keyString(step.value.key), step.value];
      };
      let d = nextDirty();
      let e = nextEngine();
      while (d !== undefined || e !== undefined) {
        if (d !== undefined && (e === undefined || d[0] <= e[0])) {
          // The pending write wins over the engine's entry for the same key.
          if (e !== undefined && e[0] === d[0]) e = nextEngine();
          const value = d[1].value;
          if (value !== null) yield { key: keyBytes(d[0]), value };
          d = nextDirty();
        } else if (e !== undefined) {
          yield e[1];
          e = nextEngine();
        }
      }
    } finally {
      // Releases the engine's iterator (a native handle for RocksDB) when the caller stops early.
      engine.return?.();
    }
  }

  /** Writes every dirty entry to the engine in one batch, then reports them; a no-op when clean. */
  flush(): void {
    if (this.dirty.size === 0) return;
    const entries: FlushedEntry[] = [];
    this.dirty.forEachPair((k, { value, timestamp }) => {
      entries.push({ key: keyBytes(k), value, timestamp });
    });
    this.engine.write(entries);
    // Reported before the dirty map is dropped: if reporting throws, the next flush reports again
    // (a duplicate changelog record is harmless, a missing one is not).
    this.options.onFlush(entries);
    // A fresh map rather than clear(): scans in progress hold clones sharing the old one's nodes.
    // The clean LRU needs no update: put() already evicted these keys, the next get reads them.
    this.dirty = newSortedStringMap();
  }

  /** Forgets pending writes and clean reads in [gte, lt), e.g. a window segment that expired. */
  dropRange(range: { gte: Buffer; lt: Buffer }): void {
    const gte = keyString(range.gte);
    const lt = keyString(range.lt);
    this.dirty.deleteRange(gte, lt, false);
    this.clean.deleteRange(gte, lt);
  }

  /** Forgets clean reads, after the engine was changed behind the cache (restore). */
  invalidateClean(): void {
    this.clean.clear();
  }

  /** Forgets everything, pending writes included (wipe, close). */
  clear(): void {
    this.dirty = newSortedStringMap();
    this.invalidateClean();
  }

  /** Bytes of clean values held (for tests and memory accounting). */
  get cleanValueBytes(): number {
    return this.clean.bytes;
  }
}

/**
 * A copy that owns its memory. Buffer.from(buf) of a value under half of Buffer.poolSize (64 KiB
 * in Node 24) is a slice of a shared 64 KiB pool slab, and a long-lived slice keeps the whole slab
 * alive: an LRU of a thousand 200-byte values scattered over slabs pinned up to 64 MiB (a soak's
 * heap snapshot: 806 slabs, 50 MiB, held by the clean LRUs), and the slabs come from malloc's main
 * arena, which only grew. An unpooled allocation is exactly the value's size.
 */
export function ownCopy(value: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(value.length);
  value.copy(copy);
  return copy;
}
