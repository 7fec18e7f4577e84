/**
 * Enrichment: adds what the account's KYC row, the device table and the transaction itself say,
 * as of the transaction's event time.
 *
 * - KYC comes from `StoreNames.kyc` (the task-local table, processors/kycTable.ts): whatever row the
 *   task holds when the transaction is processed (stream-table join semantics).
 * - The device comes from the global `StoreNames.devices` (processors/deviceTable.ts), read as of
 *   the event time: a device first seen after the transaction is unknown to it (no future leak:
 *   otherwise a replay, which loads every device signal first, would see devices, flags and account
 *   counts that did not exist when the transaction happened).
 * - A missing KYC row or device is explicit: a `*.missing` flag, defaults for the other features,
 *   and a reason code. Never an exception: an account without KYC is a risk signal, not an error.
 *
 * Feature conventions (RiskContext): booleans are 0/1; ages are fractional days, 0 when the start
 * lies after the event time (an account opened "after" its own transaction is a data error, and a
 * negative age would be a value the model never saw in training).
 *
 * The processor adds to the context it receives and forwards the same object: the hot path builds
 * one context per transaction and nothing upstream keeps a reference to it.
 */
import type { KeyValueStore } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import type { KycRecord, RiskTier, TokenizedTransaction } from '../schemas/types.js';
import { type DeviceProfile, deviceAsOf } from './deviceTable.js';
import { type RiskContext, StoreNames } from './types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const EnrichmentFeatures = {
  kycMissing: 'kyc.missing',
  kycAccountAgeDays: 'kyc.account_age_days',
  kycRiskTier: 'kyc.risk_tier',
  kycPep: 'kyc.pep',
  kycSanctioned: 'kyc.sanctioned',
  kycWatchlistHits: 'kyc.watchlist_hits',
  deviceMissing: 'device.missing',
  /** Whether the transaction named a device at all (card-present transactions usually do not). */
  deviceIdPresent: 'device.id_present',
  deviceBlocked: 'device.blocked',
  deviceEmulator: 'device.emulator',
  deviceRooted: 'device.rooted',
  deviceAccountsSeen: 'device.accounts_seen',
  deviceAgeDays: 'device.age_days',
  txnAmountMinor: 'txn.amount_minor',
  txnCardPresent: 'txn.card_present',
  txnChannelEcom: 'txn.channel_ecom',
  txnHourOfDay: 'txn.hour_of_day',
} as const;

export const EnrichmentFacts = {
  kycStatus: 'kyc.status',
  kycEntityType: 'kyc.entity_type',
  kycCountry: 'kyc.country',
} as const;

/** Fact value when there is no KYC row, for every KYC fact. */
export const MISSING_FACT = 'MISSING';

export const EnrichmentReasonCodes = {
  kycMissing: 'KYC_MISSING',
  /** The transaction named a device the table did not know as of its event time. */
  deviceUnknown: 'DEVICE_UNKNOWN',
} as const;

export const RISK_TIER_VALUE: { readonly [T in RiskTier]: number } = { LOW: 0, MEDIUM: 1, HIGH: 2 };

/** Without a KYC row the tier is HIGH, as the KycRecord schema defaults an unknown tier: conservatively. */
const MISSING_KYC_RISK_TIER = RISK_TIER_VALUE.HIGH;

const bit = (b: boolean): number => (b ? 1 : 0);

function ageDays(since: number, eventTime: number): number {
  return Math.max(0, (eventTime - since) / DAY);
}

function addKyc(context: RiskContext, kyc: KycRecord | undefined): void {
  const { features: f, facts } = context;
  const F = EnrichmentFeatures;
  if (kyc === undefined) {
    f[F.kycMissing] = 1;
    f[F.kycAccountAgeDays] = 0;
    f[F.kycRiskTier] = MISSING_KYC_RISK_TIER;
    f[F.kycPep] = 0;
    f[F.kycSanctioned] = 0;
    f[F.kycWatchlistHits] = 0;
    facts[EnrichmentFacts.kycStatus] = MISSING_FACT;
    facts[EnrichmentFacts.kycEntityType] = MISSING_FACT;
    facts[EnrichmentFacts.kycCountry] = MISSING_FACT;
    context.reasonCodes.push(EnrichmentReasonCodes.kycMissing);
    return;
  }
  f[F.kycMissing] = 0;
  f[F.kycAccountAgeDays] = ageDays(kyc.accountOpenedAt, context.txn.eventTime);
  f[F.kycRiskTier] = RISK_TIER_VALUE[kyc.riskTier];
  f[F.kycPep] = bit(kyc.pep);
  f[F.kycSanctioned] = bit(kyc.sanctioned);
  f[F.kycWatchlistHits] = kyc.watchlistHits;
  facts[EnrichmentFacts.kycStatus] = kyc.status;
  facts[EnrichmentFacts.kycEntityType] = kyc.entityType;
  facts[EnrichmentFacts.kycCountry] = kyc.country;
}

function addDevice(context: RiskContext, profile: DeviceProfile | undefined): void {
  const { features: f, txn } = context;
  const F = EnrichmentFeatures;
  f[F.deviceIdPresent] = bit(txn.deviceId !== null);
  const device = profile === undefined ? undefined : deviceAsOf(profile, txn.eventTime);
  if (device === undefined) {
    f[F.deviceMissing] = 1;
    f[F.deviceBlocked] = 0;
    f[F.deviceEmulator] = 0;
    f[F.deviceRooted] = 0;
    f[F.deviceAccountsSeen] = 0;
    f[F.deviceAgeDays] = 0;
    // A transaction without a device id (most card-present ones) is not an unknown device.
    if (txn.deviceId !== null) context.reasonCodes.push(EnrichmentReasonCodes.deviceUnknown);
    return;
  }
  f[F.deviceMissing] = 0;
  f[F.deviceBlocked] = bit(device.blocked);
  f[F.deviceEmulator] = bit(device.emulator);
  f[F.deviceRooted] = bit(device.rooted);
  f[F.deviceAccountsSeen] = device.accountsSeen;
  f[F.deviceAgeDays] = ageDays(device.firstSeenAt, txn.eventTime);
}

/** UTC hour of an epoch-ms time, without a Date per record. */
function utcHour(eventTime: number): number {
  return Math.floor((((eventTime % DAY) + DAY) % DAY) / HOUR);
}

function addTransaction(context: RiskContext, txn: TokenizedTransaction): void {
  const f = context.features;
  const F = EnrichmentFeatures;
  f[F.txnAmountMinor] = txn.amountMinor;
  f[F.txnCardPresent] = bit(txn.cardPresent);
  f[F.txnChannelEcom] = bit(txn.channel === 'ECOM');
  f[F.txnHourOfDay] = utcHour(txn.eventTime);
}

export class EnrichProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private context!: ProcessorContext<string, RiskContext>;
  private kyc!: KeyValueStore<string, KycRecord>;
  private devices!: KeyValueStore<string, DeviceProfile>;

  init(context: ProcessorContext<string, RiskContext>): void {
    this.context = context;
    this.kyc = context.getStateStore(StoreNames.kyc);
    this.devices = context.getStateStore(StoreNames.devices);
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null) {
      this.context.recordDropped('null-value');
      return;
    }
    const { txn } = risk;
    addTransaction(risk, txn);
    addKyc(risk, this.kyc.get(txn.accountToken));
    addDevice(risk, txn.deviceId === null ? undefined : this.devices.get(txn.deviceId));
    this.context.forward(record);
  }
}

/** Connect `StoreNames.kyc` to the processor; the device store is global and needs no connection. */
export function enrichProcessor(): ProcessorSupplier<string, RiskContext, string, RiskContext> {
  return () => new EnrichProcessor();
}
