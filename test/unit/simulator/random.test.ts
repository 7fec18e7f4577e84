/**
 * The simulator's PRNG: xoshiro128** against the reference algorithm, seeding and derived streams,
 * and the distributions the generative process relies on.
 */
import { describe, expect, it } from 'vitest';
import { Random } from '../../../simulator/random.js';

describe('Random (xoshiro128**)', () => {
  it('follows the reference algorithm from state (1, 2, 3, 4)', () => {
    // Worked by hand from Blackman & Vigna's xoshiro128starstar.c:
    //  1) result = rotl(2·5, 7)·9 = 1280·9 = 11520; then t = 2<<9 = 1024, s2 = 3^1 = 2, s3 = 4^2 = 6,
    //     s1 = 2^2 = 0, s0 = 1^6 = 7, s2 = 2^1024 = 1026, s3 = rotl(6, 11) = 12288.
    //  2) result = rotl(0·5, 7)·9 = 0; then s2 = 1026^7 = 1029, s3 = 12288, s1 = 1029, s0 = 7^12288 = 12295,
    //     s3 = rotl(12288, 11) = 25165824.
    //  3) result = rotl(1029·5, 7)·9 = 5145·128·9 = 5927040.
    const rng = Random.fromState(1, 2, 3, 4);
    expect([rng.nextUint32(), rng.nextUint32(), rng.nextUint32()]).toEqual([11520, 0, 5927040]);
  });

  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const draw = (seed: number) => {
      const r = new Random(seed);
      return Array.from({ length: 8 }, () => r.nextUint32());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    // Seed 0 must not be a degenerate all-zero state (xoshiro would output zeros forever).
    expect(draw(0).some((x) => x !== 0)).toBe(true);
  });

  it('derives independent, reproducible streams per label', () => {
    const root = new Random(7);
    const a1 = root.derive('legit').nextUint32();
    const a2 = new Random(7).derive('legit').nextUint32();
    const b = root.derive('fraud:card_testing').nextUint32();
    expect(a1).toBe(a2);
    expect(a1).not.toBe(b);
    // Deriving does not consume the parent's stream.
    const parent = new Random(7);
    parent.derive('x');
    expect(parent.nextUint32()).toBe(new Random(7).nextUint32());
  });

  it('draws uniform, normal, lognormal and Poisson values with the right moments', () => {
    const rng = new Random(2024);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    let uniformSum = 0;
    const logs: number[] = [];
    let poissonSmall = 0;
    let poissonLarge = 0;
    for (let i = 0; i < n; i++) {
      const z = rng.normal();
      sum += z;
      sumSq += z * z;
      uniformSum += rng.next();
      logs.push(rng.lognormal(20, 0.5));
      poissonSmall += rng.poisson(2.5);
      poissonLarge += rng.poisson(80);
    }
    // Standard errors: mean 1/sqrt(n) ≈ 0.003, so 0.02 is more than 6 of them.
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.abs(sumSq / n - 1)).toBeLessThan(0.02);
    expect(Math.abs(uniformSum / n - 0.5)).toBeLessThan(0.005);
    logs.sort((a, b) => a - b);
    // Lognormal(median 20): the sample median within 1 %.
    expect(Math.abs(logs[n / 2]! / 20 - 1)).toBeLessThan(0.01);
    expect(Math.abs(poissonSmall / n - 2.5)).toBeLessThan(0.03);
    expect(Math.abs(poissonLarge / n - 80)).toBeLessThan(0.3);
  });

  it('draws integers inclusively and by weight', () => {
    const rng = new Random(3);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(rng.int(1, 3));
    expect([...seen].sort()).toEqual([1, 2, 3]);
    const counts = [0, 0, 0];
    for (let i = 0; i < 60_000; i++) counts[rng.weightedIndex([1, 0, 2])]!++;
    expect(counts[1]).toBe(0);
    // 1:2 split of 60 000: expected 20 000 / 40 000, standard deviation ≈ 115.
    expect(Math.abs(counts[0]! - 20_000)).toBeLessThan(700);
  });
});
