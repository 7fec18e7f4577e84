/**
 * The model lifecycle policy: one versioned JSON file (models/lifecycle-policy.json) that says when
 * the retrain service trains a candidate (`retrain`), what a candidate must show offline before any
 * release (`gates`, lifecycle/gates.ts), and how a released candidate goes shadow → canary →
 * champion and when it is rolled back (`rollout`, lifecycle/rollout.ts).
 *
 * The policy's `version` goes into every lifecycle event, so the history says under which rules a
 * model went live or was stopped. A bad file is refused whole with an error naming the field: a
 * gate that silently fell back to a default would release what the fraud team meant to stop.
 * docs/operations.md "Model lifecycle policy" describes every field.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** Rates are shares of decisions or rows, 0..1. */
const Rate = z.number().min(0).max(1);
/** Differences of two rates (candidate − champion), −1..1. */
const RateDelta = z.number().min(-1).max(1);

/**
 * Options of the trainer (training/train.py) the retrain service passes on; absent ones keep the
 * trainer's defaults. `--top-k` is not here: it is `gates.k`, so the trainer measures precision@k
 * with the k the gate compares.
 */
export const TrainerOptions = z.strictObject({
  testDays: z.number().int().positive().optional(),
  gapDays: z.number().int().nonnegative().optional(),
  folds: z.number().int().positive().optional(),
  foldDays: z.number().int().positive().optional(),
  validDays: z.number().int().positive().optional(),
  searchBudget: z.number().int().positive().optional(),
  trees: z.number().int().positive().optional(),
  reviewAlertRate: Rate.optional(),
  declineAlertRate: Rate.optional(),
  seed: z.number().int().optional(),
  threads: z.number().int().positive().optional(),
  /** 'lr': the hybrid, boosting from the logistic regression (docs/training.md); the trainer's default is 'none'. */
  init: z.enum(['none', 'lr']).optional(),
  /** Boosters in the seed bag (train.py --bag; its default 5, 1 with init 'lr'): more is steadier on few frauds, K times the trees to score. */
  bag: z.number().int().positive().optional(),
  /** train.py --refit: 'on' retrains on fit + validation rows after early stopping (its default without init 'lr'). */
  refit: z.enum(['on', 'off']).optional(),
  /** train.py --monotone: 'amount' constrains the amount-ratio features to an increasing effect (its default without init 'lr'). */
  monotone: z.enum(['amount', 'off']).optional(),
});
export type TrainerOptions = z.output<typeof TrainerOptions>;

/**
 * What the replay gate groups decisions by (lifecycle/gates.ts replaySegment). Only what a recorded
 * Decision carries: the amount (feature txn.amount_minor), the channel (txn.channel_ecom,
 * txn.card_present) and the account's KYC country (fact kyc.country); merchant category and country
 * are not on the decision.
 */
export const ReplaySegment = z.enum(['amountBand', 'channel', 'kycCountry']);
export type ReplaySegment = z.output<typeof ReplaySegment>;

export const LifecyclePolicy = z.strictObject({
  version: z.string().min(1),
  retrain: z.strictObject({
    everySeconds: z.number().positive(),
    minNewLabels: z.number().int().nonnegative(),
    onDriftAlert: z.boolean(),
    minExamples: z.number().int().positive(),
    minPositives: z.number().int().positive(),
    trainer: TrainerOptions.default({}),
  }),
  gates: z.strictObject({
    apMargin: z.number().min(-1).max(1),
    aucMargin: z.number().min(-1).max(1),
    precisionAtKMargin: z.number().min(-1).max(1),
    k: z.number().int().positive(),
    maxFalsePositiveRate: Rate,
    maxReviewRate: Rate,
    maxScoreP99Micros: z.number().positive(),
    benchmarkDecisions: z.number().int().min(100).default(2000),
    replay: z.strictObject({
      days: z.number().positive(),
      segment: ReplaySegment.default('amountBand'),
      /** Upper edges (minor units, exclusive) of the amount bands when segment = amountBand. */
      amountBandEdges: z
        .array(z.number().positive())
        .min(1)
        .refine((e) => e.every((v, i) => i === 0 || v > e[i - 1]!), 'amount band edges must increase')
        .default([1_000, 5_000, 20_000, 100_000]),
      minDecisions: z.number().int().positive().default(200),
      minSegmentDecisions: z.number().int().positive().default(100),
      maxDeclineRateDelta: RateDelta,
      maxReviewRateDelta: RateDelta,
      maxChallengeRateDelta: RateDelta.default(0.02),
    }),
  }),
  rollout: z.strictObject({
    shadow: z.strictObject({ minSeconds: z.number().nonnegative(), minDecisions: z.number().int().nonnegative() }),
    canary: z.strictObject({ share: z.number().positive().max(100), minSeconds: z.number().nonnegative(), minDecisions: z.number().int().nonnegative() }),
    /**
     * How long after a stage change the error rate ignores decisions that lack the model (a release
     * takes a moment to reach every running instance). Only decisions after it count towards the
     * error rate's sample, which a stage must fill before it advances.
     */
    graceSeconds: z.number().nonnegative().default(10),
    checks: z.strictObject({
      maxScorePsi: z.number().nonnegative(),
      maxDeclineRate: Rate,
      maxReviewRate: Rate,
      maxLatencyP99Ms: z.number().positive(),
      maxErrorRate: Rate,
      minPrecision: Rate,
      minLabelledForPrecision: z.number().int().nonnegative(),
    }),
  }),
});
export type LifecyclePolicy = z.output<typeof LifecyclePolicy>;
export type LifecyclePolicyInput = z.input<typeof LifecyclePolicy>;

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

/** Validates a parsed policy document; `source` names it in the error (a path, or 'policy'). */
export function parsePolicy(document: unknown, source = 'policy'): LifecyclePolicy {
  const parsed = LifecyclePolicy.safeParse(document);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
  throw new PolicyError(`${source}: invalid lifecycle policy: ${problems.join('; ')}`);
}

/** Reads and validates a policy file; the error names the file and every bad field. */
export async function loadPolicy(file: string): Promise<LifecyclePolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PolicyError(`${file}: cannot read the lifecycle policy: ${(error as Error).message}`, { cause: error });
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new PolicyError(`${file}: not JSON: ${(error as Error).message}`, { cause: error });
  }
  return parsePolicy(document, file);
}
