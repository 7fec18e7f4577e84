/**
 * Writing a stream through an internal repartition topic so that records are partitioned by their
 * (new) key: a filter node, a sink to <applicationId>-<baseName>-repartition and a source reading it
 * back. The sink and the source are separate nodes, which is what splits the topology into two
 * sub-topologies.
 *
 * Null keys pass (KIP-962, Kafka Streams 3.7+; they land on partition 0): the operator downstream
 * decides — a left join keeps them, aggregations and inner joins drop and count them — so a
 * repartition in front of a left join no longer loses records. The filter node stays, passing
 * everything, so that node names and `describe()` match Kafka Streams'.
 */
import { repartitionTopicName } from '../topology.js';
import type { Serde } from '../serde.js';
import type { BuildSteps } from './buildSteps.js';
import { PassThroughProcessor } from './processors/stateless.js';

export function addRepartition<K, V>(
  ctx: BuildSteps,
  parentNode: string,
  baseName: string,
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
  numPartitions?: number,
): string {
  const filterName = `${baseName}-repartition-filter`;
  const sinkName = `${baseName}-repartition-sink`;
  const sourceName = `${baseName}-repartition-source`;
  ctx.addStep((t) => {
    const topic = repartitionTopicName(t.applicationId, baseName);
    t.addProcessor(filterName, () => new PassThroughProcessor<K, V>(), parentNode);
    t.addSink(sinkName, topic, { keySerde, valueSerde }, filterName);
    t.addRepartitionTopic(topic, numPartitions === undefined ? {} : { numPartitions });
    t.addSource(sourceName, topic, { keySerde, valueSerde });
  });
  return sourceName;
}
