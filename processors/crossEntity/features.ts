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
 * training sees exactly what scoring saw. Only what the feature set declares is written; the
 * set's ratios are derived here, after every other feature step.
 */
import type { KeyValueStore } from '../../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../../topology/processor.js';
import type { Record } from '../../topology/records.js';
import type { Tokenizer } from '../tokenizer.js';
import type { RiskContext } from '../types.js';
import type { CrossEntityConfig, EntityStats } from './buckets.js';
import { type CrossEntityKindPlan, type FeatureSet, type MerchantFraudPlan, type RatioPlan, defaultFeatureSet } from '../featureSet/declaration.js';
import { ENTITY_KINDS, type EntityKind, entityKeysOf } from './entityKeys.js';
import { CrossEntityStores, addEntityVelocityFeatures } from './entityVelocity.js';
import { addMerchantRiskFeatures } from './merchantRisk.js';

/** Every feature the cross-entity step writes with the shipped feature set (device, IP, merchant, ratios). */
export const CROSS_ENTITY_FEATURE_NAMES: readonly string[] = defaultFeatureSet().crossEntityNames;

export class CrossEntityFeaturesProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private stats!: KeyValueStore<string, EntityStats>;
  private readonly plans: { readonly [K in EntityKind]: CrossEntityKindPlan };
  private readonly merchantFraud: readonly MerchantFraudPlan[];
  private readonly ratios: readonly RatioPlan[];
  private readonly kinds: readonly EntityKind[];

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly config: CrossEntityConfig,
    featureSet: FeatureSet = defaultFeatureSet(),
  ) {
    this.plans = featureSet.entities;
    this.merchantFraud = featureSet.merchantFraud;
    this.ratios = featureSet.ratios;
    // A kind with nothing declared costs no lookup at all.
    this.kinds = ENTITY_KINDS.filter((k) => this.plans[k].windows.length + this.plans[k].distinctAccounts.length > 0 || (k === 'merchant' && this.merchantFraud.length > 0));
  }

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
    const { txn, features } = risk;
    if (this.kinds.length > 0) {
      const keys = entityKeysOf(txn, this.tokenizer);
      for (const kind of this.kinds) {
        const key = keys[kind];
        if (key === undefined) continue;
        const stats = this.stats.get(key);
        addEntityVelocityFeatures(features, this.plans[kind], stats, txn.eventTime, this.config);
        if (kind === 'merchant') addMerchantRiskFeatures(features, this.merchantFraud, stats, txn.eventTime, this.config);
      }
    }
    // Ratios last: this is the last feature step, every operand is in place (velocity, enrich, above).
    for (const r of this.ratios) {
      const num = features[r.numerator];
      const den = features[r.denominator];
      if (num !== undefined && den !== undefined && den !== 0 && Number.isFinite(num) && Number.isFinite(den)) features[r.name] = num / den;
    }
    this.ctx.forward(record);
  }
}

export function crossEntityFeaturesProcessor(tokenizer: Tokenizer, config: CrossEntityConfig, featureSet: FeatureSet = defaultFeatureSet()): ProcessorSupplier<string, RiskContext, string, RiskContext> {
  return () => new CrossEntityFeaturesProcessor(tokenizer, config, featureSet);
}
