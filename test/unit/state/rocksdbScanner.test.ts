/**
 * The RocksDB engine reuses one native iterator across scans (a profile showed iterator
 * construction as the hot spot): every scan must still see every write made before it started.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RocksDBEngine } from '../../../state/rocksdbEngine.js';

const b = (s: string) => Buffer.from(s);
const keys = (it: Iterable<{ key: Buffer }>) => [...it].map((e) => e.key.toString());
let dir: string | undefined;
let engine: RocksDBEngine | undefined;
afterEach(async () => {
  await engine?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(): Promise<RocksDBEngine> {
  dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-scanner-'));
  engine = new RocksDBEngine(path.join(dir, 'db'));
  await engine.open();
  return engine;
}

describe('RocksDB engine scans with a reused iterator', () => {
  it('sees writes made between scans, honours bounds, and survives nesting and writes mid-scan', async () => {
    const e = await open();
    e.write(['a1', 'a2', 'b1', 'b2', 'c1'].map((k) => ({ key: b(k), value: b(`v-${k}`) })));
    expect(keys(e.scan({ gte: b('b'), lt: b('c') }))).toEqual(['b1', 'b2']);
    expect(keys(e.scan({ gte: b('a2'), lt: b('b2') }))).toEqual(['a2', 'b1']);
    // A write after a scan: the next scan sees it (the shared iterator was dropped).
    e.write([{ key: b('b15'), value: b('new') }, { key: b('b1'), value: null }]);
    expect(keys(e.scan({ gte: b('b'), lt: b('c') }))).toEqual(['b15', 'b2']);
    // Nested scans of the same engine interleave correctly.
    const outer = e.scan({ gte: b('a'), lt: b('b') });
    const first = outer.next();
    expect(keys(e.scan({ gte: b('c'), lt: b('d') }))).toEqual(['c1']);
    expect([first.value.key.toString(), ...keys({ [Symbol.iterator]: () => outer })]).toEqual(['a1', 'a2']);
    // A write while a scan holds the shared iterator: that scan keeps its snapshot, the next one sees the write.
    const during = e.scan({ gte: b('a'), lt: b('z') });
    expect(during.next().value.key.toString()).toBe('a1');
    e.write([{ key: b('a3'), value: b('late') }]);
    expect(keys({ [Symbol.iterator]: () => during })).toEqual(['a2', 'b15', 'b2', 'c1']);
    expect(keys(e.scan({ gte: b('a'), lt: b('b') }))).toEqual(['a1', 'a2', 'a3']);
    // Unbounded scans still work, and an early break releases the iterator for the next scan.
    for (const _ of e.scan({ gte: b('a'), lt: b('z') })) break;
    expect(keys(e.scan({}))).toEqual(['a1', 'a2', 'a3', 'b15', 'b2', 'c1']);
    expect(keys(e.scan({ gte: b('c') }))).toEqual(['c1']);
  });
});
