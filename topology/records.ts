/**
 * Records as they move through riskloop.
 *
 * A `RawRecord` is what a consumer hands a task: bytes plus where they came from. A `Record` is the
 * typed form a processor sees after the source node ran the serdes. Offsets are plain numbers
 * (2^53 records per partition is beyond any realistic topic), matching `topology/kafka/client.ts`.
 */

/** Kafka headers; a header appearing twice keeps its last value. */
export type Headers = { [name: string]: Buffer };

export interface RawRecord {
  topic: string;
  partition: number;
  offset: number;
  /** Producer or broker timestamp, epoch ms. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
}

/**
 * A typed record. Records with a null key or value on the wire arrive with `key`/`value` null,
 * whatever K and V say, exactly as in Kafka Streams: operators that cannot handle them (joins,
 * aggregations) drop them and count the drop.
 */
export interface Record<K, V> {
  key: K;
  value: V;
  /** Event time, epoch ms: set by the source's timestamp extractor, inherited by derived records. */
  timestamp: number;
  headers: Headers;
}

/** Where the record currently being processed came from; null inside a punctuator. */
export interface RecordMetadata {
  topic: string;
  partition: number;
  offset: number;
}

export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A position to commit: the offset of the next record to read (Kafka's convention). */
export interface TopicPartitionOffset extends TopicPartition {
  offset: number;
}

export function tpKey(tp: TopicPartition): string {
  return `${tp.topic}:${tp.partition}`;
}
