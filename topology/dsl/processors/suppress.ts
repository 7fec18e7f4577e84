/**
 * suppress(untilWindowCloses): a windowed KTable's final results only, as Kafka Streams'
 * KTableSuppressProcessor with a final-results buffer. Each update replaces its window's entry in
 * a buffer; when stream time (the largest timestamp seen here) reaches a window's end + grace, its
 * latest value is emitted once, with the timestamp of that update, and leaves the buffer.
 * Tombstones are not emitted (final results of windows never need them).
 *
 * The buffer is a logged key-value store keyed by window end, then window start and key, so its
 * iteration order is the order windows close and a restore rebuilds it from its changelog.
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Serde } from '../../serde.js';
import type { Windowed } from '../../windows.js';
import type { Change } from '../change.js';

export interface SuppressKey<K> {
  windowEnd: number;
  windowed: Windowed<K>;
}

/** windowEnd (int64) then the windowed key's own bytes. */
export function suppressKeySerde<K>(windowedSerde: Serde<Windowed<K>>): Serde<SuppressKey<K>> {
  return {
    serialize(k) {
      const inner = windowedSerde.serialize(k.windowed);
      const out = Buffer.allocUnsafe(8 + inner.length);
      out.writeBigInt64BE(BigInt(k.windowEnd), 0);
      inner.copy(out, 8);
      return out;
    },
    deserialize(data) {
      const windowed = windowedSerde.deserialize(data.subarray(8));
      return { windowEnd: Number(data.readBigInt64BE(0)), windowed };
    },
  };
}

export interface Buffered<V> {
  value: V | null;
  timestamp: number;
}

/** Flag byte (1: value present), int64 timestamp, value bytes. */
export function bufferedSerde<V>(inner: Serde<V>): Serde<Buffered<V>> {
  return {
    serialize(b) {
      const value = b.value === null ? Buffer.alloc(0) : inner.serialize(b.value);
      const head = Buffer.allocUnsafe(9);
      head.writeUInt8(b.value === null ? 0 : 1, 0);
      head.writeBigInt64BE(BigInt(b.timestamp), 1);
      return Buffer.concat([head, value]);
    },
    deserialize(data) {
      return { value: data.readUInt8(0) === 1 ? inner.deserialize(data.subarray(9)) : null, timestamp: Number(data.readBigInt64BE(1)) };
    },
  };
}

export class SuppressUntilWindowClosesProcessor<K, V> implements Processor<Windowed<K>, Change<V>, Windowed<K>, Change<V>> {
  private ctx!: ProcessorContext<Windowed<K>, Change<V>>;
  private buffer!: KeyValueStore<SuppressKey<K>, Buffered<V>>;
  private observedStreamTime = -1;

  constructor(
    private readonly storeName: string,
    private readonly graceMs: number,
  ) {}

  init(context: ProcessorContext<Windowed<K>, Change<V>>): void {
    this.ctx = context;
    this.buffer = context.getStateStore(this.storeName);
  }

  process(record: Record<Windowed<K>, Change<V>>): void {
    if (record.timestamp > this.observedStreamTime) this.observedStreamTime = record.timestamp;
    this.buffer.put({ windowEnd: record.key.window.end, windowed: record.key }, { value: record.value.newValue, timestamp: record.timestamp });
    this.evict(record);
  }

  private evict(record: Record<Windowed<K>, Change<V>>): void {
    const closeBefore = this.observedStreamTime - this.graceMs;
    const done: SuppressKey<K>[] = [];
    for (const { key, value } of this.buffer.all()) {
      if (key.windowEnd > closeBefore) break;
      done.push(key);
      if (value.value !== null) this.ctx.forward({ key: key.windowed, value: { newValue: value.value, oldValue: null }, timestamp: value.timestamp, headers: record.headers });
    }
    for (const key of done) this.buffer.delete(key);
  }
}
