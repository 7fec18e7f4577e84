/**
 * What every store shares: the lifecycle of an engine behind a write-back cache, and changelog
 * logging of what each flush wrote. The key-value and window stores add their typed API and key
 * layout on top; which engine (RocksDB or memory) sits underneath is the factory's choice.
 */
import type { StoreEngine } from './engine.js';
import type { ChangeRecord, ChangelogSink, StateStore, StoreContext } from './types.js';
import { WriteBackCache, type FlushedEntry } from './writeCache.js';

export type EngineFactory = (ctx: StoreContext, storeName: string) => StoreEngine;

export interface CachedStoreOptions {
  name: string;
  persistent: boolean;
  logged: boolean;
  engine: EngineFactory;
  /** Dirty entries before a put forces an early flush. */
  cacheMaxEntries: number;
  /** Size of the LRU of clean engine reads. */
  cleanCacheEntries: number;
  /** Bytes of values that LRU may hold. */
  cleanCacheBytes: number;
}

/** Store names become folder names and part of changelog topic names: keep them to that alphabet. */
const STORE_NAME = /^[A-Za-z0-9._-]+$/;

export function checkStoreName(name: string): void {
  if (!STORE_NAME.test(name) || name === '.' || name === '..') {
    throw new Error(`invalid store name ${JSON.stringify(name)}: use letters, digits, '.', '_' and '-'`);
  }
}

interface Open {
  ctx: StoreContext;
  engine: StoreEngine;
  cache: WriteBackCache;
  sink: ChangelogSink | undefined;
}

export abstract class CachedStore implements StateStore {
  readonly name: string;
  readonly persistent: boolean;
  readonly logged: boolean;
  private state: Open | undefined;

  protected constructor(private readonly options: CachedStoreOptions) {
    checkStoreName(options.name);
    this.name = options.name;
    this.persistent = options.persistent;
    this.logged = options.logged;
  }

  get isOpen(): boolean {
    return this.state !== undefined;
  }

  /** Writes waiting in the cache for the next flush. */
  get cacheSize(): number {
    return this.state?.cache.dirtySize ?? 0;
  }

  async open(ctx: StoreContext): Promise<void> {
    if (this.state) throw new Error(`store ${this.name} is already open`);
    // A logged store without a sink would silently lose its changelog, and with it recoverability.
    if (this.logged && !ctx.changelog) throw new Error(`store ${this.name} is logged but its context has no changelog sink`);
    const engine = this.options.engine(ctx, this.name);
    await engine.open();
    const cache = new WriteBackCache(engine, {
      maxDirtyEntries: this.options.cacheMaxEntries,
      maxCleanEntries: this.options.cleanCacheEntries,
      maxCleanBytes: this.options.cleanCacheBytes,
      onFlush: (entries) => this.log(entries),
    });
    this.state = { ctx, engine, cache, sink: this.logged ? ctx.changelog : undefined };
    try {
      await this.afterOpen(engine);
    } catch (err) {
      this.state = undefined;
      await engine.close();
      throw err;
    }
  }

  async flush(): Promise<void> {
    const { engine, cache } = this.opened();
    this.beforeFlush();
    cache.flush();
    await this.afterFlush(engine);
  }

  async restore(changes: readonly ChangeRecord[]): Promise<void> {
    const { engine, cache } = this.opened();
    this.onDiscard();
    await this.restoreToEngine(engine, changes);
    cache.invalidateClean();
  }

  async wipe(): Promise<void> {
    const { engine, cache } = this.opened();
    this.onDiscard();
    cache.clear();
    await engine.wipe();
    // Closed while the wipe waited its turn (see RocksDBEngine.wipe): nothing to reopen.
    if (this.state) await this.afterOpen(engine);
  }

  /**
   * Closes without flushing: writes since the last flush are dropped, because after a failure
   * they must not reach the engine or the changelog. A clean shutdown flushes (commits) first.
   */
  async close(): Promise<void> {
    const state = this.state;
    if (!state) return;
    this.state = undefined;
    this.onDiscard();
    state.cache.clear();
    await state.engine.close();
  }

  protected opened(): Open {
    if (!this.state) throw new Error(`store ${this.name} is not open`);
    return this.state;
  }

  /** The changelog timestamp for a write made now. */
  protected eventTime(fallback: () => number): number {
    return this.state?.ctx.currentTimestamp?.() ?? fallback();
  }

  /** Dirty entries allowed in the cache before an early flush. */
  protected get cacheMaxEntries(): number {
    return this.options.cacheMaxEntries;
  }

  /** Called first thing at flush: a subclass moves what it holds back into the cache. */
  protected beforeFlush(): void {}

  /** Called when unflushed writes are dropped (close without flush, wipe, restore). */
  protected onDiscard(): void {}

  /** Called after the engine opens (and after a wipe), e.g. to read store metadata. */
  protected async afterOpen(engine: StoreEngine): Promise<void> {
    void engine;
  }

  /** Called after each flush has written the cache to the engine. */
  protected async afterFlush(engine: StoreEngine): Promise<void> {
    void engine;
  }

  /** Applies raw changelog records to the engine (never to the changelog). */
  protected abstract restoreToEngine(engine: StoreEngine, changes: readonly ChangeRecord[]): Promise<void>;

  /** The changelog record for one flushed engine entry, or undefined for entries not logged. */
  protected abstract toChangeRecord(entry: FlushedEntry): ChangeRecord | undefined;

  private log(entries: readonly FlushedEntry[]): void {
    const sink = this.state?.sink;
    if (!sink) return;
    for (const entry of entries) {
      const change = this.toChangeRecord(entry);
      if (change) sink.send(this.name, change);
    }
  }
}
