/**
 * The decision step: turns the scored, rule-checked RiskContext into the Decision record, keyed by
 * the account token (as the catalogue keys the decisions topic), transactionId inside.
 *
 * The score falls in one band: DECLINE at or above the decline threshold; else CHALLENGE inside the
 * configured challenge band, when there is one; else REVIEW at or above the review threshold; else
 * none. Precedence, DECLINE > REVIEW > CHALLENGE > APPROVE:
 *   1. DECLINE if any DECLINE rule hit, or the score is in the DECLINE band;
 *   2. else REVIEW if any REVIEW rule hit;
 *   3. else CHALLENGE if any CHALLENGE rule hit;
 *   4. else, if the score is in the CHALLENGE or REVIEW band: APPROVE when an ALLOW rule hit, the
 *      band's action otherwise;
 *   5. else APPROVE.
 * So an ALLOW rule can only turn a model-only REVIEW or CHALLENGE into APPROVE: it says "this
 * customer and amount are not worth an analyst's time or the customer's friction", not "trust this
 * payment whatever else we know". It cannot override a DECLINE (rule or score) nor a REVIEW or
 * CHALLENGE rule, which encode policy (sanctions, PEP due diligence, step-up on a new device)
 * rather than a statistical guess. REVIEW outranks CHALLENGE because a passed challenge proves who
 * pays, not that a policy's concern is met; a person still has to look.
 *
 * The challenge band is `[challengeBand.from, challengeBand.to)` in score units; both thresholds
 * are probabilities once the model is calibrated (training/). Putting it between the review and
 * decline thresholds (the usual choice) sends the grey zone to step-up instead of an analyst:
 * the customer answers in seconds, a failed challenge becomes a fraud label at once, and analysts
 * keep what rules send them. Without a band, no score gives CHALLENGE (only rules can).
 *
 * Thresholds are the scoring model's own (from its release, looked up by version) and fall back to
 * the configured ones. Without a score (no model, model error, features missing) the rules decide
 * alone; the scorer's reason code says why.
 *
 * Reason codes, in order of precedence: DECLINE rules, SCORE_ABOVE_DECLINE, REVIEW rules,
 * CHALLENGE rules, SCORE_IN_CHALLENGE_BAND, SCORE_ABOVE_REVIEW, MODEL_TOP_FEATURE:<feature> for the
 * features that raised the score most (only when the score put it in a band, from the model's trees:
 * processors/contributions.ts), ALLOW rules, then the other codes
 * gathered on the way (scoring fallbacks, enrichment gaps), each once. A plain approval with
 * nothing to say has none.
 *
 * Wall-clock fields: decidedAt (this task's clock) and pipelineLatencyMs = decidedAt − ingressAt.
 * Everything else depends only on the input, so a replay gives the same decisions.
 */
import { z } from 'zod';
import type { Decision, DecisionAction, Thresholds } from '../schemas/types.js';
import type { Processor, ProcessorContext } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { modelReasonCodes } from './contributions.js';
import type { RiskContext, RuleAction } from './types.js';

/** Score cut-offs of a model version: REVIEW from `review`, DECLINE from `decline` (both inclusive). */
export const ThresholdsSchema = z
  .object({ review: z.number().min(0).max(1), decline: z.number().min(0).max(1) })
  .refine((t) => t.review <= t.decline, 'the review threshold must not exceed the decline threshold');

/** Scores in [from, to) get CHALLENGE (when no rule decided otherwise); see the file header. */
export const ChallengeBandSchema = z
  .object({ from: z.number().min(0).max(1), to: z.number().min(0).max(1) })
  .refine((b) => b.from < b.to, 'the challenge band needs from < to');
export type ChallengeBand = z.output<typeof ChallengeBandSchema>;

export const DecideConfig = z.object({
  /** Score cut-offs for a model version the registry has no thresholds for. */
  defaultThresholds: ThresholdsSchema,
  /** Score band that asks for step-up instead of review or approval; none by default. */
  challengeBand: ChallengeBandSchema.optional(),
});
export type DecideConfigInput = z.input<typeof DecideConfig>;

export const DecisionReasonCodes = {
  scoreAboveDecline: 'SCORE_ABOVE_DECLINE',
  scoreAboveReview: 'SCORE_ABOVE_REVIEW',
  scoreInChallengeBand: 'SCORE_IN_CHALLENGE_BAND',
} as const;

/** Written to Decision.ruleSetVersion when no rule step ran (the field is required). */
export const NO_RULE_SET = 'none';

export interface Verdict {
  decision: DecisionAction;
  reasonCodes: string[];
}

type Band = 'DECLINE' | 'CHALLENGE' | 'REVIEW' | null;

function bandOf(score: number | null, thresholds: Thresholds, challengeBand: ChallengeBand | undefined): Band {
  if (score === null) return null;
  if (score >= thresholds.decline) return 'DECLINE';
  if (challengeBand !== undefined && score >= challengeBand.from && score < challengeBand.to) return 'CHALLENGE';
  return score >= thresholds.review ? 'REVIEW' : null;
}

/** The decision and its reason codes for a context, given the thresholds of the model that scored it. */
export function decide(risk: Pick<RiskContext, 'ruleHits' | 'score' | 'reasonCodes' | 'contributions'>, thresholds: Thresholds, challengeBand?: ChallengeBand): Verdict {
  const codesOf = (action: RuleAction) => risk.ruleHits.filter((h) => h.action === action).map((h) => h.reasonCode);
  const declineRules = codesOf('DECLINE');
  const reviewRules = codesOf('REVIEW');
  const challengeRules = codesOf('CHALLENGE');
  const allowRules = codesOf('ALLOW');
  const band = bandOf(risk.score, thresholds, challengeBand);

  let decision: DecisionAction;
  if (declineRules.length > 0 || band === 'DECLINE') decision = 'DECLINE';
  else if (reviewRules.length > 0) decision = 'REVIEW';
  else if (challengeRules.length > 0) decision = 'CHALLENGE';
  else if (band !== null) decision = allowRules.length > 0 ? 'APPROVE' : band;
  else decision = 'APPROVE';

  const ordered = [
    ...declineRules,
    ...(band === 'DECLINE' ? [DecisionReasonCodes.scoreAboveDecline] : []),
    ...reviewRules,
    ...challengeRules,
    ...(band === 'CHALLENGE' ? [DecisionReasonCodes.scoreInChallengeBand] : []),
    ...(band === 'REVIEW' ? [DecisionReasonCodes.scoreAboveReview] : []),
    // The model put the decision in a band: say which features drove its score.
    ...(band !== null ? modelReasonCodes(risk.contributions ?? null) : []),
    ...allowRules,
    ...risk.reasonCodes,
  ];
  return { decision, reasonCodes: [...new Set(ordered)] };
}

/**
 * Features as the Decision schema wants them: missing features are absent, never NaN. Nearly
 * always every feature is finite, and then the context's own map is the decision's (nothing
 * changes it after the decision; the decide step is its last writer): copying ~70 names into a
 * new dictionary-mode object per decision was 2.6 % of the hot path's CPU in the profile.
 */
function finiteFeatures(features: { [name: string]: number }): { [name: string]: number } {
  for (const name in features) {
    if (!Number.isFinite(features[name])) {
      const out: { [name: string]: number } = {};
      for (const n in features) if (Number.isFinite(features[n])) out[n] = features[n]!;
      return out;
    }
  }
  return features;
}

export function toDecision(risk: RiskContext, verdict: Verdict, decidedAt: number): Decision {
  const { txn } = risk;
  const decision: Decision = {
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
  // Absent (Avro default null) when no feature step ran, as on decisions made before it existed.
  if (risk.featureSetVersion !== null) decision.featureSetVersion = risk.featureSetVersion;
  // Absent (Avro default null) without a score or when the model has no trees file.
  if (risk.score !== null && risk.contributions) decision.contributions = risk.contributions.map((c) => ({ ...c }));
  return decision;
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
    const decision = toDecision(risk, decide(risk, thresholds, this.config.challengeBand), this.ctx.currentSystemTimeMs());
    this.ctx.forward({ key: decision.accountToken, value: decision, timestamp: record.timestamp, headers: record.headers });
  }
}
