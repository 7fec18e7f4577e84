import { afterEach, describe, expect, it } from 'vitest';
import { Serdes } from '../../../topology/serde.js';
import { Stores, defaultSegmentIntervalMs } from '../../../state/index.js';
import { CollectingSink, TempDirs } from './support.js';

describe('Stores factories', () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  it('builds persistent, logged key-value stores by default, a fresh unopened one per build', async () => {
    const builder = Stores.keyValue('profiles', Serdes.String, Serdes.Json<{ score: number }>());
    expect(builder.name).toBe('profiles');
    expect(builder.logged).toBe(true);
    expect(builder.persistent).toBe(true);
    const one = builder.build();
    const two = builder.build();
    expect(one).not.toBe(two);
    expect(one.persistent).toBe(true);
    expect(() => one.get('x')).toThrow(/not open/);
    await one.open({ taskDir: await dirs.make(), taskId: '0_0', changelog: new CollectingSink() });
    one.put('x', { score: 3 });
    expect(one.get('x')).toEqual({ score: 3 });
    await one.close();
  });

  it('honours persistent: false and logged: false', () => {
    const builder = Stores.keyValue('tmp', Serdes.String, Serdes.String, { persistent: false, logged: false });
    const store = builder.build();
    expect([builder.persistent, builder.logged, store.persistent, store.logged]).toEqual([false, false, false, false]);
  });

  it('defaults the segment interval like Kafka Streams: half the retention, at least a minute', () => {
    expect(defaultSegmentIntervalMs(3_600_000)).toBe(1_800_000);
    expect(defaultSegmentIntervalMs(30_000)).toBe(60_000);
    const builder = Stores.window('w', Serdes.String, Serdes.Long, { retentionMs: 86_400_000 });
    expect(builder.segmentIntervalMs).toBe(43_200_000);
    const store = builder.build();
    expect([store.retentionMs, store.segmentIntervalMs]).toEqual([86_400_000, 43_200_000]);
    expect(Stores.window('w', Serdes.String, Serdes.Long, { retentionMs: 1_000, segmentIntervalMs: 100 }).build().segmentIntervalMs).toBe(100);
  });

  it('rejects bad names and settings when the builder is made', () => {
    expect(() => Stores.keyValue('a/b', Serdes.String, Serdes.String)).toThrow(/invalid store name/);
    expect(() => Stores.keyValue('..', Serdes.String, Serdes.String)).toThrow(/invalid store name/);
    expect(() => Stores.keyValue('ok', Serdes.String, Serdes.String, { cacheMaxEntries: -1 })).toThrow(/cacheMaxEntries/);
    expect(() => Stores.window('w', Serdes.String, Serdes.String, { retentionMs: 0 })).toThrow(/retentionMs/);
    expect(() => Stores.window('w', Serdes.String, Serdes.String, { retentionMs: 10, segmentIntervalMs: 0 })).toThrow(/segmentIntervalMs/);
  });
});
