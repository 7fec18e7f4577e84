/**
 * Collects what one task produces between two sends: output and repartition records from its
 * sinks, and changelog records from its stores. The runtime drains it after each processed batch
 * (into the task's open transaction under exactly_once) and at commit.
 */
import type { ChangeRecord, ChangelogSink } from '../../state/types.js';
import type { RecordCollector } from '../recordCollector.js';
import type { OutgoingRecord } from './client.js';

export class TaskOutput {
  private buffer: OutgoingRecord[] = [];
  readonly collector: RecordCollector;
  readonly changelog: ChangelogSink;

  constructor(
    /** Changelog records go to the task's own partition of each store's changelog topic. */
    partition: number,
    changelogTopicOf: (storeName: string) => string,
  ) {
    this.collector = { send: (record) => void this.buffer.push(record) };
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
