/**
 * TypeScript mirrors of the Avro records in this folder, hand-written so that they read well and
 * carry the schema docs' intent. `fields.ts` lists each interface's keys and a unit test compares
 * those lists with the .avsc files, so an interface cannot silently drift from its schema.
 *
 * Representation choices (how avsc decodes, with no logical-type hooks registered):
 *  - `timestamp-millis` is a plain `number` of epoch milliseconds, not a `Date`: windowing and
 *    state stores do arithmetic on it, and a Date per field per record would cost allocations.
 *  - `long` is a `number`; avsc refuses values beyond Number.MAX_SAFE_INTEGER on encode.
 *  - `["null", T]` unions are `T | null` (unwrapped), `bytes` is `Buffer`, maps are plain objects.
 */

export type Channel = 'POS' | 'ECOM' | 'ATM' | 'MOTO' | 'OTHER';
export type EntityType = 'PERSON' | 'BUSINESS';
export type KycStatus = 'PENDING' | 'VERIFIED' | 'REJECTED' | 'EXPIRED' | 'SUSPENDED';
export type RiskTier = 'LOW' | 'MEDIUM' | 'HIGH';
export type Outcome = 'FRAUD' | 'LEGITIMATE';
export type DecisionAction = 'APPROVE' | 'REVIEW' | 'DECLINE' | 'CHALLENGE';
export type LabelSource = 'CHARGEBACK' | 'ANALYST' | 'MATURITY' | 'CHALLENGE';
export type ChallengeOutcome = 'PASSED' | 'FAILED' | 'ABANDONED';
export type ChallengeMethod = 'THREE_DS' | 'OTP' | 'BIOMETRIC' | 'OTHER';

/** Raw ingress transaction. Carries the PAN: only the ingress tokeniser may read it. */
export interface Transaction {
  transactionId: string;
  eventTime: number;
  accountId: string;
  pan: string;
  amountMinor: number;
  currency: string;
  merchantId: string;
  merchantName: string | null;
  terminalId: string | null;
  mcc: string;
  merchantCountry: string;
  channel: Channel;
  cardPresent: boolean;
  threeDsAuthenticated: boolean | null;
  lat: number | null;
  lon: number | null;
  deviceId: string | null;
  ip: string | null;
}

export interface TokenizedTransaction {
  transactionId: string;
  eventTime: number;
  ingestedAt: number;
  accountToken: string;
  cardToken: string;
  tokenKeyId: string;
  bin: string;
  last4: string;
  amountMinor: number;
  currency: string;
  merchantId: string;
  merchantName: string | null;
  terminalId: string | null;
  mcc: string;
  merchantCountry: string;
  channel: Channel;
  cardPresent: boolean;
  threeDsAuthenticated: boolean | null;
  lat: number | null;
  lon: number | null;
  deviceId: string | null;
  ip: string | null;
}

export interface KycRecord {
  accountToken: string;
  entityType: EntityType;
  status: KycStatus;
  riskTier: RiskTier;
  accountOpenedAt: number;
  pep: boolean;
  sanctioned: boolean;
  watchlistHits: number;
  country: string;
  updatedAt: number;
  /** Personal data, ingress only (screened, then sealed or dropped: processors/screening/). Optional: older producers send none. */
  holderName?: string | null;
}

export interface DeviceSignal {
  deviceId: string;
  eventTime: number;
  accountToken: string | null;
  emulator: boolean;
  rooted: boolean;
  blocked: boolean;
  os: string | null;
  userAgent: string | null;
  ip: string | null;
}

/** Raw chargeback from the card network: accountId in the clear, ingress only. */
export interface Chargeback {
  chargebackId: string;
  transactionId: string;
  accountId: string;
  reasonCode: string;
  amountMinor: number;
  currency: string;
  reportedAt: number;
  fraud: boolean;
}

export interface TokenizedChargeback {
  chargebackId: string;
  transactionId: string;
  accountToken: string;
  reasonCode: string;
  amountMinor: number;
  currency: string;
  reportedAt: number;
  fraud: boolean;
}

export interface AnalystOutcome {
  transactionId: string;
  accountToken: string;
  outcome: Outcome;
  analystId: string;
  caseId: string | null;
  decidedAt: number;
}

/** A step-up challenge's result, from the gateway or the 3DS server (ChallengeResult.avsc). */
export interface ChallengeResult {
  transactionId: string;
  accountToken: string;
  result: ChallengeOutcome;
  method: ChallengeMethod;
  completedAt: number;
}

export interface ShadowScore {
  modelVersion: string;
  score: number;
}

export interface FeatureContribution {
  feature: string;
  contribution: number;
}

/** Decision.contributions entry: a feature's share of the score in log-odds (processors/contributions.ts). */
export interface ScoreContribution {
  feature: string;
  /** The value the model was fed; null when the feature was missing. */
  value: number | null;
  contribution: number;
}

export interface Decision {
  transactionId: string;
  accountToken: string;
  cardToken: string;
  eventTime: number;
  decidedAt: number;
  decision: DecisionAction;
  score: number | null;
  modelVersion: string | null;
  shadowScores: ShadowScore[];
  ruleSetVersion: string;
  reasonCodes: string[];
  features: Record<string, number>;
  facts: Record<string, string>;
  topContributions: FeatureContribution[];
  pipelineLatencyMs: number;
  /**
   * True on a repeat of a stored decision (the same transactionId received again); absent or false
   * on the one real decision. Optional here because the schema gives it a default (false).
   */
  duplicate?: boolean;
  /** Version of the feature set that computed `features` (features/*.json); null or absent before issue 16. */
  featureSetVersion?: string | null;
  /** Top contributions of the deciding model's score; null or absent without a score or a trees file. */
  contributions?: ScoreContribution[] | null;
}

export interface TrainingExample {
  transactionId: string;
  accountToken: string;
  eventTime: number;
  features: Record<string, number>;
  facts: Record<string, string>;
  label: 0 | 1;
  labelSource: LabelSource;
  labeledAt: number;
  labelDelayMs: number;
  modelVersion: string | null;
  decision: DecisionAction;
  isCorrection: boolean;
  /** The decision's featureSetVersion, copied by the label join. */
  featureSetVersion?: string | null;
}

export interface Thresholds {
  review: number;
  decline: number;
}

export interface ReferenceHistogram {
  edges: number[];
  proportions: number[];
}

export interface ModelRelease {
  version: string;
  artifact: Buffer | null;
  artifactPath: string | null;
  sha256: string;
  featureNames: string[];
  thresholds: Thresholds;
  /** `champion`, `shadow`, `canary:N` (N percent of accounts) or `retired`. */
  mode: string;
  referenceDistributions: Record<string, ReferenceHistogram>;
  releasedAt: number;
  releasedBy: string | null;
}

export interface DeadLetter {
  sourceTopic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  redacted: boolean;
  headers: Record<string, string>;
  processor: string;
  errorClass: string;
  reason: string;
  message: string;
  failedAt: number;
  /** Set on a reduced dead letter (the full one was too large to produce); null or absent otherwise. */
  reduced?: ReducedPayload | null;
}

export interface ReducedPayload {
  originalSize: number;
  sha256: string;
  excerpt: Buffer;
}

export interface Alert {
  kind: string;
  subject: string;
  value: number;
  threshold: number;
  windowStart: number;
  windowEnd: number;
  raisedAt: number;
  details: Record<string, string>;
}

/** One bucket of an entity's activity (EntityStats.avsc). */
export interface EntityBucket {
  bucketStart: number;
  count: number;
  sumMinor: number;
  fraudLabels: number;
  accounts: string[];
}

/** Bucketed activity of a device, IP or merchant (cross-entity side sub-topology → global table). */
export interface EntityStats {
  entityKey: string;
  firstSeenAt: number;
  lastSeenAt: number;
  lastLabelAt: number;
  minuteBuckets: EntityBucket[];
  hourBuckets: EntityBucket[];
  dayBuckets: EntityBucket[];
  /** Merchant fraud labels by (transaction day, arrival day); absent on records written before it existed. */
  labelBuckets?: LabelBucket[];
}

/** Fraud labels of one merchant's transactions of one UTC day that arrived on one UTC day (EntityStats.avsc). */
export interface LabelBucket {
  txnDay: number;
  arrivalDay: number;
  fraudLabels: number;
}

export type ScreeningListKind = 'SANCTION' | 'PEP' | 'OTHER';
export type ScreeningTrigger = 'KYC_UPDATE' | 'LIST_UPDATE' | 'OTHER';

export interface ScreeningTokenPair {
  queryIndex: number;
  listToken: string;
  similarity: number;
  how: string;
  queryTokensGlued: number;
}

/** A new sanctions/PEP screening hit of an account (ScreeningHit.avsc); no clear name in it. */
export interface ScreeningHit {
  hitId: string;
  accountToken: string;
  listEntryId: string;
  listEntryName: string;
  matchedName: string;
  matchedAlias: boolean;
  listKind: ScreeningListKind;
  programs: string[];
  entityType: string;
  score: number;
  threshold: number;
  method: string;
  pairs: ScreeningTokenPair[];
  unmatchedListTokens: string[];
  unmatchedQueryTokens: number;
  queryTokenCount: number;
  formula: string;
  trigger: ScreeningTrigger;
  listVersion: string;
  listFileDate: string;
  holderNameSealed: string | null;
  screenedAt: number;
}

/** Schema (record) name → its TypeScript type; the .avsc file of each is `schemas/<name>.avsc`. */
export interface RecordTypes {
  Transaction: Transaction;
  TokenizedTransaction: TokenizedTransaction;
  KycRecord: KycRecord;
  DeviceSignal: DeviceSignal;
  Chargeback: Chargeback;
  TokenizedChargeback: TokenizedChargeback;
  AnalystOutcome: AnalystOutcome;
  ChallengeResult: ChallengeResult;
  Decision: Decision;
  TrainingExample: TrainingExample;
  ModelRelease: ModelRelease;
  DeadLetter: DeadLetter;
  Alert: Alert;
  EntityStats: EntityStats;
  ScreeningHit: ScreeningHit;
}

export type SchemaName = keyof RecordTypes;
