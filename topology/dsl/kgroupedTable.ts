/**
 * A KTable re-grouped by a new key (KTable.groupBy), ready to aggregate with an adder and a
 * subtractor: when a row changes, its old value is subtracted from its old group and its new value
 * added to its new group. Always repartitions through <applicationId>-<name>-repartition.
 */
import type { Serde } from '../serde.js';
import { Serdes } from '../serde.js';
import type { BuildSteps } from './buildSteps.js';
import type { KeyValue } from './change.js';
import { KTable } from './ktable.js';
import type { Materialized, Named } from './options.js';
import { TableAggregateProcessor, type TableFold, TableRepartitionMapProcessor, changeSerde } from './processors/tableAggregate.js';
import { addRepartition } from './repartition.js';
import { requireSerde } from './stores.js';
import { timestampedKeyValueStore } from './timestampedStore.js';

export class KGroupedTable<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuildSteps,
    /** The table's node. */
    private readonly parentNode: string,
    private readonly selector: (key: unknown, value: unknown) => KeyValue<K, V>,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly groupedName: string | undefined,
  ) {}

  /** Rows per group; a row moving to another group is subtracted from the old one. */
  count(materialized?: Materialized<K, number>, named?: Named): KTable<K, number> {
    return this.doAggregate('KTABLE-AGGREGATE-', { add: (_k, _v, agg: number | undefined) => (agg ?? 0) + 1, remove: (_k, _v, agg) => agg - 1 }, materialized?.valueSerde ?? Serdes.Long, materialized, named);
  }

  reduce(adder: (aggregate: V, value: V) => V, subtractor: (aggregate: V, value: V) => V, materialized?: Materialized<K, V>, named?: Named): KTable<K, V> {
    const valueSerde = requireSerde(materialized?.valueSerde ?? this.valueSerde, 'value', 'KGroupedTable.reduce');
    return this.doAggregate('KTABLE-REDUCE-', { add: (_k, v: V, agg: V | undefined) => (agg === undefined ? v : adder(agg, v)), remove: (_k, v, agg) => subtractor(agg, v) }, valueSerde, materialized, named);
  }

  aggregate<VA>(
    initializer: () => VA,
    adder: (key: K, value: V, aggregate: VA) => VA,
    subtractor: (key: K, value: V, aggregate: VA) => VA,
    materialized?: Materialized<K, VA>,
    named?: Named,
  ): KTable<K, VA> {
    const valueSerde = requireSerde(materialized?.valueSerde, 'aggregate value', 'KGroupedTable.aggregate (Materialized.with(keySerde, aggSerde))');
    return this.doAggregate('KTABLE-AGGREGATE-', { add: (k, v, agg) => adder(k, v, agg === undefined ? initializer() : agg), remove: subtractor }, valueSerde, materialized, named);
  }

  private doAggregate<VA>(prefix: string, fold: TableFold<K, V, VA>, aggSerde: Serde<VA>, materialized: Materialized<K, VA> | undefined, named: Named | undefined): KTable<K, VA> {
    const storeName = this.ctx.names.storeName(materialized?.storeName, prefix);
    const keySerde = requireSerde(materialized?.keySerde ?? this.keySerde, 'key', `table aggregation ${storeName}`);
    const valueSerde = requireSerde(this.valueSerde, 'value', `table aggregation ${storeName} (Grouped.with)`);
    const selectName = this.ctx.names.next('KTABLE-SELECT-');
    const selector = this.selector;
    const keyBytesEqual = (a: K, b: K) => keySerde.serialize(a).equals(keySerde.serialize(b));
    const parentNode = this.parentNode;
    this.ctx.addStep((t) => t.addProcessor(selectName, () => new TableRepartitionMapProcessor<unknown, unknown, K, V>(selector, keyBytesEqual), parentNode));
    const source = addRepartition(this.ctx, selectName, this.groupedName ?? storeName, keySerde, changeSerde(valueSerde));
    const name = this.ctx.names.orNext(named?.name, prefix);
    const store = timestampedKeyValueStore(storeName, keySerde, aggSerde, materialized);
    this.ctx.addStep((t) => {
      t.addProcessor(name, () => new TableAggregateProcessor<K, V, VA>(storeName, fold), source);
      t.addStateStore(store, [name]);
    });
    return new KTable<K, VA>(this.ctx, name, storeName, keySerde, aggSerde, true);
  }
}
