/**
 * An LRU bounded by entry count and by bytes, the bytes being whatever the caller says each value
 * weighs (its serialized length). Both the write-back cache's clean reads (state/writeCache.ts) and
 * a key-value store's decoded objects (state/keyValueStore.ts) keep one: counts alone did not bound
 * memory once values grew with the history they hold (velocity profiles, series).
 *
 * An insertion-ordered Map: a hit moves to the end, eviction takes the first key. A value heavier
 * than the whole byte budget is not kept at all: it would only push every other value out.
 */
export class ByteBoundedLru<V> {
  private readonly entries = new Map<string, { value: V; bytes: number }>();
  private held = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number = Number.POSITIVE_INFINITY,
  ) {}

  /** The value and its move to most recently used; undefined when absent. */
  get(key: string): { value: V } | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, value: V, bytes: number): void {
    this.delete(key);
    if (this.maxEntries <= 0 || bytes > this.maxBytes) return;
    this.entries.set(key, { value, bytes });
    this.held += bytes;
    while (this.entries.size > this.maxEntries || this.held > this.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.held -= entry.bytes;
  }

  /** Deletes every key in [gte, lt) (string order). */
  deleteRange(gte: string, lt: string): void {
    for (const k of [...this.entries.keys()]) if (k >= gte && k < lt) this.delete(k);
  }

  clear(): void {
    this.entries.clear();
    this.held = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Sum of the weights of the values held. */
  get bytes(): number {
    return this.held;
  }
}
