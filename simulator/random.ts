/**
 * The simulator's only source of randomness: a seeded xoshiro128** generator and the few
 * distributions the generative process draws from.
 *
 * Hand-written on purpose (about forty lines): xoshiro128** (Blackman & Vigna, 2018) is a
 * published, well-tested 32-bit generator that needs nothing but Math.imul and shifts, and owning
 * it means no dependency update can ever change a seed's output. SplitMix32 expands the seed into
 * the 128-bit state, as the authors recommend. Not cryptographic, and it does not need to be.
 *
 * `derive(label)` gives an independent stream per purpose (population, legit spending, each fraud
 * pattern, labels), so that adding a draw to one part of the process does not shift every number
 * drawn after it elsewhere: a change to the card-testing pattern leaves the legit traffic of the
 * same seed byte-identical.
 *
 * Math.log/exp/cos are used by the continuous distributions. V8 computes them with its own fdlibm
 * port, so outputs are identical across machines for one Node version; a different engine could
 * in principle differ in the last bit of a double.
 */

const TWO_POW_32 = 4294967296;

function splitMix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over the label's UTF-16 code units: enough to spread labels over 32 bits. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Box-Muller draws normals in pairs; the second one waits here. */
  private spareNormal: number | undefined;

  constructor(readonly seed: number) {
    const state = { s: seed | 0 };
    this.a = splitMix32(state);
    this.b = splitMix32(state);
    this.c = splitMix32(state);
    this.d = splitMix32(state);
  }

  /** A generator with the given 128-bit state, to check it against the reference implementation. */
  static fromState(a: number, b: number, c: number, d: number): Random {
    const rng = new Random(0);
    rng.a = a | 0;
    rng.b = b | 0;
    rng.c = c | 0;
    rng.d = d | 0;
    return rng;
  }

  /** An independent stream for one purpose, fixed by this stream's seed and the label. */
  derive(label: string): Random {
    return new Random((Math.imul(this.seed ^ 0x5bd1e995, 0x27d4eb2d) ^ hashLabel(label)) | 0);
  }

  /** Uniform 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result >>> 0;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Uniform integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** An index drawn with probability proportional to its weight (weights need not sum to 1). */
  weightedIndex(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    // Rounding can leave r at a hair above 0 after the last weight.
    return weights.length - 1;
  }

  weighted<T>(items: readonly T[], weightOf: (item: T) => number): T {
    return items[this.weightedIndex(items.map(weightOf))]!;
  }

  /** Standard normal (Box-Muller, trigonometric form). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const z = this.spareNormal;
      this.spareNormal = undefined;
      return z;
    }
    // 1 - next() is in (0, 1]: log never sees 0.
    const r = Math.sqrt(-2 * Math.log(1 - this.next()));
    const theta = 2 * Math.PI * this.next();
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Lognormal given by its median and the standard deviation of its log. */
  lognormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  exponential(mean: number): number {
    return -mean * Math.log(1 - this.next());
  }

  /**
   * Poisson count. Knuth's product method for small means (exact); above 30 the normal
   * approximation with continuity correction, which is within a fraction of a percent there and
   * keeps the cost constant for the large means of whole-run incident counts.
   */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  /** `length` lowercase hex characters. */
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += this.nextUint32().toString(16).padStart(8, '0');
    return out.slice(0, length);
  }
}
