/**
 * GlobalKTable: a table fully replicated to every instance (all partitions of its topic), so a
 * stream can join it on any key it derives from a record, without co-partitioning. Kept up to date
 * by the GlobalStateTask.
 */
import type { Serde } from '../serde.js';

export class GlobalKTable<K, V> {
  /** @internal */
  constructor(
    readonly storeName: string,
    readonly keySerde: Serde<K>,
    readonly valueSerde: Serde<V>,
  ) {}
}
