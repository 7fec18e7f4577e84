/**
 * Population stability index of a live sample against a reference histogram from training.
 *
 *   PSI = Σ_i (a_i − e_i) · ln(a_i / e_i)
 *
 * with e_i the reference share of bin i and a_i the live share. Conventional reading: < 0.1
 * stable, 0.1–0.2 moderate shift, > 0.2 significant shift (hence the default alert threshold).
 * Written by hand: it is a dozen lines and no maintained npm package computes it against
 * externally supplied bin edges.
 */
import type { ReferenceHistogram } from '../schemas/types.js';

/**
 * Empty bins would make ln(a/e) infinite; both shares are floored at this value. 1e-4 is the usual
 * choice: small enough not to hide a bin that truly emptied, large enough to keep one empty bin
 * from dominating the sum.
 */
export const PSI_EPSILON = 1e-4;

/**
 * Bin of a value: edges[i] <= v < edges[i + 1]. Values below the first edge count in the first bin
 * and values at or above the last edge in the last one, because training's range is not a hard
 * limit of live traffic and an out-of-range value is exactly the drift we want to see.
 */
export function binIndex(edges: readonly number[], value: number): number {
  const bins = edges.length - 1;
  if (bins <= 1) return 0;
  // Binary search for the last edge <= value among the inner edges 1 … bins-1.
  let lo = 0;
  let hi = bins - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (value >= edges[mid]!) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export function psi(reference: readonly number[], counts: readonly number[]): number {
  if (reference.length !== counts.length) throw new Error(`PSI needs as many bins as the reference (${reference.length}), got ${counts.length}`);
  const n = counts.reduce((s, c) => s + c, 0);
  if (n === 0) return 0;
  let sum = 0;
  for (let i = 0; i < reference.length; i++) {
    const e = Math.max(reference[i]!, PSI_EPSILON);
    const a = Math.max(counts[i]! / n, PSI_EPSILON);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

/** Bins a sample against a reference's edges: counts per bin. */
export function binCounts(reference: ReferenceHistogram, values: Iterable<number>): number[] {
  const counts = new Array<number>(reference.proportions.length).fill(0);
  for (const v of values) counts[binIndex(reference.edges, v)]!++;
  return counts;
}

/**
 * Equal-frequency (quantile) reference histogram of a sample, as the trainer stores it
 * (training/riskloop_training/reference.py): an inner edge is the midpoint of the gap its quantile
 * falls in, never a sample value, so a live value a rounding step off a common training value
 * (float32 vs float64, another onnxruntime build) stays in that value's bin.
 */
export function referenceFromSample(values: readonly number[], bins: number): ReferenceHistogram {
  const sorted = [...values].sort((a, b) => a - b);
  const edges: number[] = [sorted[0]!];
  for (let i = 1; i < bins; i++) {
    const at = Math.floor((i * sorted.length) / bins);
    const q = sorted[at]!;
    // The largest value below q: the gap between it and q is where the edge goes.
    let below = at - 1;
    while (below >= 0 && sorted[below]! === q) below--;
    if (below < 0) continue;
    const mid = (sorted[below]! + q) / 2;
    const edge = mid > sorted[below]! && mid < q ? mid : q;
    if (edge > edges[edges.length - 1]!) edges.push(edge);
  }
  edges.push(sorted[sorted.length - 1]! + 1e-9);
  const ref: ReferenceHistogram = { edges, proportions: [] };
  const counts = binCounts({ edges, proportions: new Array<number>(edges.length - 1).fill(0) }, sorted);
  ref.proportions = counts.map((c) => c / sorted.length);
  return ref;
}
