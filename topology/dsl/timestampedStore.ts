/**
 * The DSL's KTable stores keep each row with its timestamp (Kafka Streams' timestamped key-value
 * store): a non-windowed aggregate's output timestamp is max(previous aggregate's, record's), and a
 * table–table join's is the larger of its two rows'. The bytes are valueAndTimestampSerde's (int64
 * timestamp, then the value), so changelogs and restores carry the timestamp too.
 *
 * Readers outside the operator (stream–table joins, the test driver, interactive queries) see the
 * plain values through `plainView`, which unwraps them.
 */
import { Stores } from '../../state/stores.js';
import type { KeyValue, KeyValueStore, StoreBuilder } from '../../state/types.js';
import type { Serde } from '../serde.js';
import { type ValueAndTimestamp, valueAndTimestampSerde } from './internalSerdes.js';

/** Marks a built store whose values are ValueAndTimestamp. */
const TIMESTAMPED: unique symbol = Symbol('riskloop.timestampedKeyValueStore');

export function timestampedKeyValueStore<K, V>(
  name: string,
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
  options: { persistent?: boolean; logged?: boolean } = {},
): StoreBuilder<KeyValueStore<K, ValueAndTimestamp<V>>> {
  const inner = Stores.keyValue(name, keySerde, valueAndTimestampSerde(valueSerde), { persistent: options.persistent ?? true, logged: options.logged ?? true });
  return {
    name,
    logged: inner.logged,
    build() {
      const store = inner.build();
      Object.defineProperty(store, TIMESTAMPED, { value: true });
      return store;
    },
  };
}

export function isTimestamped(store: unknown): boolean {
  return typeof store === 'object' && store !== null && (store as { [TIMESTAMPED]?: boolean })[TIMESTAMPED] === true;
}

function unwrapAll<K, V>(it: IterableIterator<KeyValue<K, ValueAndTimestamp<V>>>): IterableIterator<KeyValue<K, V>> {
  return (function* () {
    for (const { key, value } of it) yield { key, value: value.value };
  })();
}

/**
 * The store as plain values: itself when it is not timestamped, otherwise a view that unwraps reads
 * and refuses writes (only the operator that owns a KTable's store may change it).
 */
export function plainView<K, V>(store: KeyValueStore<K, V> | KeyValueStore<K, ValueAndTimestamp<V>>): KeyValueStore<K, V> {
  if (!isTimestamped(store)) return store as KeyValueStore<K, V>;
  const ts = store as KeyValueStore<K, ValueAndTimestamp<V>>;
  const readOnly = (): never => {
    throw new Error(`store ${ts.name} belongs to a KTable operator: read-only here`);
  };
  return {
    get name() {
      return ts.name;
    },
    get persistent() {
      return ts.persistent;
    },
    get logged() {
      return ts.logged;
    },
    open: (ctx) => ts.open(ctx),
    flush: () => ts.flush(),
    restore: (changes) => ts.restore(changes),
    wipe: () => ts.wipe(),
    close: () => ts.close(),
    get: (key) => ts.get(key)?.value,
    put: readOnly,
    putIfAbsent: readOnly,
    delete: readOnly,
    range: (from, to) => unwrapAll(ts.range(from, to)),
    prefixScan: (prefix, prefixSerde) => unwrapAll(ts.prefixScan(prefix, prefixSerde)),
    all: () => unwrapAll(ts.all()),
    approximateNumEntries: () => ts.approximateNumEntries(),
  };
}

/** The row and its timestamp from either kind of store (a plain store's rows have no timestamp: -1). */
export function getWithTimestamp<K, V>(store: KeyValueStore<K, unknown>, key: K): ValueAndTimestamp<V> | undefined {
  const v = store.get(key);
  if (v === undefined) return undefined;
  return isTimestamped(store) ? (v as ValueAndTimestamp<V>) : { value: v as V, timestamp: -1 };
}
