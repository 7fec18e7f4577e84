/**
 * Merchant risk from labels already known: fraud labels attributed to the merchant of their
 * transaction, counted per day of ARRIVAL, read by the hot path lagged.
 *
 * Labels (tokenized chargebacks, analyst outcomes) name the transaction, not the merchant, so they
 * are attributed in a side sub-topology keyed by transaction id:
 *
 *   hot task: entity-activity ─(txn id → merchant)─┐
 *             label-attribution-keys ─(txn id → label)─┴─► label-attribution repartition
 *   side:     label-attribution [window store label-attribution: txn id → merchant, label state; 180 d]
 *               ─► entity-activity repartition (key merchant:<id>, +1 / −1 at the label's arrival time)
 *
 * Per transaction the latest explicit label wins, as in the label join: a fraud label (fraud
 * chargeback, analyst FRAUD) on a transaction not yet counted as fraud adds +1; a LEGITIMATE
 * verdict on one counted as fraud adds −1; repeats add nothing; non-fraud chargebacks say nothing.
 * Maturity negatives are not labels here (they carry no information on arrival).
 * A label for a transaction the store does not hold (older than 180 days, or never seen) is
 * dropped and counted (`expired`).
 *
 * The merchant's day buckets then hold transactions by event-time day and fraud labels by
 * arrival day (entityVelocity.ts aggregates both). Features, as of t with lag L_m
 * (a = t − L_m, e = the last UTC midnight ≤ a):
 *   merchant.fraud_count_90d  fraud labels that arrived in [e − 90 d, e)       (present when the merchant is known as of a)
 *   merchant.fraud_rate_30d   fraud labels arrived in [e − 30 d, e) / transactions in [e − 30 d, e)
 *   merchant.fraud_rate_90d   the same over 90 days
 *   merchant.txn_fraud_count_30d  fraud labels of the transactions made in [e − 30 d, e), counted once
 *                                 they had arrived before e (labels by the transactions' own days)
 *   merchant.txn_fraud_rate_Nd    those labels / transactions in [e − N d, e)
 * A rate is absent below `merchantMinVolume` transactions in its window; it is clamped to [0, 1]
 * (labels arriving in the window may be about transactions before it). The by-transaction rate
 * of recent days is low until their labels arrive (chargebacks take days): it says "known fraud
 * so far", which is what the loop could know at t.
 */
import { Stores, type StoreOptions, type WindowStoreBuilder } from '../../state/stores.js';
import type { WindowStore } from '../../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../../topology/processor.js';
import type { Record } from '../../topology/records.js';
import { Serdes } from '../../topology/serde.js';
import { type LabelEvent, observe } from '../labels/labelPolicy.js';
import { type MerchantFraudPlan, defaultFeatureSet } from '../featureSet/declaration.js';
import { type CrossEntityConfig, DAY, type EntityStats, knownAsOf, labelsByTransactionDay, windowTotals } from './buckets.js';
import type { AttributionEvent, EntityActivity } from './entityKeys.js';
import { CrossEntityStores } from './entityVelocity.js';

/** How long a transaction can still be attributed a label: the label join's snapshot retention. */
export const ATTRIBUTION_RETENTION_MS = 180 * DAY;

/** The merchant fraud features of the shipped feature set (features/default.json). */
export const MERCHANT_RISK_FEATURE_NAMES: readonly string[] = defaultFeatureSet().merchantFraud.map((f) => f.name);

/** Adds the declared merchant fraud features as of event time t. */
export function addMerchantRiskFeatures(features: { [name: string]: number }, plan: readonly MerchantFraudPlan[], stats: EntityStats | undefined, t: number, config: CrossEntityConfig): void {
  if (stats === undefined || plan.length === 0) return;
  const a = t - config.merchantRiskLagMs;
  if (!knownAsOf(stats, a)) return;
  for (const f of plan) {
    const totals = windowTotals(stats.dayBuckets, DAY, a, f.width);
    const labels = f.by === 'arrival' ? totals.fraudLabels : labelsByTransactionDay(stats, a, f.width);
    if (f.measure === 'count') features[f.name] = Math.max(0, labels);
    else if (totals.count >= config.merchantMinVolume) features[f.name] = Math.min(1, Math.max(0, labels / totals.count));
  }
}

/** Hot task: turns each label into an attribution event keyed by its transaction id. */
export class LabelAttributionKeysProcessor implements Processor<string, LabelEvent, string, AttributionEvent> {
  private ctx!: ProcessorContext<string, AttributionEvent>;

  init(ctx: ProcessorContext<string, AttributionEvent>): void {
    this.ctx = ctx;
  }

  process(record: Record<string, LabelEvent>): void {
    if (record.value === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const observation = observe(record.value);
    if (observation === null) return; // a service dispute says nothing about fraud
    this.ctx.forward({
      key: record.value.transactionId,
      value: { type: 'label', arrivedAt: observation.labeledAt, label: observation.label },
      timestamp: observation.labeledAt,
      headers: {},
    });
  }
}

export function labelAttributionKeysProcessor(): ProcessorSupplier<string, LabelEvent, string, AttributionEvent> {
  return () => new LabelAttributionKeysProcessor();
}

/** What the attribution store keeps per transaction. */
export interface Attribution {
  merchantKey: string;
  /** The transaction's current label: -1 none yet, 0 legitimate, 1 fraud. */
  label: -1 | 0 | 1;
}

export function attributionStore(options: StoreOptions = {}): { builder: WindowStoreBuilder<string, Attribution>; changelogConfig: { [key: string]: string } } {
  return {
    builder: Stores.window(CrossEntityStores.attribution, Serdes.String, Serdes.Json<Attribution>(), { ...options, retentionMs: ATTRIBUTION_RETENTION_MS }),
    // As the DSL does for window stores: compacted and time-limited a day beyond the retention.
    changelogConfig: { 'cleanup.policy': 'compact,delete', 'retention.ms': String(ATTRIBUTION_RETENTION_MS + DAY) },
  };
}

/** Side: attributes labels to merchants, forwarding +1 / −1 fraud-label activity keyed by merchant. */
export class LabelAttributionProcessor implements Processor<string, AttributionEvent, string, EntityActivity> {
  private ctx!: ProcessorContext<string, EntityActivity>;
  private store!: WindowStore<string, Attribution>;

  init(ctx: ProcessorContext<string, EntityActivity>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(CrossEntityStores.attribution);
  }

  private latest(transactionId: string): { windowStart: number; value: Attribution } | undefined {
    let found: { windowStart: number; value: Attribution } | undefined;
    for (const w of this.store.fetchRange(transactionId, 0, Number.MAX_SAFE_INTEGER)) found = w;
    return found;
  }

  process(record: Record<string, AttributionEvent>): void {
    const { key, value } = record;
    if (key === null) {
      this.ctx.recordDropped('null-key');
      return;
    }
    if (value === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    if (value.type === 'txn') {
      // A transaction seen twice (at-least-once) keeps the label state it already has.
      const known = this.store.fetch(key, value.eventTime);
      this.store.put(key, { merchantKey: value.merchantKey, label: known?.label ?? -1 }, value.eventTime);
      return;
    }
    const entry = this.latest(key);
    if (entry === undefined) {
      this.ctx.recordDropped('expired');
      return;
    }
    const before = entry.value.label;
    if (before === value.label) return;
    this.store.put(key, { merchantKey: entry.value.merchantKey, label: value.label }, entry.windowStart);
    const delta: 1 | -1 | 0 = value.label === 1 ? 1 : before === 1 ? -1 : 0;
    if (delta === 0) return;
    this.ctx.forward({ key: entry.value.merchantKey, value: { type: 'fraud-label', arrivedAt: value.arrivedAt, delta, eventTime: entry.windowStart }, timestamp: value.arrivedAt, headers: {} });
  }
}

export function labelAttributionProcessor(): ProcessorSupplier<string, AttributionEvent, string, EntityActivity> {
  return () => new LabelAttributionProcessor();
}
