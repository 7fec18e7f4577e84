/**
 * The key-value store: typed keys and values over a write-back cache and an engine (RocksDB or
 * memory, chosen by the factory in stores.ts). Keys are ordered by their serialized bytes.
 *
 * With `cacheValues`, written values are kept as objects until the next flush and serialized
 * only then: a key written N times between two commits is serialized once. Values read are kept
 * as objects too, in a small LRU, so a hot key is deserialized once, not on every read. For stores
 * whose values are big and read or rewritten often (velocity profiles, entity statistics). The
 * price is a contract: `get` may hand out the very instance that was `put` or read before, so a
 * caller that changes a value it got must put it back, and readers must not change values.
 */
import type { Serde } from '../topology/serde.js';
import { ByteBoundedLru } from './byteLru.js';
import { prefixEnd, successor, type KeyRange } from './bytes.js';
import { CachedStore, type CachedStoreOptions } from './cachedStore.js';
import type { EngineEntry, StoreEngine } from './engine.js';
import type { ChangeRecord, KeyValue, KeyValueStore } from './types.js';
import type { FlushedEntry, WriteBackCache } from './writeCache.js';

/**
 * Deserialized clean values kept per store with cacheValues. Small on purpose: the values are big
 * (a profile, a bucket series: kilobytes of heap each) and there is one such store per task; with
 * 2 000 the caches of a 6-task loop were still filling after 20 minutes of soak (heap +42 %).
 */
const CLEAN_OBJECTS = 500;
/**
 * ...and at most this many serialized bytes of them per store (the length of the bytes each was
 * read from or written as; the objects themselves take a few times that on the heap). The count
 * alone did not bound memory: profiles grow with the days of history they keep (up to 90 + grace),
 * and a soak's heap snapshots showed the velocity-profiles caches go 15 → 39 MiB in 5 minutes at
 * the same 500 objects per store. At 1 MiB they still grew for 9 minutes (MessagePack profiles of
 * ~2 KiB are ~5× that on the heap); at 256 KiB the soak's heap was flat after warm-up (bench/README).
 * But 256 KiB is a few dozen long profiles: the demo (600 accounts, 56 days of history) then decoded
 * most profiles on every read and its in-process pipeline latency p99 in bursts rose from 117-169
 * to 405-654 ms, enough for the canary's live latency check to roll a good candidate back. 2 MiB
 * keeps a demo-sized task's profiles decoded and is still a bound (Kafka Streams bounds its record
 * cache by bytes too, 10 MiB per instance by default): a trade of heap for CPU and latency.
 */
export const CLEAN_OBJECT_BYTES = 2 * 1024 * 1024;

interface PendingValue<V> {
  key: Buffer;
  value: V;
  timestamp: number;
}

export class CachingKeyValueStore<K, V> extends CachedStore implements KeyValueStore<K, V> {
  /** Values put since the last flush, not serialized yet (cacheValues only), by latin1 key. */
  private readonly pending: Map<string, PendingValue<V>> | undefined;
  /** Deserialized clean values, weighed by their serialized size (cacheValues only). */
  private readonly objects: ByteBoundedLru<V> | undefined;

  constructor(
    options: CachedStoreOptions & { cacheValues?: boolean },
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {
    super(options);
    if (options.cacheValues) {
      this.pending = new Map();
      this.objects = new ByteBoundedLru(CLEAN_OBJECTS, CLEAN_OBJECT_BYTES);
    }
  }

  get(key: K): V | undefined {
    const keyBytes = this.keySerde.serialize(key);
    if (this.pending === undefined) {
      const bytes = this.opened().cache.get(keyBytes);
      return bytes === undefined ? undefined : this.valueSerde.deserialize(bytes);
    }
    const k = keyBytes.toString('latin1');
    const hit = this.pending.get(k);
    if (hit !== undefined) return hit.value;
    const object = this.objects!.get(k);
    if (object !== undefined) return object.value;
    const bytes = this.opened().cache.get(keyBytes);
    if (bytes === undefined) return undefined;
    const value = this.valueSerde.deserialize(bytes);
    this.objects!.set(k, value, bytes.length);
    return value;
  }

  /** Deserialized values held and their serialized bytes (for tests and memory accounting). */
  get objectCache(): { entries: number; bytes: number } {
    return { entries: this.objects?.size ?? 0, bytes: this.objects?.bytes ?? 0 };
  }

  put(key: K, value: V): void {
    const { cache } = this.opened();
    const keyBytes = this.keySerde.serialize(key);
    const timestamp = this.eventTime(Date.now);
    if (this.pending === undefined) {
      cache.put(keyBytes, this.valueSerde.serialize(value), timestamp);
      return;
    }
    const k = keyBytes.toString('latin1');
    this.objects?.delete(k);
    this.pending.set(k, { key: keyBytes, value, timestamp });
    // Same bound as the byte cache: past it, values go down to it (which may flush early itself).
    if (this.pending.size > this.cacheMaxEntries) this.materialize();
  }

  putIfAbsent(key: K, value: V): V | undefined {
    const old = this.get(key);
    if (old === undefined) this.put(key, value);
    return old;
  }

  delete(key: K): V | undefined {
    const { cache } = this.opened();
    const keyBytes = this.keySerde.serialize(key);
    this.materializeKey(keyBytes);
    this.objects?.delete(keyBytes.toString('latin1'));
    const oldBytes = cache.get(keyBytes);
    // Nothing to delete means the engine lacks the key too (the cache would show it otherwise), so
    // the changelog already ends in a tombstone or never had the key: no record needed.
    if (oldBytes === undefined) return undefined;
    cache.put(keyBytes, null, this.eventTime(Date.now));
    return this.valueSerde.deserialize(oldBytes);
  }

  range(from: K | undefined, to: K | undefined): IterableIterator<KeyValue<K, V>> {
    return this.scan({
      gte: from === undefined ? undefined : this.keySerde.serialize(from),
      lt: to === undefined ? undefined : successor(this.keySerde.serialize(to)),
    });
  }

  prefixScan<P>(prefix: P, prefixSerde: Serde<P>): IterableIterator<KeyValue<K, V>> {
    const start = prefixSerde.serialize(prefix);
    return this.scan({ gte: start, lt: prefixEnd(start) });
  }

  all(): IterableIterator<KeyValue<K, V>> {
    return this.scan({});
  }

  approximateNumEntries(): number {
    const { engine, cache } = this.opened();
    return engine.approximateNumEntries() + cache.dirtySize + (this.pending?.size ?? 0);
  }

  /** Checks that the store is open when the scan is asked for, not at its first step. */
  private scan(range: KeyRange): IterableIterator<KeyValue<K, V>> {
    const { cache } = this.opened();
    // Scans merge the byte cache with the engine: pending values must be bytes by then.
    this.materialize();
    return this.typed(cache.scan(range));
  }

  /** Serializes every pending value into the byte cache. */
  private materialize(): void {
    if (this.pending === undefined || this.pending.size === 0) return;
    const { cache } = this.opened();
    const entries = [...this.pending];
    this.pending.clear();
    for (const [k, p] of entries) this.writeDown(cache, k, p);
  }

  /** One pending value into the byte cache; the object stays readable as a clean value. */
  private writeDown(cache: WriteBackCache, k: string, p: PendingValue<V>): void {
    const bytes = this.valueSerde.serialize(p.value);
    cache.put(p.key, bytes, p.timestamp);
    this.objects!.set(k, p.value, bytes.length);
  }

  private materializeKey(keyBytes: Buffer): void {
    const k = keyBytes.toString('latin1');
    const p = this.pending?.get(k);
    if (p === undefined) return;
    this.pending!.delete(k);
    this.writeDown(this.opened().cache, k, p);
  }

  protected override beforeFlush(): void {
    this.materialize();
  }

  protected override onDiscard(): void {
    this.pending?.clear();
    this.objects?.clear();
  }

  private *typed(entries: IterableIterator<EngineEntry>): IterableIterator<KeyValue<K, V>> {
    for (const { key, value } of entries) {
      yield { key: this.keySerde.deserialize(key), value: this.valueSerde.deserialize(value) };
    }
  }

  protected async restoreToEngine(engine: StoreEngine, changes: readonly ChangeRecord[]): Promise<void> {
    engine.write(changes.map(({ key, value }) => ({ key, value })));
  }

  protected toChangeRecord(entry: FlushedEntry): ChangeRecord {
    return { key: entry.key, value: entry.value, timestamp: entry.timestamp };
  }
}
