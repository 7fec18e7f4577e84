import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RocksDBEngine } from '../../../state/rocksdbEngine.js';
import { TempDirs } from './support.js';

// A task closed by a rebalance while its restore wipes the same stores: the lifecycle steps of one
// engine must not overlap (two recursive deletes of one folder fail with ENOTEMPTY).
describe('RocksDBEngine lifecycle', () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  async function filled(): Promise<RocksDBEngine> {
    const engine = new RocksDBEngine(path.join(await dirs.make(), 'store'));
    await engine.open();
    engine.write(Array.from({ length: 2000 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.alloc(512, i) })));
    return engine;
  }

  it('runs overlapping wipes one after the other and ends open and empty', async () => {
    const engine = await filled();
    await Promise.all([engine.wipe(), engine.wipe(), engine.wipe()]);
    expect(engine.get(Buffer.from('k1'))).toBeUndefined();
    engine.write([{ key: Buffer.from('a'), value: Buffer.from('b') }]);
    expect(engine.get(Buffer.from('a'))?.toString()).toBe('b');
    await engine.close();
  });

  it('leaves a store closed when the close was asked for before a wipe ran', async () => {
    const engine = await filled();
    const closing = engine.close();
    const wiping = engine.wipe();
    await Promise.all([closing, wiping]);
    expect(() => engine.get(Buffer.from('k1'))).toThrow(/not open/);
    expect(existsSync(engine.location)).toBe(false);
    // The folder's lock is free: another engine (the task's next incarnation) can open it.
    const next = new RocksDBEngine(engine.location);
    await next.open();
    expect(next.get(Buffer.from('k1'))).toBeUndefined();
    await next.close();
  });
});
