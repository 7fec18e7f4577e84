/**
 * Mean and variance of amounts, kept per bucket and merged across buckets. Welford's update for one
 * value and Chan et al.'s pairwise merge: unlike sum/sum-of-squares, they do not cancel
 * catastrophically (amounts in minor units squared reach 10^18 and beyond, past a double's 2^53
 * of exact integers). Hand-written: two formulas, and the stores need the plain numbers anyway.
 */

export interface RunningStats {
  n: number;
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
}

export const EMPTY_STATS: RunningStats = Object.freeze({ n: 0, mean: 0, m2: 0 });

export function addValue(s: RunningStats, x: number): RunningStats {
  const n = s.n + 1;
  const delta = x - s.mean;
  const mean = s.mean + delta / n;
  return { n, mean, m2: s.m2 + delta * (x - mean) };
}

export function mergeStats(a: RunningStats, b: RunningStats): RunningStats {
  if (a.n === 0) return { n: b.n, mean: b.mean, m2: b.m2 };
  if (b.n === 0) return { n: a.n, mean: a.mean, m2: a.m2 };
  const n = a.n + b.n;
  const delta = b.mean - a.mean;
  return { n, mean: a.mean + (delta * b.n) / n, m2: a.m2 + b.m2 + (delta * delta * a.n * b.n) / n };
}

/** Sample standard deviation (n − 1: the history is a sample of the account's behaviour); null below 2 values. */
export function sampleStd(s: RunningStats): number | null {
  return s.n < 2 ? null : Math.sqrt(Math.max(0, s.m2) / (s.n - 1));
}
