import { describe, expect, it } from 'vitest';
import { binCounts, binIndex, psi, PSI_EPSILON, referenceFromSample } from '../../../ops/psi.js';

describe('psi', () => {
  it('bins with edges[i] <= v < edges[i+1], out-of-range values in the end bins', () => {
    const edges = [0, 1, 2, 3];
    expect([-5, 0, 0.999, 1, 2.5, 3, 99].map((v) => binIndex(edges, v))).toEqual([0, 0, 0, 1, 2, 2, 2]);
    expect(binCounts({ edges, proportions: [0, 0, 0] }, [0.5, 1.5, 1.7, 10])).toEqual([1, 2, 1]);
  });

  it('is 0 for an identical distribution and matches the formula by hand', () => {
    expect(psi([0.5, 0.5], [10, 10])).toBe(0);
    // live 0.8/0.2 vs ref 0.5/0.5: (0.3)ln(1.6) + (-0.3)ln(0.4) = 0.3·(0.47000363 + 0.91629073) = 0.41588831
    expect(psi([0.5, 0.5], [80, 20])).toBeCloseTo(0.3 * Math.log(1.6) - 0.3 * Math.log(0.4), 12);
    expect(psi([0.5, 0.5], [80, 20])).toBeCloseTo(0.41588831, 7);
  });

  it('floors empty bins at epsilon instead of going infinite', () => {
    const expected = (1 - 0.5) * Math.log(1 / 0.5) + (PSI_EPSILON - 0.5) * Math.log(PSI_EPSILON / 0.5);
    expect(psi([0.5, 0.5], [7, 0])).toBeCloseTo(expected, 12);
    expect(() => psi([1], [1, 2])).toThrow(/bins/);
  });
});

describe('referenceFromSample', () => {
  it('puts edges in the gaps between values, so a common value a rounding step off stays in its bin', () => {
    // 60 % on one value: the quantile edges land on it; the edge must not.
    const sample = [...Array<number>(20).fill(0.1), ...Array<number>(60).fill(0.5), ...Array.from({ length: 20 }, (_, i) => 0.6 + i / 100)];
    const ref = referenceFromSample(sample, 10);
    expect(ref.edges.slice(1, -1).filter((e) => sample.includes(e))).toEqual([]);
    expect(ref.proportions[0]).toBeCloseTo(0.2, 12);
    expect(ref.proportions[1]).toBeCloseTo(0.6, 12);
    expect(psi(ref.proportions, binCounts(ref, sample))).toBe(0);
    // 0.5 read back as float32 (0.5 exactly) and 0.1 as float32 (0.10000000149: above 0.1), and
    // every value a float32 step lower: the same bins.
    expect(psi(ref.proportions, binCounts(ref, sample.map((v) => Math.fround(v))))).toBe(0);
    expect(psi(ref.proportions, binCounts(ref, sample.map((v) => v - 2 ** -23)))).toBe(0);
  });
});
