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
  /**
   * open, close and wipe run one after another: a task being restored can be closed (and wiped) by
   * a rebalance or a reset while its restore is wiping the same folder, and two overlapping
   * recursive deletes of one RocksDB folder fail with ENOTEMPTY.
   */
  private lifecycle: Promise<unknown> = Promise.resolve();

  constructor(readonly location: string) {}

  private serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.lifecycle.then(step, step);
    this.lifecycle = next.catch(() => undefined);
    return next;
  }

  open(): Promise<void> {
    return this.serial(() => this.openNow());
  }

  private async openNow(): Promise<void> {
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
  wipe(): Promise<void> {
    return this.serial(async () => {
      // A store closed meanwhile (its task closed while a restore was about to wipe it) stays
      // closed: reopening it would hold the folder's lock against the task's next owner here.
      const wasOpen = this.db !== undefined;
      await this.closeNow();
      // RocksDB may still be unlinking files of its own for a moment after close.
      await rm(this.location, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      if (wasOpen) await this.openNow();
    });
  }

  close(): Promise<void> {
    return this.serial(() => this.closeNow());
  }

  private async closeNow(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    if (db) await db.close();
  }
}
