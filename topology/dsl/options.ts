/**
 * The DSL's option objects, after Kafka Streams' (Named, Consumed, Produced, Grouped, Materialized,
 * Joined, StreamJoined, Repartitioned). Plain immutable values: each `with…` returns a new one.
 * Naming an operator (Named / Materialized.as / Grouped.as) fixes the names of its processors,
 * stores and internal topics, so a redeploy of a changed topology still finds its state.
 */
import type { Serde } from '../serde.js';
import type { TimestampExtractor } from '../topology.js';

export class Named {
  private constructor(readonly name: string) {}
  static as(name: string): Named {
    if (!name) throw new Error('Named.as needs a non-empty name');
    return new Named(name);
  }
}

export interface Consumed<K, V> {
  readonly keySerde: Serde<K>;
  readonly valueSerde: Serde<V>;
  readonly timestampExtractor?: TimestampExtractor;
  /** Name of the source node. */
  readonly name?: string;
}

export const Consumed = {
  with<K, V>(keySerde: Serde<K>, valueSerde: Serde<V>, options: { timestampExtractor?: TimestampExtractor; name?: string } = {}): Consumed<K, V> {
    return { keySerde, valueSerde, ...options };
  },
};

export interface Produced<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  /** Name of the sink node. */
  readonly name?: string;
}

export const Produced = {
  with<K, V>(keySerde: Serde<K>, valueSerde: Serde<V>, name?: string): Produced<K, V> {
    return { keySerde, valueSerde, ...(name === undefined ? {} : { name }) };
  },
  as<K, V>(name: string): Produced<K, V> {
    return { name };
  },
};

export interface Grouped<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  /** Base name of the repartition topic and its nodes, when grouping needs one. */
  readonly name?: string;
}

export const Grouped = {
  with<K, V>(keySerde: Serde<K>, valueSerde: Serde<V>, name?: string): Grouped<K, V> {
    return { keySerde, valueSerde, ...(name === undefined ? {} : { name }) };
  },
  as<K, V>(name: string): Grouped<K, V> {
    return { name };
  },
};

export interface Repartitioned<K, V> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly name?: string;
  readonly numPartitions?: number;
}

export const Repartitioned = {
  with<K, V>(keySerde: Serde<K>, valueSerde: Serde<V>): Repartitioned<K, V> {
    return { keySerde, valueSerde };
  },
  as<K, V>(name: string, options: Omit<Repartitioned<K, V>, 'name'> = {}): Repartitioned<K, V> {
    return { ...options, name };
  },
};

/** How an operator's state store is made. */
export class Materialized<K, V> {
  private constructor(
    readonly storeName: string | undefined,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** RocksDB (default) or in-memory. */
    readonly persistent: boolean,
    /** Changelog logging (default on); off means state is lost with the machine. */
    readonly logged: boolean,
    /** Window stores only: at least the windows' size + grace. */
    readonly retentionMs: number | undefined,
  ) {}

  static as<K, V>(storeName: string): Materialized<K, V> {
    return new Materialized<K, V>(storeName, undefined, undefined, true, true, undefined);
  }

  static with<K, V>(keySerde: Serde<K> | undefined, valueSerde: Serde<V> | undefined): Materialized<K, V> {
    return new Materialized<K, V>(undefined, keySerde, valueSerde, true, true, undefined);
  }

  withKeySerde(keySerde: Serde<K>): Materialized<K, V> {
    return new Materialized(this.storeName, keySerde, this.valueSerde, this.persistent, this.logged, this.retentionMs);
  }

  withValueSerde(valueSerde: Serde<V>): Materialized<K, V> {
    return new Materialized(this.storeName, this.keySerde, valueSerde, this.persistent, this.logged, this.retentionMs);
  }

  withInMemory(): Materialized<K, V> {
    return new Materialized(this.storeName, this.keySerde, this.valueSerde, false, this.logged, this.retentionMs);
  }

  withLoggingDisabled(): Materialized<K, V> {
    return new Materialized(this.storeName, this.keySerde, this.valueSerde, this.persistent, false, this.retentionMs);
  }

  withRetention(retentionMs: number): Materialized<K, V> {
    return new Materialized(this.storeName, this.keySerde, this.valueSerde, this.persistent, this.logged, retentionMs);
  }
}

/** Stream–table join options. */
export interface Joined<K, V, VT> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly otherValueSerde?: Serde<VT>;
  /** Name of the join processor and base name of a repartition topic, if the stream needs one. */
  readonly name?: string;
}

export const Joined = {
  with<K, V, VT>(keySerde: Serde<K>, valueSerde: Serde<V>, otherValueSerde?: Serde<VT>, name?: string): Joined<K, V, VT> {
    return { keySerde, valueSerde, ...(otherValueSerde ? { otherValueSerde } : {}), ...(name === undefined ? {} : { name }) };
  },
  as<K, V, VT>(name: string): Joined<K, V, VT> {
    return { name };
  },
};

/** Stream–stream join options. */
export interface StreamJoined<K, V, VO> {
  readonly keySerde?: Serde<K>;
  readonly valueSerde?: Serde<V>;
  readonly otherValueSerde?: Serde<VO>;
  /** Base name of the join's processors. */
  readonly name?: string;
  /** Base name of the two join buffers: <storeName>-this-join-store and <storeName>-other-join-store. */
  readonly storeName?: string;
  /** Keep the join buffers in memory rather than RocksDB. */
  readonly inMemory?: boolean;
}

export const StreamJoined = {
  with<K, V, VO>(keySerde: Serde<K>, valueSerde: Serde<V>, otherValueSerde: Serde<VO>): StreamJoined<K, V, VO> {
    return { keySerde, valueSerde, otherValueSerde };
  },
  as<K, V, VO>(storeName: string, options: Omit<StreamJoined<K, V, VO>, 'storeName'> = {}): StreamJoined<K, V, VO> {
    return { ...options, storeName };
  },
};

/**
 * How a KTable.suppress holds back updates. Only untilWindowCloses (Kafka Streams'
 * untilWindowCloses(BufferConfig.unbounded())): the buffer is bounded by the windows' grace, not
 * by a size, and kept in a logged store.
 */
export interface Suppressed {
  readonly kind: 'untilWindowCloses';
  readonly name?: string;
  /** Keep the buffer in memory (still logged) instead of RocksDB. */
  readonly inMemory?: boolean;
}

export const Suppressed = {
  untilWindowCloses(options: { name?: string; inMemory?: boolean } = {}): Suppressed {
    return { kind: 'untilWindowCloses', ...options };
  },
} as const;
