/**
 * The drift monitor as its own small topology, run beside the risk loop (its own application id,
 * so it never slows the hot path and can be replayed on its own):
 *
 *   decisions ─► drift-observe ─► <app>-drift-observations-repartition (1 partition, key "population")
 *   drift-observations ─► drift-monitor ─► alerts topic
 *   model-releases ─► (global) drift-references
 *
 * The single-partition repartition puts every decision of an hour in front of one monitor task:
 * PSI is about the whole population of the hour. The stream is small (a trimmed decision) and the
 * monitor's work per record is a few bin lookups, so one task keeps up with the loop.
 */
import type { Alert, Decision, ModelRelease } from '../schemas/types.js';
import type { Catalogue } from '../schemas/catalogue.js';
import { keySerde } from '../schemas/catalogue.js';
import {
  DriftConfig,
  type DriftConfigInput,
  type DriftListener,
  type DriftObservation,
  type References,
  driftCountsStore,
  driftMonitor,
  driftReferencesStore,
  driftReferencesUpdater,
  observationOf,
} from '../processors/driftMonitor.js';
import type { ProcessorSupplier } from '../topology/processor.js';
import { repartitionTopicName, Topology } from '../topology/topology.js';
import { Serdes, type Serde } from '../topology/serde.js';

export const DriftNodes = {
  decisions: 'drift-decisions',
  observe: 'drift-observe',
  toMonitor: 'drift-observations-sink',
  observations: 'drift-observations',
  monitor: 'drift-monitor',
  alerts: 'drift-alerts',
  releases: 'drift-model-releases',
  references: 'drift-references-updater',
} as const;

export interface DriftTopologyDeps {
  catalogue: Catalogue;
  serdes: { decisions: Serde<Decision>; alerts: Serde<Alert>; modelReleases: Serde<ModelRelease | null> };
  /** Reference distributions of versions loaded outside the releases topic (the start-up model card). */
  seeded?: ReadonlyMap<string, References>;
  listener?: DriftListener;
}

/** Everything with one key: the population is one entity for PSI. */
const POPULATION = 'population';

function observe(): ProcessorSupplier<string, Decision, string, DriftObservation> {
  return () => {
    let forward: (o: DriftObservation, timestamp: number) => void;
    return {
      init(ctx) {
        forward = (o, timestamp) => ctx.forward({ key: POPULATION, value: o, timestamp, headers: {} });
      },
      process(record) {
        const o = record.value === null ? null : observationOf(record.value);
        // Rules-only decisions (no model) have no score and no reference to compare against.
        if (o !== null) forward(o, record.value.eventTime);
      },
    };
  };
}

export function driftTopology(applicationId: string, configInput: DriftConfigInput, deps: DriftTopologyDeps): Topology {
  const config = DriftConfig.parse(configInput);
  const repartition = repartitionTopicName(applicationId, 'drift-observations');
  const observationSerde = Serdes.Json<DriftObservation>();
  const t = new Topology({ applicationId });
  t.addSource(DriftNodes.decisions, deps.catalogue.decisions.name, {
    keySerde,
    valueSerde: deps.serdes.decisions as Serde<unknown>,
    // Event time of the decision, not the record timestamp: windows must be event-time hours.
    timestampExtractor: (r) => (r.value as Decision | null)?.eventTime ?? r.timestamp,
  });
  t.addProcessor(DriftNodes.observe, observe(), DriftNodes.decisions);
  t.addSink(DriftNodes.toMonitor, repartition, { keySerde, valueSerde: observationSerde as Serde<unknown> }, DriftNodes.observe);
  t.addRepartitionTopic(repartition, { numPartitions: 1 });
  t.addSource(DriftNodes.observations, repartition, { keySerde, valueSerde: observationSerde as Serde<unknown> });
  t.addProcessor(DriftNodes.monitor, driftMonitor(config, deps.seeded ?? new Map(), deps.listener), DriftNodes.observations);
  t.addStateStore(driftCountsStore(), [DriftNodes.monitor]);
  t.addSink(DriftNodes.alerts, deps.catalogue.alerts.name, { keySerde, valueSerde: deps.serdes.alerts as Serde<unknown> }, DriftNodes.monitor);
  t.addGlobalStore(
    driftReferencesStore(),
    DriftNodes.releases,
    { keySerde, valueSerde: deps.serdes.modelReleases as Serde<unknown> },
    deps.catalogue.modelReleases.name,
    DriftNodes.references,
    driftReferencesUpdater(),
  );
  return t;
}
