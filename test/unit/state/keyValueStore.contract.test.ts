/**
 * The key-value store contract, run against the RocksDB and the in-memory implementation alike.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Serdes } from '../../../topology/serde.js';
import { CLEAN_OBJECT_BYTES, type CachingKeyValueStore } from '../../../state/keyValueStore.js';
import { Stores, type StoreOptions } from '../../../state/stores.js';
import type { KeyValueStore, StoreContext } from '../../../state/types.js';
import { CollectingSink, IMPLEMENTATIONS, TempDirs, collect } from './support.js';

/** Keys whose UTF-16 (JavaScript) order differs from their UTF-8 byte order, and prefixes of each other. */
const FULLWIDTH_A = '\uFF21'; // UTF-8 ef bc a1; UTF-16 ff21
const EMOJI = '\u{1F600}'; // UTF-8 f0 9f 98 80; UTF-16 d83d de00: sorts before FULLWIDTH_A as a JS string
const KEYS_IN_BYTE_ORDER = ['a', 'a\x00', 'ab', 'b', FULLWIDTH_A, EMOJI];

const VARIANTS = IMPLEMENTATIONS.flatMap((i) => [
  { ...i, cacheValues: false },
  { ...i, cacheValues: true },
]);

describe.each(VARIANTS)('key-value store on $engine (cacheValues: $cacheValues)', ({ persistent, cacheValues }) => {
  const dirs = new TempDirs();
  const opened: KeyValueStore<unknown, unknown>[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await dirs.cleanup();
  });

  async function openStore<K = string, V = string>(
    options: {
      name?: string;
      taskDir?: string;
      sink?: CollectingSink;
      keySerde?: import('../../../topology/serde.js').Serde<K>;
      valueSerde?: import('../../../topology/serde.js').Serde<V>;
      currentTimestamp?: () => number;
    } & StoreOptions = {},
  ): Promise<{ store: KeyValueStore<K, V>; sink: CollectingSink; taskDir: string }> {
    const sink = options.sink ?? new CollectingSink();
    const taskDir = options.taskDir ?? (await dirs.make());
    const builder = Stores.keyValue<K, V>(
      options.name ?? 'kv',
      options.keySerde ?? (Serdes.String as unknown as import('../../../topology/serde.js').Serde<K>),
      options.valueSerde ?? (Serdes.String as unknown as import('../../../topology/serde.js').Serde<V>),
      { persistent, logged: options.logged, cacheMaxEntries: options.cacheMaxEntries, cacheValues },
    );
    const store = builder.build();
    const ctx: StoreContext = { taskDir, taskId: '0_0', changelog: sink };
    if (options.currentTimestamp) ctx.currentTimestamp = options.currentTimestamp;
    await store.open(ctx);
    opened.push(store as KeyValueStore<unknown, unknown>);
    return { store, sink, taskDir };
  }

  const keysOf = (entries: Iterable<{ key: string }>) => collect(entries).map((e) => e.key);

  it('gets, puts, deletes and puts-if-absent', async () => {
    const { store } = await openStore();
    expect(store.get('a')).toBeUndefined();
    store.put('a', '1');
    expect(store.get('a')).toBe('1');
    expect(store.putIfAbsent('a', '2')).toBe('1');
    expect(store.get('a')).toBe('1');
    expect(store.putIfAbsent('b', '2')).toBeUndefined();
    expect(store.get('b')).toBe('2');
    await store.flush();
    expect(store.get('a')).toBe('1');
    expect(store.putIfAbsent('b', '3')).toBe('2');
    expect(store.delete('a')).toBe('1');
    expect(store.get('a')).toBeUndefined();
    expect(store.delete('a')).toBeUndefined();
    await store.flush();
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')).toBe('2');
    store.put('a', 'again');
    expect(store.get('a')).toBe('again');
  });

  // The same expectations must hold wherever the data sits: all in the cache, all in the engine, or split.
  describe.each([
    { where: 'cache', flushAfter: 0 },
    { where: 'engine', flushAfter: KEYS_IN_BYTE_ORDER.length },
    { where: 'cache and engine', flushAfter: 3 },
  ])('range scans with data in the $where', ({ flushAfter }) => {
    async function loaded() {
      const { store } = await openStore();
      // Inserted out of order, so that order can only come from the store.
      const insertion = ['b', EMOJI, 'a\x00', FULLWIDTH_A, 'ab', 'a'];
      for (const [i, key] of insertion.entries()) {
        store.put(key, `v-${key}`);
        if (i + 1 === flushAfter) await store.flush();
      }
      return store;
    }

    it('all() returns keys in byte order, not string order', async () => {
      const store = await loaded();
      expect(keysOf(store.all())).toEqual(KEYS_IN_BYTE_ORDER);
      // Guard the fixture itself: JavaScript string order must disagree, or the test proves nothing.
      expect([...KEYS_IN_BYTE_ORDER].sort()).not.toEqual(KEYS_IN_BYTE_ORDER);
      expect(collect(store.all()).every((e) => e.value === `v-${e.key}`)).toBe(true);
    });

    it('range() includes both bounds and accepts open bounds', async () => {
      const store = await loaded();
      expect(keysOf(store.range('a\x00', 'b'))).toEqual(['a\x00', 'ab', 'b']);
      expect(keysOf(store.range('a', 'a'))).toEqual(['a']);
      expect(keysOf(store.range(undefined, 'ab'))).toEqual(['a', 'a\x00', 'ab']);
      expect(keysOf(store.range('ab', undefined))).toEqual(['ab', 'b', FULLWIDTH_A, EMOJI]);
      expect(keysOf(store.range(undefined, undefined))).toEqual(KEYS_IN_BYTE_ORDER);
      expect(keysOf(store.range(FULLWIDTH_A, EMOJI))).toEqual([FULLWIDTH_A, EMOJI]);
      // Bounds need not exist as keys.
      expect(keysOf(store.range('a\x01', 'az'))).toEqual(['ab']);
      expect(keysOf(store.range('b', 'a'))).toEqual([]);
      expect(keysOf(store.range(EMOJI, FULLWIDTH_A))).toEqual([]);
    });
  });

  it('prefix-scans by serialized prefix, in byte order', async () => {
    const { store } = await openStore();
    for (const key of ['acct:2:a', 'acct:10:z', 'acct:1:y', 'acct;', 'acct:1:x', 'acct', 'acc']) store.put(key, key);
    await store.flush();
    store.put('acct:1:w', 'acct:1:w');
    expect(keysOf(store.prefixScan('acct:1:', Serdes.String))).toEqual(['acct:1:w', 'acct:1:x', 'acct:1:y']);
    // '0' (0x30) sorts before ':' (0x3a).
    expect(keysOf(store.prefixScan('acct:1', Serdes.String))).toEqual(['acct:10:z', 'acct:1:w', 'acct:1:x', 'acct:1:y']);
    expect(keysOf(store.prefixScan('acct', Serdes.String))).toEqual([
      'acct',
      'acct:10:z',
      'acct:1:w',
      'acct:1:x',
      'acct:1:y',
      'acct:2:a',
      'acct;',
    ]);
    expect(keysOf(store.prefixScan('nope', Serdes.String))).toEqual([]);
  });

  it('prefix-scans a prefix of 0xff bytes (no upper bound exists)', async () => {
    const { store } = await openStore<Buffer, string>({ keySerde: Serdes.Buffer });
    const keys = [[0xfe, 0xff], [0xff], [0xff, 0xff], [0xff, 0xff, 0x00], [0xff, 0xff, 0xff]].map((b) => Buffer.from(b));
    for (const key of keys) store.put(key, key.toString('hex'));
    await store.flush();
    const found = collect(store.prefixScan(Buffer.from([0xff, 0xff]), Serdes.Buffer)).map((e) => e.value);
    expect(found).toEqual(['ffff', 'ffff00', 'ffffff']);
  });

  it('merges cache over engine: overwrites and deletes in the cache win, tombstones hide engine entries', async () => {
    const { store } = await openStore();
    for (const key of ['a', 'b', 'c', 'd']) store.put(key, `old-${key}`);
    await store.flush();
    store.put('b', 'new-b');
    store.delete('c');
    store.put('e', 'new-e');
    store.delete('a');
    store.put('a', 'new-a');
    store.put('f', 'gone');
    store.delete('f');
    const view = () => collect(store.all()).map((e) => `${e.key}=${e.value}`);
    expect(view()).toEqual(['a=new-a', 'b=new-b', 'd=old-d', 'e=new-e']);
    expect(collect(store.range('b', 'd')).map((e) => e.value)).toEqual(['new-b', 'old-d']);
    expect(collect(store.prefixScan('c', Serdes.String))).toEqual([]);
    expect(store.get('c')).toBeUndefined();
    await store.flush();
    expect(view()).toEqual(['a=new-a', 'b=new-b', 'd=old-d', 'e=new-e']);
    expect(store.get('c')).toBeUndefined();
  });

  it('scans see the store as of their first step, not writes made while iterating', async () => {
    const { store } = await openStore({ cacheMaxEntries: 2 });
    for (const key of ['a', 'b', 'c']) store.put(key, key);
    await store.flush();
    store.put('d', 'd');
    const seen: string[] = [];
    for (const { key } of store.all()) {
      seen.push(key);
      // Deletes and inserts behind and ahead of the cursor, enough to force an early flush.
      store.delete(key);
      store.put(`${key}2`, 'x');
      store.put('zz', 'x');
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
    expect(keysOf(store.all())).toEqual(['a2', 'b2', 'c2', 'd2', 'zz']);
  });

  it('flush sends one changelog record per dirty key: the latest value, or a tombstone', async () => {
    const { store, sink } = await openStore();
    for (let i = 0; i < 100; i++) store.put('hot', `v${i}`);
    store.put('cold', 'c');
    expect(sink.records('kv')).toEqual([]);
    await store.flush();
    const first = sink.records('kv');
    expect(first.map((r) => [r.key.toString(), r.value?.toString()])).toEqual([
      ['cold', 'c'],
      ['hot', 'v99'],
    ]);
    sink.clear();
    await store.flush();
    expect(sink.records('kv')).toEqual([]);
    store.delete('hot');
    store.put('cold', 'c2');
    store.delete('cold');
    // Deleting a key that exists nowhere needs no record.
    store.delete('never');
    await store.flush();
    expect(sink.records('kv').map((r) => [r.key.toString(), r.value])).toEqual([
      ['cold', null],
      ['hot', null],
    ]);
  });

  it('stamps changelog records with the current record time when the context provides it', async () => {
    let now = 1_000;
    const { store, sink } = await openStore({ currentTimestamp: () => now });
    store.put('k', 'a');
    now = 2_000;
    store.put('k', 'b');
    store.put('j', 'x');
    now = 3_000;
    await store.flush();
    expect(sink.records('kv').map((r) => [r.key.toString(), r.timestamp])).toEqual([
      ['j', 2_000],
      ['k', 2_000],
    ]);
  });

  it(cacheValues ? 'hands out its cached value objects (the cacheValues contract: readers must not change them)' : 'is not changed by a caller mutating a Buffer it got back', async () => {
    const { store } = await openStore<string, Buffer>({ valueSerde: Serdes.Buffer });
    store.put('k', Buffer.from('abc'));
    await store.flush();
    store.get('k')![0] = 0x58;
    store.get('k')![1] = 0x59;
    // With cacheValues the change shows (same instance); it never reaches the engine or changelog.
    expect(store.get('k')?.toString()).toBe(cacheValues ? 'XYc' : 'abc');
    collect(store.all())[0]!.value[2] = 0x5a;
    expect(store.get('k')?.toString()).toBe(cacheValues ? 'XYc' : 'abc');
    // Scans deserialize from the engine: the stored bytes are untouched either way.
    expect(collect(store.all())[0]!.value.toString()).toBe('abc');
  });

  it('an unlogged store sends nothing and needs no sink', async () => {
    const taskDir = await dirs.make();
    const store = Stores.keyValue('quiet', Serdes.String, Serdes.String, { persistent, logged: false }).build();
    await store.open({ taskDir, taskId: '0_0' });
    opened.push(store as KeyValueStore<unknown, unknown>);
    store.put('a', '1');
    await store.flush();
    expect(store.get('a')).toBe('1');
  });

  it('a logged store refuses to open without a changelog sink', async () => {
    const store = Stores.keyValue('loud', Serdes.String, Serdes.String, { persistent }).build();
    await expect(store.open({ taskDir: await dirs.make(), taskId: '0_0' })).rejects.toThrow(/no changelog sink/);
  });

  it('a full cache flushes early to the engine and the changelog, losing nothing', async () => {
    const { store, sink } = await openStore({ cacheMaxEntries: 10 });
    for (let i = 0; i < 25; i++) store.put(`k${String(i).padStart(2, '0')}`, `v${i}`);
    expect((store as unknown as { cacheSize: number }).cacheSize).toBeLessThanOrEqual(10);
    const beforeCommit = sink.records('kv').length;
    expect(beforeCommit).toBeGreaterThanOrEqual(15);
    await store.flush();
    const keys = sink.records('kv').map((r) => r.key.toString());
    expect(new Set(keys).size).toBe(25);
    expect(keys.length).toBe(25);
    expect(collect(store.all()).length).toBe(25);
    expect(store.get('k07')).toBe('v7');
  });

  it('writes through on every put when the cache holds no entries', async () => {
    const { store, sink } = await openStore({ cacheMaxEntries: 0 });
    store.put('a', '1');
    store.put('a', '2');
    expect(sink.records('kv').map((r) => r.value?.toString())).toEqual(['1', '2']);
  });

  it('restoring the changelog into a fresh store rebuilds an equal store, without logging again', async () => {
    const { store, sink } = await openStore({ cacheMaxEntries: 7 });
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20; i++) {
        const key = `k${(i * 7 + round) % 23}`;
        if ((i + round) % 5 === 0) store.delete(key);
        else store.put(key, `r${round}-${i}`);
      }
      await store.flush();
    }
    const expected = collect(store.all());
    expect(expected.length).toBeGreaterThan(5);
    const records = sink.records('kv');

    const restoredSink = new CollectingSink();
    const { store: restored } = await openStore({ sink: restoredSink });
    await restored.restore(records.slice(0, 10));
    await restored.restore(records.slice(10));
    expect(collect(restored.all())).toEqual(expected);
    expect(restored.get(expected[0]!.key)).toBe(expected[0]!.value);
    await restored.flush();
    expect(restoredSink.sent).toEqual([]);
  });

  it('restore overrides what a get had already read (no stale cached read)', async () => {
    const { store } = await openStore();
    expect(store.get('x')).toBeUndefined();
    store.put('y', 'old');
    await store.flush();
    expect(store.get('y')).toBe('old');
    await store.restore([
      { key: Buffer.from('x'), value: Buffer.from('restored'), timestamp: 1 },
      { key: Buffer.from('y'), value: null, timestamp: 1 },
    ]);
    expect(store.get('x')).toBe('restored');
    expect(store.get('y')).toBeUndefined();
  });

  it('wipe drops everything, flushed or not, and leaves the store usable', async () => {
    const { store } = await openStore();
    store.put('a', '1');
    await store.flush();
    store.put('b', '2');
    await store.wipe();
    expect(collect(store.all())).toEqual([]);
    expect(store.get('a')).toBeUndefined();
    store.put('c', '3');
    await store.flush();
    expect(keysOf(store.all())).toEqual(['c']);
  });

  it('counts entries approximately', async () => {
    const { store } = await openStore();
    for (let i = 0; i < 50; i++) store.put(`k${i}`, 'v');
    await store.flush();
    expect(store.approximateNumEntries()).toBeGreaterThanOrEqual(40);
    expect(store.approximateNumEntries()).toBeLessThanOrEqual(60);
  });

  it('refuses use before open and after close', async () => {
    const store = Stores.keyValue('kv', Serdes.String, Serdes.String, { persistent }).build();
    expect(() => store.get('a')).toThrow(/not open/);
    const { store: other } = await openStore();
    await other.close();
    expect(() => other.put('a', 'b')).toThrow(/not open/);
    expect(() => other.all()).toThrow(/not open/);
  });

  if (persistent) {
    it('keeps flushed data across close and reopen, and drops what was never flushed', async () => {
      const { store, taskDir } = await openStore();
      store.put('kept', '1');
      store.put('deleted', '2');
      await store.flush();
      store.delete('deleted');
      await store.flush();
      store.put('unflushed', '3');
      await store.close();

      const { store: reopened } = await openStore({ taskDir });
      expect(reopened.get('kept')).toBe('1');
      expect(reopened.get('deleted')).toBeUndefined();
      expect(reopened.get('unflushed')).toBeUndefined();
      expect(keysOf(reopened.all())).toEqual(['kept']);
    });

    it('wipe removes the data on disk too', async () => {
      const { store, taskDir } = await openStore();
      store.put('a', '1');
      await store.flush();
      await store.wipe();
      await store.close();
      const { store: reopened } = await openStore({ taskDir });
      expect(collect(reopened.all())).toEqual([]);
    });
  } else {
    it('starts empty after close and reopen (memory only lives as long as the store)', async () => {
      const { store, taskDir } = await openStore();
      store.put('a', '1');
      await store.flush();
      await store.close();
      const { store: reopened } = await openStore({ taskDir });
      expect(collect(reopened.all())).toEqual([]);
    });
  }
});

describe.each(IMPLEMENTATIONS)('key-value store with cacheValues on $engine', ({ persistent }) => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  it('serializes a value once per flush however often it was put, and reads it back without deserializing', async () => {
    let serialized = 0;
    let deserialized = 0;
    const json = Serdes.Json<{ n: number }>();
    const counting = {
      serialize: (v: { n: number }) => (serialized++, json.serialize(v)),
      deserialize: (b: Buffer) => (deserialized++, json.deserialize(b)),
    };
    const sink = new CollectingSink();
    const store = Stores.keyValue('profiles', Serdes.String, counting, { persistent, cacheValues: true }).build();
    await store.open({ taskDir: await dirs.make(), taskId: '0_0', changelog: sink, currentTimestamp: () => 42 });
    for (let n = 1; n <= 5; n++) {
      const v = store.get('acct') ?? { n: 0 };
      v.n = n;
      store.put('acct', v);
    }
    expect(serialized).toBe(0);
    expect(deserialized).toBe(0);
    await store.flush();
    expect(serialized).toBe(1);
    expect(sink.records('profiles').map((r) => [r.key.toString(), r.value?.toString(), r.timestamp])).toEqual([['acct', '{"n":5}', 42]]);
    // After the flush it is a clean value, still kept as an object: read without deserializing.
    const kept = store.get('acct');
    expect(kept).toEqual({ n: 5 });
    expect(deserialized).toBe(0);
    // A restore drops the objects: the next read deserializes what the engine now holds.
    await store.restore([{ key: Buffer.from('acct'), value: Buffer.from('{"n":9}'), timestamp: 43 }]);
    expect(store.get('acct')).toEqual({ n: 9 });
    expect(deserialized).toBe(1);
    expect(store.get('acct')).toBe(store.get('acct'));
    expect(deserialized).toBe(1);
    // Close without flush drops pending values, like the byte cache's dirty writes.
    store.put('acct', { n: 6 });
    await store.close();
    expect(sink.records('profiles')).toHaveLength(1);
  });

  it('keeps at most CLEAN_OBJECT_BYTES of serialized values as objects, least recently used out first', async () => {
    let deserialized = 0;
    const json = Serdes.Json<{ pad: string }>();
    const counting = { serialize: json.serialize, deserialize: (b: Buffer) => (deserialized++, json.deserialize(b)) };
    const store = Stores.keyValue('profiles', Serdes.String, counting, { persistent, cacheValues: true }).build() as CachingKeyValueStore<string, { pad: string }>;
    await store.open({ taskDir: await dirs.make(), taskId: '0_0', changelog: new CollectingSink(), currentTimestamp: () => 42 });
    // Each value serializes to a third of the budget (plus the JSON around it): three do not fit.
    const third = Math.floor(CLEAN_OBJECT_BYTES / 3);
    for (const k of ['a', 'b', 'c']) store.put(k, { pad: k.repeat(third) });
    await store.flush();
    // Written down at flush: kept as objects while they fit, a pushed out by c.
    expect(store.objectCache.entries).toBe(2);
    expect(store.objectCache.bytes).toBeLessThanOrEqual(CLEAN_OBJECT_BYTES);
    store.get('b');
    store.get('c');
    expect(deserialized).toBe(0);
    expect(store.get('a')?.pad.length).toBe(third);
    expect(deserialized).toBe(1);
    // Reading a back pushed b out (c was read after b).
    store.get('c');
    expect(deserialized).toBe(1);
    store.get('b');
    expect(deserialized).toBe(2);
    // A value over the whole budget is served but never kept.
    store.put('big', { pad: 'x'.repeat(CLEAN_OBJECT_BYTES) });
    await store.flush();
    const before = store.objectCache;
    store.get('big');
    store.get('big');
    expect(deserialized).toBe(4);
    expect(store.objectCache.entries).toBeLessThanOrEqual(before.entries);
    await store.close();
  });
});
