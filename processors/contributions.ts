/**
 * Per-decision feature contributions of a tree model's score, from the trees the trainer exports
 * with the model (ONNX metadata `riskloop_trees`, copied to `<version>.trees.json` beside it;
 * training/riskloop_training/explain.py).
 *
 * Method: path-based attribution (Saabas). Each tree node carries the mean output of the training
 * rows that reached it; walking a row's path through a tree, the split feature of each node is
 * credited with child value − node value. Along a path these differences telescope to leaf − root,
 * so for every decision
 *
 *     baseValue + Σ contributions = the model's raw score (calibrated log-odds), and
 *     sigmoid(that) = the probability the ONNX graph computes,
 *
 * exactly (up to float rounding), which makes the numbers auditable. Units are log-odds: +0.7 means
 * the feature's value roughly doubled the odds of fraud relative to the average training row.
 *
 * Why Saabas and not TreeSHAP: the hot path pays per decision (issue 17 is about CPU per decision).
 * Saabas costs one root-to-leaf walk per tree — O(trees × depth), the same walk the model itself
 * makes — so it can run on every scored decision; TreeSHAP is O(trees × leaves × depth²), about
 * leaves × depth times more. Saabas over-credits splits near the root and depends on the order of
 * features on a path (it is not consistent in SHAP's sense); the model card's mean |SHAP| per
 * feature (computed offline with LightGBM's TreeSHAP) is the global view, these are the per-decision
 * view. Measured cost: see docs/training.md.
 *
 * Missing values follow LightGBM's numerical split rule (tree.h NumericalDecision): a NaN goes to
 * the node's default side when the node's missing type is NaN; with missing type None it is read
 * as 0; with missing type Zero, NaN and (near-)zero go to the default side. Categorical splits are
 * not supported (the trainer uses none); a file with one is refused at load.
 */
import { z } from 'zod';
import type { ScoreContribution } from '../schemas/types.js';

export const TREES_FORMAT = 'riskloop-trees-1';
/** ONNX metadata key of the trees document (training/riskloop_training/explain.py). */
export const TREES_METADATA_KEY = 'riskloop_trees';

const MissingType = z.enum(['None', 'Zero', 'NaN']);

/**
 * One check per node array rather than zod's per element: a 5-booster bag has ~10^5 nodes, and
 * element-wise schemas took 26-32 ms cold per 0.8 MB of trees, on the event loop while a release
 * is applied (decisions wait meanwhile). Same rules, one message per array.
 */
const arrayOf = <T>(what: string, ok: (x: unknown) => boolean) =>
  z.custom<T[]>((v) => Array.isArray(v) && v.every(ok), `must be an array of ${what}`);
const isNumber = (x: unknown): boolean => typeof x === 'number' && !Number.isNaN(x);
const isNodeIndex = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= -1;
const MISSING: ReadonlySet<unknown> = new Set(MissingType.options);

const TreeNodes = z
  .object({
    feature: arrayOf<number>('integers >= -1', isNodeIndex),
    threshold: arrayOf<number>('numbers', isNumber),
    defaultLeft: arrayOf<boolean>('booleans', (x) => typeof x === 'boolean'),
    missing: arrayOf<z.output<typeof MissingType>>(`${MissingType.options.join(' | ')}`, (x) => MISSING.has(x)),
    left: arrayOf<number>('integers >= -1', isNodeIndex),
    right: arrayOf<number>('integers >= -1', isNodeIndex),
    value: arrayOf<number>('numbers', isNumber),
  })
  .refine((t) => t.feature.length > 0 && [t.threshold, t.defaultLeft, t.missing, t.left, t.right, t.value].every((a) => a.length === t.feature.length), 'node arrays must be non-empty and of equal length');

export const TreesDocument = z.object({
  format: z.literal(TREES_FORMAT),
  modelVersion: z.string().min(1),
  featureNames: z.array(z.string()).min(1),
  baseValue: z.number(),
  trees: z.array(TreeNodes).min(1),
});
export type TreesDocument = z.output<typeof TreesDocument>;

export type { ScoreContribution };

/** Reason-code prefix for a feature among a decision's top positive contributions. */
export const MODEL_TOP_FEATURE = 'MODEL_TOP_FEATURE:';

const MISSING_CODE = { None: 0, Zero: 1, NaN: 2 } as const;
// LightGBM's kZeroThreshold.
const ZERO_THRESHOLD = 1e-35;

export class TreeExplainer {
  private readonly scratch: Float64Array;

  private constructor(
    readonly featureNames: readonly string[],
    readonly baseValue: number,
    private readonly roots: Int32Array,
    private readonly feature: Int32Array,
    private readonly threshold: Float64Array,
    private readonly defaultLeft: Uint8Array,
    private readonly missing: Uint8Array,
    private readonly left: Int32Array,
    private readonly right: Int32Array,
    private readonly value: Float64Array,
  ) {
    this.scratch = new Float64Array(featureNames.length);
  }

  /**
   * Validates a trees document against the model's input order and packs it into flat arrays.
   * Throws with the reason when it does not fit (the caller then runs without contributions).
   */
  static fromDocument(input: unknown, modelFeatureNames: readonly string[]): TreeExplainer {
    const doc = TreesDocument.parse(input);
    if (JSON.stringify(doc.featureNames) !== JSON.stringify(modelFeatureNames)) {
      throw new Error(`trees file features ${JSON.stringify(doc.featureNames)} differ from the model's ${JSON.stringify(modelFeatureNames)}`);
    }
    const total = doc.trees.reduce((n, t) => n + t.feature.length, 0);
    const roots = new Int32Array(doc.trees.length);
    const feature = new Int32Array(total);
    const threshold = new Float64Array(total);
    const defaultLeft = new Uint8Array(total);
    const missing = new Uint8Array(total);
    const left = new Int32Array(total);
    const right = new Int32Array(total);
    const value = new Float64Array(total);
    let offset = 0;
    doc.trees.forEach((tree, t) => {
      roots[t] = offset;
      const size = tree.feature.length;
      for (let i = 0; i < size; i++) {
        const at = offset + i;
        const f = tree.feature[i]!;
        if (f >= modelFeatureNames.length) throw new Error(`tree ${t} node ${i}: feature index ${f} out of range`);
        feature[at] = f;
        threshold[at] = tree.threshold[i]!;
        defaultLeft[at] = tree.defaultLeft[i]! ? 1 : 0;
        missing[at] = MISSING_CODE[tree.missing[i]!];
        value[at] = tree.value[i]!;
        if (f >= 0) {
          const l = tree.left[i]!;
          const r = tree.right[i]!;
          // Children after their parent (pre-order) and inside the tree: every walk ends at a leaf.
          if (!(l > i && l < size && r > i && r < size)) throw new Error(`tree ${t} node ${i}: children ${l}, ${r} are not later nodes of the tree`);
          left[at] = offset + l;
          right[at] = offset + r;
        } else {
          left[at] = right[at] = -1;
        }
      }
      offset += size;
    });
    return new TreeExplainer(Object.freeze([...modelFeatureNames]), doc.baseValue, roots, feature, threshold, defaultLeft, missing, left, right, value);
  }

  private next(node: number, x: number): number {
    const missing = this.missing[node]!;
    let v = x;
    if (Number.isNaN(v) && missing !== MISSING_CODE.NaN) v = 0;
    const toDefault = (missing === MISSING_CODE.Zero && v > -ZERO_THRESHOLD && v <= ZERO_THRESHOLD) || (missing === MISSING_CODE.NaN && Number.isNaN(v));
    if (toDefault) return this.defaultLeft[node]! ? this.left[node]! : this.right[node]!;
    return v <= this.threshold[node]! ? this.left[node]! : this.right[node]!;
  }

  /**
   * Per-feature contributions (model input order) for one row of `width` features starting at
   * `offset` in `data`; written into `out` (zeroed first). Returns the raw score
   * baseValue + Σ contributions.
   */
  contributionsInto(data: ArrayLike<number>, offset: number, out: Float64Array): number {
    out.fill(0);
    const { feature, value, roots } = this;
    let raw = this.baseValue;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      let f = feature[node]!;
      while (f >= 0) {
        const child = this.next(node, data[offset + f]!);
        const delta = value[child]! - value[node]!;
        out[f]! += delta;
        raw += delta;
        node = child;
        f = feature[node]!;
      }
    }
    return raw;
  }

  /** The `k` largest contributions by magnitude (ties: input order), zero ones left out. */
  top(data: ArrayLike<number>, offset: number, k: number): ScoreContribution[] {
    const c = this.scratch;
    this.contributionsInto(data, offset, c);
    const order: number[] = [];
    for (let j = 0; j < c.length; j++) if (c[j] !== 0) order.push(j);
    order.sort((a, b) => Math.abs(c[b]!) - Math.abs(c[a]!) || a - b);
    return order.slice(0, k).map((j) => {
      const x = data[offset + j]!;
      return { feature: this.featureNames[j]!, value: Number.isNaN(x) ? null : x, contribution: c[j]! };
    });
  }
}

/** MODEL_TOP_FEATURE:<feature> for each contribution that raised the score, largest first. */
export function modelReasonCodes(contributions: readonly ScoreContribution[] | null): string[] {
  return (contributions ?? []).filter((c) => c.contribution > 0).map((c) => `${MODEL_TOP_FEATURE}${c.feature}`);
}
