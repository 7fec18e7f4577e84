/**
 * A grouped stream with session windows (KGroupedStream.windowedBy(SessionWindows)): count, reduce
 * and aggregate (with a merger for when sessions merge) per key and session, emitted as a KTable
 * keyed by Windowed<K> with the session's start and end; merged-away sessions get a tombstone.
 */
import type { Serde } from '../serde.js';
import { Serdes } from '../serde.js';
import { sessionWindowedSerde } from '../windowedSerdes.js';
import type { SessionWindows, Windowed } from '../windows.js';
import type { BuildSteps } from './buildSteps.js';
import { KTable } from './ktable.js';
import type { Materialized, Named } from './options.js';
import { type SessionFold, SessionWindowAggregateProcessor, sessionValueSerde } from './processors/sessionWindowAggregate.js';
import { addRepartition } from './repartition.js';
import { requireSerde, windowStore } from './stores.js';

export class SessionWindowedKStream<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuildSteps,
    private readonly nodeName: string,
    private readonly keySerde: Serde<K> | undefined,
    private readonly valueSerde: Serde<V> | undefined,
    private readonly repartitionRequired: boolean,
    private readonly groupedName: string | undefined,
    private readonly windows: SessionWindows,
  ) {}

  count(materialized?: Materialized<K, number>, named?: Named): KTable<Windowed<K>, number> {
    return this.doAggregate(
      'KSTREAM-AGGREGATE-',
      { initializer: () => 0, aggregator: (_k, _v, agg) => (agg ?? 0) + 1, merger: (_k, a, b) => (a ?? 0) + b },
      materialized?.valueSerde ?? Serdes.Long,
      materialized,
      named,
    );
  }

  reduce(reducer: (aggregate: V, value: V) => V, materialized?: Materialized<K, V>, named?: Named): KTable<Windowed<K>, V> {
    const valueSerde = requireSerde(materialized?.valueSerde ?? this.valueSerde, 'value', 'session reduce');
    const aggregator = (_k: K, v: V, agg: V | undefined) => (agg === undefined ? v : reducer(agg, v));
    // Kafka Streams' mergerForAggregator: merging session B into the running aggregate A is aggregator(B's value, A).
    return this.doAggregate('KSTREAM-REDUCE-', { initializer: () => undefined, aggregator, merger: (k, a, b) => aggregator(k, b, a) }, valueSerde, materialized, named);
  }

  aggregate<VA>(
    initializer: () => VA,
    aggregator: (key: K, value: V, aggregate: VA) => VA,
    merger: (key: K, aggOne: VA, aggTwo: VA) => VA,
    materialized?: Materialized<K, VA>,
    named?: Named,
  ): KTable<Windowed<K>, VA> {
    const valueSerde = requireSerde(materialized?.valueSerde, 'aggregate value', 'session aggregate (Materialized.with(keySerde, aggSerde))');
    return this.doAggregate(
      'KSTREAM-AGGREGATE-',
      { initializer, aggregator: (k, v, agg) => aggregator(k, v, agg ?? initializer()), merger: (k, a, b) => merger(k, a ?? initializer(), b) },
      valueSerde,
      materialized,
      named,
    );
  }

  private doAggregate<VA>(prefix: string, fold: SessionFold<K, V, VA>, aggSerde: Serde<VA>, materialized: Materialized<K, VA> | undefined, named: Named | undefined): KTable<Windowed<K>, VA> {
    const storeName = this.ctx.names.storeName(materialized?.storeName, prefix);
    const keySerde = requireSerde(materialized?.keySerde ?? this.keySerde, 'key', `session aggregation ${storeName}`);
    const parent = this.repartitionRequired
      ? addRepartition(this.ctx, this.nodeName, this.groupedName ?? storeName, keySerde, requireSerde(this.valueSerde, 'value', `session aggregation ${storeName}`))
      : this.nodeName;
    const name = this.ctx.names.orNext(named?.name, prefix);
    const windows = this.windows;
    const store = windowStore(storeName, keySerde, sessionValueSerde(aggSerde), windows.minimumRetentionMs(), {
      persistent: materialized?.persistent ?? true,
      logged: materialized?.logged ?? true,
      retentionMs: materialized?.retentionMs,
    });
    this.ctx.addStep((t) => {
      t.addProcessor(name, () => new SessionWindowAggregateProcessor<K, V, VA>(storeName, windows, fold), parent);
      t.addStateStore(store.builder, [name], store.changelogConfig);
    });
    // suppress(untilWindowCloses) waits for end + gap + grace.
    return new KTable<Windowed<K>, VA>(this.ctx, name, storeName, sessionWindowedSerde(keySerde), aggSerde, false, windows.inactivityGapMs + windows.graceMs);
  }
}
