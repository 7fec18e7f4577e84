/**
 * The key-value store: typed keys and values over a write-back cache and an engine (RocksDB or
 * memory, chosen by the factory in stores.ts). Keys are ordered by their serialized bytes.
 */
import type { Serde } from '../topology/serde.js';
import { prefixEnd, successor, type KeyRange } from './bytes.js';
import { CachedStore, type CachedStoreOptions } from './cachedStore.js';
import type { EngineEntry, StoreEngine } from './engine.js';
import type { ChangeRecord, KeyValue, KeyValueStore } from './types.js';
import type { FlushedEntry } from './writeCache.js';

export class CachingKeyValueStore<K, V> extends CachedStore implements KeyValueStore<K, V> {
  constructor(
    options: CachedStoreOptions,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {
    super(options);
  }

  get(key: K): V | undefined {
    const bytes = this.opened().cache.get(this.keySerde.serialize(key));
    return bytes === undefined ? undefined : this.valueSerde.deserialize(bytes);
  }

  put(key: K, value: V): void {
    const { cache } = this.opened();
    cache.put(this.keySerde.serialize(key), this.valueSerde.serialize(value), this.eventTime(Date.now));
  }

  putIfAbsent(key: K, value: V): V | undefined {
    const old = this.get(key);
    if (old === undefined) this.put(key, value);
    return old;
  }

  delete(key: K): V | undefined {
    const { cache } = this.opened();
    const keyBytes = this.keySerde.serialize(key);
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
    return engine.approximateNumEntries() + cache.dirtySize;
  }

  /** Checks that the store is open when the scan is asked for, not at its first step. */
  private scan(range: KeyRange): IterableIterator<KeyValue<K, V>> {
    return this.typed(this.opened().cache.scan(range));
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
