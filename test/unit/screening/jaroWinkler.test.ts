/**
 * Jaro–Winkler against published values: Winkler's own examples (1990, as tabled in the Census
 * record-linkage literature and on Wikipedia), rounded to three places there.
 */
import { describe, expect, it } from 'vitest';
import { jaro, jaroWinkler } from '../../../screening/jaroWinkler.js';

describe('Jaro–Winkler', () => {
  it.each([
    ['MARTHA', 'MARHTA', 0.944, 0.961],
    ['DWAYNE', 'DUANE', 0.822, 0.84],
    ['DIXON', 'DICKSONX', 0.767, 0.813],
    // The common prefix is capped at 4 letters: 0.982 here, 0.985 with a prefix of 5.
    ['SHACKLEFORD', 'SHACKELFORD', 0.970, 0.982],
    ['JONES', 'JOHNSON', 0.790, 0.832],
    ['MASSEY', 'MASSIE', 0.889, 0.933],
    ['JON', 'JOHN', 0.917, 0.933],
  ])('%s / %s: jaro %f, jaro-winkler %f', (a, b, j, jw) => {
    expect(jaro(a, b)).toBeCloseTo(j, 3);
    expect(jaroWinkler(a, b)).toBeCloseTo(jw, 3);
    expect(jaroWinkler(b, a)).toBeCloseTo(jw, 3);
  });

  it('is 1 for equal strings, 0 for nothing in common or an empty side', () => {
    expect(jaroWinkler('putin', 'putin')).toBe(1);
    expect(jaroWinkler('abc', 'xyz')).toBe(0);
    expect(jaroWinkler('', 'abc')).toBe(0);
  });
});
