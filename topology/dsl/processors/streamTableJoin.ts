/**
 * Stream–table joins (KTable and GlobalKTable): each stream record looks up the table's current
 * row for its key (or, for global tables, for the key its mapper returns). Table updates trigger
 * nothing: a stream record sees the table as it is when the record is processed.
 */
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import { plainView } from '../timestampedStore.js';

export class StreamTableJoinProcessor<K, V, KT, VT, VR> implements Processor<K, V, K, VR> {
  private ctx!: ProcessorContext<K, VR>;
  private table!: KeyValueStore<KT, VT>;

  constructor(
    private readonly storeName: string,
    /** Identity for KTables; the user's key mapper for GlobalKTables. */
    private readonly lookupKey: (key: K, value: V) => KT | null | undefined,
    private readonly joiner: (value: V, tableValue: VT | null, key: K) => VR,
    /** leftJoin: emit with null when the table has no row; join: drop. */
    private readonly left: boolean,
  ) {}

  init(context: ProcessorContext<K, VR>): void {
    this.ctx = context;
    // KTable stores keep timestamps; the join needs only the value.
    this.table = plainView(context.getStateStore<KeyValueStore<KT, VT>>(this.storeName));
  }

  process(record: Record<K, V>): void {
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    const tableKey = this.lookupKey(record.key, record.value);
    if (tableKey === null || tableKey === undefined) {
      // As Kafka Streams' KStreamKTableJoinProcessor: a left join keeps a record whose own key is
      // null (KIP-962), but a null key from a GlobalKTable key mapper has nothing to join: dropped.
      const nullRecordKey = record.key === null || record.key === undefined;
      if (!this.left || !nullRecordKey) return this.ctx.recordDropped('null-key');
      return this.emit(record, null);
    }
    const row = this.table.get(tableKey);
    if (row === undefined && !this.left) return;
    this.emit(record, row ?? null);
  }

  private emit(record: Record<K, V>, row: VT | null): void {
    this.ctx.forward({ key: record.key, value: this.joiner(record.value, row, record.key), timestamp: record.timestamp, headers: record.headers });
  }
}
