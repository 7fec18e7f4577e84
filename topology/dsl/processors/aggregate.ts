/**
 * Per-key aggregation into a timestamped key-value store (count, reduce, aggregate). Emits the new
 * aggregate on every record — Kafka Streams with record caches off — as a Change so that a KTable
 * knows the value it replaces. The aggregate's timestamp is the largest of its records' (Kafka
 * Streams' KStreamAggregate: max(previous aggregate's timestamp, record's timestamp)).
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Change } from '../change.js';
import type { ValueAndTimestamp } from '../internalSerdes.js';

/** Folds a value into the previous aggregate (undefined when the key has none yet). */
export type Fold<K, V, VA> = (key: K, value: V, previous: VA | undefined) => VA;

export class AggregateProcessor<K, V, VA> implements Processor<K, V, K, Change<VA>> {
  private ctx!: ProcessorContext<K, Change<VA>>;
  private store!: KeyValueStore<K, ValueAndTimestamp<VA>>;

  constructor(
    private readonly storeName: string,
    private readonly fold: Fold<K, V, VA>,
  ) {}

  init(context: ProcessorContext<K, Change<VA>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, V>): void {
    // Kafka Streams skips these too: no key to group by, and a null value carries nothing to fold.
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    const old = this.store.get(record.key);
    const next = this.fold(record.key, record.value, old?.value);
    const timestamp = old === undefined ? record.timestamp : Math.max(old.timestamp, record.timestamp);
    this.store.put(record.key, { value: next, timestamp });
    this.ctx.forward({ key: record.key, value: { newValue: next, oldValue: old?.value ?? null }, timestamp, headers: record.headers });
  }
}
