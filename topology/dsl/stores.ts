/**
 * The stores the DSL creates for its stateful operators, from the user's Materialized options.
 */
import { Stores } from '../../state/stores.js';
import type { StoreBuilder } from '../../state/types.js';
import type { Serde } from '../serde.js';

const ONE_DAY_MS = 86_400_000;

export function keyValueStore<K, V>(name: string, keySerde: Serde<K>, valueSerde: Serde<V>, options: { persistent?: boolean; logged?: boolean } = {}): StoreBuilder {
  return Stores.keyValue(name, keySerde, valueSerde, { persistent: options.persistent ?? true, logged: options.logged ?? true });
}

/**
 * A window store kept at least `minimumRetentionMs` (what the windows need to close before being
 * dropped). Its changelog is compacted and also time-limited, as in Kafka Streams: a day beyond the
 * store's retention, so restores never replay windows the store would drop anyway.
 */
export function windowStore<K, V>(
  name: string,
  keySerde: Serde<K>,
  valueSerde: Serde<V>,
  minimumRetentionMs: number,
  options: { persistent?: boolean; logged?: boolean; retentionMs?: number | undefined },
): { builder: StoreBuilder; changelogConfig: { [key: string]: string } } {
  if (options.retentionMs !== undefined && options.retentionMs < minimumRetentionMs) {
    throw new Error(`store ${name}: retention ${options.retentionMs} ms is shorter than the ${minimumRetentionMs} ms its windows need to close`);
  }
  const retentionMs = options.retentionMs ?? minimumRetentionMs;
  return {
    builder: Stores.window(name, keySerde, valueSerde, { retentionMs, persistent: options.persistent ?? true, logged: options.logged ?? true }),
    changelogConfig: { 'cleanup.policy': 'compact,delete', 'retention.ms': String(retentionMs + ONE_DAY_MS) },
  };
}

/** Throws a clear error naming the operator when a serde needed to write bytes is unknown. */
export function requireSerde<T>(serde: Serde<T> | undefined, what: string, operator: string): Serde<T> {
  if (!serde) {
    throw new Error(`${operator} needs a ${what} serde: the stream's type changed upstream, so pass it (Grouped.with / Materialized.with / Produced.with / Repartitioned.with / Joined.with / StreamJoined.with)`);
  }
  return serde;
}
