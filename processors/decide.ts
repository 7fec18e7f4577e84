/**
 * The decision step: turns the scored, rule-checked RiskContext into the Decision record, keyed by
 * the account token (as the catalogue keys the decisions topic), transactionId inside.
 *
 * Precedence, DECLINE > REVIEW > ALLOW:
 *   1. DECLINE if any DECLINE rule hit, or the score is at or above the decline threshold;
 *   2. else REVIEW if any REVIEW rule hit;
 *   3. else, if the score is at or above the review threshold: APPROVE when an ALLOW rule hit,
 *      REVIEW otherwise;
 *   4. else APPROVE.
 * So an ALLOW rule can only turn a model-only REVIEW into APPROVE: it says "this customer and
 * amount are not worth an analyst's time", not "trust this payment whatever else we know". It
 * cannot override a DECLINE (rule or score) nor a REVIEW rule, which encode policy (sanctions, PEP
 * due diligence) rather than a statistical guess.
 *
 * Thresholds are the scoring model's own (from its release, looked up by version) and fall back to
 * the configured ones. Without a score (no model, model error, features missing) the rules decide
 * alone; the scorer's reason code says why.
 *
 * Reason codes, in order of precedence: DECLINE rules, SCORE_ABOVE_DECLINE, REVIEW rules,
 * SCORE_ABOVE_REVIEW, ALLOW rules, then the other codes gathered on the way (scoring fallbacks,
 * enrichment gaps), each once. A plain approval with nothing to say has none.
 *
 * Wall-clock fields: decidedAt (this task's clock) and pipelineLatencyMs = decidedAt − ingressAt.
 * Everything else depends only on the input, so a replay gives the same decisions.
 */
import { z } from 'zod';
import type { Decision, DecisionAction, Thresholds } from '../schemas/types.js';
import type { Processor, ProcessorContext } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import type { RiskContext, RuleAction } from './types.js';

/** Score cut-offs of a model version: REVIEW from `review`, DECLINE from `decline` (both inclusive). */
export const ThresholdsSchema = z
  .object({ review: z.number().min(0).max(1), decline: z.number().min(0).max(1) })
  .refine((t) => t.review <= t.decline, 'the review threshold must not exceed the decline threshold');

export const DecideConfig = z.object({
  /** Score cut-offs for a model version the registry has no thresholds for. */
  defaultThresholds: ThresholdsSchema,
});
export type DecideConfigInput = z.input<typeof DecideConfig>;

export const DecisionReasonCodes = {
  scoreAboveDecline: 'SCORE_ABOVE_DECLINE',
  scoreAboveReview: 'SCORE_ABOVE_REVIEW',
} as const;

/** Written to Decision.ruleSetVersion when no rule step ran (the field is required). */
export const NO_RULE_SET = 'none';

export interface Verdict {
  decision: DecisionAction;
  reasonCodes: string[];
}

/** The decision and its reason codes for a context, given the thresholds of the model that scored it. */
export function decide(risk: Pick<RiskContext, 'ruleHits' | 'score' | 'reasonCodes'>, thresholds: Thresholds): Verdict {
  const codesOf = (action: RuleAction) => risk.ruleHits.filter((h) => h.action === action).map((h) => h.reasonCode);
  const declineRules = codesOf('DECLINE');
  const reviewRules = codesOf('REVIEW');
  const allowRules = codesOf('ALLOW');
  const band = risk.score === null ? null : risk.score >= thresholds.decline ? 'DECLINE' : risk.score >= thresholds.review ? 'REVIEW' : null;

  let decision: DecisionAction;
  if (declineRules.length > 0 || band === 'DECLINE') decision = 'DECLINE';
  else if (reviewRules.length > 0) decision = 'REVIEW';
  else if (band === 'REVIEW') decision = allowRules.length > 0 ? 'APPROVE' : 'REVIEW';
  else decision = 'APPROVE';

  const ordered = [
    ...declineRules,
    ...(band === 'DECLINE' ? [DecisionReasonCodes.scoreAboveDecline] : []),
    ...reviewRules,
    ...(band === 'REVIEW' ? [DecisionReasonCodes.scoreAboveReview] : []),
    ...allowRules,
    ...risk.reasonCodes,
  ];
  return { decision, reasonCodes: [...new Set(ordered)] };
}

/** Features as the Decision schema wants them: missing features are absent, never NaN. */
function finiteFeatures(features: Readonly<{ [name: string]: number }>): { [name: string]: number } {
  const out: { [name: string]: number } = {};
  for (const [name, value] of Object.entries(features)) if (Number.isFinite(value)) out[name] = value;
  return out;
}

export function toDecision(risk: RiskContext, verdict: Verdict, decidedAt: number): Decision {
  const { txn } = risk;
  return {
    transactionId: txn.transactionId,
    accountToken: txn.accountToken,
    cardToken: txn.cardToken,
    eventTime: txn.eventTime,
    decidedAt,
    decision: verdict.decision,
    score: risk.score,
    modelVersion: risk.score === null ? null : risk.modelVersion,
    shadowScores: risk.shadowScores.map((s) => ({ ...s })),
    ruleSetVersion: risk.ruleSetVersion ?? NO_RULE_SET,
    reasonCodes: verdict.reasonCodes,
    features: finiteFeatures(risk.features),
    facts: { ...risk.facts },
    topContributions: risk.score === null ? [] : risk.topContributions.map((c) => ({ ...c })),
    pipelineLatencyMs: decidedAt - risk.ingressAt,
  };
}

export class DecideProcessor implements Processor<string, RiskContext, string, Decision> {
  private ctx!: ProcessorContext<string, Decision>;
  private readonly config: z.output<typeof DecideConfig>;

  /**
   * @param thresholdsFor the scoring model's thresholds by version; wire it to the registry:
   *   `(v) => registry.thresholdsFor(v)`.
   */
  constructor(
    config: DecideConfigInput,
    private readonly thresholdsFor: (modelVersion: string) => Thresholds | undefined = () => undefined,
  ) {
    this.config = DecideConfig.parse(config);
  }

  init(context: ProcessorContext<string, Decision>): void {
    this.ctx = context;
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const thresholds = (risk.modelVersion !== null ? this.thresholdsFor(risk.modelVersion) : undefined) ?? this.config.defaultThresholds;
    const decision = toDecision(risk, decide(risk, thresholds), this.ctx.currentSystemTimeMs());
    this.ctx.forward({ key: decision.accountToken, value: decision, timestamp: record.timestamp, headers: record.headers });
  }
}
