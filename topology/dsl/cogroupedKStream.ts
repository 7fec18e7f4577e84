/**
 * Cogrouped streams (Kafka Streams' CogroupedKStream, KIP-150): several grouped streams, each with
 * its own aggregator, folded into one aggregate per key in one store —
 *
 *   clicks.groupByKey().cogroup(addClick).cogroup(views.groupByKey(), addView).aggregate(init, Materialized.with(...))
 *
 * Each input is repartitioned first if its key may have changed; all inputs then share one
 * sub-topology (co-partitioned) and one timestamped store, and every update of the aggregate is
 * emitted, whichever input caused it (timestamp: max of the aggregate's and the record's).
 */
import type { Serde } from '../serde.js';
import type { BuildSteps } from './buildSteps.js';
import type { KGroupedStream } from './kgroupedStream.js';
import { KTable } from './ktable.js';
import type { Materialized, Named } from './options.js';
import { AggregateProcessor } from './processors/aggregate.js';
import { PassThroughProcessor } from './processors/stateless.js';
import { addRepartition } from './repartition.js';
import { requireSerde } from './stores.js';
import { timestampedKeyValueStore } from './timestampedStore.js';

interface CogroupInput<K, VA> {
  grouped: KGroupedStream<K, unknown>;
  aggregator: (key: K, value: unknown, aggregate: VA) => VA;
}

export class CogroupedKStream<K, VA> {
  /** @internal Created by KGroupedStream.cogroup. */
  constructor(
    private readonly ctx: BuildSteps,
    private readonly inputs: readonly CogroupInput<K, VA>[],
  ) {}

  /** Adds another grouped stream (same key type) with its own aggregator. */
  cogroup<V>(grouped: KGroupedStream<K, V>, aggregator: (key: K, value: V, aggregate: VA) => VA): CogroupedKStream<K, VA> {
    return new CogroupedKStream(this.ctx, [...this.inputs, { grouped: grouped as KGroupedStream<K, unknown>, aggregator: aggregator as (key: K, value: unknown, aggregate: VA) => VA }]);
  }

  aggregate(initializer: () => VA, materialized?: Materialized<K, VA>, named?: Named): KTable<K, VA> {
    const names = this.ctx.names;
    const storeName = names.storeName(materialized?.storeName, 'COGROUPKSTREAM-AGGREGATE-');
    const valueSerde = requireSerde(materialized?.valueSerde, 'aggregate value', 'cogroup aggregate (Materialized.with(keySerde, aggSerde))');
    const first = this.inputs[0]!.grouped.source();
    const keySerde: Serde<K> = requireSerde(materialized?.keySerde ?? first.keySerde, 'key', `cogroup ${storeName}`);
    const aggregators: string[] = [];
    const steps: { name: string; parent: string; input: CogroupInput<K, VA> }[] = [];
    this.inputs.forEach((input, i) => {
      const src = input.grouped.source();
      const parent = src.repartitionRequired
        ? addRepartition(this.ctx, src.nodeName, src.groupedName ?? `${storeName}-${i}`, keySerde, requireSerde(src.valueSerde, 'value', `repartition for cogroup ${storeName}`))
        : src.nodeName;
      const name = named?.name ? `${named.name}-cogroup-agg-${i}` : names.next('COGROUPKSTREAM-AGGREGATE-');
      aggregators.push(name);
      steps.push({ name, parent, input });
    });
    const merge = named?.name ? `${named.name}-cogroup-merge` : names.next('COGROUPKSTREAM-MERGE-');
    const store = timestampedKeyValueStore(storeName, keySerde, valueSerde, materialized);
    this.ctx.addStep((t) => {
      for (const { name, parent, input } of steps) {
        t.addProcessor(name, () => new AggregateProcessor<K, unknown, VA>(storeName, (key, value, previous) => input.aggregator(key, value, previous === undefined ? initializer() : previous)), parent);
      }
      t.addProcessor(merge, () => new PassThroughProcessor(), ...aggregators);
      t.addStateStore(store, aggregators);
      if (aggregators.length > 1) t.requireCopartitioning(merge);
    });
    return new KTable<K, VA>(this.ctx, merge, storeName, keySerde, valueSerde, true);
  }
}
