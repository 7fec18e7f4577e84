/**
 * The decision decide() returns when the deadline passes and the client is configured to fall back
 * rather than fail (config.ts, `onDeadline`). It is shaped like the loop's Decision so that callers
 * handle one type, and marked by the reason code DEADLINE_FALLBACK (first), a null score and model,
 * and an empty card token (the SDK holds no card key). It is NOT written anywhere: the loop's own
 * decision for the transaction still arrives on the decisions topic, later, and is the one that is
 * labelled and trained on. A retry with the same transaction id returns that one.
 */
import { decide } from '../processors/decide.js';
import { EnrichmentFeatures } from '../processors/enrich.js';
import { evaluateRules, ruleInputs } from '../processors/rules.js';
import type { RuleSet } from '../processors/ruleSet.js';
import type { Decision, DecisionAction, TokenizedTransaction, Transaction } from '../schemas/types.js';

export const DEADLINE_FALLBACK = 'DEADLINE_FALLBACK';

/** Whether a decision is a local deadline fallback rather than the loop's. */
export function isFallback(d: Pick<Decision, 'reasonCodes'>): boolean {
  return d.reasonCodes[0] === DEADLINE_FALLBACK;
}

/** The loop's features that depend on the transaction alone (same names and values as enrich.ts). */
function ownFeatures(t: Transaction): Record<string, number> {
  return {
    [EnrichmentFeatures.txnAmountMinor]: t.amountMinor,
    [EnrichmentFeatures.txnCardPresent]: t.cardPresent ? 1 : 0,
    [EnrichmentFeatures.txnChannelEcom]: t.channel === 'ECOM' ? 1 : 0,
    [EnrichmentFeatures.txnHourOfDay]: new Date(t.eventTime).getUTCHours(),
  };
}

export type FallbackPolicy = { kind: 'static'; decision: DecisionAction } | { kind: 'rules'; ruleSet: RuleSet; noHit: DecisionAction };

export function fallbackDecision(t: Transaction, accountToken: string, policy: FallbackPolicy, startedAt: number, now: number): Decision {
  const features = ownFeatures(t);
  let decision: DecisionAction;
  let reasonCodes: string[];
  let ruleSetVersion = 'none';
  if (policy.kind === 'static') {
    decision = policy.decision;
    reasonCodes = [DEADLINE_FALLBACK];
  } else {
    // Only the fields rules can read as TXN_FACTS are filled; the BIN is the PAN's first six digits.
    const txn = { channel: t.channel, mcc: t.mcc, merchantCountry: t.merchantCountry, currency: t.currency, bin: t.pan.slice(0, 6) } as TokenizedTransaction;
    const hits = evaluateRules(policy.ruleSet, ruleInputs({ features, facts: {}, txn }));
    const verdict = decide({ ruleHits: hits, score: null, reasonCodes: [] }, { review: 1, decline: 1 });
    decision = hits.length === 0 ? policy.noHit : verdict.decision;
    reasonCodes = [DEADLINE_FALLBACK, ...verdict.reasonCodes];
    ruleSetVersion = policy.ruleSet.version;
  }
  return {
    transactionId: t.transactionId,
    accountToken,
    cardToken: '',
    eventTime: t.eventTime,
    decidedAt: now,
    decision,
    score: null,
    modelVersion: null,
    shadowScores: [],
    ruleSetVersion,
    reasonCodes,
    features,
    facts: {},
    topContributions: [],
    pipelineLatencyMs: now - startedAt,
  };
}
