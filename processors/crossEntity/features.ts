/**
 * The hot path's cross-entity step (`cross-entity`, between enrich and rules): reads the global
 * `entity-stats` store for the transaction's device, IP and merchant and adds their velocity and
 * merchant-risk features as of the transaction's event time (lagged; buckets.ts has the exact
 * definition). One point lookup per entity, no state of its own, never waits on the side
 * sub-topologies: whatever the table holds when the transaction passes is what it uses, and only
 * buckets closed at least the lag before t count, so data from the transaction's own future never
 * enters a feature even when the table already holds it (a replay reads the table at its end).
 *
 * Everything read ends up in `features` and so in the decision's snapshot and the training topic:
 * training sees exactly what scoring saw.
 */
import type { KeyValueStore } from '../../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../../topology/processor.js';
import type { Record } from '../../topology/records.js';
import type { Tokenizer } from '../tokenizer.js';
import type { RiskContext } from '../types.js';
import type { CrossEntityConfig, EntityStats } from './buckets.js';
import { ENTITY_KINDS, entityKeysOf } from './entityKeys.js';
import { CrossEntityStores, ENTITY_VELOCITY_FEATURE_NAMES, addEntityVelocityFeatures } from './entityVelocity.js';
import { MERCHANT_RISK_FEATURE_NAMES, addMerchantRiskFeatures } from './merchantRisk.js';

/** Every feature the cross-entity step can write. */
export const CROSS_ENTITY_FEATURE_NAMES: readonly string[] = [...ENTITY_VELOCITY_FEATURE_NAMES, ...MERCHANT_RISK_FEATURE_NAMES];

export class CrossEntityFeaturesProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private stats!: KeyValueStore<string, EntityStats>;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly config: CrossEntityConfig,
  ) {}

  init(ctx: ProcessorContext<string, RiskContext>): void {
    this.ctx = ctx;
    this.stats = ctx.getStateStore(CrossEntityStores.stats);
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const { txn } = risk;
    const keys = entityKeysOf(txn, this.tokenizer);
    for (const kind of ENTITY_KINDS) {
      const key = keys[kind];
      if (key === undefined) continue;
      const stats = this.stats.get(key);
      addEntityVelocityFeatures(risk.features, kind, stats, txn.eventTime, this.config);
      if (kind === 'merchant') addMerchantRiskFeatures(risk.features, stats, txn.eventTime, this.config);
    }
    this.ctx.forward(record);
  }
}

export function crossEntityFeaturesProcessor(tokenizer: Tokenizer, config: CrossEntityConfig): ProcessorSupplier<string, RiskContext, string, RiskContext> {
  return () => new CrossEntityFeaturesProcessor(tokenizer, config);
}
