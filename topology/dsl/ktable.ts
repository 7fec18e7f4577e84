/**
 * KTable: a changelog stream read as a table — the latest value per key. Tables here come from
 * `StreamsBuilder.table()` and from aggregations, and are always materialized in a store, which
 * is what stream–table joins read. Between table processors flow Changes (new and old value).
 */
import type { BuildSteps } from './buildSteps.js';
import { KStream } from './kstream.js';
import type { Named } from './options.js';
import { TableToStreamProcessor } from './processors/stateless.js';
import type { Serde } from '../serde.js';

export class KTable<K, V> {
  /** @internal */
  constructor(
    private readonly ctx: BuildSteps,
    readonly nodeName: string,
    /** The store holding the table's rows, readable through the driver or interactive queries. */
    readonly queryableStoreName: string,
    readonly keySerde: Serde<K> | undefined,
    readonly valueSerde: Serde<V> | undefined,
    /** false for windowed tables: their store is a window store, not a key-value store. */
    private readonly keyValueStore: boolean,
  ) {}

  /** Every update as a record: the new value, or null when the row was deleted. */
  toStream(named?: Named): KStream<K, V> {
    const name = this.ctx.names.orNext(named?.name, 'KTABLE-TOSTREAM-');
    const parent = this.nodeName;
    this.ctx.addStep((t) => t.addProcessor(name, () => new TableToStreamProcessor<K, V>(), parent));
    return new KStream<K, V>(this.ctx, name, this.keySerde, this.valueSerde, false);
  }

  /** @internal The key-value store a stream–table join reads. */
  joinableStoreName(): string {
    if (!this.keyValueStore) throw new Error(`table ${this.nodeName} is windowed: a stream cannot join it by key`);
    return this.queryableStoreName;
  }
}
