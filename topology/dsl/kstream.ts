/**
 * KStream: an unbounded stream of independent records. Every operator adds a processor (or a few)
 * to the topology and returns a new KStream for the node it added.
 *
 * Serdes travel with the stream as long as the types do: an operator that may change the key
 * (map, selectKey, flatMap, process) forgets the key serde and marks the stream as needing
 * repartitioning, which the next key-based operator (groupByKey, join) does through an internal
 * topic — as Kafka Streams does.
 */
import type { ProcessorSupplier } from '../processor.js';
import type { Serde } from '../serde.js';
import type { JoinWindows } from '../windows.js';
import { BranchedKStream } from './branchedKStream.js';
import type { BuildSteps } from './buildSteps.js';
import type { KeyValue } from './change.js';
import { GlobalKTable } from './globalKTable.js';
import { KGroupedStream } from './kgroupedStream.js';
import { KTable } from './ktable.js';
import { type Joined, type Materialized, Named, type Produced, type Repartitioned, type StreamJoined } from './options.js';
import {
  FilterProcessor,
  FlatMapProcessor,
  FlatMapValuesProcessor,
  MapProcessor,
  MapValuesProcessor,
  PassThroughProcessor,
  PeekProcessor,
  SelectKeyProcessor,
} from './processors/stateless.js';
import { StreamTableJoinProcessor } from './processors/streamTableJoin.js';
import { JoinBufferProcessor, type OuterJoinKey, StreamStreamJoinProcessor, outerJoinKeySerde } from './processors/streamStreamJoin.js';
import { TableSourceProcessor } from './processors/tableSource.js';
import { timestampedKeyValueStore } from './timestampedStore.js';
import { Stores } from '../../state/stores.js';
import { addRepartition } from './repartition.js';
import { requireSerde, windowStore } from './stores.js';
import { listSerde, outerJoinValuesSerde } from './internalSerdes.js';

export class KStream<K, V> {
  /** @internal Created by StreamsBuilder and by other DSL objects. */
  constructor(
    protected readonly ctx: BuildSteps,
    /** The node whose output this stream is. */
    readonly nodeName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** The key may have changed since the stream was last partitioned by it. */
    readonly repartitionRequired: boolean,
  ) {}

  /** @internal The same stream (types, serdes) continuing from another node, e.g. a split branch. */
  derive(nodeName: string): KStream<K, V> {
    return new KStream(this.ctx, nodeName, this.keySerde, this.valueSerde, this.repartitionRequired);
  }

  private addProcessor<KR, VR>(
    prefix: string,
    named: Named | undefined,
    supplier: ProcessorSupplier<K, V, KR, VR>,
    serdes: { key: Serde<KR> | undefined; value: Serde<VR> | undefined; repartition: boolean },
  ): KStream<KR, VR> {
    const name = this.ctx.names.orNext(named?.name, prefix);
    const parent = this.nodeName;
    this.ctx.addStep((t) => t.addProcessor(name, supplier, parent));
    return new KStream<KR, VR>(this.ctx, name, serdes.key, serdes.value, serdes.repartition);
  }

  private same(): { key: Serde<K> | undefined; value: Serde<V> | undefined; repartition: boolean } {
    return { key: this.keySerde, value: this.valueSerde, repartition: this.repartitionRequired };
  }

  filter(predicate: (key: K, value: V) => boolean, named?: Named): KStream<K, V> {
    return this.addProcessor('KSTREAM-FILTER-', named, () => new FilterProcessor(predicate, true), this.same());
  }

  filterNot(predicate: (key: K, value: V) => boolean, named?: Named): KStream<K, V> {
    return this.addProcessor('KSTREAM-FILTER-', named, () => new FilterProcessor(predicate, false), this.same());
  }

  map<KR, VR>(mapper: (key: K, value: V) => KeyValue<KR, VR>, named?: Named): KStream<KR, VR> {
    return this.addProcessor<KR, VR>('KSTREAM-MAP-', named, () => new MapProcessor(mapper), { key: undefined, value: undefined, repartition: true });
  }

  mapValues<VR>(mapper: (value: V, key: K) => VR, named?: Named): KStream<K, VR> {
    return this.addProcessor<K, VR>('KSTREAM-MAPVALUES-', named, () => new MapValuesProcessor(mapper), {
      key: this.keySerde,
      value: undefined,
      repartition: this.repartitionRequired,
    });
  }

  selectKey<KR>(selector: (key: K, value: V) => KR, named?: Named): KStream<KR, V> {
    return this.addProcessor<KR, V>('KSTREAM-KEY-SELECT-', named, () => new SelectKeyProcessor(selector), {
      key: undefined,
      value: this.valueSerde,
      repartition: true,
    });
  }

  flatMap<KR, VR>(mapper: (key: K, value: V) => Iterable<KeyValue<KR, VR>>, named?: Named): KStream<KR, VR> {
    return this.addProcessor<KR, VR>('KSTREAM-FLATMAP-', named, () => new FlatMapProcessor(mapper), { key: undefined, value: undefined, repartition: true });
  }

  flatMapValues<VR>(mapper: (value: V, key: K) => Iterable<VR>, named?: Named): KStream<K, VR> {
    return this.addProcessor<K, VR>('KSTREAM-FLATMAPVALUES-', named, () => new FlatMapValuesProcessor(mapper), {
      key: this.keySerde,
      value: undefined,
      repartition: this.repartitionRequired,
    });
  }

  peek(action: (key: K, value: V) => void, named?: Named): KStream<K, V> {
    return this.addProcessor('KSTREAM-PEEK-', named, () => new PeekProcessor(action), this.same());
  }

  /** Routes each record to the first branch whose predicate matches (see BranchedKStream). */
  split(named?: Named): BranchedKStream<K, V> {
    const name = this.ctx.names.orNext(named?.name, 'KSTREAM-BRANCH-');
    return new BranchedKStream(this.ctx, this, name, named === undefined ? `${name}-` : name);
  }

  /** The records of both streams, interleaved in processing order. */
  merge(other: KStream<K, V>, named?: Named): KStream<K, V> {
    const name = this.ctx.names.orNext(named?.name, 'KSTREAM-MERGE-');
    const parents = [this.nodeName, other.nodeName];
    this.ctx.addStep((t) => t.addProcessor(name, () => new PassThroughProcessor<K, V>(), ...parents));
    return new KStream(this.ctx, name, this.keySerde, this.valueSerde, this.repartitionRequired || other.repartitionRequired);
  }

  /** Writes the stream to a topic, partitioned by key (murmur2). */
  to(topic: string, produced: Produced<K, V> = {}): void {
    const name = this.ctx.names.orNext(produced.name, 'KSTREAM-SINK-');
    const keySerde = requireSerde(produced.keySerde ?? this.keySerde, 'key', `to(${topic})`);
    const valueSerde = requireSerde(produced.valueSerde ?? this.valueSerde, 'value', `to(${topic})`);
    const parent = this.nodeName;
    this.ctx.addStep((t) => t.addSink(name, topic, { keySerde, valueSerde }, parent));
  }

  /** Always writes through an internal topic <applicationId>-<name>-repartition, partitioned by the current key. */
  repartition(repartitioned: Repartitioned<K, V> = {}): KStream<K, V> {
    const base = this.ctx.names.orNext(repartitioned.name, 'KSTREAM-REPARTITION-');
    const keySerde = requireSerde(repartitioned.keySerde ?? this.keySerde, 'key', 'repartition()');
    const valueSerde = requireSerde(repartitioned.valueSerde ?? this.valueSerde, 'value', 'repartition()');
    const source = addRepartition(this.ctx, this.nodeName, base, keySerde, valueSerde, repartitioned.numPartitions);
    return new KStream(this.ctx, source, keySerde, valueSerde, false);
  }

  /** Groups by the current key; repartitions first (at the aggregation) if the key may have changed. */
  groupByKey(grouped: { keySerde?: Serde<K>; valueSerde?: Serde<V>; name?: string } = {}): KGroupedStream<K, V> {
    return new KGroupedStream(this.ctx, this.nodeName, grouped.keySerde ?? this.keySerde, grouped.valueSerde ?? this.valueSerde, this.repartitionRequired, grouped.name);
  }

  /** Groups by a new key; the aggregation repartitions through an internal topic. */
  groupBy<KR>(selector: (key: K, value: V) => KR, grouped: { keySerde?: Serde<KR>; valueSerde?: Serde<V>; name?: string } = {}): KGroupedStream<KR, V> {
    const selected = this.selectKey(selector);
    return new KGroupedStream(this.ctx, selected.nodeName, grouped.keySerde, grouped.valueSerde ?? this.valueSerde, true, grouped.name);
  }

  /**
   * Joins:
   * - with a KTable: each record is joined with the table's current row for its key;
   * - with a GlobalKTable: with the row for the key that `keyMapper` derives from the record;
   * - with a KStream: with the other stream's records whose timestamps fall within the JoinWindows.
   */
  join<VT, VR>(table: KTable<K, VT>, joiner: (value: V, tableValue: VT) => VR, joined?: Joined<K, V, VT>): KStream<K, VR>;
  join<KG, VG, VR>(table: GlobalKTable<KG, VG>, keyMapper: (key: K, value: V) => KG, joiner: (value: V, tableValue: VG) => VR, named?: Named): KStream<K, VR>;
  join<VO, VR>(other: KStream<K, VO>, joiner: (value: V, otherValue: VO) => VR, windows: JoinWindows, streamJoined?: StreamJoined<K, V, VO>): KStream<K, VR>;
  join(other: unknown, a: unknown, b?: unknown, c?: unknown): KStream<K, unknown> {
    return this.doJoin(other, a, b, c, false);
  }

  /**
   * Like join, but every record of this stream gives a result: with a KTable or GlobalKTable,
   * records without a row are joined with null; with a KStream, a record that found no partner by
   * the time its window closed is emitted with null (never early, KIP-633).
   */
  leftJoin<VT, VR>(table: KTable<K, VT>, joiner: (value: V, tableValue: VT | null) => VR, joined?: Joined<K, V, VT>): KStream<K, VR>;
  leftJoin<KG, VG, VR>(table: GlobalKTable<KG, VG>, keyMapper: (key: K, value: V) => KG, joiner: (value: V, tableValue: VG | null) => VR, named?: Named): KStream<K, VR>;
  leftJoin<VO, VR>(other: KStream<K, VO>, joiner: (value: V, otherValue: VO | null) => VR, windows: JoinWindows, streamJoined?: StreamJoined<K, V, VO>): KStream<K, VR>;
  leftJoin(other: unknown, a: unknown, b?: unknown, c?: unknown): KStream<K, unknown> {
    return this.doJoin(other, a, b, c, true);
  }

  // The overloads above give callers full types; here the arguments are told apart at run time.
  private doJoin(other: unknown, a: unknown, b: unknown, c: unknown, left: boolean): KStream<K, unknown> {
    type Joiner = (value: V, other: unknown, key: K) => unknown;
    if (other instanceof KTable) return this.joinTable(other as KTable<K, unknown>, a as Joiner, (b ?? {}) as Joined<K, V, unknown>, left);
    if (other instanceof GlobalKTable) {
      return this.joinGlobal(other as GlobalKTable<unknown, unknown>, a as (key: K, value: V) => unknown, b as Joiner, c as Named | undefined, left);
    }
    if (other instanceof KStream) {
      // The left side's value is never null here (only the right side's may be in a left join).
      return this.joinStream(other as KStream<K, unknown>, a as (value: V | null, other: unknown, key: K) => unknown, b as JoinWindows, (c ?? {}) as StreamJoined<K, V, unknown>, left ? 'left' : 'inner');
    }
    throw new Error('join needs a KTable, a GlobalKTable or a KStream');
  }

  private joinTable<VT, VR>(table: KTable<K, VT>, joiner: (value: V, row: VT | null, key: K) => VR, joined: Joined<K, V, VT>, left: boolean): KStream<K, VR> {
    const storeName = table.joinableStoreName();
    const name = this.ctx.names.orNext(joined.name, left ? 'KSTREAM-LEFTJOIN-' : 'KSTREAM-JOIN-');
    let parent = this.nodeName;
    const keySerde = joined.keySerde ?? this.keySerde ?? table.keySerde;
    if (this.repartitionRequired) {
      parent = addRepartition(
        this.ctx,
        parent,
        `${name}-left`,
        requireSerde(keySerde, 'key', 'join'),
        requireSerde(joined.valueSerde ?? this.valueSerde, 'value', 'join'),
      );
    }
    this.ctx.addStep((t) => {
      t.addProcessor(name, () => new StreamTableJoinProcessor<K, V, K, VT, VR>(storeName, (key) => key, joiner, left), parent);
      t.connectProcessorAndStateStores([name, storeName]);
      t.requireCopartitioning(name);
    });
    return new KStream<K, VR>(this.ctx, name, keySerde, undefined, false);
  }

  private joinGlobal<KG, VG, VR>(
    table: GlobalKTable<KG, VG>,
    keyMapper: (key: K, value: V) => KG,
    joiner: (value: V, row: VG | null, key: K) => VR,
    named: Named | undefined,
    left: boolean,
  ): KStream<K, VR> {
    const name = this.ctx.names.orNext(named?.name, left ? 'KSTREAM-LEFTJOIN-' : 'KSTREAM-JOIN-');
    const parent = this.nodeName;
    // Global stores are readable from every task: no repartitioning, no co-partitioning.
    this.ctx.addStep((t) => t.addProcessor(name, () => new StreamTableJoinProcessor<K, V, KG, VG, VR>(table.storeName, keyMapper, joiner, left), parent));
    return new KStream<K, VR>(this.ctx, name, this.keySerde, undefined, this.repartitionRequired);
  }

  private joinStream<VO, VR>(
    other: KStream<K, VO>,
    joiner: (value: V | null, otherValue: VO | null, key: K) => VR,
    windows: JoinWindows,
    options: StreamJoined<K, V, VO>,
    mode: 'inner' | 'left' | 'outer',
  ): KStream<K, VR> {
    const base = options.name;
    const names = this.ctx.names;
    const thisWindowed = base ? `${base}-this-windowed` : names.next('KSTREAM-WINDOWED-');
    const otherWindowed = base ? `${base}-other-windowed` : names.next('KSTREAM-WINDOWED-');
    // Kafka Streams' names: the other side is OUTER- in left and outer joins, this side in outer joins.
    const joinThis = base ? `${base}-${mode === 'outer' ? 'outer-' : ''}join-this` : names.next(mode === 'outer' ? 'KSTREAM-OUTERTHIS-' : 'KSTREAM-JOINTHIS-');
    const joinOther = base ? `${base}-${mode === 'inner' ? '' : 'outer-'}join-other` : names.next(mode === 'inner' ? 'KSTREAM-JOINOTHER-' : 'KSTREAM-OUTEROTHER-');
    const merge = base ? `${base}-merge` : names.next('KSTREAM-MERGE-');
    const storeBase = options.storeName ?? base;
    const thisStore = storeBase ? `${storeBase}-this-join-store` : `${joinThis}-store`;
    const otherStore = storeBase ? `${storeBase}-other-join-store` : `${joinOther}-store`;
    const outerStore = mode === 'inner' ? undefined : storeBase ? `${storeBase}-outer-shared-join-store` : `${joinThis}-outer-shared-join-store`;

    const keySerde = requireSerde(options.keySerde ?? this.keySerde ?? other.keySerde, 'key', 'stream-stream join');
    const thisValueSerde = requireSerde(options.valueSerde ?? this.valueSerde, 'value', 'stream-stream join');
    const otherValueSerde = requireSerde(options.otherValueSerde ?? other.valueSerde, 'other value', 'stream-stream join');
    const thisParent = this.repartitionRequired ? addRepartition(this.ctx, this.nodeName, `${joinThis}-left`, keySerde, thisValueSerde) : this.nodeName;
    const otherParent = other.repartitionRequired ? addRepartition(this.ctx, other.nodeName, `${joinOther}-right`, keySerde, otherValueSerde) : other.nodeName;

    const persistent = options.inMemory !== true;
    const thisBuffer = windowStore(thisStore, keySerde, listSerde(thisValueSerde), windows.retentionMs(), { persistent });
    const otherBuffer = windowStore(otherStore, keySerde, listSerde(otherValueSerde), windows.retentionMs(), { persistent });
    const outerBuffer =
      outerStore === undefined
        ? undefined
        : Stores.keyValue<OuterJoinKey<K>, unknown[]>(outerStore, outerJoinKeySerde(keySerde), outerJoinValuesSerde(thisValueSerde, otherValueSerde), { persistent });
    const { beforeMs, afterMs, graceMs } = windows;
    const common = { graceMs, windowBeforeMs: beforeMs, windowAfterMs: afterMs, outerStoreName: outerStore, joiner: joiner as (l: unknown, r: unknown, key: K) => VR };
    this.ctx.addStep((t) => {
      t.addProcessor(thisWindowed, () => new JoinBufferProcessor<K, V>(thisStore, mode !== 'inner'), thisParent);
      t.addProcessor(otherWindowed, () => new JoinBufferProcessor<K, VO>(otherStore, mode === 'outer'), otherParent);
      // From the other side, "before" and "after" swap.
      t.addProcessor(
        joinThis,
        () => new StreamStreamJoinProcessor<K, V, VO, VR>({ ...common, thisStoreName: thisStore, otherStoreName: otherStore, beforeMs, afterMs, leftSide: true, outer: mode !== 'inner' }),
        thisWindowed,
      );
      t.addProcessor(
        joinOther,
        () => new StreamStreamJoinProcessor<K, VO, V, VR>({ ...common, thisStoreName: otherStore, otherStoreName: thisStore, beforeMs: afterMs, afterMs: beforeMs, leftSide: false, outer: mode === 'outer' }),
        otherWindowed,
      );
      t.addProcessor(merge, () => new PassThroughProcessor<K, VR>(), joinThis, joinOther);
      t.addStateStore(thisBuffer.builder, [thisWindowed, joinThis, joinOther], thisBuffer.changelogConfig);
      t.addStateStore(otherBuffer.builder, [otherWindowed, joinThis, joinOther], otherBuffer.changelogConfig);
      if (outerBuffer !== undefined) t.addStateStore(outerBuffer, [joinThis, joinOther]);
      t.requireCopartitioning(merge);
    });
    return new KStream<K, VR>(this.ctx, merge, keySerde, undefined, false);
  }

  /**
   * Windowed stream–stream outer join: like the inner join, and a record of either side that found
   * no partner by the time its window closed is emitted with null for the other side (see
   * processors/streamStreamJoin.ts: never a spurious early null result, KIP-633).
   */
  outerJoin<VO, VR>(other: KStream<K, VO>, joiner: (value: V | null, otherValue: VO | null) => VR, windows: JoinWindows, streamJoined: StreamJoined<K, V, VO> = {}): KStream<K, VR> {
    return this.joinStream(other, (v, o) => joiner(v, o), windows, streamJoined, 'outer');
  }

  /**
   * A stream read as a table: each record upserts its key (a null value deletes it), kept in a
   * timestamped store. Null-key records are dropped. Repartitions first if the key may have changed.
   */
  toTable(materialized?: Materialized<K, V>, named?: Named): KTable<K, V> {
    const name = this.ctx.names.orNext(named?.name, 'KSTREAM-TOTABLE-');
    const storeName = this.ctx.names.storeName(materialized?.storeName, 'KSTREAM-TOTABLE-');
    const keySerde = requireSerde(materialized?.keySerde ?? this.keySerde, 'key', 'toTable');
    const valueSerde = requireSerde(materialized?.valueSerde ?? this.valueSerde, 'value', 'toTable');
    const parent = this.repartitionRequired ? addRepartition(this.ctx, this.nodeName, `${name}`, keySerde, valueSerde) : this.nodeName;
    const store = timestampedKeyValueStore(storeName, keySerde, valueSerde, materialized);
    this.ctx.addStep((t) => {
      t.addProcessor(name, () => new TableSourceProcessor<K, V>(storeName, true), parent);
      t.addStateStore(store, [name]);
    });
    return new KTable<K, V>(this.ctx, name, storeName, keySerde, valueSerde, true);
  }

  /**
   * Runs a custom processor (Processor API). Pass store names (added with
   * StreamsBuilder.addStateStore) to connect them, and a Named to name the node. The output may
   * have any key, so a later key-based operator repartitions.
   */
  process<KR, VR>(supplier: ProcessorSupplier<K, V, KR, VR>, ...storesOrName: (string | Named)[]): KStream<KR, VR> {
    const named = storesOrName.find((s): s is Named => s instanceof Named);
    const stores = storesOrName.filter((s): s is string => typeof s === 'string');
    const name = this.ctx.names.orNext(named?.name, 'KSTREAM-PROCESSOR-');
    const parent = this.nodeName;
    this.ctx.addStep((t) => {
      t.addProcessor(name, supplier, parent);
      t.connectProcessorAndStateStores(...stores.map((s) => [name, s] as const));
    });
    return new KStream<KR, VR>(this.ctx, name, undefined, undefined, true);
  }
}
