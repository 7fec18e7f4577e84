/**
 * RocksDB engine: one database per store per task, in `<taskDir>/<storeName>`. All synchronous
 * access goes through rocksdbSync.ts.
 */
import { rm } from 'node:fs/promises';
import type { KeyRange } from './bytes.js';
import type { EngineEntry, EngineWrite, StoreEngine } from './engine.js';
import {
  approximateNumEntries,
  deleteRange,
  getSync,
  openRocksDb,
  scanSync,
  seekKeysSync,
  writeBatchSync,
  type RocksDb,
} from './rocksdbSync.js';

export class RocksDBEngine implements StoreEngine {
  readonly persistent = true;
  private db: RocksDb | undefined;

  constructor(readonly location: string) {}

  async open(): Promise<void> {
    if (this.db) throw new Error(`RocksDB store at ${this.location} is already open`);
    this.db = await openRocksDb(this.location);
  }

  private opened(): RocksDb {
    if (!this.db) throw new Error(`RocksDB store at ${this.location} is not open`);
    return this.db;
  }

  get(key: Buffer): Buffer | undefined {
    return getSync(this.opened(), key);
  }

  scan(range: KeyRange): IterableIterator<EngineEntry> {
    return scanSync(this.opened(), range);
  }

  /** See seekKeysSync: first keys at or after successive seek targets, one native iterator. */
  seekKeys(range: KeyRange, first: Buffer, nextTarget: (found: Buffer) => Buffer | undefined): IterableIterator<Buffer> {
    return seekKeysSync(this.opened(), range, first, nextTarget);
  }

  write(writes: readonly EngineWrite[]): void {
    writeBatchSync(this.opened(), writes);
  }

  async deleteRange(range: { gte: Buffer; lt: Buffer }): Promise<void> {
    await deleteRange(this.opened(), range.gte, range.lt);
  }

  approximateNumEntries(): number {
    return approximateNumEntries(this.opened());
  }

  /** Close, delete the folder, reopen: cheaper and more certain than deleting every key. */
  async wipe(): Promise<void> {
    await this.close();
    await rm(this.location, { recursive: true, force: true });
    await this.open();
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    if (db) await db.close();
  }
}
