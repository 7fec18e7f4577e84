/**
 * Materializes a topic as a table: each record upserts its key, a null value (tombstone) deletes
 * it. Used for KTables (then it forwards the change, and the store is timestamped: each row keeps its
 * record's timestamp) and for GlobalKTables (plain store, no children).
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Change } from '../change.js';
import type { ValueAndTimestamp } from '../internalSerdes.js';

export class TableSourceProcessor<K, V> implements Processor<K, V | null, K, Change<V>> {
  private ctx!: ProcessorContext<K, Change<V>>;
  private store!: KeyValueStore<K, V> | KeyValueStore<K, ValueAndTimestamp<V>>;

  constructor(
    private readonly storeName: string,
    private readonly timestamped: boolean,
    /**
     * Forward a delete even when the key has no row (Kafka Streams' KTableSource does): a
     * foreign-key join's result table needs it, since its inner join cannot know whether a result
     * was emitted before.
     */
    private readonly forwardAbsentDeletes = false,
  ) {}

  init(context: ProcessorContext<K, Change<V>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  private unwrap(v: V | ValueAndTimestamp<V> | undefined): V | undefined {
    if (v === undefined) return undefined;
    return this.timestamped ? (v as ValueAndTimestamp<V>).value : (v as V);
  }

  process(record: Record<K, V | null>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    let old: V | undefined;
    if (record.value === null || record.value === undefined) {
      old = this.unwrap(this.store.delete(record.key));
      // Deleting a key that is not there changes nothing and emits nothing.
      if (old === undefined && !this.forwardAbsentDeletes) return;
    } else {
      old = this.unwrap(this.store.get(record.key));
      if (this.timestamped) (this.store as KeyValueStore<K, ValueAndTimestamp<V>>).put(record.key, { value: record.value, timestamp: record.timestamp });
      else (this.store as KeyValueStore<K, V>).put(record.key, record.value);
    }
    this.ctx.forward({
      key: record.key,
      value: { newValue: record.value ?? null, oldValue: old ?? null },
      timestamp: record.timestamp,
      headers: record.headers,
    });
  }
}
