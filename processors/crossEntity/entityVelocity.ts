/**
 * Device, IP and merchant velocity: the side sub-topology that aggregates entity activity into
 * bucket series, the global table the hot path reads them from, and the features it computes.
 *
 *   entity-activity repartition (key = entity key, see entityKeys.ts)
 *     ─► entity-aggregate [store entity-aggregates: entity key → EntityStats, logged]
 *     ─► entity-stats topic (compacted, Avro EntityStats)          ── side sub-topology
 *   entity-stats topic ─► entity-stats-table [global store entity-stats] ── read by cross-entity
 *
 * The aggregator applies each record to the entity's series (buckets.ts) and publishes every entity
 * it changed once per processed batch, from the processor's end-of-batch `flush()` hook: a busy
 * merchant is written once per poll, not once per transaction. Publishing also the buckets that are
 * still open costs nothing extra (the whole series is one record) and lets the table follow as
 * closely as the side topology runs; the hot path ignores open buckets anyway.
 *
 * Features: those the feature set declares (processors/featureSet/), e.g. with the shipped set
 *   <kind>.count_1m / sum_1m / count_1h / sum_1h / count_24h / sum_24h / count_7d / sum_7d
 *   device.distinct_accounts_24h, ip.distinct_accounts_24h, merchant.count_30d, merchant.mean_30d
 * (exact window definition in buckets.ts). All absent when the transaction does not name the entity or
 * the table does not know it as of t − lag (never an exception, never NaN).
 */
import { Stores, type KeyValueStoreBuilder, type StoreOptions } from '../../state/stores.js';
import type { KeyValueStore } from '../../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../../topology/processor.js';
import type { Record } from '../../topology/records.js';
import { Serdes } from '../../topology/serde.js';
import { type CrossEntityKindPlan, defaultFeatureSet } from '../featureSet/declaration.js';
import {
  type CrossEntityConfig,
  type EntityStats,
  applyFraudLabel,
  applyTransaction,
  distinctAccounts,
  emptyStats,
  knownAsOf,
  windowTotals,
} from './buckets.js';
import { type EntityActivity, TRACKS_ACCOUNTS, kindOfKey } from './entityKeys.js';

export const CrossEntityStores = {
  /** The aggregator's own state (side sub-topology, logged). */
  aggregates: 'entity-aggregates',
  /** The global copy the hot path reads (filled from the entity-stats topic, not logged). */
  stats: 'entity-stats',
  /** Transaction id → merchant and label state, for attributing labels (merchantRisk.ts). */
  attribution: 'label-attribution',
} as const;

/** Every velocity feature name this step writes with the shipped feature set (features/default.json). */
export const ENTITY_VELOCITY_FEATURE_NAMES: readonly string[] = (['device', 'ip', 'merchant'] as const).flatMap((kind) => {
  const plan = defaultFeatureSet().entities[kind];
  return [...plan.windows.flatMap((w) => [w.count, w.sum, w.mean].filter((n): n is string => n !== null)), ...plan.distinctAccounts.map((d) => d.name)];
});

/**
 * Adds the declared velocity features of one entity as of event time t (nothing when unknown as of
 * t − lag). A window of up to 1 h reads the minute buckets, up to 24 h the hour buckets, longer
 * ones the day buckets (declaration.ts checks the window is a whole number of them).
 */
export function addEntityVelocityFeatures(features: { [name: string]: number }, plan: CrossEntityKindPlan, stats: EntityStats | undefined, t: number, config: CrossEntityConfig): void {
  if (stats === undefined) return;
  const a = t - config.lagMs;
  if (!knownAsOf(stats, a)) return;
  for (const w of plan.windows) {
    const totals = windowTotals(stats[w.series], w.size, a, w.width);
    if (w.count !== null) features[w.count] = totals.count;
    if (w.sum !== null) features[w.sum] = totals.sumMinor;
    if (w.mean !== null && totals.count > 0) features[w.mean] = totals.sumMinor / totals.count;
  }
  for (const d of plan.distinctAccounts) features[d.name] = distinctAccounts(stats.hourBuckets, a, d.width);
}

export function entityAggregatesStore(options: StoreOptions = {}): KeyValueStoreBuilder<string, EntityStats> {
  // cacheValues: a busy merchant's series is rewritten by every transaction; serialized once per
  // flush, packed (its buckets share one key list).
  return Stores.keyValue(CrossEntityStores.aggregates, Serdes.String, Serdes.Packed<EntityStats>(), { ...options, cacheValues: true });
}

/** Global stores are never logged (their topic is their changelog). */
export function entityStatsGlobalStore(options: Omit<StoreOptions, 'logged'> = {}): KeyValueStoreBuilder<string, EntityStats> {
  // cacheValues: the hot path reads up to three series per transaction (never changing them); hot
  // merchants are then deserialized once per update, not once per read.
  return Stores.keyValue(CrossEntityStores.stats, Serdes.String, Serdes.Packed<EntityStats>(), { ...options, logged: false, cacheValues: true });
}

/** The side aggregator: entity key → EntityStats; publishes changed entities at the end of each batch. */
export class EntityAggregateProcessor implements Processor<string, EntityActivity, string, EntityStats> {
  private ctx!: ProcessorContext<string, EntityStats>;
  private store!: KeyValueStore<string, EntityStats>;
  private readonly dirty = new Set<string>();

  constructor(private readonly config: CrossEntityConfig) {}

  init(ctx: ProcessorContext<string, EntityStats>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(CrossEntityStores.aggregates);
  }

  process(record: Record<string, EntityActivity>): void {
    const { key, value } = record;
    if (key === null) {
      this.ctx.recordDropped('null-key');
      return;
    }
    if (value === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const kind = kindOfKey(key);
    if (kind === undefined) {
      this.ctx.recordDropped('null-key');
      return;
    }
    // Changed in place and put back (the store caches values as objects, see entityAggregatesStore);
    // the apply functions only do arithmetic on validated numbers, so no change is half-applied.
    const stats: EntityStats = this.store.get(key) ?? emptyStats(key);
    if (value.type === 'txn') applyTransaction(stats, value, TRACKS_ACCOUNTS[kind], this.config);
    else applyFraudLabel(stats, value.arrivedAt, value.delta, this.config, value.eventTime);
    this.store.put(key, stats);
    this.dirty.add(key);
  }

  /** One record per changed entity per batch, in key order (so the output does not depend on arrival order within the batch). */
  flush(): void {
    if (this.dirty.size === 0) return;
    const keys = [...this.dirty].sort();
    this.dirty.clear();
    for (const key of keys) {
      const stats = this.store.get(key);
      if (stats === undefined) continue;
      this.ctx.forward({ key, value: stats, timestamp: Math.max(stats.lastSeenAt, stats.lastLabelAt), headers: {} });
    }
  }
}

export function entityAggregateProcessor(config: CrossEntityConfig): ProcessorSupplier<string, EntityActivity, string, EntityStats> {
  return () => new EntityAggregateProcessor(config);
}

/** Fills the global `entity-stats` store from the topic: the latest series per entity. */
export class EntityStatsTableProcessor implements Processor<string, EntityStats | null> {
  private ctx!: ProcessorContext<never, never>;
  private store!: KeyValueStore<string, EntityStats>;

  init(ctx: ProcessorContext<never, never>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(CrossEntityStores.stats);
  }

  process(record: Record<string, EntityStats | null>): void {
    if (record.key === null) {
      this.ctx.recordDropped('null-key');
      return;
    }
    if (record.value === null) this.store.delete(record.key);
    else this.store.put(record.key, record.value);
  }
}

export function entityStatsTableProcessor(): ProcessorSupplier<string, EntityStats | null> {
  return () => new EntityStatsTableProcessor();
}
