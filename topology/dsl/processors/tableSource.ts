/**
 * Materializes a topic as a table: each record upserts its key, a null value (tombstone) deletes
 * it. Used for KTables (then it forwards the change) and for GlobalKTables (no children).
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Change } from '../change.js';

export class TableSourceProcessor<K, V> implements Processor<K, V | null, K, Change<V>> {
  private ctx!: ProcessorContext<K, Change<V>>;
  private store!: KeyValueStore<K, V>;

  constructor(private readonly storeName: string) {}

  init(context: ProcessorContext<K, Change<V>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, V | null>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    let old: V | undefined;
    if (record.value === null || record.value === undefined) {
      old = this.store.delete(record.key);
      // Deleting a key that is not there changes nothing and emits nothing.
      if (old === undefined) return;
    } else {
      old = this.store.get(record.key);
      this.store.put(record.key, record.value);
    }
    this.ctx.forward({
      key: record.key,
      value: { newValue: record.value ?? null, oldValue: old ?? null },
      timestamp: record.timestamp,
      headers: record.headers,
    });
  }
}
