/**
 * The client's one long-lived reader of the decisions and dead-letter topics, shared by every
 * decide() call (no consumer per call).
 *
 * - All partitions: a decision is on its account's partition, which the client knows, but reading
 *   all of them costs one fetch request either way and keeps the reader independent of which
 *   accounts this client happens to publish for.
 * - From the end at start-up: only decisions for transactions published after connect() can be
 *   waited for, so older ones are never read.
 * - No consumer-group membership that matters: KafkaJS has no assign(), so the reader is the only
 *   member of a throw-away group of its own (it gets every partition, never commits, and seeks
 *   itself). After a rejoin it resumes where it was, so a broker hiccup loses no reply.
 * - Isolation from the config: read_committed by default (see config.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import type { AvroSerde } from '../schemas/avroSerde.js';
import type { DeadLetter, Decision } from '../schemas/types.js';

export interface ReplyHandlers {
  /** Whether anyone here wants this transaction's decision; only then is the whole record decoded. */
  wants(transactionId: string): boolean;
  onDecision(decision: Decision): void;
  onDeadLetter(letter: DeadLetter): void;
  /** A record that could not be decoded (reported, skipped). */
  onUndecodable(topic: string, partition: number, offset: number, error: Error): void;
}

export class ReplyConsumer {
  private consumer: Consumer | undefined;
  /** Next offset to read per "topic/partition". */
  private readonly position = new Map<string, number>();

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: {
      clientId: string;
      decisionsTopic: string;
      deadLettersTopic: string;
      readCommitted: boolean;
      serdes: { decisions: AvroSerde<Decision>; decisionIds: AvroSerde<{ transactionId: string }>; deadLetters: AvroSerde<DeadLetter> };
      handlers: ReplyHandlers;
      timeoutMs: number;
    },
  ) {}

  async start(): Promise<void> {
    const { decisionsTopic, deadLettersTopic } = this.opts;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const topic of [decisionsTopic, deadLettersTopic]) {
        for (const p of await admin.fetchTopicOffsets(topic)) this.position.set(`${topic}/${p.partition}`, Number(p.high));
      }
    } finally {
      await admin.disconnect();
    }
    const consumer = this.kafka.consumer({
      groupId: `${this.opts.clientId}-replies-${randomUUID()}`,
      readUncommitted: !this.opts.readCommitted,
      // The broker answers a fetch as soon as a byte is there (minBytes 1); this is only how long
      // an empty fetch waits, so it bounds nothing on the reply path.
      maxWaitTimeInMs: 20,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      retry: { initialRetryTime: 100, retries: 10 },
    });
    this.consumer = consumer;
    let joined!: () => void;
    const positioned = new Promise<void>((resolve) => (joined = resolve));
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const partition of partitions) {
          const at = this.position.get(`${topic}/${partition}`);
          if (at !== undefined) consumer.seek({ topic, partition, offset: String(at) });
        }
      }
      joined();
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [decisionsTopic, deadLettersTopic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch }) => {
        const isDecision = batch.topic === decisionsTopic;
        const { decisions, decisionIds, deadLetters } = this.opts.serdes;
        const values = batch.messages.map((m) => m.value).filter((v): v is Buffer => v !== null);
        // Fetches writer schemas not seen yet (a schema change in the loop), so decoding stays synchronous.
        if (isDecision) await Promise.all([decisions.prefetch(values), decisionIds.prefetch(values)]).catch(() => undefined);
        else await deadLetters.prefetch(values).catch(() => undefined);
        const { handlers } = this.opts;
        for (const m of batch.messages) {
          if (m.value === null) continue;
          try {
            // Every gateway instance reads every decision: most are someone else's, so only the id
            // is decoded (a projection of the record) unless a call here waits for it.
            if (isDecision) {
              if (handlers.wants(decisionIds.deserialize(m.value).transactionId)) handlers.onDecision(decisions.deserialize(m.value));
            } else handlers.onDeadLetter(deadLetters.deserialize(m.value));
          } catch (err) {
            this.opts.handlers.onUndecodable(batch.topic, batch.partition, Number(m.offset), err as Error);
          }
        }
        this.position.set(`${batch.topic}/${batch.partition}`, Number(batch.lastOffset()) + 1);
      },
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`reply consumer not assigned within ${this.opts.timeoutMs} ms`)), this.opts.timeoutMs);
    });
    try {
      await Promise.race([positioned, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    if (c) await c.disconnect();
  }
}
