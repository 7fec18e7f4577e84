/**
 * riskloop's own small view of a Kafka client. The runtime talks only to these interfaces, so a
 * faster client (e.g. one on librdkafka) can replace KafkaJS without touching the DSL or tasks.
 * Offsets are plain numbers: 2^53 records per partition is beyond any risk loop.
 */
import type { OutgoingRecord } from '../recordCollector.js';
import type { RawRecord, TopicPartition, TopicPartitionOffset } from '../records.js';

export type { OutgoingRecord, RawRecord, TopicPartition, TopicPartitionOffset };

export interface FetchedBatch {
  topic: string;
  partition: number;
  records: RawRecord[];
  /** Offset after the last record or control marker the fetch covered (the next position). */
  nextOffset: number;
  highWatermark: number;
}

export interface GroupConsumerHandlers {
  /**
   * Called with the whole new assignment after every rebalance, before any batch of the new
   * generation is delivered (eager rebalancing: the previous assignment is gone).
   * It must not block: pause what is not ready and finish the work asynchronously.
   */
  onAssignment(partitions: TopicPartition[]): void;
  /** One fetched batch of one partition; the next batch is delivered after the promise settles. */
  onBatch(batch: FetchedBatch, heartbeat: () => Promise<void>): Promise<void>;
  /** The consumer gave up for good (a fatal error): it will not fetch again. */
  onCrash?(error: Error): void;
  /**
   * The consumer stopped on a non-fatal error (broker gone, generation moved) and rejoins by itself
   * after a back-off; a new assignment (onAssignment) follows once it is back.
   */
  onRestart?(error: Error): void;
}

/** What the group's assignor needs from the runtime to assign whole tasks stickily. */
export interface TaskAssignmentHints {
  /** The task a partition belongs to; undefined for a topic the topology does not read. */
  taskOf(tp: TopicPartition): string | undefined;
  /** Tasks this instance runs or restores now (sent with every JoinGroup). */
  owned(): string[];
  /** Tasks whose state this instance holds on disk with a checkpoint. */
  stateful(): string[];
}

/** Per-topic limits that decide, before sending, whether a record can be produced at all. */
export interface TopicLimits {
  /** The topic's effective max.message.bytes (topic override, else the broker's message.max.bytes). */
  maxMessageBytes: number;
  /** cleanup.policy includes compact: the broker rejects records without a key (INVALID_RECORD). */
  compacted: boolean;
}

export interface GroupConsumer {
  start(topics: string[], handlers: GroupConsumerHandlers): Promise<void>;
  pause(partitions: TopicPartition[]): void;
  resume(partitions: TopicPartition[]): void;
  /** Moves the fetch position; takes effect on the next fetch of that partition. */
  seek(position: TopicPartitionOffset): void;
  commit(offsets: TopicPartitionOffset[]): Promise<void>;
  stop(): Promise<void>;
}

/** Reads partitions from given offsets without a consumer group's assignment (restore, global tables). */
export interface PartitionReader {
  /**
   * Reads each partition from its start offset; resolves once every partition reached the end
   * offset it had when the call started (or `until`, if given). With `follow`, it keeps calling
   * onBatch after that until stopped.
   */
  read(
    from: TopicPartitionOffset[],
    onBatch: (batch: FetchedBatch) => Promise<void> | void,
    opts?: { follow?: boolean; until?: Map<string, number>; onFollowError?: (error: Error) => void },
  ): Promise<void>;
  stop(): Promise<void>;
}

export interface Producer {
  send(records: OutgoingRecord[]): Promise<void>;
  disconnect(): Promise<void>;
}

/** A transactional producer. Calls must not overlap; the implementation serialises them. */
export interface TransactionalProducer {
  readonly transactionalId: string;
  /** Registers the transactional id with the coordinator, fencing any older producer with the same id. */
  connect(): Promise<void>;
  readonly inTransaction: boolean;
  begin(): Promise<void>;
  send(records: OutgoingRecord[]): Promise<void>;
  sendOffsets(groupId: string, offsets: TopicPartitionOffset[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  replicationFactor: number;
  config?: Record<string, string>;
}

export interface Admin {
  /** Partition count of each topic that exists; missing topics are absent from the map. */
  partitionCounts(topics: string[]): Promise<Map<string, number>>;
  /** Creates the topics that do not exist; existing ones are left alone. */
  createTopics(specs: TopicSpec[]): Promise<void>;
  committedOffsets(groupId: string, topics: string[]): Promise<TopicPartitionOffset[]>;
  /** High watermark per partition (the end for read_committed once no transaction is open). */
  endOffsets(topic: string): Promise<Map<number, number>>;
  /** Log start offset per partition (the earliest record still on the broker). */
  beginningOffsets(topic: string): Promise<Map<number, number>>;
  /**
   * Per partition, the earliest offset whose record timestamp is at or after `timestamp` (the end
   * offset where no record is): ListOffsets by time, so a reader of the recent past need not read
   * a topic from its beginning.
   */
  offsetsForTimes(topic: string, timestamp: number): Promise<Map<number, number>>;
  deleteTopics(topics: string[]): Promise<void>;
  /** Size limit and compaction of each existing topic (absent topics are left out). */
  topicLimits(topics: string[]): Promise<Map<string, TopicLimits>>;
  disconnect(): Promise<void>;
}

export interface KafkaClient {
  admin(): Promise<Admin>;
  groupConsumer(opts: {
    groupId: string;
    readCommitted: boolean;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    maxBytesPerPartition: number;
    /** When given, the group assigns whole tasks stickily (stickyTaskAssignor.ts) instead of partitions round robin. */
    assignment?: TaskAssignmentHints;
  }): GroupConsumer;
  partitionReader(opts: { readCommitted: boolean }): PartitionReader;
  producer(): Promise<Producer>;
  transactionalProducer(transactionalId: string): TransactionalProducer;
}

