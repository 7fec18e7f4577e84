/**
 * The field names of every record interface in types.ts, as runtime data. The compiler checks each
 * list against its interface (no key missing, none extra); test/unit/schemas checks each list
 * against the .avsc file. Together they keep the hand-written types and the schemas in step.
 */
import type * as T from './types.js';

type MissingKeys<R, K extends readonly PropertyKey[]> = Exclude<keyof R, K[number]>;

/** Accepts only a list holding every key of R (and nothing else): a missing key is a type error. */
function fieldsOf<R>() {
  return <const K extends readonly (keyof R & string)[]>(
    keys: K & ([MissingKeys<R, K>] extends [never] ? unknown : { missingFields: MissingKeys<R, K> }),
  ): readonly string[] => keys;
}

/** Keyed by Avro record name (nested records included), in schema field order. */
export const RECORD_FIELDS: Readonly<Record<string, readonly string[]>> = {
  Transaction: fieldsOf<T.Transaction>()([
    'transactionId', 'eventTime', 'accountId', 'pan', 'amountMinor', 'currency', 'merchantId', 'merchantName',
    'terminalId', 'mcc', 'merchantCountry', 'channel', 'cardPresent', 'threeDsAuthenticated', 'lat', 'lon',
    'deviceId', 'ip',
  ]),
  TokenizedTransaction: fieldsOf<T.TokenizedTransaction>()([
    'transactionId', 'eventTime', 'ingestedAt', 'accountToken', 'cardToken', 'tokenKeyId', 'bin', 'last4',
    'amountMinor', 'currency', 'merchantId', 'merchantName', 'terminalId', 'mcc', 'merchantCountry', 'channel',
    'cardPresent', 'threeDsAuthenticated', 'lat', 'lon', 'deviceId', 'ip',
  ]),
  KycRecord: fieldsOf<T.KycRecord>()([
    'accountToken', 'entityType', 'status', 'riskTier', 'accountOpenedAt', 'pep', 'sanctioned', 'watchlistHits',
    'country', 'updatedAt', 'holderName',
  ]),
  DeviceSignal: fieldsOf<T.DeviceSignal>()([
    'deviceId', 'eventTime', 'accountToken', 'emulator', 'rooted', 'blocked', 'os', 'userAgent', 'ip',
  ]),
  Chargeback: fieldsOf<T.Chargeback>()([
    'chargebackId', 'transactionId', 'accountId', 'reasonCode', 'amountMinor', 'currency', 'reportedAt', 'fraud',
  ]),
  TokenizedChargeback: fieldsOf<T.TokenizedChargeback>()([
    'chargebackId', 'transactionId', 'accountToken', 'reasonCode', 'amountMinor', 'currency', 'reportedAt', 'fraud',
  ]),
  AnalystOutcome: fieldsOf<T.AnalystOutcome>()([
    'transactionId', 'accountToken', 'outcome', 'analystId', 'caseId', 'decidedAt',
  ]),
  ChallengeResult: fieldsOf<T.ChallengeResult>()(['transactionId', 'accountToken', 'result', 'method', 'completedAt']),
  Decision: fieldsOf<T.Decision>()([
    'transactionId', 'accountToken', 'cardToken', 'eventTime', 'decidedAt', 'decision', 'score', 'modelVersion',
    'shadowScores', 'ruleSetVersion', 'reasonCodes', 'features', 'facts', 'topContributions', 'pipelineLatencyMs',
    'duplicate', 'featureSetVersion', 'contributions',
  ]),
  ScoreContribution: fieldsOf<T.ScoreContribution>()(['feature', 'value', 'contribution']),
  ShadowScore: fieldsOf<T.ShadowScore>()(['modelVersion', 'score']),
  FeatureContribution: fieldsOf<T.FeatureContribution>()(['feature', 'contribution']),
  TrainingExample: fieldsOf<T.TrainingExample>()([
    'transactionId', 'accountToken', 'eventTime', 'features', 'facts', 'label', 'labelSource', 'labeledAt',
    'labelDelayMs', 'modelVersion', 'decision', 'isCorrection', 'featureSetVersion',
  ]),
  ModelRelease: fieldsOf<T.ModelRelease>()([
    'version', 'artifact', 'artifactPath', 'sha256', 'featureNames', 'thresholds', 'mode', 'referenceDistributions',
    'releasedAt', 'releasedBy',
  ]),
  Thresholds: fieldsOf<T.Thresholds>()(['review', 'decline']),
  ReferenceHistogram: fieldsOf<T.ReferenceHistogram>()(['edges', 'proportions']),
  DeadLetter: fieldsOf<T.DeadLetter>()([
    'sourceTopic', 'partition', 'offset', 'key', 'value', 'redacted', 'headers', 'processor', 'errorClass', 'reason',
    'message', 'failedAt', 'reduced',
  ]),
  ReducedPayload: fieldsOf<T.ReducedPayload>()(['originalSize', 'sha256', 'excerpt']),
  Alert: fieldsOf<T.Alert>()([
    'kind', 'subject', 'value', 'threshold', 'windowStart', 'windowEnd', 'raisedAt', 'details',
  ]),
  EntityStats: fieldsOf<T.EntityStats>()([
    'entityKey', 'firstSeenAt', 'lastSeenAt', 'lastLabelAt', 'minuteBuckets', 'hourBuckets', 'dayBuckets', 'labelBuckets',
  ]),
  EntityBucket: fieldsOf<T.EntityBucket>()(['bucketStart', 'count', 'sumMinor', 'fraudLabels', 'accounts']),
  ScreeningHit: fieldsOf<T.ScreeningHit>()([
    'hitId', 'accountToken', 'listEntryId', 'listEntryName', 'matchedName', 'matchedAlias', 'listKind', 'programs',
    'entityType', 'score', 'threshold', 'method', 'pairs', 'unmatchedListTokens', 'unmatchedQueryTokens',
    'queryTokenCount', 'formula', 'trigger', 'listVersion', 'listFileDate', 'holderNameSealed', 'screenedAt',
  ]),
  ScreeningTokenPair: fieldsOf<T.ScreeningTokenPair>()(['queryIndex', 'listToken', 'similarity', 'how', 'queryTokensGlued']),
  LabelBucket: fieldsOf<T.LabelBucket>()(['txnDay', 'arrivalDay', 'fraudLabels']),
};

/** Accepts only a list holding every member of the string union U. */
function symbolsOf<U extends string>() {
  return <const K extends readonly U[]>(
    symbols: K & ([Exclude<U, K[number]>] extends [never] ? unknown : { missingSymbols: Exclude<U, K[number]> }),
  ): readonly string[] => symbols;
}

/** Enum symbols per Avro enum name, in schema order, checked against the schemas the same way. */
export const ENUM_SYMBOLS: Readonly<Record<string, readonly string[]>> = {
  Channel: symbolsOf<T.Channel>()(['POS', 'ECOM', 'ATM', 'MOTO', 'OTHER']),
  EntityType: symbolsOf<T.EntityType>()(['PERSON', 'BUSINESS']),
  KycStatus: symbolsOf<T.KycStatus>()(['PENDING', 'VERIFIED', 'REJECTED', 'EXPIRED', 'SUSPENDED']),
  RiskTier: symbolsOf<T.RiskTier>()(['LOW', 'MEDIUM', 'HIGH']),
  Outcome: symbolsOf<T.Outcome>()(['FRAUD', 'LEGITIMATE']),
  DecisionAction: symbolsOf<T.DecisionAction>()(['APPROVE', 'REVIEW', 'DECLINE', 'CHALLENGE']),
  LabelSource: symbolsOf<T.LabelSource>()(['CHARGEBACK', 'ANALYST', 'MATURITY', 'CHALLENGE']),
  ChallengeOutcome: symbolsOf<T.ChallengeOutcome>()(['PASSED', 'FAILED', 'ABANDONED']),
  ChallengeMethod: symbolsOf<T.ChallengeMethod>()(['THREE_DS', 'OTP', 'BIOMETRIC', 'OTHER']),
  ScreeningListKind: symbolsOf<T.ScreeningListKind>()(['SANCTION', 'PEP', 'OTHER']),
  ScreeningTrigger: symbolsOf<T.ScreeningTrigger>()(['KYC_UPDATE', 'LIST_UPDATE', 'OTHER']),
};
