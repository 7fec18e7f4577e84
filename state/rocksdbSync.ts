/**
 * Synchronous access to RocksDB through @nxtedition/rocksdb.
 *
 * Why private methods: the processor API is synchronous (a get or a range scan inside `process()`
 * cannot await), but abstract-level's public API is callback/promise based. @nxtedition/rocksdb
 * implements its public API on top of synchronous native calls and keeps those reachable as
 * underscore methods: `db._getManySync` (native MultiGet), `iterator._nextvSync` / `_seekSync`,
 * and `chainedBatch._writeSync`.
 * They are not part of a documented API, so this module is the only place that touches them; it
 * checks for them when a database opens (a binding upgrade that drops one fails loudly there, not
 * with an undefined-is-not-a-function in the middle of processing), and
 * test/unit/state/rocksdbSync.test.ts pins their behaviour.
 *
 * The binding has no type declarations, so the shapes used here are declared below.
 */
import { createRequire } from 'node:module';
import type { KeyRange } from './bytes.js';
import type { EngineEntry, EngineWrite } from './engine.js';

interface NativeIterator {
  _nextvSync(size: number, options?: object): { rows: Buffer[]; finished: boolean };
  _seekSync(target: Buffer): void;
  close(callback: (err?: Error | null) => void): void;
}

interface NativeChainedBatch {
  _put(key: Buffer, value: Buffer, options?: object): void;
  _del(key: Buffer, options?: object): void;
  _writeSync(options?: { sync?: boolean }): void;
  close(callback: (err?: Error | null) => void): void;
}

interface IteratorOptions {
  keyEncoding: 'buffer';
  valueEncoding: 'buffer';
  gte?: Buffer;
  lt?: Buffer;
  keys?: boolean;
  values?: boolean;
}

/** The part of RocksLevel this project uses, public and private. */
export interface RocksDb {
  readonly status: string;
  readonly location: string;
  open(options: { createIfMissing: boolean }): Promise<void>;
  close(): Promise<void>;
  getProperty(name: string): string;
  batch(): NativeChainedBatch;
  iterator(options: IteratorOptions): NativeIterator;
  _getManySync(keys: Buffer[], options?: object): Array<Buffer | undefined | null>;
  clear(options: { gte: Buffer; lt: Buffer }): Promise<void>;
}

type RocksLevelClass = new (location: string, options: { keyEncoding: 'buffer'; valueEncoding: 'buffer' }) => RocksDb;

const require = createRequire(import.meta.url);
const { RocksLevel } = require('@nxtedition/rocksdb') as { RocksLevel: RocksLevelClass };

const PRIVATE_DB_METHODS = ['_getManySync'] as const;
const PRIVATE_ITERATOR_METHODS = ['_nextvSync', '_seekSync'] as const;
const PRIVATE_BATCH_METHODS = ['_put', '_del', '_writeSync'] as const;

function ignoreCloseResult(err?: Error | null): void {
  // Closing releases the native handle synchronously; the callback only reports bookkeeping done
  // on the next tick, and an error there has nothing left to clean up.
  void err;
}

/**
 * Throws unless the installed binding still has every synchronous method this module relies on.
 * Called on every open: cheap, and it turns a silent incompatibility into a clear error.
 */
export function assertSyncApi(db: RocksDb): void {
  const missing: string[] = [];
  for (const name of PRIVATE_DB_METHODS) if (typeof db[name] !== 'function') missing.push(`db.${name}`);
  const iterator = db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' });
  for (const name of PRIVATE_ITERATOR_METHODS) if (typeof iterator[name] !== 'function') missing.push(`iterator.${name}`);
  iterator.close(ignoreCloseResult);
  const batch = db.batch();
  for (const name of PRIVATE_BATCH_METHODS) if (typeof batch[name] !== 'function') missing.push(`batch.${name}`);
  batch.close(ignoreCloseResult);
  if (missing.length > 0) {
    throw new Error(
      `@nxtedition/rocksdb no longer provides the synchronous methods riskloop's state stores need ` +
        `(${missing.join(', ')}); pin the binding to a version that has them or update state/rocksdbSync.ts`,
    );
  }
}

/**
 * Memory per RocksDB instance. Every store of every task is its own instance (as in Kafka
 * Streams), so the loop opens dozens. RocksDB's defaults are per instance — a 64 MiB memtable
 * that is flushed only when full, ×2, and an 8 MiB block cache — so RSS crept up for as long as
 * the slowest-writing store took to fill its memtable (a 10-minute soak grew +119 % and had not
 * levelled off). Level compaction with a 8 MiB memtable budget gives 2 MiB write buffers (two are
 * merged per flush, at most six), i.e. a few MiB per instance reached within minutes; the block
 * cache is small because the stores' own caches hold the hot keys.
 *
 * The block cache is per instance too (the binding makes one per open), and index and filter
 * blocks lived outside it ("table readers": one set per SST file, growing with the data on disk).
 * A 20-minute soak had the 44 caches at 17 → 38 MiB and the table readers at 1 → 16 MiB, still
 * climbing: together most of the 5 % RSS budget. Index and filter blocks now go into the block
 * cache, and the cache is 1 MiB per instance, so both together are bounded by 1 MiB per store.
 */
export const ROCKSDB_OPEN_OPTIONS = {
  compaction: 'level',
  memtableMemoryBudget: 8 << 20,
  cacheSize: 1 << 20,
  cacheIndexAndFilterBlocks: true,
} as const;

/**
 * Every database this process has open, for `rocksdbMemory()` only: RocksDB's native memory does
 * not show in the JS heap, and the soak benchmark and /metrics need to tell it apart from a leak.
 * Process-wide on purpose, like process.memoryUsage(); nothing reads data through it.
 */
const openDatabases = new Set<RocksDb>();

export interface RocksDbMemory {
  databases: number;
  /** Active and immutable memtables not yet flushed. */
  memtables: number;
  /** Index and filter blocks held outside the block cache. */
  tableReaders: number;
  blockCache: number;
}

/** Native memory of every open database, from RocksDB's own properties (bytes). */
export function rocksdbMemory(): RocksDbMemory {
  const out: RocksDbMemory = { databases: 0, memtables: 0, tableReaders: 0, blockCache: 0 };
  const prop = (db: RocksDb, name: string): number => Number(db.getProperty(name)) || 0;
  for (const db of openDatabases) {
    // Closed ones are forgotten here rather than on close: one place, whoever closed it.
    if (db.status !== 'open') {
      openDatabases.delete(db);
      continue;
    }
    out.databases++;
    out.memtables += prop(db, 'rocksdb.cur-size-all-mem-tables');
    out.tableReaders += prop(db, 'rocksdb.estimate-table-readers-mem');
    out.blockCache += prop(db, 'rocksdb.block-cache-usage');
  }
  return out;
}

/** Opens (creating if missing) a database whose keys and values are raw Buffers. */
export async function openRocksDb(location: string): Promise<RocksDb> {
  const db = new RocksLevel(location, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open({ createIfMissing: true, ...ROCKSDB_OPEN_OPTIONS } as Parameters<typeof db.open>[0]);
  openDatabases.add(db);
  try {
    assertSyncApi(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

export function getSync(db: RocksDb, key: Buffer): Buffer | undefined {
  const [value] = db._getManySync([key]);
  // null means the read was aborted or timed out inside RocksDB; never silently treat it as absent.
  if (value === null) throw new Error(`RocksDB read at ${db.location} was aborted`);
  return value;
}

/** Rows come back flat ([key, value, key, value, ...]); batches grow so that short scans stay cheap. */
const FIRST_BATCH = 16;
const MAX_BATCH = 1024;

function iteratorOptions(range: KeyRange): IteratorOptions {
  const options: IteratorOptions = { keyEncoding: 'buffer', valueEncoding: 'buffer' };
  if (range.gte !== undefined) options.gte = range.gte;
  if (range.lt !== undefined) options.lt = range.lt;
  return options;
}

/**
 * Entries of [gte, lt) in key order. The native iterator reads a snapshot taken when the scan
 * starts, and is closed when the scan ends or the caller stops early (`break` runs `finally`).
 */
export function* scanSync(db: RocksDb, range: KeyRange): IterableIterator<EngineEntry> {
  const iterator = db.iterator(iteratorOptions(range));
  try {
    let size = FIRST_BATCH;
    for (;;) {
      const { rows, finished } = iterator._nextvSync(size);
      for (let i = 0; i < rows.length; i += 2) {
        yield { key: rows[i] as Buffer, value: rows[i + 1] as Buffer };
      }
      if (finished) return;
      size = Math.min(size * 4, MAX_BATCH);
    }
  } finally {
    iterator.close(ignoreCloseResult);
  }
}

/**
 * For each target, the first key at or after it within [range.gte, range.lt), using one iterator
 * and a native seek per target instead of one iterator per lookup. `nextTarget` gets the key just
 * found and returns where to seek next, or undefined to stop.
 */
export function* seekKeysSync(
  db: RocksDb,
  range: KeyRange,
  first: Buffer,
  nextTarget: (found: Buffer) => Buffer | undefined,
): IterableIterator<Buffer> {
  const iterator = db.iterator({ ...iteratorOptions(range), values: false });
  try {
    let target: Buffer | undefined = first;
    while (target !== undefined) {
      // The binding treats a seek below the iterator's lower bound as past the end, so clamp.
      if (range.gte !== undefined && Buffer.compare(target, range.gte) < 0) target = range.gte;
      // An empty target (only possible first) cannot be seeked to; a fresh iterator is already there.
      if (target.length > 0) iterator._seekSync(target);
      const { rows } = iterator._nextvSync(1);
      const key = rows[0];
      if (key === undefined) return;
      yield key;
      target = nextTarget(key);
    }
  } finally {
    iterator.close(ignoreCloseResult);
  }
}

/** Applies all writes in one atomic RocksDB WriteBatch, synchronously. */
export function writeBatchSync(db: RocksDb, writes: readonly EngineWrite[]): void {
  if (writes.length === 0) return;
  const batch = db.batch();
  try {
    for (const { key, value } of writes) {
      if (value === null) batch._del(key);
      else batch._put(key, value);
    }
    batch._writeSync();
  } finally {
    batch.close(ignoreCloseResult);
  }
}

/**
 * Removes [gte, lt) with a RocksDB DeleteRange (one range tombstone, however many keys). Public
 * and asynchronous: nothing on the per-record path waits for it.
 */
export async function deleteRange(db: RocksDb, gte: Buffer, lt: Buffer): Promise<void> {
  await db.clear({ gte, lt });
}

export function approximateNumEntries(db: RocksDb): number {
  const estimate = Number(db.getProperty('rocksdb.estimate-num-keys'));
  return Number.isFinite(estimate) ? estimate : 0;
}
