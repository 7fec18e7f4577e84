import { describe, expect, it } from 'vitest';
import { keyBytes, keyString, prefixEnd, readUint64BE, successor, writeUint64BE } from '../../../state/bytes.js';

/** Small deterministic PRNG so that a failure reproduces. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('byte-order helpers', () => {
  it('latin1 key strings sort exactly like unsigned bytes, and round-trip', () => {
    const random = mulberry32(42);
    const keys = Array.from({ length: 500 }, () =>
      Buffer.from(Array.from({ length: Math.floor(random() * 6) }, () => Math.floor(random() * 256))),
    );
    const byBytes = [...keys].sort(Buffer.compare).map((k) => k.toString('hex'));
    const byStrings = keys
      .map(keyString)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      .map((k) => keyBytes(k).toString('hex'));
    expect(byStrings).toEqual(byBytes);
  });

  it('successor is the smallest key after a key', () => {
    const key = Buffer.from('ab');
    const next = successor(key);
    expect(next).toEqual(Buffer.from('ab\x00'));
    expect(Buffer.compare(key, next)).toBe(-1);
    // Nothing fits between: any key greater than 'ab' is >= 'ab\0'.
    for (const other of ['ab\x00', 'ab\x01', 'ac', 'b']) expect(Buffer.compare(Buffer.from(other), next)).toBeGreaterThanOrEqual(0);
  });

  it('prefixEnd bounds every key with the prefix and nothing else', () => {
    expect(prefixEnd(Buffer.from([0x61, 0x62]))).toEqual(Buffer.from([0x61, 0x63]));
    expect(prefixEnd(Buffer.from([0x61, 0xff, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).toBeUndefined();
    expect(prefixEnd(Buffer.alloc(0))).toBeUndefined();
  });

  it('encodes non-negative safe integers as 8 bytes whose order is numeric', () => {
    const values = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, 1_700_000_000_000, Number.MAX_SAFE_INTEGER];
    const encoded = values.map((v) => {
      const out = Buffer.alloc(8);
      writeUint64BE(out, v, 0);
      expect(out.readBigUInt64BE(0)).toBe(BigInt(v));
      expect(readUint64BE(out, 0)).toBe(v);
      return out;
    });
    expect([...encoded].sort(Buffer.compare)).toEqual(encoded);
  });
});
