/**
 * Collects what one task produces between two sends: output and repartition records from its
 * sinks, and changelog records from its stores. The runtime drains it after each processed batch
 * (into the task's open transaction under exactly_once) and at commit.
 */
import type { ChangeRecord, ChangelogSink } from '../../state/types.js';
import { type RecordCollector, recordBytes } from '../recordCollector.js';
import type { OutgoingRecord } from './client.js';
import { RecordTooLargeError } from './errorClass.js';

/** What a record may be for one topic; see KafkaStreams.recordLimitOf. */
export interface RecordLimit {
  /** Largest key + value + header bytes the topic accepts in a batch of one record. */
  maxBytes: number;
  /** Compacted topics reject records without a key. */
  compacted: boolean;
}


/** The broker rejects a keyless record on a compacted topic (INVALID_RECORD): refused before sending. */
export class KeylessRecordError extends Error {
  readonly kind = 'per-record';
  readonly reason = 'KEYLESS_ON_COMPACTED';
  constructor(readonly topic: string) {
    super(`record without a key for compacted topic ${topic}`);
    this.name = 'KeylessRecordError';
  }
}

export class TaskOutput {
  private buffer: OutgoingRecord[] = [];
  readonly collector: RecordCollector;
  readonly changelog: ChangelogSink;

  constructor(
    /** Changelog records go to the task's own partition of each store's changelog topic. */
    partition: number,
    changelogTopicOf: (storeName: string) => string,
    /**
     * The limit of a topic, when known. Sink and dead-letter records over it are refused here, at
     * the task's `send`, so the task's production handler decides about that one record and it
     * never reaches (and fails) a batch shared with other records.
     */
    limitOf: (topic: string) => RecordLimit | undefined = () => undefined,
  ) {
    this.collector = {
      send: (record) => {
        const limit = limitOf(record.topic);
        if (limit) {
          const size = recordBytes(record);
          if (size > limit.maxBytes) throw new RecordTooLargeError(record.topic, size, limit.maxBytes);
          if (limit.compacted && record.key === null) throw new KeylessRecordError(record.topic);
        }
        this.buffer.push(record);
      },
    };
    this.changelog = {
      send: (storeName: string, change: ChangeRecord) =>
        void this.buffer.push({
          topic: changelogTopicOf(storeName),
          partition,
          key: change.key,
          value: change.value,
          timestamp: change.timestamp,
        }),
    };
  }

  get size(): number {
    return this.buffer.length;
  }

  drain(): OutgoingRecord[] {
    const out = this.buffer;
    this.buffer = [];
    return out;
  }

  /** Forget unsent records (the task's transaction is being aborted). */
  discard(): void {
    this.buffer = [];
  }
}
