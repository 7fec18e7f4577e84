/**
 * KTable.filter / filterNot / mapValues, as Kafka Streams' KTableFilter and KTableMapValues: each
 * update's new and old values go through the predicate or mapper (a filtered-out value becomes
 * null, so a row leaving the filter is a tombstone downstream), and the result is kept in a
 * timestamped store only when materialized (Materialized.as).
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Change } from '../change.js';
import type { ValueAndTimestamp } from '../internalSerdes.js';

export class TableTransformProcessor<K, V, VR> implements Processor<K, Change<V>, K, Change<VR>> {
  private ctx!: ProcessorContext<K, Change<VR>>;
  private store: KeyValueStore<K, ValueAndTimestamp<VR>> | undefined;

  constructor(
    /** null drops the value (filter), anything else replaces it (mapValues). */
    private readonly transform: (key: K, value: V) => VR | null,
    private readonly storeName: string | undefined,
  ) {}

  init(context: ProcessorContext<K, Change<VR>>): void {
    this.ctx = context;
    if (this.storeName !== undefined) this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, Change<V>>): void {
    const newValue = record.value.newValue === null ? null : this.transform(record.key, record.value.newValue);
    const oldValue = record.value.oldValue === null ? null : this.transform(record.key, record.value.oldValue);
    if (this.store !== undefined) {
      if (newValue === null) this.store.delete(record.key);
      else this.store.put(record.key, { value: newValue, timestamp: record.timestamp });
    }
    this.ctx.forward({ ...record, value: { newValue, oldValue } });
  }
}
