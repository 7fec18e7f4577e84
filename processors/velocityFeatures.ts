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
 *    input): the profile's events are sorted by event time and read up to t (velocity/profileReader.ts).
 *  - Amounts are summed as given in minor units, whatever their currency: mixing currencies is out
 *    of scope here. A production loop converts to a base currency at ingress.
 *  - `*.secs_since_prev`: seconds (ms precision) since the latest earlier transaction of the card /
 *    account with event time ≤ t; absent when there is none in the last 30 days of history.
 *  - `account.amount_zscore_30d`: (amount − mean) / sample std of the account's transactions in the
 *    30 whole UTC days before the transaction's day plus that day up to t (day-aligned, so the
 *    trailing edge reads day aggregates only); absent below `zscoreMinHistory` transactions or with a
 *    std of 0.
 *  - `account.distinct_*_24h`: distinct merchant ids / merchant countries in the 24 h window; exact
 *    while the account holds at most `maxEventsPerAccount` transactions, a lower bound past it.
 *  - Card windows are exact like account windows up to that cap; past it both undercount at the
 *    window's edges (whole folded hours only), never overcount.
 *  - `travel.*`: against the account's latest earlier located transaction (impossibleTravel.ts);
 *    absent when this one or every earlier one has no valid lat/lon.
 *
 * State and cost (velocity/profile.ts): one profile per account in one key-value store: the
 * account's transactions of the last 7 days + grace (each tagged with its card; at most
 * `maxEventsPerAccount`, older ones folded per hour) and day aggregates back 30 days + grace. A
 * transaction reads and writes that one key; the write-back cache dedupes the changelog per
 * commit. Idle profiles are deleted by a stream-time sweep once nothing they hold can reach a
 * window. A transaction older than stream time − grace may find its oldest history already
 * trimmed: it is still scored, with reason code VELOCITY_LATE_EVENT saying its history may be
 * partial.
 */
import { z } from 'zod';
import { Stores, type KeyValueStoreBuilder } from '../state/stores.js';
import type { KeyValueStore } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes } from '../topology/serde.js';
import { isValidLatLon } from './geo.js';
import { TRAVEL_FEATURE_NAMES, TravelConfig, assessTravel, travelFeatures } from './impossibleTravel.js';
import { type RiskContext, StoreNames } from './types.js';
import { DAY_MS, HOUR_MS, MINUTE_MS, type Profile, type ProfileLimits, floorTo, recordEvent } from './velocity/profile.js';
import { type ReadOptions, readProfile } from './velocity/profileReader.js';
import { sampleStd } from './velocity/stats.js';

export const VelocityConfig = z.object({
  /** How late (behind stream time) a transaction may be and still find its full history. */
  graceMs: z.number().int().nonnegative().default(DAY_MS),
  /**
   * Transactions an account keeps one by one (7 days + grace); past it the oldest are folded per
   * hour, windows then undercount at their edges (velocity/profile.ts). 256 is ~10 a day for a
   * week: far above a consumer account, and it bounds a card-testing burst's profile (~15 KB).
   */
  maxEventsPerAccount: z.number().int().min(1).max(100_000).default(256),
  /** Distinct merchants/countries kept per folded hour (lower bounds past it). */
  maxDistinctPerBucket: z.number().int().min(1).max(10_000).default(64),
  /** How often (stream time) profiles with nothing left in reach are deleted. */
  sweepIntervalMs: z.number().int().positive().default(DAY_MS),
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

const WINDOWS: readonly { name: string; ms: number }[] = [
  { name: '1m', ms: MINUTE_MS },
  { name: '1h', ms: HOUR_MS },
  { name: '24h', ms: DAY_MS },
  { name: '7d', ms: MAX_WINDOW_MS },
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

/** The store this step needs, under the hot path's store name; connect it to the velocity processor. */
export function velocityStoreBuilders(config: VelocityConfigInput = {}, opts: VelocityStoreOptions = {}): KeyValueStoreBuilder<string, Profile>[] {
  VelocityConfig.parse(config);
  // cacheValues: a busy account's profile is rewritten several times per commit; it is serialized
  // once at the flush. recordEvent changes the profile it got and it is always put back.
  return [Stores.keyValue<string, Profile>(StoreNames.velocityProfiles, Serdes.String, Serdes.Json<Profile>(), { ...opts, cacheValues: true })];
}

export class VelocityFeaturesProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private readonly config: VelocityConfig;
  private readonly limits: ProfileLimits;
  private readonly read: ReadOptions = {
    windowsMs: WINDOWS.map((w) => w.ms),
    distinctWindowMs: DAY_MS,
    baselineDays: ZSCORE_HISTORY_DAYS,
    previousSearchDays: ZSCORE_HISTORY_DAYS,
  };
  private profiles!: KeyValueStore<string, Profile>;

  constructor(config: VelocityConfigInput = {}) {
    this.config = VelocityConfig.parse(config);
    this.limits = {
      // A transaction up to `graceMs` behind the newest still finds its whole 7-day window.
      horizonMs: MAX_WINDOW_MS + this.config.graceMs,
      // ... and its 30 whole days of baseline and previous-transaction search.
      dayHorizonMs: ZSCORE_HISTORY_DAYS * DAY_MS + this.config.graceMs,
      maxEvents: this.config.maxEventsPerAccount,
      maxDistinctPerBucket: this.config.maxDistinctPerBucket,
    };
  }

  init(context: ProcessorContext<string, RiskContext>): void {
    this.ctx = context;
    this.profiles = context.getStateStore(StoreNames.velocityProfiles);
    context.schedule(this.config.sweepIntervalMs, 'STREAM_TIME', (now) => this.sweep(now));
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null || risk === undefined) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const { txn, features } = risk;
    const t = txn.eventTime;
    const profile = this.profiles.get(txn.accountToken);
    const r = readProfile(profile, txn.cardToken, t, this.read);

    for (const [i, w] of WINDOWS.entries()) {
      features[`card.count_${w.name}`] = r.card[i]!.count;
      features[`card.sum_${w.name}`] = r.card[i]!.sum;
      features[`account.count_${w.name}`] = r.account[i]!.count;
      features[`account.sum_${w.name}`] = r.account[i]!.sum;
    }
    features[VELOCITY_FEATURES.accountDistinctMerchants24h] = r.merchants.size;
    features[VELOCITY_FEATURES.accountDistinctCountries24h] = r.countries.size;
    if (r.cardPrevious !== null) features[VELOCITY_FEATURES.cardSecsSincePrev] = (t - r.cardPrevious) / 1000;
    if (r.accountPrevious !== null) features[VELOCITY_FEATURES.accountSecsSincePrev] = (t - r.accountPrevious) / 1000;

    const std = sampleStd(r.baseline);
    if (r.baseline.n >= this.config.zscoreMinHistory && std !== null && std > 0) {
      features[VELOCITY_FEATURES.accountAmountZscore30d] = (txn.amountMinor - r.baseline.mean) / std;
    }

    const located = isValidLatLon(txn.lat, txn.lon);
    if (located && r.previousLocated !== null) {
      Object.assign(features, travelFeatures(assessTravel(r.previousLocated, { time: t, lat: txn.lat!, lon: txn.lon! }, this.config.travel)));
    }

    if (t < this.ctx.currentStreamTimeMs() - this.config.graceMs) risk.reasonCodes.push(VELOCITY_LATE_EVENT);

    const event = { t, amount: txn.amountMinor, merchant: txn.merchantId, country: txn.merchantCountry, lat: located ? txn.lat : null, lon: located ? txn.lon : null };
    this.profiles.put(txn.accountToken, recordEvent(profile, txn.cardToken, event, this.limits));
    this.ctx.forward(record);
  }

  /**
   * Deletes the profiles of accounts quiet for longer than anything reads back: a transaction
   * within grace of `now` reads events and days no older than now − grace − 30 days.
   */
  private sweep(now: number): void {
    const cutoff = floorTo(now - this.config.graceMs, DAY_MS) - ZSCORE_HISTORY_DAYS * DAY_MS;
    const idle: string[] = [];
    for (const { key, value } of this.profiles.all()) if (value.newest < cutoff) idle.push(key);
    for (const key of idle) this.profiles.delete(key);
  }
}

/** Supplier for Topology.addProcessor; connect the store of `velocityStoreBuilders` to it. */
export function velocityFeaturesProcessor(config: VelocityConfigInput = {}): ProcessorSupplier<string, RiskContext, string, RiskContext> {
  VelocityConfig.parse(config); // fail at wiring time, not when the first task starts
  return () => new VelocityFeaturesProcessor(config);
}
