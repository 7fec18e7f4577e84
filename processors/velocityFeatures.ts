/**
 * Velocity features, as of the transaction's event time, per card and per account, plus impossible
 * travel: exactly those the feature set declares (processors/featureSet/, features/default.json,
 * docs/features.md). Runs in the hot-path task right after ingress: the stream is keyed by account
 * token and a card belongs to one account, so both entities' state lives in this task. It also
 * stamps the context with the feature set's version (Decision.featureSetVersion).
 *
 * Conventions (every feature describes what was there before this transaction):
 *  - An exact window of length W (≤ 7 d) for a transaction at event time t covers prior transactions
 *    with event time in (t − W, t]: one exactly W before is out, one at the same millisecond that
 *    was processed earlier is in, the transaction itself is not counted.
 *  - A day-aligned window of N days (> 7 d) covers [day(t) − N d, t]: t's UTC day up to t plus the N
 *    whole days before it (day aggregates only, so a 90-day window keeps 90 day buckets, not events).
 *  - Nothing with a later event time is seen, even when it was processed earlier (out-of-order
 *    input): the profile's events are sorted by event time and read up to t (velocity/profileReader.ts).
 *  - Amounts are summed as given in minor units, whatever their currency: mixing currencies is out
 *    of scope here. A production loop converts to a base currency at ingress.
 *  - mean and max are absent for an empty window; counts, sums and distinct counts are 0.
 *  - `*.secs_since_prev`: seconds (ms precision) since the latest earlier transaction of the card /
 *    account with event time ≤ t; absent when there is none in the last 30 days of history.
 *  - `account.amount_zscore_30d`: (amount − mean) / sample std of the account's transactions in the
 *    30 whole UTC days before the transaction's day plus that day up to t; `*_gap<G>d` variants leave
 *    out t's day and the G days before it; absent below `zscoreMinHistory` transactions or with a
 *    std of 0.
 *  - distinct merchants / countries: exact while the account holds at most `maxEventsPerAccount`
 *    transactions, a lower bound past it; day-aligned ones from capped per-day sets (account only).
 *  - Card windows are exact like account windows up to that cap; past it both undercount at the
 *    window's edges (whole folded hours only), never overcount.
 *  - `travel.*`: against the account's latest earlier located transaction (impossibleTravel.ts);
 *    absent when this one or every earlier one has no valid lat/lon.
 *
 * State and cost (velocity/profile.ts): one profile per account in one key-value store: the
 * account's transactions back to the longest exact window + grace (each tagged with its card; at
 * most `maxEventsPerAccount`, older ones folded per hour) and day aggregates back to the longest
 * day-aligned window (or z-score baseline, or the 30-day previous-transaction search) + grace, the
 * older days of an active account under a second key (its archive, rewritten about once a week).
 * A transaction reads one or two keys and writes one (two when the archive moves); the write-back
 * cache dedupes the changelog per commit. Idle profiles (and their archives) are deleted by a
 * stream-time sweep once nothing they hold can reach a window. A transaction older than stream time − grace may find its oldest history already
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
import { TravelConfig, assessTravel, travelFeatures } from './impossibleTravel.js';
import { type RiskContext, StoreNames } from './types.js';
import { type FeatureSet, PREVIOUS_SEARCH_DAYS, type ProfileOutput, type ProfilePlan, type ZscoreOutput, defaultFeatureSet } from './featureSet/declaration.js';
import { DAY_MS, type Profile, type ProfileArchive, type ProfileLimits, archiveKey, floorTo, isArchiveKey, profileParts, recordEvent } from './velocity/profile.js';
import { type ProfileReading, type WindowAcc, newReading, readProfile } from './velocity/profileReader.js';
import { type RunningStats, sampleStd } from './velocity/stats.js';

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
  /**
   * An account's closed days (before yesterday) move to its archive, a key of its own, once there
   * are more than this many in its profile: each transaction rewrites the rest (velocity/profile.ts).
   */
  archiveBatchDays: z.number().int().min(1).max(90).default(7),
  /** How often (stream time) profiles with nothing left in reach are deleted. */
  sweepIntervalMs: z.number().int().positive().default(DAY_MS),
  /** Fewer earlier transactions than this and a z-score is not given (unless its declaration sets minHistory). */
  zscoreMinHistory: z.number().int().min(2).default(5),
  travel: TravelConfig.prefault({}),
});
export type VelocityConfigInput = z.input<typeof VelocityConfig>;
export type VelocityConfig = z.output<typeof VelocityConfig>;

export const VELOCITY_LATE_EVENT = 'VELOCITY_LATE_EVENT';

export const VELOCITY_FEATURES = {
  cardSecsSincePrev: 'card.secs_since_prev',
  accountSecsSincePrev: 'account.secs_since_prev',
  accountDistinctMerchants24h: 'account.distinct_merchants_24h',
  accountDistinctCountries24h: 'account.distinct_countries_24h',
  accountAmountZscore30d: 'account.amount_zscore_30d',
} as const;

/** Every feature this step adds with the shipped feature set (features/default.json), in declaration order. */
export const VELOCITY_FEATURE_NAMES: readonly string[] = defaultFeatureSet().velocityNames;

export interface VelocityStoreOptions {
  /** RocksDB (default) or memory. */
  persistent?: boolean;
  /** Changelogged (default true). */
  logged?: boolean;
}

/** What the velocity store holds: an account's profile under its token, its archived days under archiveKey(token). */
export type VelocityEntry = Profile | ProfileArchive;

/** The store this step needs, under the hot path's store name; connect it to the velocity processor. */
export function velocityStoreBuilders(config: VelocityConfigInput = {}, opts: VelocityStoreOptions = {}): KeyValueStoreBuilder<string, VelocityEntry>[] {
  VelocityConfig.parse(config);
  // cacheValues: a busy account's profile is rewritten several times per commit; it is serialized
  // once at the flush. recordEvent changes the profile it got and it is always put back.
  // Packed (MessagePack) rather than JSON: about one profile per transaction is serialized at the
  // flushes, and its up to 90 day buckets share one key list (bench/README.md, issue 17).
  return [Stores.keyValue<string, VelocityEntry>(StoreNames.velocityProfiles, Serdes.String, Serdes.Packed<VelocityEntry>(), { ...opts, cacheValues: true })];
}

export class VelocityFeaturesProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private readonly config: VelocityConfig;
  private readonly limits: ProfileLimits;
  private readonly plan: ProfilePlan;
  private readonly reading: ProfileReading;
  private readonly featureSetVersion: string;
  private profiles!: KeyValueStore<string, VelocityEntry>;

  constructor(config: VelocityConfigInput = {}, featureSet: FeatureSet = defaultFeatureSet()) {
    this.config = VelocityConfig.parse(config);
    this.plan = featureSet.profile;
    this.featureSetVersion = featureSet.version;
    this.reading = newReading(this.plan);
    this.limits = {
      // A transaction up to `graceMs` behind the newest still finds its whole longest exact window.
      horizonMs: this.plan.eventHorizonMs + this.config.graceMs,
      // ... and every whole day its day-aligned windows, baselines and previous-transaction search read.
      dayHorizonMs: this.plan.dayHorizonDays * DAY_MS + this.config.graceMs,
      maxEvents: this.config.maxEventsPerAccount,
      maxDistinctPerBucket: this.config.maxDistinctPerBucket,
      daySets: this.plan.daySets,
      archiveBatchDays: this.config.archiveBatchDays,
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
    const plan = this.plan;
    const profile = profileAt(this.profiles, txn.accountToken);
    const archive = profile?.archived === true ? archiveAt(this.profiles, txn.accountToken) : undefined;
    const r = readProfile(profile, archive?.archive, txn.cardToken, t, plan, this.reading, PREVIOUS_SEARCH_DAYS);

    writeOutputs(features, plan.card.outputs, r.cardExact, r.cardDay, r.cardExactMerchants, r.cardExactCountries, null, null);
    writeOutputs(features, plan.account.outputs, r.accountExact, r.accountDay, r.accountExactMerchants, r.accountExactCountries, r.accountDayMerchants, r.accountDayCountries);
    if (plan.card.secsSincePrev !== null && r.cardPrevious !== null) features[plan.card.secsSincePrev] = (t - r.cardPrevious) / 1000;
    if (plan.account.secsSincePrev !== null && r.accountPrevious !== null) features[plan.account.secsSincePrev] = (t - r.accountPrevious) / 1000;
    writeZscores(features, plan.card.zscores, r.cardBaselines, txn.amountMinor, this.config.zscoreMinHistory);
    writeZscores(features, plan.account.zscores, r.accountBaselines, txn.amountMinor, this.config.zscoreMinHistory);

    const located = isValidLatLon(txn.lat, txn.lon);
    if (plan.travel && located && r.previousLocated !== null) {
      Object.assign(features, travelFeatures(assessTravel(r.previousLocated, { time: t, lat: txn.lat!, lon: txn.lon! }, this.config.travel)));
    }
    risk.featureSetVersion = this.featureSetVersion;

    if (t < this.ctx.currentStreamTimeMs() - this.config.graceMs) risk.reasonCodes.push(VELOCITY_LATE_EVENT);

    const event = { t, amount: txn.amountMinor, merchant: txn.merchantId, country: txn.merchantCountry, lat: located ? txn.lat : null, lon: located ? txn.lon : null };
    const parts = profileParts(profile, archive);
    recordEvent(parts, txn.cardToken, event, this.limits);
    this.profiles.put(txn.accountToken, parts.profile);
    if (parts.archiveChanged) {
      if (parts.archive !== undefined && parts.archive.length > 0) this.profiles.put(archiveKey(txn.accountToken), { archive: parts.archive });
      else this.profiles.delete(archiveKey(txn.accountToken));
    }
    this.ctx.forward(record);
  }

  /**
   * Deletes the profiles of accounts quiet for longer than anything reads back: a transaction
   * within grace of `now` reads events and days no older than now − grace − the day horizon.
   */
  private sweep(now: number): void {
    const cutoff = floorTo(now - this.config.graceMs, DAY_MS) - this.plan.dayHorizonDays * DAY_MS;
    const idle: string[] = [];
    for (const { key, value } of this.profiles.all()) {
      if (isArchiveKey(key) || !('ev' in value) || value.newest >= cutoff) continue;
      idle.push(key);
      if (value.archived === true) idle.push(archiveKey(key));
    }
    for (const key of idle) this.profiles.delete(key);
  }
}

/** The account's profile; a value of the other kind under its key is corrupt state, not a profile. */
function profileAt(store: KeyValueStore<string, VelocityEntry>, key: string): Profile | undefined {
  const v = store.get(key);
  if (v === undefined || 'ev' in v) return v;
  throw new Error(`velocity store: the value under an account key is not a profile (partition state corrupt?)`);
}

function archiveAt(store: KeyValueStore<string, VelocityEntry>, accountKey: string): ProfileArchive | undefined {
  const v = store.get(archiveKey(accountKey));
  if (v === undefined || 'archive' in v) return v;
  throw new Error(`velocity store: the value under an archive key is not an archive (partition state corrupt?)`);
}

function writeOutputs(
  features: { [name: string]: number },
  outputs: readonly ProfileOutput[],
  exact: readonly WindowAcc[],
  day: readonly WindowAcc[],
  exactMerchants: readonly (Set<string> | null)[],
  exactCountries: readonly (Set<string> | null)[],
  dayMerchants: readonly (Set<string> | null)[] | null,
  dayCountries: readonly (Set<string> | null)[] | null,
): void {
  for (const o of outputs) {
    const a = (o.dayAligned ? day : exact)[o.window]!;
    switch (o.aggregate) {
      case 'count':
        features[o.name] = a.count;
        break;
      case 'sum':
        features[o.name] = a.sum;
        break;
      // Absent with nothing in the window: there is no mean or max of no transactions.
      case 'mean':
        if (a.count > 0) features[o.name] = a.sum / a.count;
        break;
      case 'max':
        if (a.count > 0 && a.max !== Number.NEGATIVE_INFINITY) features[o.name] = a.max;
        break;
      case 'distinct_merchants':
        features[o.name] = (o.dayAligned ? dayMerchants?.[o.window] : exactMerchants[o.window])?.size ?? 0;
        break;
      case 'distinct_countries':
        features[o.name] = (o.dayAligned ? dayCountries?.[o.window] : exactCountries[o.window])?.size ?? 0;
        break;
    }
  }
}

function writeZscores(features: { [name: string]: number }, zscores: readonly ZscoreOutput[], baselines: readonly RunningStats[], amount: number, defaultMinHistory: number): void {
  for (let i = 0; i < zscores.length; i++) {
    const z = zscores[i]!;
    const b = baselines[i]!;
    const std = sampleStd(b);
    if (b.n >= (z.minHistory ?? defaultMinHistory) && std !== null && std > 0) features[z.name] = (amount - b.mean) / std;
  }
}

/** Supplier for Topology.addProcessor; connect the store of `velocityStoreBuilders` to it. */
export function velocityFeaturesProcessor(config: VelocityConfigInput = {}, featureSet: FeatureSet = defaultFeatureSet()): ProcessorSupplier<string, RiskContext, string, RiskContext> {
  VelocityConfig.parse(config); // fail at wiring time, not when the first task starts
  return () => new VelocityFeaturesProcessor(config, featureSet);
}
