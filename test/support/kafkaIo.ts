/** Producing and reading test topics on the real broker (no mocks). */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Message } from 'kafkajs';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export function kafkaFor(brokers: string[]): Kafka {
  return new Kafka({ clientId: 'riskloop-test', brokers, logLevel: logLevel.NOTHING, retry: { retries: 10 } });
}

export async function createTopics(brokers: string[], topics: { topic: string; partitions: number; config?: Record<string, string> }[]): Promise<void> {
  const admin = kafkaFor(brokers).admin();
  await admin.connect();
  try {
    // KafkaJS' waitForLeaders gives up on UNKNOWN_TOPIC_OR_PARTITION, which a loaded broker answers
    // for a moment after creating a topic (metadata still propagating): wait for it here instead.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.createTopics({
          waitForLeaders: true,
          topics: topics.map((t) => ({
            topic: t.topic,
            numPartitions: t.partitions,
            replicationFactor: 1,
            configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
        return;
      } catch (err) {
        if (attempt >= 20 || (err as { type?: string }).type !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await admin.disconnect();
  }
}

export async function produce(brokers: string[], topic: string, messages: Message[], chunk = 2000): Promise<void> {
  const producer = kafkaFor(brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += chunk) {
      await producer.send({ topic, messages: messages.slice(i, i + chunk), acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface ReadRecord {
  key: string | null;
  keyBytes: Buffer | null;
  value: Buffer | null;
  partition: number;
  offset: number;
  timestamp: number;
}

/**
 * Reads a topic from the beginning (read_committed unless told otherwise) until `done(records)`
 * holds or nothing new arrived for `idleMs` after `minWaitMs`, or `timeoutMs` passed.
 */
export async function readTopic(
  brokers: string[],
  topic: string,
  opts: { done?: (records: ReadRecord[]) => boolean; timeoutMs?: number; idleMs?: number; readUncommitted?: boolean } = {},
): Promise<ReadRecord[]> {
  const consumer = kafkaFor(brokers).consumer({ groupId: `reader-${randomUUID()}`, readUncommitted: opts.readUncommitted ?? false, maxWaitTimeInMs: 100 });
  const records: ReadRecord[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) {
        records.push({ key: m.key?.toString() ?? null, keyBytes: m.key, value: m.value, partition: batch.partition, offset: Number(m.offset), timestamp: Number(m.timestamp) });
      }
      last = Date.now();
    },
  });
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  const idle = opts.idleMs ?? 3000;
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      if (opts.done?.(records)) break;
      if (Date.now() > deadline) break;
      if (!opts.done && Date.now() - last > idle) break;
    }
  } finally {
    await consumer.disconnect();
  }
  return records;
}
