/**
 * What flows through the hot path of the risk loop, from ingress to the decision.
 *
 * The hot path is one sub-topology: every account-keyed topic (transactions, kyc, chargebacks,
 * analyst-outcomes) is keyed by the account token and has the same partition count, so a
 * transaction, its account's KYC row, its decision snapshot and the labels that come back for it
 * all live in one task. No repartition sits between a transaction and its decision.
 *
 * Each step adds to a RiskContext and forwards it; the decision step turns it into the Decision
 * record. `features` is exactly what the model sees and what the training topic will carry, so a
 * step may only add features computed from data available at the transaction's event time.
 */
import type { DecisionAction, FeatureContribution, ScoreContribution, ShadowScore, TokenizedTransaction } from '../schemas/types.js';

/** CHALLENGE: step-up (3-D Secure, a second factor) for risky actions such as a new device or a large transfer; decide.ts ranks it. */
export type RuleAction = 'ALLOW' | 'CHALLENGE' | 'REVIEW' | 'DECLINE';

export interface RuleHit {
  ruleId: string;
  reasonCode: string;
  action: RuleAction;
}

export interface RiskContext {
  /** The transaction after ingress: no PAN, no account id. */
  txn: TokenizedTransaction;
  /** Wall-clock ms when ingress handled it; the decision's pipelineLatencyMs is measured from here. */
  ingressAt: number;
  /** Numeric features by name (booleans as 0/1). Missing means "not available", never NaN. */
  features: Record<string, number>;
  /** Categorical facts used by rules and kept for explanation (e.g. kyc.status = "VERIFIED"). */
  facts: Record<string, string>;
  /** Reason codes gathered along the way (rules, enrichment gaps, scoring fallbacks). */
  reasonCodes: string[];
  ruleHits: RuleHit[];
  ruleSetVersion: string | null;
  /** Version of the feature set whose features are in `features` (set by the velocity step). */
  featureSetVersion: string | null;
  score: number | null;
  modelVersion: string | null;
  shadowScores: ShadowScore[];
  topContributions: FeatureContribution[];
  /** Top contributions of the deciding model's score from its trees (processors/contributions.ts); absent without them. */
  contributions?: ScoreContribution[] | null;
  /** Set by the decision step. */
  decision?: DecisionAction;
}

export function newRiskContext(txn: TokenizedTransaction, ingressAt: number): RiskContext {
  return {
    txn,
    ingressAt,
    features: {},
    facts: {},
    reasonCodes: [],
    ruleHits: [],
    ruleSetVersion: null,
    featureSetVersion: null,
    score: null,
    modelVersion: null,
    shadowScores: [],
    topContributions: [],
  };
}

/** Store names of the hot path. Stable: a redeploy finds its state under these names. */
export const StoreNames = {
  velocityProfiles: 'velocity-profiles',
  kyc: 'kyc',
  decisionSnapshots: 'decision-snapshots',
  snapshotIndex: 'decision-snapshot-index',
  labels: 'labels-seen',
  devices: 'devices',
} as const;
