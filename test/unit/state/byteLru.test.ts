/** The byte-bounded LRU both state caches keep (state/byteLru.ts): its two bounds, its order, and the value too heavy to keep. */
import { describe, expect, it } from 'vitest';
import { ByteBoundedLru } from '../../../state/byteLru.js';

describe('ByteBoundedLru', () => {
  it('evicts the least recently used past its entry count, a hit counting as a use', () => {
    const lru = new ByteBoundedLru<string>(2);
    lru.set('a', 'A', 1);
    lru.set('b', 'B', 1);
    expect(lru.get('a')?.value).toBe('A');
    lru.set('c', 'C', 1);
    expect([lru.get('a')?.value, lru.get('b'), lru.get('c')?.value]).toEqual(['A', undefined, 'C']);
    expect([lru.size, lru.bytes]).toEqual([2, 2]);
  });

  it('evicts past its byte budget, re-weighs a replaced value, and keeps nothing heavier than the budget', () => {
    const lru = new ByteBoundedLru<number>(100, 10);
    lru.set('a', 1, 4);
    lru.set('b', 2, 4);
    lru.set('a', 3, 2);
    expect(lru.bytes).toBe(6);
    lru.set('c', 4, 5);
    expect([lru.get('b'), lru.get('a')?.value, lru.get('c')?.value, lru.bytes]).toEqual([undefined, 3, 4, 7]);
    lru.set('huge', 5, 11);
    expect([lru.get('huge'), lru.size, lru.bytes]).toEqual([undefined, 2, 7]);
    // A null value is a value (the write cache remembers misses), distinct from absence.
    const misses = new ByteBoundedLru<Buffer | null>(10, 10);
    misses.set('gone', null, 0);
    expect(misses.get('gone')?.value).toBeNull();
    expect(misses.get('never')).toBeUndefined();
  });

  it('deletes a key range and clears, keeping its byte count right; holds nothing at zero entries', () => {
    const lru = new ByteBoundedLru<string>(10);
    for (const k of ['k1', 'k2', 'k3', 'x1']) lru.set(k, k, 3);
    lru.deleteRange('k2', 'k9');
    expect([lru.size, lru.bytes, lru.get('k1')?.value, lru.get('x1')?.value]).toEqual([2, 6, 'k1', 'x1']);
    lru.clear();
    expect([lru.size, lru.bytes]).toEqual([0, 0]);
    const off = new ByteBoundedLru<string>(0);
    off.set('a', 'A', 1);
    expect([off.size, off.get('a')]).toEqual([0, undefined]);
  });
});
