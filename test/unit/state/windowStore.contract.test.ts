/**
 * The window store contract, run against the RocksDB and the in-memory implementation alike.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Serdes } from '../../../topology/serde.js';
import { openRocksDb, scanSync } from '../../../state/rocksdbSync.js';
import { Stores, type WindowStoreOptions } from '../../../state/stores.js';
import type { StoreContext, WindowStore } from '../../../state/types.js';
import { SegmentedWindowStore } from '../../../state/windowStore.js';
import { parseStoreKey, isStoreKey } from '../../../state/windowKeySchema.js';
import { CollectingSink, IMPLEMENTATIONS, TempDirs, collect } from './support.js';

const FULLWIDTH_A = '\uFF21';
const EMOJI = '\u{1F600}';
const MINUTE = 60_000;

describe.each(IMPLEMENTATIONS)('window store on $engine', ({ persistent }) => {
  const dirs = new TempDirs();
  const opened: WindowStore<string, string>[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await dirs.cleanup();
  });

  async function openStore(
    options: Partial<WindowStoreOptions> & { taskDir?: string; sink?: CollectingSink; currentTimestamp?: () => number } = {},
  ) {
    const sink = options.sink ?? new CollectingSink();
    const taskDir = options.taskDir ?? (await dirs.make());
    const store = Stores.window('win', Serdes.String, Serdes.String, {
      retentionMs: options.retentionMs ?? 60 * MINUTE,
      segmentIntervalMs: options.segmentIntervalMs,
      cacheMaxEntries: options.cacheMaxEntries,
      logged: options.logged,
      persistent,
    }).build() as SegmentedWindowStore<string, string>;
    const ctx: StoreContext = { taskDir, taskId: '0_0', changelog: sink };
    if (options.currentTimestamp) ctx.currentTimestamp = options.currentTimestamp;
    await store.open(ctx);
    opened.push(store);
    return { store, sink, taskDir };
  }

  const pairs = (it: Iterable<{ windowStart: number; value: string }>) => collect(it).map((w) => [w.windowStart, w.value]);
  const triples = (it: Iterable<{ key: string; windowStart: number; value: string }>) =>
    collect(it).map((w) => [w.windowStart, w.key, w.value]);

  it('puts, fetches and deletes single windows', async () => {
    const { store } = await openStore();
    store.put('k', 'v1', 1_000);
    expect(store.fetch('k', 1_000)).toBe('v1');
    expect(store.fetch('k', 1_001)).toBeUndefined();
    expect(store.fetch('other', 1_000)).toBeUndefined();
    await store.flush();
    expect(store.fetch('k', 1_000)).toBe('v1');
    store.put('k', 'v2', 1_000);
    expect(store.fetch('k', 1_000)).toBe('v2');
    store.put('k', null, 1_000);
    expect(store.fetch('k', 1_000)).toBeUndefined();
    await store.flush();
    expect(store.fetch('k', 1_000)).toBeUndefined();
    expect(collect(store.all())).toEqual([]);
  });

  it('fetchRange returns one key’s windows oldest first, bounds included, across segments', async () => {
    const { store } = await openStore({ segmentIntervalMs: MINUTE });
    const starts = [3 * MINUTE, 0, MINUTE - 1, 2 * MINUTE, MINUTE, 30_000];
    for (const ws of starts) store.put('a', `a@${ws}`, ws);
    // Neighbours in byte order that a sloppy key layout would mix into 'a's range.
    for (const key of ['a\x00', 'ab', '', 'b']) for (const ws of starts) store.put(key, `${key}@${ws}`, ws);
    await store.flush();
    store.put('a', 'a@45000', 45_000);

    expect(pairs(store.fetchRange('a', 0, 3 * MINUTE))).toEqual([
      [0, 'a@0'],
      [30_000, 'a@30000'],
      [45_000, 'a@45000'],
      [MINUTE - 1, `a@${MINUTE - 1}`],
      [MINUTE, `a@${MINUTE}`],
      [2 * MINUTE, `a@${2 * MINUTE}`],
      [3 * MINUTE, `a@${3 * MINUTE}`],
    ]);
    // Window starts exactly at either bound are included; one ms outside is not.
    expect(pairs(store.fetchRange('a', MINUTE - 1, 2 * MINUTE)).map(([ws]) => ws)).toEqual([MINUTE - 1, MINUTE, 2 * MINUTE]);
    expect(pairs(store.fetchRange('a', MINUTE, MINUTE))).toEqual([[MINUTE, `a@${MINUTE}`]]);
    expect(pairs(store.fetchRange('a', MINUTE + 1, 2 * MINUTE - 1))).toEqual([]);
    expect(pairs(store.fetchRange('a', 2 * MINUTE, MINUTE))).toEqual([]);
    expect(pairs(store.fetchRange('', 0, 30_000))).toEqual([
      [0, '@0'],
      [30_000, '@30000'],
    ]);
    expect(pairs(store.fetchRange('zzz', 0, 3 * MINUTE))).toEqual([]);
    // Open-ended bounds are clamped rather than rejected.
    expect(pairs(store.fetchRange('a', -5_000, Number.MAX_SAFE_INTEGER))).toHaveLength(7);
  });

  it('fetchAll orders by window start, then key bytes', async () => {
    const { store } = await openStore({ segmentIntervalMs: MINUTE });
    const keys = ['b', EMOJI, 'a\x00', FULLWIDTH_A, 'ab', 'a'];
    for (const ws of [2 * MINUTE, 1_000, MINUTE]) for (const key of keys) store.put(key, key, ws);
    await store.flush();
    store.put('aa', 'aa', MINUTE);
    const byteOrder = ['a', 'a\x00', 'ab', 'b', FULLWIDTH_A, EMOJI];
    const result = triples(store.fetchAll(1_000, MINUTE));
    expect(result.map(([ws, key]) => [ws, key])).toEqual([
      ...byteOrder.map((key) => [1_000, key]),
      ...['a', 'a\x00', 'aa', 'ab', 'b', FULLWIDTH_A, EMOJI].map((key) => [MINUTE, key]),
    ]);
    expect(triples(store.fetchAll(MINUTE + 1, 2 * MINUTE)).map(([ws, key]) => [ws, key])).toEqual(
      byteOrder.map((key) => [2 * MINUTE, key]),
    );
    expect(collect(store.all())).toHaveLength(19);
  });

  it('hides expired windows, drops expired segments, and ignores puts for expired windows', async () => {
    const { store, sink } = await openStore({ retentionMs: 10_000, segmentIntervalMs: 5_000 });
    for (const ws of [0, 4_999, 5_000, 12_000]) store.put('k', `v${ws}`, ws);
    await store.flush();
    // Stream time 12 000: windows starting after 2 000 are live; segment 0 still holds 4 999.
    expect(store.fetch('k', 0)).toBeUndefined();
    expect(store.fetch('k', 4_999)).toBe('v4999');
    expect(pairs(store.fetchRange('k', 0, 20_000)).map(([ws]) => ws)).toEqual([4_999, 5_000, 12_000]);
    expect(store.persistedSegmentIds()).toEqual([0, 1, 2]);

    store.put('k', 'v15000', 15_000);
    // Stream time 15 000: live from 5 001, so all of segment 0 has expired; 5 000 is expired too
    // but its segment (5 000..9 999) is not, so it stays on disk yet must not be returned.
    expect(store.fetch('k', 4_999)).toBeUndefined();
    expect(store.fetch('k', 5_000)).toBeUndefined();
    expect(pairs(store.fetchRange('k', 0, 20_000)).map(([ws]) => ws)).toEqual([12_000, 15_000]);
    expect(triples(store.fetchAll(0, 20_000)).map(([ws]) => ws)).toEqual([12_000, 15_000]);
    await store.flush();
    expect(store.persistedSegmentIds()).toEqual([1, 2, 3]);
    expect(store.fetch('k', 5_000)).toBeUndefined();

    sink.clear();
    store.put('k', 'late', 4_000);
    store.put('k', 'late', 5_000);
    expect(store.fetch('k', 4_000)).toBeUndefined();
    expect(store.droppedExpiredPuts).toBe(2);
    await store.flush();
    expect(sink.records('win')).toEqual([]);
    expect(store.persistedSegmentIds()).toEqual([1, 2, 3]);
  });

  it('forgets unflushed writes to a segment that expires before the flush', async () => {
    const { store, sink } = await openStore({ retentionMs: 10_000, segmentIntervalMs: 5_000 });
    store.put('k', 'old', 1_000);
    store.put('k', 'new', 30_000);
    await store.flush();
    expect(sink.records('win').map((r) => r.value?.toString())).toEqual(['new']);
    expect(store.persistedSegmentIds()).toEqual([6]);
  });

  it('flush sends one changelog record per dirty window, keyed by key bytes + window start', async () => {
    const { store, sink } = await openStore();
    for (let i = 0; i < 50; i++) store.put('k', `v${i}`, 7_000);
    store.put('k', 'other window', 8_000);
    await store.flush();
    const records = sink.records('win');
    expect(records).toHaveLength(2);
    const expectedKey = Buffer.alloc(9);
    expectedKey.write('k');
    expectedKey.writeBigUInt64BE(7_000n, 1);
    expect(records[0]!.key).toEqual(expectedKey);
    expect(records[0]!.value?.toString()).toBe('v49');
    // Without a record time from the context, the window start stands in for it.
    expect(records[0]!.timestamp).toBe(7_000);
    sink.clear();
    store.put('k', null, 7_000);
    await store.flush();
    expect(sink.records('win').map((r) => [r.key, r.value])).toEqual([[expectedKey, null]]);
  });

  it('stamps changelog records with the current record time when the context provides it', async () => {
    const { store, sink } = await openStore({ currentTimestamp: () => 123_456 });
    store.put('k', 'v', 60_000);
    await store.flush();
    expect(sink.records('win').map((r) => r.timestamp)).toEqual([123_456]);
  });

  it('restoring the changelog rebuilds an equal store, applying retention, without logging again', async () => {
    const { store, sink } = await openStore({ retentionMs: 20_000, segmentIntervalMs: 5_000, cacheMaxEntries: 5 });
    for (let ws = 0; ws <= 40_000; ws += 2_500) {
      for (const key of ['x', 'y', 'z']) store.put(key, `${key}@${ws}`, ws);
      if (ws % 10_000 === 0) store.put('y', null, ws);
      await store.flush();
    }
    const expected = triples(store.all());
    expect(expected.length).toBeGreaterThan(10);
    expect(Math.min(...expected.map(([ws]) => ws as number))).toBeGreaterThan(20_000);

    const restoredSink = new CollectingSink();
    const { store: restored } = await openStore({ retentionMs: 20_000, segmentIntervalMs: 5_000, sink: restoredSink });
    const records = sink.records('win');
    // Records from before the retention bound were logged too; restore must drop them again.
    expect(records.some((r) => r.key.readBigUInt64BE(r.key.length - 8) < 20_000n)).toBe(true);
    await restored.restore(records.slice(0, 17));
    await restored.restore(records.slice(17));
    expect(triples(restored.all())).toEqual(expected);
    expect(restored.streamTime).toBe(40_000);
    expect(restored.persistedSegmentIds()[0]).toBeGreaterThanOrEqual(4);
    await restored.flush();
    expect(restoredSink.sent).toEqual([]);
  });

  it('rejects negative or fractional window starts', async () => {
    const { store } = await openStore();
    expect(() => store.put('k', 'v', -1)).toThrow(/non-negative integer/);
    expect(() => store.put('k', 'v', 1.5)).toThrow(/non-negative integer/);
    expect(() => store.fetch('k', -10)).toThrow(/non-negative integer/);
    expect(() => collect(store.fetchRange('k', Number.NaN, 5))).toThrow(/must be numbers/);
  });

  it('wipe forgets windows and stream time', async () => {
    const { store } = await openStore({ retentionMs: 10_000, segmentIntervalMs: 5_000 });
    store.put('k', 'v', 100_000);
    await store.flush();
    await store.wipe();
    expect(store.streamTime).toBe(-1);
    expect(collect(store.all())).toEqual([]);
    store.put('k', 'v', 1_000);
    expect(store.fetch('k', 1_000)).toBe('v');
  });

  if (persistent) {
    it('keeps windows and stream time across close and reopen, and the engine really lost old segments', async () => {
      const { store, taskDir } = await openStore({ retentionMs: 10_000, segmentIntervalMs: 5_000 });
      for (const ws of [1_000, 6_000, 11_000]) store.put('k', `v${ws}`, ws);
      await store.flush();
      store.put('k', 'v22000', 22_000);
      await store.flush();
      await store.close();

      // Look at the RocksDB files directly, below the store.
      const db = await openRocksDb(join(taskDir, 'win'));
      const segments = new Set(collect(scanSync(db, {})).filter((e) => isStoreKey(e.key)).map((e) => parseStoreKey(e.key).segmentId));
      await db.close();
      expect([...segments]).toEqual([2, 4]);

      const { store: reopened } = await openStore({ taskDir, retentionMs: 10_000, segmentIntervalMs: 5_000 });
      expect((reopened as SegmentedWindowStore<string, string>).streamTime).toBe(22_000);
      expect(pairs(reopened.fetchRange('k', 0, 30_000))).toEqual([[22_000, 'v22000']]);
      expect(reopened.fetch('k', 11_000)).toBeUndefined();
      reopened.put('k', 'late', 11_000);
      expect(reopened.fetch('k', 11_000)).toBeUndefined();
    });
  }
});
