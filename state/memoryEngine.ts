/**
 * In-memory engine: a B+ tree (sorted-btree) keyed by the latin1 form of the key bytes, so the
 * tree's native string comparison is byte order. A B+ tree rather than a sorted array because
 * stores see random-order inserts, which cost O(n) each in an array; and its O(1) copy-on-write
 * clone gives scans the same snapshot semantics as RocksDB iterators.
 */
import { keyBytes, keyString, type KeyRange } from './bytes.js';
import type { EngineEntry, EngineWrite, StoreEngine } from './engine.js';
import { newSortedStringMap, type SortedStringMap } from './sortedMap.js';

export class MemoryEngine implements StoreEngine {
  readonly persistent = false;
  private tree: SortedStringMap<Buffer> = newSortedStringMap();

  async open(): Promise<void> {}

  get(key: Buffer): Buffer | undefined {
    const value = this.tree.get(keyString(key));
    // Copies on the way out (and in) so that callers holding a Buffer cannot change stored state.
    return value === undefined ? undefined : Buffer.from(value);
  }

  *scan(range: KeyRange): IterableIterator<EngineEntry> {
    const snapshot = this.tree.clone();
    const upper = range.lt === undefined ? undefined : keyString(range.lt);
    const lower = range.gte === undefined ? undefined : keyString(range.gte);
    for (const [key, value] of snapshot.entries(lower)) {
      if (upper !== undefined && key >= upper) return;
      yield { key: keyBytes(key), value: Buffer.from(value) };
    }
  }

  write(writes: readonly EngineWrite[]): void {
    for (const { key, value } of writes) {
      if (value === null) this.tree.delete(keyString(key));
      else this.tree.set(keyString(key), Buffer.from(value));
    }
  }

  *seekKeys(range: KeyRange, first: Buffer, nextTarget: (found: Buffer) => Buffer | undefined): IterableIterator<Buffer> {
    const snapshot = this.tree.clone();
    const lower = range.gte === undefined ? undefined : keyString(range.gte);
    const upper = range.lt === undefined ? undefined : keyString(range.lt);
    let target: Buffer | undefined = first;
    while (target !== undefined) {
      let from = keyString(target);
      if (lower !== undefined && from < lower) from = lower;
      const pair = snapshot.getPairOrNextHigher(from);
      if (pair === undefined || (upper !== undefined && pair[0] >= upper)) return;
      const key = keyBytes(pair[0]);
      yield key;
      target = nextTarget(key);
    }
  }

  async deleteRange(range: { gte: Buffer; lt: Buffer }): Promise<void> {
    this.tree.deleteRange(keyString(range.gte), keyString(range.lt), false);
  }

  approximateNumEntries(): number {
    return this.tree.size;
  }

  async wipe(): Promise<void> {
    this.tree = newSortedStringMap();
  }

  async close(): Promise<void> {
    this.tree.clear();
  }
}
