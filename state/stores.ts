/**
 * Store factories: the topology holds the builders, and each task builds and opens its own store.
 *
 *   Stores.keyValue('risk-profiles', Serdes.String, profileSerde)
 *   Stores.window('velocity-1m', Serdes.String, Serdes.Long, { retentionMs: 3_600_000 })
 */
import { join } from 'node:path';
import type { Serde } from '../topology/serde.js';
import { checkStoreName, type EngineFactory } from './cachedStore.js';
import { CachingKeyValueStore } from './keyValueStore.js';
import { MemoryEngine } from './memoryEngine.js';
import { RocksDBEngine } from './rocksdbEngine.js';
import type { KeyValueStore, StoreBuilder, WindowStore } from './types.js';
import { SegmentedWindowStore, checkWindowOptions } from './windowStore.js';

export interface StoreOptions {
  /** RocksDB in `<taskDir>/<name>` (default) or memory. */
  persistent?: boolean;
  /** Log changes to `<applicationId>-<name>-changelog` (default true). */
  logged?: boolean;
  /**
   * Writes held in the store's cache before a put forces an early flush to the engine and the
   * changelog (default 10 000). Flush at commit empties it anyway; 0 writes through on every put.
   */
  cacheMaxEntries?: number;
}

export interface KeyValueStoreOptions extends StoreOptions {
  /**
   * Keep written values as objects until the flush (serialized once per commit, read back without
   * deserializing). `get` may then return the instance that was put: change a value only to put
   * it back. See keyValueStore.ts.
   */
  cacheValues?: boolean;
}

export interface WindowStoreOptions extends StoreOptions {
  /** How long windows are kept behind the largest window start seen. */
  retentionMs: number;
  /** Window starts per segment; default max(retention / 2, 60 s), as in Kafka Streams. */
  segmentIntervalMs?: number;
}

export const DEFAULT_CACHE_MAX_ENTRIES = 10_000;
/**
 * Clean RocksDB reads kept per store. Small: it only saves a native call for hot keys. Memory
 * stores keep none, their engine already is memory.
 */
const CLEAN_CACHE_ENTRIES = 1_000;
/**
 * ...and at most this many bytes of values per store: values grow with the history they hold
 * (velocity profiles, entity series), so a count alone let the LRUs grow for as long as the soak
 * ran. Kafka Streams bounds its record cache by bytes too.
 */
export const CLEAN_CACHE_BYTES = 256 * 1024;
const MIN_SEGMENT_INTERVAL_MS = 60_000;

export function defaultSegmentIntervalMs(retentionMs: number): number {
  return Math.max(Math.floor(retentionMs / 2), MIN_SEGMENT_INTERVAL_MS);
}

function engineFor(persistent: boolean): EngineFactory {
  return persistent ? (ctx, name) => new RocksDBEngine(join(ctx.taskDir, name)) : () => new MemoryEngine();
}

function commonOptions(name: string, opts: StoreOptions | undefined) {
  checkStoreName(name);
  const persistent = opts?.persistent ?? true;
  const cacheMaxEntries = opts?.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES;
  if (!Number.isSafeInteger(cacheMaxEntries) || cacheMaxEntries < 0) {
    throw new Error(`store ${name}: cacheMaxEntries must be a non-negative integer, got ${cacheMaxEntries}`);
  }
  return {
    name,
    persistent,
    logged: opts?.logged ?? true,
    engine: engineFor(persistent),
    cacheMaxEntries,
    cleanCacheEntries: persistent ? Math.min(CLEAN_CACHE_ENTRIES, Math.max(cacheMaxEntries, 1)) : 0,
    cleanCacheBytes: CLEAN_CACHE_BYTES,
  };
}

export interface KeyValueStoreBuilder<K, V> extends StoreBuilder<KeyValueStore<K, V>> {
  readonly persistent: boolean;
  readonly keySerde: Serde<K>;
  readonly valueSerde: Serde<V>;
}

export interface WindowStoreBuilder<K, V> extends StoreBuilder<WindowStore<K, V>> {
  readonly persistent: boolean;
  readonly keySerde: Serde<K>;
  readonly valueSerde: Serde<V>;
  readonly retentionMs: number;
  readonly segmentIntervalMs: number;
}

export const Stores = {
  keyValue<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>, opts?: KeyValueStoreOptions): KeyValueStoreBuilder<K, V> {
    const options = commonOptions(name, opts);
    return {
      name,
      logged: options.logged,
      persistent: options.persistent,
      keySerde,
      valueSerde,
      build: () => new CachingKeyValueStore<K, V>({ ...options, cacheValues: opts?.cacheValues ?? false }, keySerde, valueSerde),
    };
  },

  window<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>, opts: WindowStoreOptions): WindowStoreBuilder<K, V> {
    const options = {
      ...commonOptions(name, opts),
      retentionMs: opts.retentionMs,
      segmentIntervalMs: opts.segmentIntervalMs ?? defaultSegmentIntervalMs(opts.retentionMs),
    };
    // Fail when the topology is defined, not when a task first opens the store.
    checkWindowOptions(name, options.retentionMs, options.segmentIntervalMs);
    return {
      name,
      logged: options.logged,
      persistent: options.persistent,
      keySerde,
      valueSerde,
      retentionMs: options.retentionMs,
      segmentIntervalMs: options.segmentIntervalMs,
      build: () => new SegmentedWindowStore<K, V>(options, keySerde, valueSerde),
    };
  },
} as const;
