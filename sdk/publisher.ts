/**
 * Sends records to Kafka with the Java client's partitioning (murmur2 of the key bytes, see
 * topology/murmur2.ts), so that every account-keyed record lands on the partition the loop's
 * co-partitioned joins expect whatever client produced the rest.
 *
 * Calls are batched by the event loop, not by a timer: whatever was queued while a send was in
 * flight goes out together in the next one. At low rates each record is sent at once (no linger);
 * under load batches grow by themselves. The producer is idempotent (acks=all, one request in
 * flight), so a retried request never writes a record twice.
 *
 * Each record's partition and offset are returned: decide() uses them to recognise its
 * transaction among the loop's dead letters, which name their source by topic/partition/offset.
 */
import type { Message, Producer } from 'kafkajs';
import { partitionForKey } from '../topology/murmur2.js';
import { PublishError } from './errors.js';

export interface RecordPosition {
  topic: string;
  partition: number;
  offset: number;
}

interface Queued {
  topic: string;
  message: Message & { partition: number };
  resolve: (p: RecordPosition) => void;
  reject: (e: Error) => void;
}

export class Publisher {
  private queue: Queued[] = [];
  private sending = false;

  constructor(
    private readonly producer: Producer,
    /** Partition count per topic, read from the cluster at connect. */
    private readonly partitions: ReadonlyMap<string, number>,
  ) {}

  partitionOf(topic: string, key: string): number {
    const n = this.partitions.get(topic);
    if (n === undefined) throw new Error(`topic ${topic} is not known to this client`);
    return partitionForKey(Buffer.from(key, 'utf8'), n);
  }

  send(topic: string, key: string, value: Buffer, timestamp: number): Promise<RecordPosition> {
    const partition = this.partitionOf(topic, key);
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, message: { key, value, partition, timestamp: String(timestamp) }, resolve, reject });
      if (!this.sending) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        await this.sendBatch(batch);
      }
    } finally {
      this.sending = false;
    }
  }

  private async sendBatch(batch: Queued[]): Promise<void> {
    const byTopic = new Map<string, Queued[]>();
    for (const q of batch) {
      let list = byTopic.get(q.topic);
      if (!list) byTopic.set(q.topic, (list = []));
      list.push(q);
    }
    let metadata;
    try {
      metadata = await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, qs]) => ({ topic, messages: qs.map((q) => q.message) })),
      });
    } catch (err) {
      const e = new PublishError(`Kafka did not take ${batch.length} record(s): ${(err as Error).message}`, { cause: err });
      for (const q of batch) q.reject(e);
      return;
    }
    // Records of one partition are appended in the order sent, from that partition's baseOffset.
    const next = new Map<string, number>();
    for (const m of metadata) next.set(`${m.topicName}/${m.partition}`, Number(m.baseOffset));
    for (const q of batch) {
      const k = `${q.topic}/${q.message.partition}`;
      const offset = next.get(k);
      if (offset === undefined) {
        q.reject(new PublishError(`no acknowledgement for ${k}`));
        continue;
      }
      next.set(k, offset + 1);
      q.resolve({ topic: q.topic, partition: q.message.partition, offset });
    }
  }
}
