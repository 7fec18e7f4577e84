/**
 * The input buffers of one task, one FIFO queue per topic-partition, and the rule that picks the
 * next record: among the queues' heads, the one with the lowest timestamp (ties go to the queue
 * registered first). That is how records from several partitions feeding one task are processed in
 * event-time order, as Kafka Streams' PartitionGroup does.
 *
 * Records are decoded in place (the task decodes a batch at once so that serdes can prefetch); a
 * record that failed to decode stays in its queue as a skip marker so that its offset is committed
 * only after every record before it was processed.
 */
import type { RawRecord, TopicPartition } from '../records.js';
import { tpKey } from '../records.js';
import type { StampedRecord } from './taskRuntime.js';

interface Entry {
  raw: RawRecord;
  /** undefined: not decoded yet; null: skip (failed to decode or invalid timestamp). */
  stamped: StampedRecord | null | undefined;
}

export class RecordQueue {
  private entries: Entry[] = [];
  private head = 0;
  private decodedUpTo = 0;
  /** Highest event time decoded on this partition; -1 before any (what timestamp extractors see). */
  partitionTime = -1;

  constructor(readonly tp: TopicPartition) {}

  add(records: readonly RawRecord[]): void {
    for (const raw of records) this.entries.push({ raw, stamped: undefined });
  }

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Raw records not decoded yet, in order. */
  undecoded(): RawRecord[] {
    return this.entries.slice(Math.max(this.head, this.decodedUpTo)).map((e) => e.raw);
  }

  /** Decodes every pending entry with `decode`, in order. */
  decodePending(decode: (raw: RawRecord, partitionTime: number) => StampedRecord | null): void {
    for (let i = Math.max(this.head, this.decodedUpTo); i < this.entries.length; i++) {
      const entry = this.entries[i]!;
      const stamped = decode(entry.raw, this.partitionTime);
      entry.stamped = stamped;
      this.decodedUpTo = i + 1;
      if (stamped !== null && stamped.timestamp > this.partitionTime) this.partitionTime = stamped.timestamp;
    }
  }

  /** The head entry, or undefined when empty. */
  peek(): Entry | undefined {
    return this.entries[this.head];
  }

  poll(): Entry | undefined {
    const entry = this.entries[this.head];
    if (entry === undefined) return undefined;
    this.head++;
    // Compact now and then so a long-lived queue does not keep every record it ever held.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.decodedUpTo = Math.max(0, this.decodedUpTo - this.head);
      this.head = 0;
    }
    return entry;
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.decodedUpTo = 0;
  }
}

export class PartitionGroup {
  private readonly queues: RecordQueue[];
  private readonly byKey = new Map<string, RecordQueue>();
  /** Inputs known to have no more records (a bounded replay read them to their end offset). */
  private readonly exhausted = new Set<RecordQueue>();
  private idleSince: number | undefined;

  constructor(
    partitions: readonly TopicPartition[],
    /** How long to wait for an empty partition before processing the others (0: never wait). */
    private readonly maxTaskIdleMs: number,
  ) {
    this.queues = partitions.map((tp) => new RecordQueue(tp));
    for (const q of this.queues) this.byKey.set(tpKey(q.tp), q);
  }

  partitions(): TopicPartition[] {
    return this.queues.map((q) => q.tp);
  }

  queue(tp: TopicPartition): RecordQueue {
    const q = this.byKey.get(tpKey(tp));
    if (!q) throw new Error(`partition ${tpKey(tp)} is not an input of this task`);
    return q;
  }

  get size(): number {
    let n = 0;
    for (const q of this.queues) n += q.size;
    return n;
  }

  allQueues(): readonly RecordQueue[] {
    return this.queues;
  }

  /**
   * Marks an input as having no more records to come, so that its empty queue no longer holds the
   * others back. Only bounded runs (replay) know this; live inputs never end.
   */
  setExhausted(tp: TopicPartition, exhausted: boolean): void {
    const q = this.queue(tp);
    if (exhausted) this.exhausted.add(q);
    else this.exhausted.delete(q);
  }

  /**
   * Whether records may be taken now. With several inputs, taking a record while another input is
   * empty risks processing out of event-time order; we wait up to maxTaskIdleMs for the empty one
   * (forever, with an infinite idle time, unless that input is exhausted: replay's deterministic merge).
   */
  processable(nowMs: number): boolean {
    let empty = 0;
    let blocking = 0;
    for (const q of this.queues) {
      if (q.size === 0) {
        empty++;
        if (!this.exhausted.has(q)) blocking++;
      }
    }
    if (empty === this.queues.length) {
      this.idleSince = undefined;
      return false;
    }
    if (blocking === 0 || this.maxTaskIdleMs <= 0) {
      this.idleSince = undefined;
      return true;
    }
    this.idleSince ??= nowMs;
    return nowMs - this.idleSince >= this.maxTaskIdleMs;
  }

  /**
   * Removes and returns the next entry to process: skip markers at the heads first (so their
   * offsets advance), then the decoded head with the lowest timestamp. Undecoded heads block their
   * queue, so callers decode before taking.
   */
  next(): { queue: RecordQueue; raw: RawRecord; stamped: StampedRecord | null } | undefined {
    let best: RecordQueue | undefined;
    let bestTs = Infinity;
    for (const q of this.queues) {
      const head = q.peek();
      if (head === undefined || head.stamped === undefined) continue;
      if (head.stamped === null) {
        q.poll();
        return { queue: q, raw: head.raw, stamped: null };
      }
      if (head.stamped.timestamp < bestTs) {
        best = q;
        bestTs = head.stamped.timestamp;
      }
    }
    if (!best) return undefined;
    const entry = best.poll()!;
    return { queue: best, raw: entry.raw, stamped: entry.stamped! };
  }

  clear(): void {
    for (const q of this.queues) q.clear();
    this.idleSince = undefined;
  }
}
