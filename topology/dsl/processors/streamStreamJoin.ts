/**
 * Windowed KStream–KStream inner join, in Kafka Streams' shape: each side first buffers its record
 * in its own window store (the "windowed" processor), then looks up the other side's buffer for
 * records within the join window (the "join" processor). Whichever record arrives second produces
 * the result, so the join is symmetric in arrival order. Output timestamp: the later of the two.
 *
 * A record whose own join window has closed (stream time > t + after + grace, "after" seen from its
 * side) is late: dropped and counted, neither buffered nor joined.
 */
import type { WindowStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';

/** Buffers a side's records (several per key and timestamp) for the other side to find. */
export class JoinBufferProcessor<K, V> implements Processor<K, V, K, V> {
  private ctx!: ProcessorContext<K, V>;
  private store!: WindowStore<K, V[]>;

  constructor(
    private readonly storeName: string,
    /** How far after this side's record the other side's records may be. */
    private readonly afterMs: number,
    private readonly graceMs: number,
  ) {}

  init(context: ProcessorContext<K, V>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, V>): void {
    // An inner join needs both a key to match on and a value to join.
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    const streamTime = this.ctx.currentStreamTimeMs();
    if (record.timestamp + this.afterMs + this.graceMs < streamTime) {
      this.ctx.recordDropped('late');
      this.ctx.logger.debug({ ...this.ctx.recordMetadata(), timestamp: record.timestamp, streamTime }, 'dropping late record: its join window is closed');
      return;
    }
    const buffered = this.store.fetch(record.key, record.timestamp) ?? [];
    this.store.put(record.key, [...buffered, record.value], record.timestamp);
    this.ctx.forward(record);
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
