/**
 * A stream grouped by key, ready to aggregate. If the key may have changed since the stream was
 * partitioned (selectKey, map, groupBy…), the aggregation first repartitions through the internal
 * topic <applicationId>-<grouped name or store name>-repartition, so each key lands on one task.
 */
import type { Serde } from '../serde.js';
import { Serdes } from '../serde.js';
import { SessionWindows, SlidingWindows, TimeWindows } from '../windows.js';
import { SessionWindowedKStream } from './sessionWindowedKStream.js';
import { CogroupedKStream } from './cogroupedKStream.js';
import type { BuildSteps } from './buildSteps.js';
import { KTable } from './ktable.js';
import type { Materialized, Named } from './options.js';
import { AggregateProcessor, type Fold } from './processors/aggregate.js';
import { addRepartition } from './repartition.js';
import { requireSerde } from './stores.js';
import { timestampedKeyValueStore } from './timestampedStore.js';
import { TimeWindowedKStream } from './timeWindowedKStream.js';

export class KGroupedStream<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuildSteps,
    private readonly nodeName: string,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly repartitionRequired: boolean,
    private readonly groupedName: string | undefined,
  ) {}

  /** Records per key (records with a null value are not counted). */
  count(materialized?: Materialized<K, number>, named?: Named): KTable<K, number> {
    return this.doAggregate('KSTREAM-AGGREGATE-', (_k, _v, previous: number | undefined) => (previous ?? 0) + 1, materialized?.valueSerde ?? Serdes.Long, materialized, named);
  }

  /** Combines the values of a key with `reducer`; the first value is the initial aggregate. */
  reduce(reducer: (aggregate: V, value: V) => V, materialized?: Materialized<K, V>, named?: Named): KTable<K, V> {
    const valueSerde = requireSerde(materialized?.valueSerde ?? this.valueSerde, 'value', 'reduce');
    return this.doAggregate('KSTREAM-REDUCE-', (_k, value: V, previous: V | undefined) => (previous === undefined ? value : reducer(previous, value)), valueSerde, materialized, named);
  }

  aggregate<VA>(initializer: () => VA, aggregator: (key: K, value: V, aggregate: VA) => VA, materialized?: Materialized<K, VA>, named?: Named): KTable<K, VA> {
    const valueSerde = requireSerde(materialized?.valueSerde, 'aggregate value', 'aggregate (Materialized.with(keySerde, aggSerde))');
    return this.doAggregate('KSTREAM-AGGREGATE-', (key, value, previous) => aggregator(key, value, previous === undefined ? initializer() : previous), valueSerde, materialized, named);
  }

  /** Starts a cogroup (several grouped streams into one aggregate); see CogroupedKStream. */
  cogroup<VA>(aggregator: (key: K, value: V, aggregate: VA) => VA): CogroupedKStream<K, VA> {
    return new CogroupedKStream<K, VA>(this.ctx, []).cogroup(this, aggregator);
  }

  /** @internal Where the grouped records come from, for cogroup. */
  source(): { nodeName: string; keySerde: Serde<K> | undefined; valueSerde: Serde<V> | undefined; repartitionRequired: boolean; groupedName: string | undefined } {
    return { nodeName: this.nodeName, keySerde: this.keySerde, valueSerde: this.valueSerde, repartitionRequired: this.repartitionRequired, groupedName: this.groupedName };
  }

  /** Aggregates per key and window: tumbling or hopping TimeWindows, SlidingWindows, or SessionWindows. */
  windowedBy(windows: SessionWindows): SessionWindowedKStream<K, V>;
  windowedBy(windows: TimeWindows | SlidingWindows): TimeWindowedKStream<K, V>;
  windowedBy(windows: TimeWindows | SlidingWindows | SessionWindows): TimeWindowedKStream<K, V> | SessionWindowedKStream<K, V> {
    if (windows instanceof SessionWindows) return new SessionWindowedKStream(this.ctx, this.nodeName, this.keySerde, this.valueSerde, this.repartitionRequired, this.groupedName, windows);
    if (!(windows instanceof TimeWindows) && !(windows instanceof SlidingWindows)) throw new Error('windowedBy needs TimeWindows, SlidingWindows or SessionWindows');
    return new TimeWindowedKStream(this.ctx, this.nodeName, this.keySerde, this.valueSerde, this.repartitionRequired, this.groupedName, windows, undefined);
  }

  private doAggregate<VA>(prefix: string, fold: Fold<K, V, VA>, aggSerde: Serde<VA>, materialized: Materialized<K, VA> | undefined, named: Named | undefined): KTable<K, VA> {
    const storeName = this.ctx.names.storeName(materialized?.storeName, prefix);
    const keySerde = requireSerde(materialized?.keySerde ?? this.keySerde, 'key', `aggregation ${storeName}`);
    const parent = this.repartitionRequired
      ? addRepartition(this.ctx, this.nodeName, this.groupedName ?? storeName, keySerde, requireSerde(this.valueSerde, 'value', `repartition for ${storeName}`))
      : this.nodeName;
    const name = this.ctx.names.orNext(named?.name, prefix);
    const store = timestampedKeyValueStore(storeName, keySerde, aggSerde, materialized);
    this.ctx.addStep((t) => {
      t.addProcessor(name, () => new AggregateProcessor<K, V, VA>(storeName, fold), parent);
      t.addStateStore(store, [name]);
    });
    return new KTable<K, VA>(this.ctx, name, storeName, keySerde, aggSerde, true);
  }
}
