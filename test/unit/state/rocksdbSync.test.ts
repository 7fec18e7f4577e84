/**
 * Pins the private, synchronous @nxtedition/rocksdb methods that state/rocksdbSync.ts relies on.
 * If a binding upgrade renames, removes or makes one of them asynchronous, these fail.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assertSyncApi,
  deleteRange,
  getSync,
  openRocksDb,
  scanSync,
  seekKeysSync,
  writeBatchSync,
  type RocksDb,
} from '../../../state/rocksdbSync.js';
import { TempDirs, collect } from './support.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const s = (buf: Buffer) => buf.toString('latin1');

describe('rocksdbSync', () => {
  const dirs = new TempDirs();
  const dbs: RocksDb[] = [];
  afterEach(async () => {
    await Promise.all(dbs.splice(0).map((db) => db.close()));
    await dirs.cleanup();
  });

  async function open(): Promise<RocksDb> {
    const db = await openRocksDb(join(await dirs.make(), 'db'));
    dbs.push(db);
    return db;
  }

  it('finds every private method it needs on the installed binding', async () => {
    const db = await open();
    expect(() => assertSyncApi(db)).not.toThrow();
    expect(typeof db._getManySync).toBe('function');
    const iterator = db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' });
    expect(typeof iterator._nextvSync).toBe('function');
    expect(typeof iterator._seekSync).toBe('function');
    iterator.close(() => {});
    const batch = db.batch();
    expect(typeof batch._writeSync).toBe('function');
    expect(typeof batch._put).toBe('function');
    expect(typeof batch._del).toBe('function');
    batch.close(() => {});
  });

  it('reports a binding that lacks one of them by name', async () => {
    const db = await open();
    const crippled = Object.create(db, { _getManySync: { value: undefined } }) as RocksDb;
    expect(() => assertSyncApi(crippled)).toThrow(/db\._getManySync/);
  });

  it('writes a batch and reads it back in the same tick, without awaiting anything', async () => {
    const db = await open();
    writeBatchSync(db, [
      { key: b('k1'), value: b('v1') },
      { key: b('k2'), value: b('v2') },
    ]);
    const value = getSync(db, b('k1'));
    expect(value).toBeInstanceOf(Buffer);
    expect(s(value!)).toBe('v1');
    expect(getSync(db, b('missing'))).toBeUndefined();
    writeBatchSync(db, [
      { key: b('k1'), value: null },
      { key: b('k3'), value: b('v3') },
    ]);
    expect(getSync(db, b('k1'))).toBeUndefined();
    expect(collect(scanSync(db, {})).map((e) => s(e.key))).toEqual(['k2', 'k3']);
  });

  it('scans synchronously in unsigned byte order within [gte, lt), across several native batches', async () => {
    const db = await open();
    const keys = Array.from({ length: 3_000 }, (_, i) => b(`k${String(i).padStart(5, '0')}`));
    writeBatchSync(db, [...keys].reverse().map((key) => ({ key, value: key })));
    writeBatchSync(db, [
      { key: Buffer.from([0xff]), value: b('high') },
      { key: Buffer.from([0x00]), value: b('low') },
    ]);
    const all = collect(scanSync(db, {}));
    expect(all).toHaveLength(3_002);
    expect(all[0]!.key).toEqual(Buffer.from([0x00]));
    expect(all.at(-1)!.key).toEqual(Buffer.from([0xff]));
    const range = collect(scanSync(db, { gte: b('k00010'), lt: b('k00013') })).map((e) => s(e.value));
    expect(range).toEqual(['k00010', 'k00011', 'k00012']);
  });

  it('closes the native iterator when the caller breaks out of a scan', async () => {
    const db = await open();
    writeBatchSync(db, ['a', 'b', 'c'].map((k) => ({ key: b(k), value: b(k) })));
    let closes = 0;
    const iterator = db.iterator.bind(db);
    const spied = Object.create(db, {
      iterator: {
        value: (options: Parameters<RocksDb['iterator']>[0]) => {
          const it = iterator(options);
          const close = it.close.bind(it);
          it.close = (callback) => {
            closes++;
            close(callback);
          };
          return it;
        },
      },
    }) as RocksDb;
    for (const entry of scanSync(spied, {})) {
      expect(s(entry.key)).toBe('a');
      break;
    }
    expect(closes).toBe(1);
    expect(collect(scanSync(spied, {}))).toHaveLength(3);
    expect(closes).toBe(2);
  });

  it('seeks natively from one target to the next, clamped to the range', async () => {
    const db = await open();
    writeBatchSync(db, ['a1', 'a2', 'b1', 'c1', 'c2', 'd1'].map((k) => ({ key: b(k), value: b(k) })));
    const nextLetter = (found: Buffer) => Buffer.from([found[0]! + 1]);
    expect(collect(seekKeysSync(db, {}, b('a'), nextLetter)).map(s)).toEqual(['a1', 'b1', 'c1', 'd1']);
    expect(collect(seekKeysSync(db, { gte: b('b'), lt: b('d') }, b('a'), nextLetter)).map(s)).toEqual(['b1', 'c1']);
  });

  it('deletes a range', async () => {
    const db = await open();
    writeBatchSync(db, ['a', 'b1', 'b2', 'c'].map((k) => ({ key: b(k), value: b(k) })));
    await deleteRange(db, b('b'), b('c'));
    expect(collect(scanSync(db, {})).map((e) => s(e.key))).toEqual(['a', 'c']);
  });
});
