/**
 * Windowed KStream–KStream inner join, in Kafka Streams' shape: each side's record first probes the
 * other side's buffer for records within the join window (the "join" processor, reached through the
 * "windowed" processor's forward), then is buffered in its own window store for the other side to
 * find. Whichever record arrives second produces the result, so the join is symmetric in arrival
 * order. Output timestamp: the later of the two.
 *
 * Out-of-order records are not dropped up front: every record probes, so a record behind stream
 * time still joins whatever the other side's buffer holds (it keeps before + after + grace of
 * window starts, see JoinWindows.retentionMs). Only the buffering can come too late: a record older
 * than its own store's retention is not stored — the store refuses the put, as Kafka Streams'
 * segmented store does — and that is counted as an `expired` drop, once per record.
 */
import type { WindowStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';

/** Buffers a side's records (several per key and timestamp) for the other side to find. */
export class JoinBufferProcessor<K, V> implements Processor<K, V, K, V> {
  private ctx!: ProcessorContext<K, V>;
  private store!: WindowStore<K, V[]>;

  constructor(private readonly storeName: string) {}

  init(context: ProcessorContext<K, V>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, V>): void {
    // An inner join needs both a key to match on and a value to join.
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    // Probe first: the join result must not depend on whether this record can still be buffered.
    this.ctx.forward(record);
    if (record.timestamp <= this.store.streamTime - this.store.retentionMs) {
      this.ctx.recordDropped('expired');
      this.ctx.logger.debug({ ...this.ctx.recordMetadata(), timestamp: record.timestamp, storeStreamTime: this.store.streamTime }, 'not buffering an expired join record: older than the join store retains');
      return;
    }
    const buffered = this.store.fetch(record.key, record.timestamp) ?? [];
    this.store.put(record.key, [...buffered, record.value], record.timestamp);
  }
}

export class StreamStreamJoinProcessor<K, V, VO, VR> implements Processor<K, V, K, VR> {
  private ctx!: ProcessorContext<K, VR>;
  private other!: WindowStore<K, VO[]>;

  constructor(
    private readonly otherStoreName: string,
    private readonly beforeMs: number,
    private readonly afterMs: number,
    /** Called with this side's value and the other side's; the DSL flips it for the right side. */
    private readonly joiner: (value: V, otherValue: VO, key: K) => VR,
  ) {}

  init(context: ProcessorContext<K, VR>): void {
    this.ctx = context;
    this.other = context.getStateStore(this.otherStoreName);
  }

  process(record: Record<K, V>): void {
    const from = Math.max(0, record.timestamp - this.beforeMs);
    const to = record.timestamp + this.afterMs;
    for (const { windowStart: otherTs, value: values } of this.other.fetchRange(record.key, from, to)) {
      for (const otherValue of values) {
        this.ctx.forward({
          key: record.key,
          value: this.joiner(record.value, otherValue, record.key),
          timestamp: Math.max(record.timestamp, otherTs),
          headers: record.headers,
        });
      }
    }
  }
}
