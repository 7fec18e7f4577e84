import { describe, expect, it } from 'vitest';
import { MemoryEngine } from '../../../state/memoryEngine.js';
import { ownCopy, WriteBackCache, type FlushedEntry } from '../../../state/writeCache.js';
import { collect } from './support.js';

const b = (s: string) => Buffer.from(s);

/** A memory engine that counts what reaches it. */
class CountingEngine extends MemoryEngine {
  gets = 0;
  batches = 0;
  override get(key: Buffer): Buffer | undefined {
    this.gets++;
    return super.get(key);
  }
  override write(writes: Parameters<MemoryEngine['write']>[0]): void {
    this.batches++;
    super.write(writes);
  }
}

function cacheOver(engine: MemoryEngine, maxDirtyEntries: number, maxCleanEntries: number) {
  const flushed: FlushedEntry[][] = [];
  const cache = new WriteBackCache(engine, { maxDirtyEntries, maxCleanEntries, onFlush: (e) => flushed.push([...e]) });
  return { cache, flushed };
}

describe('write-back cache', () => {
  it('serves repeated reads of a key, present or absent, from its clean LRU', () => {
    const engine = new CountingEngine();
    engine.write([{ key: b('a'), value: b('1') }]);
    const { cache } = cacheOver(engine, 100, 10);
    expect(cache.get(b('a'))?.toString()).toBe('1');
    expect(cache.get(b('a'))?.toString()).toBe('1');
    expect(cache.get(b('missing'))).toBeUndefined();
    expect(cache.get(b('missing'))).toBeUndefined();
    expect(engine.gets).toBe(2);
  });

  it('keeps the clean LRU bounded, evicting the least recently used key', () => {
    const engine = new CountingEngine();
    engine.write(['a', 'b', 'c'].map((k) => ({ key: b(k), value: b(k) })));
    const { cache } = cacheOver(engine, 100, 2);
    cache.get(b('a'));
    cache.get(b('b'));
    cache.get(b('a'));
    cache.get(b('c')); // evicts b, the least recently used
    expect(cache.cleanSize).toBe(2);
    const before = engine.gets;
    cache.get(b('a'));
    expect(engine.gets).toBe(before);
    cache.get(b('b'));
    expect(engine.gets).toBe(before + 1);
  });

  it('bounds the clean LRU by the bytes of its values too, and skips a value over the whole budget', () => {
    const engine = new CountingEngine();
    const kib = (n: number, c: string) => Buffer.alloc(n * 1024, c);
    engine.write([
      { key: b('a'), value: kib(40, 'a') },
      { key: b('b'), value: kib(40, 'b') },
      { key: b('c'), value: kib(40, 'c') },
      { key: b('huge'), value: kib(200, 'h') },
    ]);
    const flushed: FlushedEntry[][] = [];
    const cache = new WriteBackCache(engine, { maxDirtyEntries: 100, maxCleanEntries: 100, maxCleanBytes: 100 * 1024, onFlush: (e) => flushed.push([...e]) });
    cache.get(b('a'));
    cache.get(b('b'));
    expect(cache.cleanValueBytes).toBe(80 * 1024);
    cache.get(b('c')); // 120 KiB > 100: a, the least recently used, goes
    expect(cache.cleanSize).toBe(2);
    expect(cache.cleanValueBytes).toBe(80 * 1024);
    const before = engine.gets;
    cache.get(b('b'));
    cache.get(b('c'));
    expect(engine.gets).toBe(before);
    cache.get(b('a'));
    expect(engine.gets).toBe(before + 1);
    // Over the budget alone: not kept, and nothing else pushed out for it.
    cache.get(b('huge'));
    cache.get(b('huge'));
    expect(engine.gets).toBe(before + 3);
    expect(cache.cleanSize).toBe(2);
    // A write drops the key's clean value and its bytes.
    cache.put(b('a'), b('new'), 1);
    expect(cache.cleanValueBytes).toBe(40 * 1024);
  });

  it('keeps copies that own their memory, not slices pinning a shared 64 KiB pool slab', () => {
    const small = Buffer.from('a 20-byte long value');
    // The premise: Buffer.from of a small value is a slice of a larger pooled ArrayBuffer.
    expect(Buffer.from(small).buffer.byteLength).toBeGreaterThan(small.length);
    const copy = ownCopy(small);
    expect(copy.equals(small)).toBe(true);
    expect(copy.buffer.byteLength).toBe(small.length);
  });

  it('hands out copies, so a caller mutating a read cannot change the next read', () => {
    const engine = new MemoryEngine();
    engine.write([{ key: b('a'), value: b('xyz') }]);
    const { cache } = cacheOver(engine, 100, 10);
    cache.get(b('a'))![0] = 0x41;
    cache.get(b('a'))![0] = 0x42;
    expect(cache.get(b('a'))?.toString()).toBe('xyz');
  });

  it('never holds more dirty entries than allowed: the put that overflows flushes one batch', () => {
    const engine = new CountingEngine();
    const { cache, flushed } = cacheOver(engine, 3, 0);
    for (const k of ['a', 'b', 'c']) cache.put(b(k), b(k), 0);
    expect([cache.dirtySize, engine.batches]).toEqual([3, 0]);
    cache.put(b('a'), b('a2'), 0);
    expect([cache.dirtySize, engine.batches]).toEqual([3, 0]);
    cache.put(b('d'), b('d'), 0);
    expect([cache.dirtySize, engine.batches]).toEqual([0, 1]);
    expect(flushed[0]!.map((e) => `${e.key}=${e.value}`)).toEqual(['a=a2', 'b=b', 'c=c', 'd=d']);
    expect(collect(cache.scan({})).map((e) => e.key.toString())).toEqual(['a', 'b', 'c', 'd']);
  });

  it('drops a range from both its dirty map and its clean reads', () => {
    const engine = new MemoryEngine();
    engine.write([{ key: b('b1'), value: b('engine') }]);
    const { cache, flushed } = cacheOver(engine, 100, 10);
    cache.get(b('b1'));
    cache.put(b('a'), b('a'), 0);
    cache.put(b('b2'), b('b2'), 0);
    cache.dropRange({ gte: b('b'), lt: b('c') });
    cache.flush();
    expect(flushed[0]!.map((e) => e.key.toString())).toEqual(['a']);
    // The clean read of b1 is gone too: the next get goes to the engine (which still has it).
    expect(cache.cleanSize).toBe(0);
  });
});
