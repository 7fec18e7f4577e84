/**
 * KTable–KTable joins (inner, left, outer), as Kafka Streams' KTableKTable{Inner,Left,Right,Outer}Join:
 * an update on either side looks up the other table's current row (with its timestamp) and emits
 * the joined Change; the result's timestamp is the larger of the two rows'. The merge node keeps the
 * result in its own timestamped store, so the joined table can be joined, grouped or queried.
 *
 * Tables here always carry the old value in their Changes (Kafka Streams' "send old values" on),
 * so a left/outer join also emits the tombstone when a row without partner is deleted.
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Change } from '../change.js';
import type { ValueAndTimestamp } from '../internalSerdes.js';

/** inner: both rows needed; left: this side kept; right: this side is the optional one of a left join; outer: both kept. */
export type TableJoinSide = 'inner' | 'left' | 'right' | 'outer';

export class TableTableJoinProcessor<K, V, VO, VR> implements Processor<K, Change<V>, K, Change<VR>> {
  private ctx!: ProcessorContext<K, Change<VR>>;
  private other!: KeyValueStore<K, ValueAndTimestamp<VO>>;

  constructor(
    private readonly otherStoreName: string,
    private readonly mode: TableJoinSide,
    /** (this side's value, the other side's); the DSL flips the user's joiner for the right-hand table. */
    private readonly joiner: (value: V | null, otherValue: VO | null) => VR,
  ) {}

  init(context: ProcessorContext<K, Change<VR>>): void {
    this.ctx = context;
    this.other = context.getStateStore(this.otherStoreName);
  }

  process(record: Record<K, Change<V>>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    const row = this.other.get(record.key);
    const otherValue = row?.value ?? null;
    const { newValue, oldValue } = record.value;
    let timestamp = record.timestamp;
    if (row !== undefined) timestamp = Math.max(record.timestamp, row.timestamp);
    let next: VR | null = null;
    let previous: VR | null = null;
    switch (this.mode) {
      case 'inner':
        if (otherValue === null) return;
        if (newValue !== null) next = this.joiner(newValue, otherValue);
        if (oldValue !== null) previous = this.joiner(oldValue, otherValue);
        break;
      case 'left':
        if (otherValue === null && newValue === null && oldValue === null) return;
        if (newValue !== null) next = this.joiner(newValue, otherValue);
        if (oldValue !== null) previous = this.joiner(oldValue, otherValue);
        break;
      case 'right':
        if (otherValue === null) return;
        next = this.joiner(newValue, otherValue);
        previous = this.joiner(oldValue, otherValue);
        break;
      case 'outer':
        if (otherValue === null && newValue === null && oldValue === null) return;
        if (otherValue !== null || newValue !== null) next = this.joiner(newValue, otherValue);
        if (otherValue !== null || oldValue !== null) previous = this.joiner(oldValue, otherValue);
        break;
    }
    this.ctx.forward({ key: record.key, value: { newValue: next, oldValue: previous }, timestamp, headers: record.headers });
  }
}

/** Keeps a KTable operator's result rows (with their timestamps) and passes the Change on. */
export class TableMaterializeProcessor<K, V> implements Processor<K, Change<V>, K, Change<V>> {
  private ctx!: ProcessorContext<K, Change<V>>;
  private store!: KeyValueStore<K, ValueAndTimestamp<V>>;

  constructor(private readonly storeName: string) {}

  init(context: ProcessorContext<K, Change<V>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, Change<V>>): void {
    if (record.value.newValue === null) this.store.delete(record.key);
    else this.store.put(record.key, { value: record.value.newValue, timestamp: record.timestamp });
    this.ctx.forward(record);
  }
}
