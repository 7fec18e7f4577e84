import { describe, expect, it } from 'vitest';
import { binCounts, binIndex, psi, PSI_EPSILON } from '../../../ops/psi.js';

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
