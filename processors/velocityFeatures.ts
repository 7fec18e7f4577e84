/**
 * Velocity features, as of the transaction's event time, per card and per account, plus impossible
 * travel. Runs in the hot-path task right after ingress: the stream is keyed by account token and a
 * card belongs to one account, so both entities' state lives in this task.
 *
 * Conventions (every feature describes what was there before this transaction):
 *  - A window of length W for a transaction at event time t covers prior transactions with event
 *    time in (t − W, t]: one exactly W before is out, one at the same millisecond that was processed
 *    earlier is in, the transaction itself is not counted.
 *  - Nothing with a later event time is seen, even when it was processed earlier (out-of-order
 *    input): see velocity/entityState.ts for how the bucket tiling guarantees that.
 *  - Amounts are summed as given in minor units, whatever their currency: mixing currencies is out
 *    of scope here. A production loop converts to a base currency at ingress.
 *  - `*.secs_since_prev`: seconds (ms precision) since the latest earlier transaction of the card /
 *    account with event time ≤ t; absent when there is none in the last 30 days of history.
 *  - `account.amount_zscore_30d`: (amount − mean) / sample std of the account's transactions in the
 *    30 whole UTC days before the transaction's day plus that day up to t (day-aligned, so the
 *    trailing edge reads day buckets only); absent below `zscoreMinHistory` transactions or with a
 *    std of 0.
 *  - `account.distinct_*_24h`: distinct merchant ids / merchant countries in the 24 h window; each
 *    minute and hour keeps at most `maxDistinctPerBucket` of each, so past that the count is a
 *    lower bound.
 *  - `travel.*`: against the account's latest earlier located transaction (impossibleTravel.ts);
 *    absent when this one or every earlier one has no valid lat/lon.
 *
 * State and cost (velocity/buckets.ts): per entity, minute events + minute/hour buckets (+ distinct
 * sets for accounts) in a window store with 7 d + 1 h + grace retention, day buckets in another
 * with 31 d + grace. Each transaction does four puts per card and six per account, and reads
 * O(buckets) per window. A transaction older than
 * stream time − grace may find its oldest buckets already expired: it is still scored, with reason
 * code VELOCITY_LATE_EVENT saying its history may be partial.
 */
import { z } from 'zod';
import { Stores, type WindowStoreBuilder } from '../state/stores.js';
import type { WindowStore } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes } from '../topology/serde.js';
import { isValidLatLon } from './geo.js';
import { TRAVEL_FEATURE_NAMES, TravelConfig, assessTravel, travelFeatures } from './impossibleTravel.js';
import { type RiskContext, StoreNames } from './types.js';
import { type Bucket, DAY_MS, type EventEntry, HOUR_MS, MINUTE_MS, type VelocityValue, floorTo } from './velocity/buckets.js';
import { EntityState, type Level } from './velocity/entityState.js';
import { sampleStd } from './velocity/stats.js';

export const VelocityConfig = z.object({
  /** How late (behind stream time) a transaction may be and still find its full history. */
  graceMs: z.number().int().nonnegative().default(DAY_MS),
  maxDistinctPerBucket: z.number().int().min(1).max(10_000).default(64),
  /** Fewer earlier transactions than this and the z-score is not given. */
  zscoreMinHistory: z.number().int().min(2).default(5),
  travel: TravelConfig.prefault({}),
});
export type VelocityConfigInput = z.input<typeof VelocityConfig>;
export type VelocityConfig = z.output<typeof VelocityConfig>;

export const VELOCITY_LATE_EVENT = 'VELOCITY_LATE_EVENT';

/** In the feature names, hence fixed: a different length would be a different feature. */
const ZSCORE_HISTORY_DAYS = 30;
const MAX_WINDOW_MS = 7 * DAY_MS;

interface WindowSpec {
  name: string;
  ms: number;
  /** Coarsest bucket level worth trying for this length. */
  coarsest: Level;
}

const WINDOWS: readonly WindowSpec[] = [
  { name: '1m', ms: MINUTE_MS, coarsest: 'minute' },
  { name: '1h', ms: HOUR_MS, coarsest: 'hour' },
  { name: '24h', ms: DAY_MS, coarsest: 'day' },
  { name: '7d', ms: MAX_WINDOW_MS, coarsest: 'day' },
];

const ENTITIES = ['card', 'account'] as const;

export const VELOCITY_FEATURES = {
  cardSecsSincePrev: 'card.secs_since_prev',
  accountSecsSincePrev: 'account.secs_since_prev',
  accountDistinctMerchants24h: 'account.distinct_merchants_24h',
  accountDistinctCountries24h: 'account.distinct_countries_24h',
  accountAmountZscore30d: 'account.amount_zscore_30d',
} as const;

/** Every feature this step may add, in a stable order (the model's input order is decided elsewhere). */
export const VELOCITY_FEATURE_NAMES: readonly string[] = [
  ...ENTITIES.flatMap((entity) => WINDOWS.flatMap((w) => [`${entity}.count_${w.name}`, `${entity}.sum_${w.name}`])),
  ...Object.values(VELOCITY_FEATURES),
  ...TRAVEL_FEATURE_NAMES,
];

export interface VelocityStoreOptions {
  /** RocksDB (default) or memory. */
  persistent?: boolean;
  /** Changelogged (default true). */
  logged?: boolean;
}

/**
 * The four stores this step needs, under the hot path's store names; add each to the topology
 * connected to the velocity processor.
 */
export function velocityStoreBuilders(
  config: VelocityConfigInput = {},
  opts: VelocityStoreOptions = {},
): WindowStoreBuilder<string, VelocityValue | Bucket>[] {
  const { graceMs } = VelocityConfig.parse(config);
  // A store's retention counts back from the newest bucket it holds, which can be ahead of stream
  // time by ingress's maxFutureMs (minutes): the extra hour in both covers that.
  // Segments are large on purpose: a range read costs one scan per segment it spans, and the reads
  // here span hours to 30 days; the price is up to one segment of expired buckets kept on disk.
  // Minute buckets are read back to t − 7 d (the window's edge minute); hour buckets likewise.
  const velocity = { ...opts, retentionMs: MAX_WINDOW_MS + HOUR_MS + graceMs, segmentIntervalMs: DAY_MS };
  // Day buckets back to the UTC day 30 days before the transaction's day, i.e. up to 31 days back.
  const history = { ...opts, retentionMs: (ZSCORE_HISTORY_DAYS + 1) * DAY_MS + HOUR_MS + graceMs, segmentIntervalMs: 8 * DAY_MS };
  return [
    Stores.window<string, VelocityValue>(StoreNames.cardVelocity, Serdes.String, Serdes.Json<VelocityValue>(), velocity),
    Stores.window<string, VelocityValue>(StoreNames.accountVelocity, Serdes.String, Serdes.Json<VelocityValue>(), velocity),
    Stores.window<string, Bucket>(StoreNames.cardHistory, Serdes.String, Serdes.Json<Bucket>(), history),
    Stores.window<string, Bucket>(StoreNames.accountHistory, Serdes.String, Serdes.Json<Bucket>(), history),
  ];
}

export class VelocityFeaturesProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private readonly config: VelocityConfig;
  private cardVelocity!: WindowStore<string, VelocityValue>;
  private accountVelocity!: WindowStore<string, VelocityValue>;
  private cardHistory!: WindowStore<string, Bucket>;
  private accountHistory!: WindowStore<string, Bucket>;

  constructor(config: VelocityConfigInput = {}) {
    this.config = VelocityConfig.parse(config);
  }

  init(context: ProcessorContext<string, RiskContext>): void {
    this.ctx = context;
    this.cardVelocity = context.getStateStore(StoreNames.cardVelocity);
    this.accountVelocity = context.getStateStore(StoreNames.accountVelocity);
    this.cardHistory = context.getStateStore(StoreNames.cardHistory);
    this.accountHistory = context.getStateStore(StoreNames.accountHistory);
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null || risk === undefined) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const { txn, features } = risk;
    const t = txn.eventTime;
    const common = { historyDays: ZSCORE_HISTORY_DAYS };
    const card = new EntityState({ velocity: this.cardVelocity, history: this.cardHistory }, txn.cardToken, { ...common, distinctCap: null }, t);
    const account = new EntityState(
      { velocity: this.accountVelocity, history: this.accountHistory },
      txn.accountToken,
      { ...common, distinctCap: this.config.maxDistinctPerBucket },
      t,
    );

    for (const w of WINDOWS) {
      const from = t - w.ms + 1;
      const c = card.window(from, t + 1, w.coarsest);
      features[`card.count_${w.name}`] = c.count;
      features[`card.sum_${w.name}`] = c.sum;
      const distinct = w.ms === DAY_MS;
      // Days keep no distinct sets; a whole day fits in (t − 24 h, t] only when t ends a UTC day anyway.
      const a = account.window(from, t + 1, distinct ? 'hour' : w.coarsest, distinct);
      features[`account.count_${w.name}`] = a.count;
      features[`account.sum_${w.name}`] = a.sum;
      if (distinct) {
        features[VELOCITY_FEATURES.accountDistinctMerchants24h] = a.merchants.size;
        features[VELOCITY_FEATURES.accountDistinctCountries24h] = a.countries.size;
      }
    }

    const cardPrev = card.previousTime(t);
    if (cardPrev !== null) features[VELOCITY_FEATURES.cardSecsSincePrev] = (t - cardPrev) / 1000;
    const accountPrev = account.previousTime(t);
    if (accountPrev !== null) features[VELOCITY_FEATURES.accountSecsSincePrev] = (t - accountPrev) / 1000;

    const baseline = account.window(floorTo(t, DAY_MS) - ZSCORE_HISTORY_DAYS * DAY_MS, t + 1, 'day').stats;
    const std = sampleStd(baseline);
    if (baseline.n >= this.config.zscoreMinHistory && std !== null && std > 0) {
      features[VELOCITY_FEATURES.accountAmountZscore30d] = (txn.amountMinor - baseline.mean) / std;
    }

    const located = isValidLatLon(txn.lat, txn.lon);
    if (located) {
      const previous = account.previousLocated(t);
      if (previous !== null) {
        Object.assign(features, travelFeatures(assessTravel(previous, { time: t, lat: txn.lat!, lon: txn.lon! }, this.config.travel)));
      }
    }

    if (t < this.ctx.currentStreamTimeMs() - this.config.graceMs) risk.reasonCodes.push(VELOCITY_LATE_EVENT);

    const entry: EventEntry = [t, txn.amountMinor, txn.merchantId, txn.merchantCountry, located ? txn.lat : null, located ? txn.lon : null];
    card.record(entry);
    account.record(entry);
    this.ctx.forward(record);
  }
}

/** Supplier for Topology.addProcessor; connect the stores of `velocityStoreBuilders` to it. */
export function velocityFeaturesProcessor(config: VelocityConfigInput = {}): ProcessorSupplier<string, RiskContext, string, RiskContext> {
  VelocityConfig.parse(config); // fail at wiring time, not when the first task starts
  return () => new VelocityFeaturesProcessor(config);
}
