/**
 * Produces simulated transactions at a fixed offered rate: small batches every `tickMs` (no
 * linger: kafkajs sends each send() at once), each transaction's produce wall-clock time kept by
 * transactionId, so that a decision consumer can take decision arrival − produce time. Batches are
 * sent without waiting for the previous ack (up to `maxInFlight`), so a slow ack does not lower the
 * offered rate; the schedule is absolute (catch-up after a late tick), as an open-loop load should be.
 */
import type { Message } from 'kafkajs';
import type { TopicSerdes } from '../../schemas/createSerdes.js';
import type { Transaction } from '../../schemas/types.js';
import type { KeyedRecord } from '../../simulator/index.js';
import { partitionForKey } from '../../topology/murmur2.js';
import { type BenchEnv, kafkaClient, sleep } from './common.js';

export class PacedProducer {
  readonly sentAt = new Map<string, number>();
  private readonly producer;

  constructor(
    env: BenchEnv,
    private readonly topic: string,
    private readonly partitions: number,
    private readonly serdes: TopicSerdes,
  ) {
    this.producer = kafkaClient(env, 'riskloop-bench-paced').producer({ idempotent: false, maxInFlightRequests: 32, allowAutoTopicCreation: false });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  /** Sends `records` at `rate` per second; resolves when all are acknowledged. Returns the achieved rate. */
  async run(records: readonly KeyedRecord<Transaction>[], rate: number, opts: { tickMs?: number; maxInFlight?: number } = {}): Promise<{ seconds: number; achievedRate: number }> {
    const tickMs = opts.tickMs ?? 10;
    const maxInFlight = opts.maxInFlight ?? 64;
    const encoded: Message[] = records.map((r) => {
      const key = Buffer.from(r.key, 'utf8');
      return { key, value: this.serdes.transactions.serialize(r.value), partition: partitionForKey(key, this.partitions), timestamp: String(r.timestamp) };
    });
    const inflight = new Set<Promise<unknown>>();
    const t0 = performance.now();
    let next = 0;
    while (next < encoded.length) {
      const due = Math.min(encoded.length, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
      if (due > next) {
        const batch = encoded.slice(next, due);
        const now = Date.now();
        for (let i = next; i < due; i++) this.sentAt.set(records[i]!.value.transactionId, now);
        next = due;
        const p = this.producer.send({ topic: this.topic, messages: batch, acks: 1 }).finally(() => inflight.delete(p));
        inflight.add(p);
        if (inflight.size >= maxInFlight) await Promise.race(inflight);
      }
      await sleep(tickMs);
    }
    await Promise.all(inflight);
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, achievedRate: encoded.length / seconds };
  }
}
