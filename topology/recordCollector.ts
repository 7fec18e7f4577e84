/**
 * The narrow door through which a task's output leaves it: sink records, repartition records,
 * dead letters and late records. The task has already encoded them with the sink's serdes; the
 * collector only chooses a partition (when none is given) and hands the bytes to a producer (the
 * Kafka runtime) or to in-memory topics (the test driver). Changelog records take a separate path
 * (`ChangelogSink` in state/types.ts) because stores emit them at flush, not per record.
 */
import type { Headers } from './records.js';
import { partitionForKey } from './murmur2.js';

export interface OutgoingRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer | null;
  timestamp: number;
  headers?: Headers;
  /** When absent, the collector partitions by key (murmur2, like Kafka's default partitioner). */
  partition?: number;
}

export interface RecordCollector {
  /**
   * Queue one record for sending. May throw synchronously (e.g. unknown topic, record too large);
   * the task routes such errors to the production exception handler. Asynchronous send failures
   * are the runtime's to report (see `handleProductionError` in errors.ts).
   */
  send(record: OutgoingRecord): void;
}

/**
 * Default partition choice for a record without an explicit partition: murmur2 of the key bytes.
 * Keyless records go to partition 0 here — Kafka's producers spread them (sticky partitioning),
 * which a runtime may do instead; nothing in a topology depends on where keyless records land.
 */
export function defaultPartition(key: Buffer | null, numPartitions: number): number {
  if (numPartitions <= 1 || key === null) return 0;
  return partitionForKey(key, numPartitions);
}

/** Bytes a record counts against its topic's max.message.bytes, besides the batch overhead. */
export function recordBytes(r: OutgoingRecord): number {
  let n = (r.key?.length ?? 0) + (r.value?.length ?? 0);
  // for…in rather than Object.entries: called for every output record, and most have no headers.
  if (r.headers) for (const name in r.headers) n += Buffer.byteLength(name) + r.headers[name]!.length + 10;
  return n;
}
