/**
 * KTable.groupBy(...).aggregate/reduce/count, as Kafka Streams' KTableRepartitionMap and
 * KTableAggregate / KTableReduce: every table update is re-keyed by the selector and sent through a
 * repartition topic as a Change — the old row to subtract from its group, the new row to add to
 * its group (one record when both fall in the same group, two otherwise: old first). The
 * aggregation subtracts, then adds, and keeps the result with max(record ts, previous aggregate ts).
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Serde } from '../../serde.js';
import type { Change, KeyValue } from '../change.js';
import type { ValueAndTimestamp } from '../internalSerdes.js';

export class TableRepartitionMapProcessor<K, V, KR, VR> implements Processor<K, Change<V>, KR, Change<VR>> {
  private ctx!: ProcessorContext<KR, Change<VR>>;

  constructor(
    private readonly selector: (key: K, value: V) => KeyValue<KR, VR>,
    private readonly keyEquals: (a: KR, b: KR) => boolean,
  ) {}

  init(context: ProcessorContext<KR, Change<VR>>): void {
    this.ctx = context;
  }

  process(record: Record<K, Change<V>>): void {
    const { newValue, oldValue } = record.value;
    const next = newValue === null ? null : this.selector(record.key, newValue);
    const prev = oldValue === null ? null : this.selector(record.key, oldValue);
    const nextOk = next !== null && next.key !== null && next.key !== undefined && next.value !== null && next.value !== undefined;
    const prevOk = prev !== null && prev.key !== null && prev.key !== undefined && prev.value !== null && prev.value !== undefined;
    const base = { timestamp: record.timestamp, headers: record.headers };
    if (nextOk && prevOk && this.keyEquals(prev.key, next.key)) {
      this.ctx.forward({ ...base, key: next.key, value: { newValue: next.value, oldValue: prev.value } });
      return;
    }
    if (prevOk) this.ctx.forward({ ...base, key: prev.key, value: { newValue: null, oldValue: prev.value } });
    if (nextOk) this.ctx.forward({ ...base, key: next.key, value: { newValue: next.value, oldValue: null } });
  }
}

export interface TableFold<K, V, VA> {
  /** Adds a value; `aggregate` is undefined for a group's first value. */
  add(key: K, value: V, aggregate: VA | undefined): VA;
  remove(key: K, value: V, aggregate: VA): VA;
}

export class TableAggregateProcessor<K, V, VA> implements Processor<K, Change<V>, K, Change<VA>> {
  private ctx!: ProcessorContext<K, Change<VA>>;
  private store!: KeyValueStore<K, ValueAndTimestamp<VA>>;

  constructor(
    private readonly storeName: string,
    private readonly fold: TableFold<K, V, VA>,
  ) {}

  init(context: ProcessorContext<K, Change<VA>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, Change<V>>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    const old = this.store.get(record.key);
    const oldAgg = old?.value ?? null;
    let timestamp = record.timestamp;
    let intermediate: VA | null = oldAgg;
    // Subtract first: an update within one group must not count the row twice.
    if (record.value.oldValue !== null && oldAgg !== null) {
      intermediate = this.fold.remove(record.key, record.value.oldValue, oldAgg);
      timestamp = Math.max(record.timestamp, old!.timestamp);
    }
    let next: VA | null = intermediate;
    if (record.value.newValue !== null) {
      next = this.fold.add(record.key, record.value.newValue, intermediate ?? undefined);
      if (old !== undefined) timestamp = Math.max(record.timestamp, old.timestamp);
    }
    if (next === null) this.store.delete(record.key);
    else this.store.put(record.key, { value: next, timestamp });
    this.ctx.forward({ key: record.key, value: { newValue: next, oldValue: oldAgg }, timestamp, headers: record.headers });
  }
}

/** A Change in a repartition topic (Kafka Streams' ChangedSerializer): flags, then new and old value bytes. */
export function changeSerde<V>(inner: Serde<V>): Serde<Change<V>> {
  return {
    serialize(change) {
      const next = change.newValue === null ? null : inner.serialize(change.newValue);
      const prev = change.oldValue === null ? null : inner.serialize(change.oldValue);
      const head = Buffer.allocUnsafe(5);
      head.writeUInt8((next === null ? 0 : 1) | (prev === null ? 0 : 2), 0);
      head.writeInt32BE(next?.length ?? 0, 1);
      return Buffer.concat([head, next ?? Buffer.alloc(0), prev ?? Buffer.alloc(0)]);
    },
    deserialize(data) {
      const flags = data.readUInt8(0);
      const nextLen = data.readInt32BE(1);
      const newValue = flags & 1 ? inner.deserialize(data.subarray(5, 5 + nextLen)) : null;
      const oldValue = flags & 2 ? inner.deserialize(data.subarray(5 + nextLen)) : null;
      return { newValue, oldValue };
    },
  };
}
