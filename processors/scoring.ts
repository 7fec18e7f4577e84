/**
 * The scoring step of the hot path: ONNX inference, micro-batched.
 *
 * `process` only holds the record; `flush` (the task's end-of-batch hook) scores everything held
 * with ONE `session.run` per model over an [N, F] float32 tensor and forwards the records in
 * arrival order. Per batch that is one run for the champion, one for the canary when some of the
 * batch's cards are routed to it, one per shadow, and at most one explanation run per deciding model.
 *
 * Feature vector: the column order is the model's own (`feature_names` in its metadata, read by the
 * registry), never the context's key order. A feature the context lacks is fed as NaN when the model
 * declares that NaN means missing to it (metadata `missing_values` = "nan": LightGBM trees send NaN
 * down each split's learned default branch, and the ONNX export keeps that); a model without that
 * declaration (a linear model would turn NaN into a NaN score) does not score such a record, which
 * then gets MODEL_FEATURES_MISSING and is decided by the rules alone.
 *
 * Fallbacks: no model installed → MODEL_UNAVAILABLE; the run throws → MODEL_ERROR for the records of
 * that run. Either way the score stays null and the decision step uses the rules alone.
 *
 * Roles: the champion decides. A canary decides instead of the champion for the cards whose stable
 * hash (sha256 of the canary version and the card token) falls below its share, so a card stays with
 * the same model for the whole canary, and a new canary version draws a fresh cohort. Shadows are
 * scored on every record and recorded in `shadowScores` (in install order); they never set `score`.
 *
 * Tree contributions (`contributions`): for a model that carries its trees (training/train.py puts
 * them in the ONNX metadata; the registry loads them, or a `<version>.trees.json` beside an older
 * artifact, and checks they reproduce the model), every decision it scores gets its
 * top `contributionsTopK` (default 3) features by path-based (Saabas) attribution in log-odds, from
 * the same float32 row the model was fed: base value + contributions = logit(score). One walk per
 * tree, no extra inference run (processors/contributions.ts says why not TreeSHAP, and the cost).
 * The decision step turns the positive ones into MODEL_TOP_FEATURE:<feature> reason codes.
 *
 * Explanations (`topContributions`): occlusion importance, not SHAP. For a record whose outcome is
 * not a plain approval (score at or above the model's review threshold, or a REVIEW/DECLINE rule
 * hit), each present feature whose value differs from the model card's reference value (training
 * median) is replaced by that reference value, one perturbed row per feature; the contribution is
 * score − perturbed score (positive: this value raised the fraud probability). All perturbed rows
 * of a batch go in one extra run. It ignores interactions (two features that only matter together
 * each look small) and depends on the reference point, but it is exact for what it claims and cheap
 * for a 50-tree model. Configure with `explainTopK` (default 3; 0 turns it off).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { FeatureContribution, ScoreContribution, ShadowScore } from '../schemas/types.js';
import type { Processor, ProcessorContext } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import type { CanarySlot, LoadedModel, ModelRegistry, ModelSet } from './modelRegistry.js';
import type { RiskContext } from './types.js';

export const ScoringConfig = z.object({
  /** Features reported per explained decision; 0 turns explanations (and their extra run) off. */
  explainTopK: z.number().int().min(0).max(100).default(3),
  /** Tree contributions kept per scored decision (`contributions`, from the model's trees); 0 turns them off. */
  contributionsTopK: z.number().int().min(0).max(100).default(3),
});
export type ScoringConfigInput = z.input<typeof ScoringConfig>;

export const ScoringReasonCodes = {
  unavailable: 'MODEL_UNAVAILABLE',
  error: 'MODEL_ERROR',
  featuresMissing: 'MODEL_FEATURES_MISSING',
} as const;

/** The card's position in [0, 1) for a canary version: stable per (version, card), uniform over cards. */
export function canaryBucket(canaryVersion: string, cardToken: string): number {
  const digest = createHash('sha256').update(canaryVersion).update('\n').update(cardToken).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

export function routesToCanary(canary: CanarySlot, cardToken: string): boolean {
  return canaryBucket(canary.model.version, cardToken) < canary.share;
}

/** Rows of one model's input matrix and which records they belong to. */
export interface Matrix {
  model: LoadedModel;
  /** Record index (in the batch) of each row. */
  records: number[];
  data: Float32Array;
  /** Records the model cannot take (a feature missing and the model cannot handle NaN). */
  unrepresentable: number[];
}

/**
 * The model's input matrix for the records at `indices`, in the model's column order; a missing or
 * non-finite feature is NaN for a model that handles missing values, else the record cannot be
 * scored. Also what the release gates score with (lifecycle/gates.ts), so that a candidate is judged
 * on exactly the rows the hot path would give it.
 */
export function buildMatrix(model: LoadedModel, featuresOf: (index: number) => { readonly [feature: string]: number }, indices: readonly number[]): Matrix {
  const width = model.featureNames.length;
  const data = new Float32Array(indices.length * width);
  const records: number[] = [];
  const unrepresentable: number[] = [];
  for (const index of indices) {
    const features = featuresOf(index);
    const offset = records.length * width;
    let complete = true;
    for (let j = 0; j < width; j++) {
      const v = features[model.featureNames[j]!];
      if (v === undefined || !Number.isFinite(v)) {
        if (!model.handlesMissing) {
          complete = false;
          break;
        }
        data[offset + j] = Number.NaN;
      } else {
        data[offset + j] = v;
      }
    }
    if (complete) records.push(index);
    else unrepresentable.push(index);
  }
  const used = records.length * width;
  return { model, records, unrepresentable, data: used === data.length ? data : data.slice(0, used) };
}

export class ScoringProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private held: Record<string, RiskContext>[] = [];
  private readonly config: z.output<typeof ScoringConfig>;

  constructor(
    private readonly registry: ModelRegistry,
    config: ScoringConfigInput = {},
  ) {
    this.config = ScoringConfig.parse(config);
  }

  init(context: ProcessorContext<string, RiskContext>): void {
    this.ctx = context;
  }

  process(record: Record<string, RiskContext>): void {
    if (record.value === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    this.held.push(record);
  }

  async flush(): Promise<void> {
    if (this.held.length === 0) return;
    const batch = this.held;
    this.held = [];
    const lease = this.registry.lease();
    let contexts: RiskContext[];
    try {
      contexts = await this.scoreBatch(batch.map((r) => r.value), lease.models);
    } finally {
      lease.release();
    }
    for (let i = 0; i < batch.length; i++) this.ctx.forward({ ...batch[i]!, value: contexts[i]! });
  }

  close(): void {
    if (this.held.length > 0) this.ctx.logger.warn({ held: this.held.length }, 'scorer closed with unscored records; they are re-read from the uncommitted offsets');
  }

  private async scoreBatch(inputs: readonly RiskContext[], models: ModelSet): Promise<RiskContext[]> {
    const contexts = inputs.map((c) => ({ ...c, reasonCodes: [...c.reasonCodes], shadowScores: [...c.shadowScores], topContributions: [...c.topContributions], contributions: null as ScoreContribution[] | null }));
    const all = contexts.map((_, i) => i);

    const deciding = new Map<LoadedModel, number[]>();
    for (const i of all) {
      const { canary, champion } = models;
      const model = canary && routesToCanary(canary, contexts[i]!.txn.cardToken) ? canary.model : champion;
      if (model === null) contexts[i]!.reasonCodes.push(ScoringReasonCodes.unavailable);
      else {
        const indices = deciding.get(model);
        if (indices) indices.push(i);
        else deciding.set(model, [i]);
      }
    }

    const featuresOf = (index: number): { readonly [feature: string]: number } => contexts[index]!.features;
    const decidingRuns = [...deciding].map(([model, indices]) => this.run(buildMatrix(model, featuresOf, indices)));
    const shadowRuns = models.shadows.map((model) => this.run(buildMatrix(model, featuresOf, all)));
    const [decided, shadowed] = await Promise.all([Promise.all(decidingRuns), Promise.all(shadowRuns)]);

    // Applied only after every run settled, in a fixed order, so that the output does not depend
    // on which run finished first.
    for (const { matrix, scores } of decided) {
      for (const i of matrix.unrepresentable) contexts[i]!.reasonCodes.push(ScoringReasonCodes.featuresMissing);
      if (scores === null) {
        for (const i of matrix.records) contexts[i]!.reasonCodes.push(ScoringReasonCodes.error);
        continue;
      }
      const { explainer, featureNames } = matrix.model;
      const k = this.config.contributionsTopK;
      matrix.records.forEach((i, row) => {
        contexts[i]!.score = scores[row]!;
        contexts[i]!.modelVersion = matrix.model.version;
        if (explainer !== null && k > 0) contexts[i]!.contributions = explainer.top(matrix.data, row * featureNames.length, k);
      });
    }
    for (const { matrix, scores } of shadowed) {
      if (scores === null) continue;
      matrix.records.forEach((i, row) => {
        const shadow: ShadowScore = { modelVersion: matrix.model.version, score: scores[row]! };
        contexts[i]!.shadowScores.push(shadow);
      });
    }

    if (this.config.explainTopK > 0) {
      const explained = await Promise.all(decided.map(({ matrix, scores }) => (scores === null ? null : this.explain(matrix, scores, contexts))));
      for (const result of explained) {
        for (const [i, contributions] of result ?? []) contexts[i]!.topContributions = contributions;
      }
    }
    return contexts;
  }

  /** One inference call; a failure is logged and answered with null (the caller falls back). */
  private async run(matrix: Matrix): Promise<{ matrix: Matrix; scores: Float32Array | null }> {
    if (matrix.records.length === 0) return { matrix, scores: null };
    try {
      return { matrix, scores: await this.registry.score(matrix.model, matrix.data, matrix.records.length) };
    } catch (error) {
      this.ctx.logger.error({ modelVersion: matrix.model.version, rows: matrix.records.length, err: error }, 'model inference failed; these records are decided without its score');
      return { matrix, scores: null };
    }
  }

  private needsExplanation(risk: RiskContext, model: LoadedModel): boolean {
    return (risk.score !== null && risk.score >= model.thresholds.review) || risk.ruleHits.some((h) => h.action !== 'ALLOW');
  }

  /** Occlusion contributions for the records of `matrix` that need them, in one run. */
  private async explain(matrix: Matrix, scores: Float32Array, contexts: readonly RiskContext[]): Promise<Map<number, FeatureContribution[]>> {
    const result = new Map<number, FeatureContribution[]>();
    const { model } = matrix;
    const reference = model.referenceValues;
    if (reference === null) return result;
    const width = model.featureNames.length;
    const perturbed: { record: number; row: number; feature: number }[] = [];
    const rows: Float32Array[] = [];
    matrix.records.forEach((i, row) => {
      const risk = contexts[i]!;
      if (!this.needsExplanation(risk, model)) return;
      const base = matrix.data.subarray(row * width, (row + 1) * width);
      for (let j = 0; j < width; j++) {
        const name = model.featureNames[j]!;
        const ref = reference[name];
        // Only features the record has (topContributions names keys of the decision's features).
        if (ref === undefined || !Number.isFinite(risk.features[name])) continue;
        if (Math.fround(ref) === base[j]) continue;
        const copy = base.slice();
        copy[j] = ref;
        rows.push(copy);
        perturbed.push({ record: i, row, feature: j });
      }
    });
    if (rows.length === 0) return result;
    const data = new Float32Array(rows.length * width);
    rows.forEach((r, k) => data.set(r, k * width));
    let moved: Float32Array;
    try {
      moved = await this.registry.score(model, data, rows.length);
    } catch (error) {
      this.ctx.logger.warn({ modelVersion: model.version, rows: rows.length, err: error }, 'explanation run failed; decisions go out without contributions');
      return result;
    }
    const byRecord = new Map<number, { feature: number; contribution: number }[]>();
    perturbed.forEach((p, k) => {
      const contribution = scores[p.row]! - moved[k]!;
      if (contribution === 0) return;
      const list = byRecord.get(p.record);
      if (list) list.push({ feature: p.feature, contribution });
      else byRecord.set(p.record, [{ feature: p.feature, contribution }]);
    });
    for (const [record, list] of byRecord) {
      list.sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || a.feature - b.feature);
      result.set(record, list.slice(0, this.config.explainTopK).map((c) => ({ feature: model.featureNames[c.feature]!, contribution: c.contribution })));
    }
    return result;
  }
}
