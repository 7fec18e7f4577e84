/**
 * The entry point of the DSL, after Kafka Streams' StreamsBuilder:
 *
 *   const builder = new StreamsBuilder();
 *   builder.stream('payments', Consumed.with(Serdes.String, paymentSerde))
 *     .groupByKey()
 *     .windowedBy(TimeWindows.ofSizeWithGrace(HOUR, 5 * MINUTE))
 *     .aggregate(() => 0, (card, p, total) => total + p.amount, Materialized.as('spend-per-hour').withValueSerde(Serdes.Double))
 *     .toStream()
 *     .to('card-spend-hourly', Produced.with(windowedKeySerde, Serdes.Double));
 *   const topology = builder.build({ applicationId: 'risk-loop' });
 */
import type { StoreBuilder } from '../../state/types.js';
import { Topology } from '../topology.js';
import type { BuildSteps } from './buildSteps.js';
import { GlobalKTable } from './globalKTable.js';
import { KStream } from './kstream.js';
import { KTable } from './ktable.js';
import { NameGenerator } from './names.js';
import type { Consumed, Materialized } from './options.js';
import { TableSourceProcessor } from './processors/tableSource.js';
import { keyValueStore } from './stores.js';
import { timestampedKeyValueStore } from './timestampedStore.js';

/** Used when build() is called without an application id (tests, describe()). */
export const DEFAULT_APPLICATION_ID = 'riskloop';

export class StreamsBuilder implements BuildSteps {
  readonly names = new NameGenerator();
  private readonly steps: ((topology: Topology) => void)[] = [];
  private readonly userStores: StoreBuilder[] = [];

  /** @internal */
  addStep(step: (topology: Topology) => void): void {
    this.steps.push(step);
  }

  /** A stream of the records of one or more topics. */
  stream<K, V>(topics: string | readonly string[], consumed: Consumed<K, V>): KStream<K, V> {
    const name = this.names.orNext(consumed.name, 'KSTREAM-SOURCE-');
    this.addStep((t) =>
      t.addSource(name, topics, {
        keySerde: consumed.keySerde,
        valueSerde: consumed.valueSerde,
        ...(consumed.timestampExtractor ? { timestampExtractor: consumed.timestampExtractor } : {}),
      }),
    );
    return new KStream<K, V>(this, name, consumed.keySerde, consumed.valueSerde, false);
  }

  /** A topic read as a table (latest value per key; null values delete), materialized in a store. */
  table<K, V>(topic: string, consumed: Consumed<K, V>, materialized?: Materialized<K, V>): KTable<K, V> {
    const sourceName = this.names.orNext(consumed.name, 'KSTREAM-SOURCE-');
    const storeName = this.names.storeName(materialized?.storeName, `${topic}-`);
    const name = this.names.next('KTABLE-SOURCE-');
    const store = timestampedKeyValueStore(storeName, consumed.keySerde, consumed.valueSerde, materialized);
    this.addStep((t) => {
      t.addSource(sourceName, topic, {
        keySerde: consumed.keySerde,
        valueSerde: consumed.valueSerde,
        ...(consumed.timestampExtractor ? { timestampExtractor: consumed.timestampExtractor } : {}),
      });
      t.addProcessor(name, () => new TableSourceProcessor<K, V>(storeName, true), sourceName);
      t.addStateStore(store, [name]);
    });
    return new KTable<K, V>(this, name, storeName, consumed.keySerde, consumed.valueSerde, true);
  }

  /** A topic replicated in full to every instance as a table; its topic is its changelog. */
  globalTable<K, V>(topic: string, consumed: Consumed<K, V>, materialized?: Materialized<K, V>): GlobalKTable<K, V> {
    const sourceName = this.names.orNext(consumed.name, 'KSTREAM-SOURCE-');
    const storeName = this.names.storeName(materialized?.storeName, `${topic}-`);
    const name = this.names.next('KTABLE-SOURCE-');
    // Never logged: the topic itself restores a global store.
    const store = keyValueStore(storeName, consumed.keySerde, consumed.valueSerde, { persistent: materialized?.persistent ?? true, logged: false });
    this.addStep((t) =>
      t.addGlobalStore(
        store,
        sourceName,
        {
          keySerde: consumed.keySerde,
          valueSerde: consumed.valueSerde,
          ...(consumed.timestampExtractor ? { timestampExtractor: consumed.timestampExtractor } : {}),
        },
        topic,
        name,
        () => new TableSourceProcessor<K, V>(storeName, false),
      ),
    );
    return new GlobalKTable<K, V>(storeName, consumed.keySerde, consumed.valueSerde);
  }

  /** A store for custom processors; connect it by name in KStream.process(supplier, 'store'). */
  addStateStore(builder: StoreBuilder): this {
    this.userStores.push(builder);
    return this;
  }

  /**
   * Writes everything into a new Topology. Internal topics are named after `applicationId`, so pass
   * the real one; building twice gives identical topologies.
   */
  build(props: { applicationId?: string } = {}): Topology {
    const topology = new Topology({ applicationId: props.applicationId ?? DEFAULT_APPLICATION_ID });
    for (const store of this.userStores) topology.addStateStore(store);
    for (const step of this.steps) step(topology);
    return topology;
  }
}
