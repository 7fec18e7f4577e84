/**
 * What flows between a KTable's processors: the new value of a key and the one it replaced. null
 * means "no row": a newValue of null is a delete (a tombstone downstream).
 */
export interface Change<V> {
  readonly newValue: V | null;
  readonly oldValue: V | null;
}

export interface KeyValue<K, V> {
  key: K;
  value: V;
}
