/**
 * Wiring of the cross-entity part of the loop (called from processors/riskLoop.ts):
 *
 *   hot task   ingress ─► entity-activity ─┬─► entity-activity-sink ──────► <app>-entity-activity-repartition
 *                                          └─► label-attribution-sink ───► <app>-label-attribution-repartition
 *              chargebacks-tokenize, analyst-outcomes ─► label-attribution-keys ─► label-attribution-sink
 *   side       label-attribution-source ─► label-attribution [label-attribution] ─► entity-labels-sink ─► entity-activity repartition
 *   side       entity-activity-source ─► entity-aggregate [entity-aggregates] ─► entity-stats-sink ─► entity-stats topic
 *   global     entity-stats-source ─► entity-stats-table [entity-stats]   (read by cross-entity in the hot path)
 *
 * `addCrossEntitySide` adds the first three lines (it needs the ingress and label nodes to hang
 * from); `addCrossEntityTable` adds the global table. The loop adds both; a replay adds the side
 * alone in its first phase and the table alone in its second (bin/replay.ts).
 */
import type { StoreOptions } from '../../state/stores.js';
import type { EntityStats } from '../../schemas/types.js';
import { Serdes, type Serde } from '../../topology/serde.js';
import { type Topology, repartitionTopicName } from '../../topology/topology.js';
import type { Tokenizer } from '../tokenizer.js';
import type { CrossEntityConfig } from './buckets.js';
import type { AttributionEvent, EntityActivity } from './entityKeys.js';
import { entityActivityProcessor } from './entityKeys.js';
import { entityAggregateProcessor, entityAggregatesStore, entityStatsGlobalStore, entityStatsTableProcessor } from './entityVelocity.js';
import { attributionStore, labelAttributionKeysProcessor, labelAttributionProcessor } from './merchantRisk.js';

export const CrossEntityNodes = {
  activity: 'entity-activity',
  activitySink: 'entity-activity-sink',
  attributionSink: 'label-attribution-sink',
  labelKeys: 'label-attribution-keys',
  attributionSource: 'label-attribution-source',
  attribution: 'label-attribution',
  labelsSink: 'entity-labels-sink',
  activitySource: 'entity-activity-source',
  aggregate: 'entity-aggregate',
  statsSink: 'entity-stats-sink',
  statsSource: 'entity-stats-source',
  statsTable: 'entity-stats-table',
  features: 'cross-entity',
} as const;

/** Base names of the two internal repartition topics (<applicationId>-<base>-repartition). */
export const CrossEntityTopics = {
  activity: 'entity-activity',
  attribution: 'label-attribution',
} as const;

export interface CrossEntitySideOptions {
  /** Parent of the entity-activity processor: the ingress node (it forwards RiskContexts). */
  ingress: string;
  /** Nodes forwarding label events (TokenizedChargeback, AnalystOutcome). */
  labelParents: readonly string[];
  /** The entity-stats topic (catalogue) and its value serde. */
  statsTopic: string;
  statsSerde: Serde<EntityStats>;
  tokenizer: Tokenizer;
  config: CrossEntityConfig;
  storeOptions?: StoreOptions;
}

export function addCrossEntitySide(t: Topology, o: CrossEntitySideOptions): void {
  const N = CrossEntityNodes;
  const activityTopic = repartitionTopicName(t.applicationId, CrossEntityTopics.activity);
  const attributionTopic = repartitionTopicName(t.applicationId, CrossEntityTopics.attribution);
  const activitySerdes = { keySerde: Serdes.String, valueSerde: Serdes.Json<EntityActivity>() };
  const attributionSerdes = { keySerde: Serdes.String, valueSerde: Serdes.Json<AttributionEvent>() };

  // In the hot task: fan-out only, no state, nothing waits for it.
  t.addProcessor(N.activity, entityActivityProcessor(o.tokenizer, { activityChild: N.activitySink, attributionChild: N.attributionSink }), o.ingress)
    .addSink(N.activitySink, activityTopic, activitySerdes, N.activity)
    .addProcessor(N.labelKeys, labelAttributionKeysProcessor(), ...o.labelParents)
    .addSink(N.attributionSink, attributionTopic, attributionSerdes, N.activity, N.labelKeys)
    .addRepartitionTopic(activityTopic)
    .addRepartitionTopic(attributionTopic);

  // Side: labels attributed to merchants, keyed by transaction id.
  const attribution = attributionStore(o.storeOptions);
  t.addSource(N.attributionSource, attributionTopic, attributionSerdes)
    .addProcessor(N.attribution, labelAttributionProcessor(), N.attributionSource)
    .addStateStore(attribution.builder, [N.attribution], attribution.changelogConfig)
    .addSink(N.labelsSink, activityTopic, activitySerdes, N.attribution);

  // Side: per-entity bucket series, published to the entity-stats topic.
  t.addSource(N.activitySource, activityTopic, activitySerdes)
    .addProcessor(N.aggregate, entityAggregateProcessor(o.config), N.activitySource)
    .addStateStore(entityAggregatesStore(o.storeOptions), [N.aggregate])
    .addSink(N.statsSink, o.statsTopic, { keySerde: Serdes.String, valueSerde: o.statsSerde }, N.aggregate);
}

export interface CrossEntityTableOptions {
  statsTopic: string;
  statsSerde: Serde<EntityStats>;
  storeOptions?: Omit<StoreOptions, 'logged'>;
}

/** The global `entity-stats` store, filled from the entity-stats topic (record timestamps). */
export function addCrossEntityTable(t: Topology, o: CrossEntityTableOptions): void {
  t.addGlobalStore(
    entityStatsGlobalStore(o.storeOptions),
    CrossEntityNodes.statsSource,
    { keySerde: Serdes.String, valueSerde: o.statsSerde },
    o.statsTopic,
    CrossEntityNodes.statsTable,
    entityStatsTableProcessor(),
  );
}
