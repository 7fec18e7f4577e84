/**
 * Windowed KStream–KStream joins (inner, left, outer), in Kafka Streams' shape: each side's record first probes the
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
 *
 * Left and outer joins (KIP-633: no spurious results): a record of an outer side that finds no
 * partner is not emitted with null at once; it waits in the shared outer-join store (logged like
 * every store) and is emitted with null only when its window has closed — stream time past
 * its timestamp + the window on the other side + grace — unless a partner arrives first, which
 * deletes it. Stream time is the largest timestamp seen on either side. A record whose window has
 * already closed when it arrives is emitted with null at once. As in Kafka Streams' KStreamKStreamJoin.
 */
import type { KeyValueStore, WindowStore } from '../../../state/types.js';
import type { Serde } from '../../serde.js';
import type { TaggedList } from '../internalSerdes.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';

/** Buffers a side's records (several per key and timestamp) for the other side to find. */
export class JoinBufferProcessor<K, V> implements Processor<K, V, K, V> {
  private ctx!: ProcessorContext<K, V>;
  private store!: WindowStore<K, V[]>;

  constructor(
    private readonly storeName: string,
    /** An outer side: a null-key record (nothing to match, nothing to buffer) still goes on to be emitted with null. */
    private readonly outer = false,
  ) {}

  init(context: ProcessorContext<K, V>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, V>): void {
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    if (record.key === null || record.key === undefined) {
      if (this.outer) return this.ctx.forward(record);
      return this.ctx.recordDropped('null-key');
    }
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

/** Key of the outer-join store: timestamp, side, key — Kafka Streams' TimestampedKeyAndJoinSide, in the same byte order. */
export interface OuterJoinKey<K> {
  timestamp: number;
  leftSide: boolean;
  key: K;
}

export function outerJoinKeySerde<K>(keySerde: Serde<K>): Serde<OuterJoinKey<K>> {
  return {
    serialize(k) {
      const key = keySerde.serialize(k.key);
      const out = Buffer.allocUnsafe(9 + key.length);
      out.writeBigInt64BE(BigInt(k.timestamp), 0);
      out.writeUInt8(k.leftSide ? 1 : 0, 8);
      key.copy(out, 9);
      return out;
    },
    deserialize(data) {
      return { timestamp: Number(data.readBigInt64BE(0)), leftSide: data.readUInt8(8) === 1, key: keySerde.deserialize(data.subarray(9)) };
    },
  };
}

export interface StreamStreamJoinOptions<K, VL, VR, VOut> {
  otherStoreName: string;
  thisStoreName: string;
  /** How far back (this side's perspective) other records may be to join. */
  beforeMs: number;
  afterMs: number;
  graceMs: number;
  /** The JoinWindows' own before/after (the left side's view), for when a waiting record's window closes. */
  windowBeforeMs: number;
  windowAfterMs: number;
  leftSide: boolean;
  /** Unmatched records of this side are emitted with null (left side of a left join, both sides of an outer join). */
  outer: boolean;
  /** Outer-join store shared by both sides, when either is outer. */
  outerStoreName: string | undefined;
  /** The user's joiner, always (left value, right value); null for the missing side. */
  joiner: (left: VL | null, right: VR | null, key: K) => VOut;
}

/** One side's join processor; V is this side's value type, VO the other's. */
export class StreamStreamJoinProcessor<K, V, VO, VOut> implements Processor<K, V, K, VOut> {
  private ctx!: ProcessorContext<K, VOut>;
  private other!: WindowStore<K, VO[]>;
  private self!: WindowStore<K, V[]>;
  private outerStore: KeyValueStore<OuterJoinKey<K>, unknown[]> | undefined;

  constructor(private readonly o: StreamStreamJoinOptions<K, unknown, unknown, VOut>) {}

  init(context: ProcessorContext<K, VOut>): void {
    this.ctx = context;
    this.other = context.getStateStore(this.o.otherStoreName);
    this.self = context.getStateStore(this.o.thisStoreName);
    if (this.o.outerStoreName !== undefined) this.outerStore = context.getStateStore(this.o.outerStoreName);
  }

  private join(thisValue: V | null, otherValue: VO | null, key: K): VOut {
    return this.o.leftSide ? this.o.joiner(thisValue, otherValue, key) : this.o.joiner(otherValue, thisValue, key);
  }

  /** Largest timestamp seen on either side (both buffers' stream times, and this record). */
  private streamTime(record: Record<K, V>): number {
    return Math.max(record.timestamp, this.self.streamTime, this.other.streamTime);
  }

  process(record: Record<K, V>): void {
    if (record.key === null || record.key === undefined) {
      // Only an outer side's buffer passes null keys: emit at once, there is nothing to wait for.
      if (this.o.outer) this.ctx.forward({ ...record, value: this.join(record.value, null, record.key) });
      return;
    }
    const streamTime = this.streamTime(record);
    if (this.outerStore !== undefined && record.timestamp === streamTime) this.emitClosedOuterRecords(record, streamTime);
    const from = Math.max(0, record.timestamp - this.o.beforeMs);
    const to = Math.max(0, record.timestamp + this.o.afterMs);
    let matched = false;
    for (const { windowStart: otherTs, value: values } of this.other.fetchRange(record.key, from, to)) {
      if (this.outerStore !== undefined) {
        // The other side's records waiting for a partner have one now.
        const waiting: OuterJoinKey<K> = { timestamp: otherTs, leftSide: !this.o.leftSide, key: record.key };
        if (this.outerStore.get(waiting) !== undefined) this.outerStore.delete(waiting);
      }
      for (const otherValue of values) {
        matched = true;
        this.ctx.forward({ key: record.key, value: this.join(record.value, otherValue, record.key), timestamp: Math.max(record.timestamp, otherTs), headers: record.headers });
      }
    }
    if (matched || !this.o.outer) return;
    if (this.outerStore === undefined || to < streamTime) {
      // Its window is already closed: no partner can come any more.
      this.ctx.forward({ ...record, value: this.join(record.value, null, record.key) });
      return;
    }
    const waitKey: OuterJoinKey<K> = { timestamp: record.timestamp, leftSide: this.o.leftSide, key: record.key };
    const waiting: TaggedList = [...(this.outerStore.get(waitKey) ?? []), record.value];
    waiting.leftSide = this.o.leftSide;
    this.outerStore.put(waitKey, waiting);
  }

  /** Emits, in (timestamp, side, key) order, the waiting records whose window has closed, and deletes them. */
  private emitClosedOuterRecords(record: Record<K, V>, streamTime: number): void {
    const store = this.outerStore!;
    let leftOpen = false;
    let rightOpen = false;
    const done: OuterJoinKey<K>[] = [];
    for (const { key: waiting, value: values } of store.all()) {
      if (leftOpen && rightOpen) break;
      // A left record looks forward (after) for right partners, a right record backward (before).
      const lookBack = waiting.leftSide ? this.o.windowAfterMs : this.o.windowBeforeMs;
      if (waiting.timestamp + lookBack + this.o.graceMs >= streamTime) {
        if (waiting.leftSide) leftOpen = true;
        else rightOpen = true;
        continue;
      }
      for (const value of values) {
        const joined = waiting.leftSide === this.o.leftSide ? this.join(value as V, null, waiting.key) : this.join(null, value as VO, waiting.key);
        this.ctx.forward({ key: waiting.key, value: joined, timestamp: waiting.timestamp, headers: record.headers });
      }
      done.push(waiting);
    }
    for (const k of done) store.delete(k);
  }
}
