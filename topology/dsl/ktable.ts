/**
 * KTable: a changelog stream read as a table — the latest value per key. Tables here come from
 * `StreamsBuilder.table()`, `KStream.toTable()`, aggregations and table–table joins, and are always
 * materialized in a timestamped store, which is what joins read. Between table processors flow
 * Changes (new and old value).
 */
import type { BuildSteps } from './buildSteps.js';
import { addForeignKeyJoin } from './foreignKeyJoin.js';
import type { KeyValue } from './change.js';
import { KGroupedTable } from './kgroupedTable.js';
import { KStream } from './kstream.js';
import type { Grouped, Materialized, Named, Suppressed } from './options.js';
import { SuppressUntilWindowClosesProcessor, bufferedSerde, suppressKeySerde } from './processors/suppress.js';
import { Stores } from '../../state/stores.js';
import type { Windowed } from '../windows.js';
import { TableToStreamProcessor } from './processors/stateless.js';
import { TableMaterializeProcessor, type TableJoinSide, TableTableJoinProcessor } from './processors/tableTableJoin.js';
import { TableTransformProcessor } from './processors/tableStateless.js';
import { timestampedKeyValueStore } from './timestampedStore.js';
import type { Serde } from '../serde.js';

export class KTable<K, V> {
  /** @internal */
  constructor(
    protected readonly ctx: BuildSteps,
    readonly nodeName: string,
    /** The store holding the table's rows, readable through the driver or interactive queries. */
    readonly queryableStoreName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** false for windowed tables: their store is a window store, not a key-value store. */
    private readonly keyValueStore: boolean,
    /** Windowed tables: their windows' grace, which suppress(untilWindowCloses) waits for. */
    private readonly windowGraceMs?: number,
  ) {}

  /**
   * Final results of a windowed table: each window's last value, emitted once when the window
   * closes (stream time ≥ end + grace), as Kafka Streams' suppress(untilWindowCloses(unbounded())).
   * The buffer is a logged store (<applicationId>-<name>-store-changelog): restored after a crash.
   */
  suppress(suppressed: Suppressed, named?: Named): KTable<K, V> {
    if (suppressed.kind !== 'untilWindowCloses') throw new Error(`unknown suppression ${String(suppressed.kind)}`);
    if (this.windowGraceMs === undefined) throw new Error('suppress(untilWindowCloses) needs a windowed table (groupByKey().windowedBy(...).aggregate/count/reduce)');
    const name = this.ctx.names.orNext(suppressed.name ?? named?.name, 'KTABLE-SUPPRESS-');
    const storeName = `${name}-store`;
    const keySerde = this.keySerde as Serde<Windowed<unknown>> | undefined;
    if (keySerde === undefined || this.valueSerde === undefined) throw new Error('suppress needs the windowed table’s serdes');
    const store = Stores.keyValue(storeName, suppressKeySerde(keySerde), bufferedSerde(this.valueSerde), { persistent: suppressed.inMemory !== true });
    const parent = this.nodeName;
    const grace = this.windowGraceMs;
    this.ctx.addStep((t) => {
      t.addProcessor(name, () => new SuppressUntilWindowClosesProcessor<unknown, V>(storeName, grace), parent);
      t.addStateStore(store, [name]);
    });
    // Not materialized itself: queries read the upstream window store.
    return new KTable<K, V>(this.ctx, name, this.queryableStoreName, this.keySerde, this.valueSerde, false, this.windowGraceMs);
  }

  /** Every update as a record: the new value, or null when the row was deleted. */
  toStream(named?: Named): KStream<K, V> {
    const name = this.ctx.names.orNext(named?.name, 'KTABLE-TOSTREAM-');
    const parent = this.nodeName;
    this.ctx.addStep((t) => t.addProcessor(name, () => new TableToStreamProcessor<K, V>(), parent));
    return new KStream<K, V>(this.ctx, name, this.keySerde, this.valueSerde, false);
  }

  /** The rows for which `predicate` holds; a row that stops matching becomes a tombstone downstream. */
  filter(predicate: (key: K, value: V) => boolean, materialized?: Materialized<K, V>, named?: Named): KTable<K, V> {
    return this.transformValues('KTABLE-FILTER-', (k, v) => (predicate(k, v) ? v : null), materialized, named, this.valueSerde);
  }

  filterNot(predicate: (key: K, value: V) => boolean, materialized?: Materialized<K, V>, named?: Named): KTable<K, V> {
    return this.transformValues('KTABLE-FILTER-', (k, v) => (predicate(k, v) ? null : v), materialized, named, this.valueSerde);
  }

  /** Each row's value mapped; pass Materialized (with the value serde) to keep the result in a store. */
  mapValues<VR>(mapper: (value: V, key: K) => VR, materialized?: Materialized<K, VR>, named?: Named): KTable<K, VR> {
    return this.transformValues('KTABLE-MAPVALUES-', (k, v) => mapper(v, k), materialized, named, undefined);
  }

  private transformValues<VR>(prefix: string, transform: (key: K, value: V) => VR | null, materialized: Materialized<K, VR> | undefined, named: Named | undefined, sameSerde: Serde<VR> | undefined): KTable<K, VR> {
    if (!this.keyValueStore) throw new Error(`${prefix.toLowerCase()} on a windowed table is not supported`);
    const name = this.ctx.names.orNext(named?.name, prefix);
    const valueSerde = materialized?.valueSerde ?? sameSerde;
    const storeName = materialized === undefined ? undefined : this.ctx.names.storeName(materialized.storeName, prefix);
    const keySerde = materialized?.keySerde ?? this.keySerde;
    const parent = this.nodeName;
    if (storeName !== undefined && (keySerde === undefined || valueSerde === undefined)) throw new Error(`${name} is materialized: pass Materialized.with(keySerde, valueSerde)`);
    this.ctx.addStep((t) => {
      t.addProcessor(name, () => new TableTransformProcessor<K, V, VR>(transform, storeName), parent);
      if (storeName !== undefined) t.addStateStore(timestampedKeyValueStore(storeName, keySerde!, valueSerde!, materialized), [name]);
    });
    // Not materialized: no store to query or join against (Kafka Streams would compute through value getters).
    return new KTable<K, VR>(this.ctx, name, storeName ?? '', keySerde, valueSerde, true);
  }

  /**
   * Re-groups the table by a new key for an aggregation with a subtractor (count, reduce,
   * aggregate). `selector` returns the new key and value of a row.
   */
  groupBy<KR, VR>(selector: (key: K, value: V) => KeyValue<KR, VR>, grouped: Partial<Grouped<KR, VR>> = {}): KGroupedTable<KR, VR> {
    if (!this.keyValueStore) throw new Error(`table ${this.nodeName} is windowed: groupBy needs a key-value table`);
    return new KGroupedTable<KR, VR>(this.ctx, this.nodeName, selector as (key: unknown, value: unknown) => KeyValue<KR, VR>, grouped.keySerde, grouped.valueSerde, grouped.name);
  }

  /**
   * Inner join of two tables. On their common key: a row exists while both tables have one. With a
   * `foreignKeyExtractor` (KIP-213 foreign-key join): each row of this table joins the row of
   * `other` whose key the extractor finds in its value (null: no join); the result is keyed like
   * this table, and follows changes of either row and of the foreign key (see foreignKeyJoin.ts).
   */
  join<VO, VR>(other: KTable<K, VO>, joiner: (value: V, otherValue: VO) => VR, materialized?: Materialized<K, VR>, named?: Named): KTable<K, VR>;
  join<KO, VO, VR>(other: KTable<KO, VO>, foreignKeyExtractor: (value: V) => KO | null, joiner: (value: V, otherValue: VO) => VR, materialized?: Materialized<K, VR>, named?: Named): KTable<K, VR>;
  join<KO, VO, VR>(other: KTable<KO, VO>, a: unknown, b?: unknown, c?: unknown, d?: unknown): KTable<K, VR> {
    return this.doJoin<KO, VO, VR>(other, a, b, c, d, 'inner');
  }

  /**
   * Left join of two tables: a row for every row of this table, joined with null while the other
   * has none — on the common key, or on the key a `foreignKeyExtractor` finds in the value.
   */
  leftJoin<VO, VR>(other: KTable<K, VO>, joiner: (value: V, otherValue: VO | null) => VR, materialized?: Materialized<K, VR>, named?: Named): KTable<K, VR>;
  leftJoin<KO, VO, VR>(other: KTable<KO, VO>, foreignKeyExtractor: (value: V) => KO | null, joiner: (value: V, otherValue: VO | null) => VR, materialized?: Materialized<K, VR>, named?: Named): KTable<K, VR>;
  leftJoin<KO, VO, VR>(other: KTable<KO, VO>, a: unknown, b?: unknown, c?: unknown, d?: unknown): KTable<K, VR> {
    return this.doJoin<KO, VO, VR>(other, a, b, c, d, 'left');
  }

  // The overloads give callers full types; here a third argument that is a function tells a foreign-key join.
  private doJoin<KO, VO, VR>(other: KTable<KO, VO>, a: unknown, b: unknown, c: unknown, d: unknown, mode: 'inner' | 'left'): KTable<K, VR> {
    if (typeof b === 'function') {
      return this.foreignKeyJoin(other, a as (value: V) => KO | null, b as (value: V, o: VO | null) => VR, mode === 'left', c as Materialized<K, VR> | undefined, d as Named | undefined);
    }
    // Same key type: the first overload's `other` is a KTable<K, VO>.
    return this.tableJoin(other as unknown as KTable<K, VO>, a as (v: V | null, o: VO | null) => VR, mode, b as Materialized<K, VR> | undefined, c as Named | undefined);
  }

  private foreignKeyJoin<KO, VO, VR>(
    other: KTable<KO, VO>,
    extractor: (value: V) => KO | null | undefined,
    joiner: (value: V, foreignValue: VO | null) => VR,
    leftJoin: boolean,
    materialized: Materialized<K, VR> | undefined,
    named: Named | undefined,
  ): KTable<K, VR> {
    const left = { nodeName: this.nodeName, storeName: this.joinableStoreName(), keySerde: this.keySerde, valueSerde: this.valueSerde };
    const right = { nodeName: other.nodeName, storeName: other.joinableStoreName(), keySerde: other.keySerde, valueSerde: other.valueSerde };
    const result = addForeignKeyJoin(this.ctx, left, right, extractor, joiner, leftJoin, materialized, named);
    return new KTable<K, VR>(this.ctx, result.nodeName, result.storeName, result.keySerde, result.valueSerde, true);
  }

  /** Outer join of two tables: a row while either has one, null for the side that has none. */
  outerJoin<VO, VR>(other: KTable<K, VO>, joiner: (value: V | null, otherValue: VO | null) => VR, materialized?: Materialized<K, VR>, named?: Named): KTable<K, VR> {
    return this.tableJoin(other, joiner, 'outer', materialized, named);
  }

  private tableJoin<VO, VR>(other: KTable<K, VO>, joiner: (v: V | null, o: VO | null) => VR, mode: 'inner' | 'left' | 'outer', materialized: Materialized<K, VR> | undefined, named: Named | undefined): KTable<K, VR> {
    const names = this.ctx.names;
    const base = named?.name;
    const joinThis = base ? `${base}-join-this` : names.next('KTABLE-JOINTHIS-');
    const joinOther = base ? `${base}-join-other` : names.next('KTABLE-JOINOTHER-');
    const merge = base ?? names.next('KTABLE-MERGE-');
    const storeName = names.storeName(materialized?.storeName, 'KTABLE-MERGE-');
    const thisStore = this.joinableStoreName();
    const otherStore = other.joinableStoreName();
    const keySerde = materialized?.keySerde ?? this.keySerde ?? other.keySerde;
    if (keySerde === undefined) throw new Error('table-table join needs a key serde (Materialized.with)');
    const valueSerde = materialized?.valueSerde;
    if (valueSerde === undefined) throw new Error('table-table join needs the result value serde: pass Materialized.with(keySerde, valueSerde)');
    const thisMode: TableJoinSide = mode;
    const otherMode: TableJoinSide = mode === 'left' ? 'right' : mode;
    const store = timestampedKeyValueStore(storeName, keySerde, valueSerde, materialized);
    const thisParent = this.nodeName;
    const otherParent = other.nodeName;
    this.ctx.addStep((t) => {
      t.addProcessor(joinThis, () => new TableTableJoinProcessor<K, V, VO, VR>(otherStore, thisMode, joiner), thisParent);
      t.addProcessor(joinOther, () => new TableTableJoinProcessor<K, VO, V, VR>(thisStore, otherMode, (o, v) => joiner(v, o)), otherParent);
      t.addProcessor(merge, () => new TableMaterializeProcessor<K, VR>(storeName), joinThis, joinOther);
      t.connectProcessorAndStateStores([joinThis, otherStore], [joinOther, thisStore]);
      t.addStateStore(store, [merge]);
      t.requireCopartitioning(merge);
    });
    return new KTable<K, VR>(this.ctx, merge, storeName, keySerde, valueSerde, true);
  }

  /** @internal The key-value store a stream–table join reads. */
  joinableStoreName(): string {
    if (!this.keyValueStore) throw new Error(`table ${this.nodeName} is windowed: a stream cannot join it by key`);
    if (this.queryableStoreName === '') throw new Error(`table ${this.nodeName} is not materialized: pass Materialized.as(name) to filter/mapValues to join or group it`);
    return this.queryableStoreName;
  }
}
