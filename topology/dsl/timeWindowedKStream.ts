/**
 * A grouped stream with windows: aggregations per key and window, kept in a window store and
 * emitted as a KTable keyed by Windowed<K> (updated on every record; see windows.ts for when a
 * window closes). Late records — for windows already closed — are dropped and counted, and with
 * `withLateRecordsTo(topic)` also written to that topic with the grouping serdes.
 */
import type { Serde } from '../serde.js';
import { Serdes } from '../serde.js';
import { timeWindowedSerde } from '../windowedSerdes.js';
import { type SlidingWindows, TimeWindows, type Windowed } from '../windows.js';
import type { BuildSteps } from './buildSteps.js';
import { valueAndTimestampSerde } from './internalSerdes.js';
import { KTable } from './ktable.js';
import type { Materialized, Named } from './options.js';
import type { Fold } from './processors/aggregate.js';
import { SlidingWindowAggregateProcessor } from './processors/slidingWindowAggregate.js';
import { TimeWindowAggregateProcessor } from './processors/windowAggregate.js';
import { addRepartition } from './repartition.js';
import { requireSerde, windowStore } from './stores.js';

export class TimeWindowedKStream<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuildSteps,
    private readonly nodeName: string,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly repartitionRequired: boolean,
    private readonly groupedName: string | undefined,
    private readonly windows: TimeWindows | SlidingWindows,
    private readonly lateRecordsTopic: string | undefined,
  ) {}

  /** Also write records that arrive after their windows closed to `topic` (key and value as grouped). */
  withLateRecordsTo(topic: string): TimeWindowedKStream<K, V> {
    return new TimeWindowedKStream(this.ctx, this.nodeName, this.keySerde, this.valueSerde, this.repartitionRequired, this.groupedName, this.windows, topic);
  }

  count(materialized?: Materialized<K, number>, named?: Named): KTable<Windowed<K>, number> {
    return this.doAggregate('KSTREAM-AGGREGATE-', (_k, _v, previous: number | undefined) => (previous ?? 0) + 1, materialized?.valueSerde ?? Serdes.Long, materialized, named);
  }

  reduce(reducer: (aggregate: V, value: V) => V, materialized?: Materialized<K, V>, named?: Named): KTable<Windowed<K>, V> {
    const valueSerde = requireSerde(materialized?.valueSerde ?? this.valueSerde, 'value', 'windowed reduce');
    return this.doAggregate('KSTREAM-REDUCE-', (_k, value: V, previous: V | undefined) => (previous === undefined ? value : reducer(previous, value)), valueSerde, materialized, named);
  }

  aggregate<VA>(initializer: () => VA, aggregator: (key: K, value: V, aggregate: VA) => VA, materialized?: Materialized<K, VA>, named?: Named): KTable<Windowed<K>, VA> {
    const valueSerde = requireSerde(materialized?.valueSerde, 'aggregate value', 'windowed aggregate (Materialized.with(keySerde, aggSerde))');
    return this.doAggregate('KSTREAM-AGGREGATE-', (key, value, previous) => aggregator(key, value, previous === undefined ? initializer() : previous), valueSerde, materialized, named);
  }

  private doAggregate<VA>(prefix: string, fold: Fold<K, V, VA>, aggSerde: Serde<VA>, materialized: Materialized<K, VA> | undefined, named: Named | undefined): KTable<Windowed<K>, VA> {
    const storeName = this.ctx.names.storeName(materialized?.storeName, prefix);
    const keySerde = requireSerde(materialized?.keySerde ?? this.keySerde, 'key', `windowed aggregation ${storeName}`);
    const needsValueSerde = this.repartitionRequired || this.lateRecordsTopic !== undefined;
    const valueSerde = needsValueSerde ? requireSerde(this.valueSerde, 'value', `windowed aggregation ${storeName}`) : this.valueSerde;
    const parent = this.repartitionRequired ? addRepartition(this.ctx, this.nodeName, this.groupedName ?? storeName, keySerde, valueSerde!) : this.nodeName;
    const name = this.ctx.names.orNext(named?.name, prefix);
    const lateSink = this.lateRecordsTopic === undefined ? undefined : `${name}-late-records`;
    const lateTopic = this.lateRecordsTopic;
    const windows = this.windows;
    const sizeMs = windows instanceof TimeWindows ? windows.sizeMs : windows.timeDifferenceMs;
    const store = windowStore(storeName, keySerde, valueAndTimestampSerde(aggSerde), windows.minimumRetentionMs(), {
      persistent: materialized?.persistent ?? true,
      logged: materialized?.logged ?? true,
      retentionMs: materialized?.retentionMs,
    });
    this.ctx.addStep((t) => {
      t.addProcessor(
        name,
        () =>
          windows instanceof TimeWindows
            ? new TimeWindowAggregateProcessor<K, V, VA>(storeName, windows, fold, lateSink)
            : new SlidingWindowAggregateProcessor<K, V, VA>(storeName, windows, fold, lateSink),
        parent,
      );
      t.addStateStore(store.builder, [name], store.changelogConfig);
      if (lateSink !== undefined && lateTopic !== undefined) t.addSink(lateSink, lateTopic, { keySerde, valueSerde: valueSerde! }, name);
    });
    return new KTable<Windowed<K>, VA>(this.ctx, name, storeName, timeWindowedSerde(keySerde, sizeMs), aggSerde, false, windows.graceMs);
  }
}
