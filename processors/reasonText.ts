/**
 * Reason codes in words a person can act on (issue 20.4): the text an analyst reads on the case
 * page next to each code of a decision.
 *
 * Rule codes take their rule's own `description` from the rule set (rules/ruleset.json): the people
 * who write a rule say once what it means, and a code cannot drift from its text. Codes the loop
 * itself adds (score bands, scoring fallbacks, enrichment gaps) have fixed texts here, keyed by the
 * constants their processors export, so a renamed constant breaks this file rather than leaving a
 * code without text. A code nobody knows (a rule since removed from the file, a newer loop's code)
 * still gets a line saying so: the analyst sees the code and that it is unexplained.
 *
 * The texts are derived at read time, not stored in each Decision: a decision carries its
 * ruleSetVersion, and the rule set in force explains its own codes; a rule whose code was reused
 * with another meaning in a later version is shown with `ruleSetMatches: false`.
 */
import { DecisionReasonCodes } from './decide.js';
import { EnrichmentReasonCodes } from './enrich.js';
import type { RuleSet } from './ruleSet.js';
import { ScoringReasonCodes } from './scoring.js';
import type { RuleAction } from './types.js';

export type ReasonSource = 'rule' | 'score' | 'model' | 'enrichment' | 'unknown';

export interface ReasonText {
  code: string;
  text: string;
  source: ReasonSource;
  /** For rule codes: the rule and what it does. */
  ruleId?: string;
  action?: RuleAction;
  /** False when the decision was made under another rule-set version than the one giving the text. */
  ruleSetMatches?: boolean;
}

/** Texts of the codes the loop adds itself, by the constant each processor exports. */
export const FIXED_REASON_TEXTS: Readonly<Record<string, { text: string; source: ReasonSource }>> = {
  [DecisionReasonCodes.scoreAboveDecline]: { source: 'score', text: "The model's fraud score is at or above the decline threshold of the model version that scored it." },
  [DecisionReasonCodes.scoreAboveReview]: { source: 'score', text: "The model's fraud score is at or above the review threshold (below the decline threshold): the model alone sent this payment to a person." },
  [DecisionReasonCodes.scoreInChallengeBand]: { source: 'score', text: "The model's fraud score is in the step-up band: the customer is asked to authenticate (3-D Secure, one-time code) instead of a review." },
  [ScoringReasonCodes.unavailable]: { source: 'model', text: 'No model was available to score this payment: the rules decided alone.' },
  [ScoringReasonCodes.error]: { source: 'model', text: 'The model failed on this payment: the rules decided alone.' },
  [ScoringReasonCodes.featuresMissing]: { source: 'model', text: 'A feature the model needs was missing for this payment (no history yet, or an input absent), so it was not scored: the rules decided alone.' },
  [EnrichmentReasonCodes.kycMissing]: { source: 'enrichment', text: 'No KYC record for this account at the time of the payment: KYC facts count as missing and the risk tier as high.' },
  [EnrichmentReasonCodes.deviceUnknown]: { source: 'enrichment', text: 'The payment named a device the loop had never seen before (no device signal for it yet).' },
};

/** One entry per code, in the decision's order (which is the order of precedence, processors/decide.ts). */
export function reasonTexts(codes: readonly string[], ruleSet: Pick<RuleSet, 'version' | 'rules'> | undefined, decisionRuleSetVersion?: string): ReasonText[] {
  const byCode = new Map<string, RuleSet['rules'][number]>();
  for (const r of ruleSet?.rules ?? []) if (!byCode.has(r.reasonCode)) byCode.set(r.reasonCode, r);
  return codes.map((code): ReasonText => {
    const fixed = FIXED_REASON_TEXTS[code];
    if (fixed) return { code, ...fixed };
    const rule = byCode.get(code);
    if (rule) {
      return {
        code,
        text: rule.description,
        source: 'rule',
        ruleId: rule.id,
        action: rule.action,
        ...(decisionRuleSetVersion !== undefined ? { ruleSetMatches: decisionRuleSetVersion === ruleSet!.version } : {}),
      };
    }
    return {
      code,
      source: 'unknown',
      text: `No description for ${code} in rule set ${ruleSet?.version ?? '(none loaded)'}: the rule may have been removed since the decision (made under ${decisionRuleSetVersion ?? 'an unknown rule set'}).`,
    };
  });
}
