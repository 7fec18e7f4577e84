/**
 * The registry's state, kept in a compacted single-partition Kafka topic as Confluent keeps it.
 *
 * Reading: each instance tails the whole topic into a RegistryState. KafkaJS cannot assign a
 * partition by hand, so the reader is a consumer group of its own (a fresh random group id per
 * start) with one member: it gets the one partition at once, commits nothing, and so always starts
 * from the beginning, which is what a registry needs. It reads committed records only
 * (read_committed), so a write is visible to every instance at the same point in the log.
 *
 * Catching up ("has this instance seen everything written before now?"): produce a NOOP record and
 * wait until the reader has applied it. Offsets alone cannot answer it: transaction markers take
 * offsets that a consumer never delivers.
 *
 * Writing, safe with several instances on one topic: ids and versions are computed from the state,
 * so two instances computing from the same state must not both write. Every write therefore runs in
 * a Kafka transaction under one transactional id shared by all instances of the topic. Starting it
 * (InitProducerId) fences every other instance's writer: their open transaction is aborted and
 * their commit fails. The writer then catches up, computes its records from the now complete state,
 * and commits. A commit that succeeds proves no other instance started writing in between; one that
 * fails is retried from the start, on the state that now includes the other instance's write.
 * (Confluent reaches the same single-writer property by electing a leader and forwarding writes.)
 * After committing, the writer waits until its own reader has applied the records, so the answer
 * it gives (an id, say) is already what every later read of this instance sees.
 */
import { randomUUID } from 'node:crypto';
import kafkajs, { type Admin, type Consumer, Kafka, type KafkaMessage, type Producer, Partitioners, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { type AuditEvent, encodeAuditEvent } from './audit.js';
import type { RegistryConfig } from './config.js';
import { Errors, RegistryError } from './errors.js';
import { kafkaLogCreator } from './logging.js';
import { type TopicRecord, decodeRecord, encodeKey, encodeValue } from './records.js';
import { RegistryState } from './state.js';
import { kafkajsConnectionOptions, plaintextConnection } from '../topology/kafka/connection.js';

/**
 * A topic the broker that answers does not know (yet, or any more): created a moment ago and its
 * metadata still propagating, or deleted under the running registry.
 */
const TOPIC_NOT_YET_KNOWN = /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/i;

/** What a write wants to append, and what to answer once it is applied. */
export interface PlannedWrite<T> {
  records: TopicRecord[];
  result: T;
  /** Committed in the same transaction as `records` (see audit.ts); ignored when nothing is written. */
  audit?: AuditEvent;
}

interface Waiter {
  offset: number;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/** Upper bound of the random pause before a fenced writer tries again. */
const MAX_RETRY_BACKOFF_MS = 500;
/**
 * How long an open transaction of a crashed instance may hold back readers (read_committed stops
 * at it) before the broker aborts it. The next write of any instance aborts it sooner.
 */
const MAX_TRANSACTION_TIMEOUT_MS = 10_000;

export class KafkaSchemaStore {
  readonly state = new RegistryState();
  private readonly kafka: Kafka;
  /**
   * A client whose errors are expected outcomes of races the code handles (a writer fenced by
   * another instance, a topic created by another instance a moment earlier): logged at debug only.
   */
  private readonly quietKafka: Kafka;
  private readonly transactionalId: string;
  private consumer: Consumer | undefined;
  private noopProducer: Producer | undefined;
  /** Offset of the last record applied to `state`; -1 before the first. */
  private applied = -1;
  private waiters: Waiter[] = [];
  private writeQueue: Promise<unknown> = Promise.resolve();
  private failure: Error | undefined;
  private closing = false;

  constructor(
    private readonly config: RegistryConfig,
    private readonly logger: Logger,
    /** Called when the reader dies for good: the instance can no longer answer correctly. */
    private readonly onFatal: (err: Error) => void = () => {},
  ) {
    const clientId = `riskloop-registry-${config.instanceId ?? `${config.host}-${config.port}-${process.pid}`}`;
    const common = { clientId, ...kafkajsConnectionOptions(config.connection ?? plaintextConnection(config.brokers)), connectionTimeout: 5_000, retry: { retries: 5 } };
    this.kafka = new Kafka({ ...common, logLevel: logLevel.WARN, logCreator: kafkaLogCreator(logger) });
    this.quietKafka = new Kafka({ ...common, logLevel: logLevel.WARN, logCreator: kafkaLogCreator(logger, true) });
    this.transactionalId = `riskloop-registry-writer-${config.topic}`;
  }

  /** Creates the topic if needed, reads it to the end, and only then resolves. */
  async start(): Promise<void> {
    await this.ensureTopic();
    await this.ensureAuditTopic();
    const groupId = `riskloop-registry-reader-${this.config.topic}-${randomUUID()}`;
    const consumer = this.kafka.consumer({
      groupId,
      readUncommitted: false,
      // The broker answers a fetch as soon as a committed record arrives; this bounds idle polls only.
      maxWaitTimeInMs: 500,
      allowAutoTopicCreation: false,
    });
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart) this.fail(new Error(`the ${this.config.topic} reader stopped: ${payload.error.message}`));
      else this.logger.warn({ err: payload.error }, 'topic reader crashed; KafkaJS restarts it');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.config.topic], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => this.onMessage(message) });

    this.noopProducer = this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await this.noopProducer.connect();
    const started = Date.now();
    // A fresh broker under load can name a partition's leader in its metadata before that broker
    // serves it (NOT_LEADER_OR_FOLLOWER) for longer than KafkaJS's own retries last (~0.4 s; a
    // stack start-up at load 12 failed so): the first NOOP is sent again until the start deadline.
    const deadline = started + this.config.timeoutMs;
    await this.untilDeadline(() => this.catchUp(deadline));
    this.logger.info(
      { topic: this.config.topic, appliedOffset: this.applied, ms: Date.now() - started, maxId: this.state.maxId() },
      'read the schemas topic to the end',
    );
  }

  /**
   * Resolves once this instance has applied every record committed before the call, so a read
   * after it sees every write that any instance finished before the read began.
   */
  async catchUp(deadline = Date.now() + this.config.timeoutMs): Promise<void> {
    const producer = this.noopProducer;
    if (producer === undefined) throw Errors.storeError('the store is not started');
    const [meta] = await producer.send({
      topic: this.config.topic,
      acks: -1,
      messages: [{ partition: 0, key: encodeKey({ keytype: 'NOOP' }), value: null }],
    });
    if (meta?.baseOffset === undefined) throw Errors.storeError('producing a NOOP record returned no offset');
    await this.waitApplied(Number(meta.baseOffset), deadline, 'reading the schemas topic to its end');
  }

  /**
   * Runs `plan` on the caught-up state and appends its records as the only writer (see the top of
   * this file). `plan` may run more than once and must only read the state; a RegistryError it
   * throws is answered to the client as is.
   */
  write<T>(plan: (state: RegistryState) => PlannedWrite<T>): Promise<T> {
    // Writes of this instance queue up: each fences the writer before it, so running them in
    // parallel would only make them fence each other.
    const run = this.writeQueue.then(() => this.writeFenced(plan));
    this.writeQueue = run.catch(() => undefined);
    return run;
  }

  /**
   * Appends an audit event that goes with no write (a denied or failed attempt) and resolves once
   * the broker has it (acks from all in-sync replicas); rejects with a store error otherwise.
   */
  async appendAudit(event: AuditEvent): Promise<void> {
    const producer = this.noopProducer;
    if (producer === undefined) throw Errors.storeError('the store is not started');
    try {
      await producer.send({ topic: this.config.auditTopic, acks: -1, messages: [encodeAuditEvent(event)] }).catch(async (err: Error) => {
        // Deleted under a running registry (see writeFenced): create it again and send once more.
        if (!TOPIC_NOT_YET_KNOWN.test(err.message)) throw err;
        await this.ensureAuditTopic();
        return producer.send({ topic: this.config.auditTopic, acks: -1, messages: [encodeAuditEvent(event)] });
      });
    } catch (err) {
      throw Errors.storeError(`the audit event could not be written to ${this.config.auditTopic}: ${(err as Error).message}`);
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await this.writeQueue;
    this.rejectWaiters(Errors.storeError('the registry is shutting down'));
    await Promise.allSettled([this.consumer?.disconnect(), this.noopProducer?.disconnect()]);
  }

  private async writeFenced<T>(plan: (state: RegistryState) => PlannedWrite<T>): Promise<T> {
    const deadline = Date.now() + this.config.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.assertUsable();
      const producer = this.quietKafka.producer({
        transactionalId: this.transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: Math.min(this.config.timeoutMs, MAX_TRANSACTION_TIMEOUT_MS),
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      try {
        await producer.connect();
        // A new producer has no producer id yet: this InitProducerId is what fences the others.
        const transaction = await producer.transaction();
        await this.catchUp(deadline);
        const planned = plan(this.state);
        // Nothing sent means nothing to commit; disconnecting leaves no open transaction.
        if (planned.records.length === 0) return planned.result;
        const sent = await transaction.sendBatch({
          acks: -1,
          topicMessages: [
            {
              topic: this.config.topic,
              messages: planned.records.map((r) => ({ partition: 0, key: encodeKey(r.key), value: encodeValue(r) })),
            },
            ...(planned.audit === undefined
              ? []
              : [{ topic: this.config.auditTopic, messages: [encodeAuditEvent(planned.audit)] }]),
          ],
        });
        const meta = sent.find((m) => m.topicName === this.config.topic);
        await transaction.commit();
        if (meta?.baseOffset === undefined) throw Errors.storeError('the transactional write returned no offset');
        // One send to one partition is one record batch: its records have consecutive offsets.
        const last = Number(meta.baseOffset) + planned.records.length - 1;
        await this.waitApplied(last, deadline, 'applying the write');
        return planned.result;
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        const error = err instanceof Error ? err : new Error(String(err));
        // No attempt limit: under contention some instance always wins, so retrying until the
        // request's deadline only gives up when the topic itself is unreachable.
        if (Date.now() >= deadline || this.closing) {
          throw Errors.storeError(`writing to ${this.config.topic} failed after ${attempt} attempts: ${error.message}`);
        }
        // Usually another instance fenced this writer; back off with jitter so the two do not
        // keep fencing each other, then plan again on the state that includes its write.
        this.logger.info({ attempt, reason: error.message }, 'write to the schemas topic interrupted; retrying');
        // The audit topic deleted under a running registry would fail every write until its
        // deadline: create it again (writes stay audited from then on; the deletion is the operator's).
        if (TOPIC_NOT_YET_KNOWN.test(error.message)) {
          await this.ensureAuditTopic().catch((e: unknown) => this.logger.warn({ err: (e as Error).message }, 'audit topic check failed'));
        }
        await sleep(Math.random() * Math.min(MAX_RETRY_BACKOFF_MS, 20 * 2 ** attempt));
      } finally {
        await producer.disconnect().catch(() => undefined);
      }
    }
  }

  private onMessage(message: KafkaMessage): void {
    const offset = Number(message.offset);
    // After KafkaJS restarts a crashed reader it reads from the beginning again (nothing is
    // committed); what was applied already must not be applied twice, or state would step back.
    if (offset <= this.applied) return;
    const decoded = decodeRecord(message.key, message.value);
    if ('record' in decoded) this.state.apply(decoded.record);
    else this.logger.warn({ offset, reason: decoded.skipped }, 'skipped a record of the schemas topic');
    this.applied = offset;
    if (this.waiters.length > 0) {
      const due = this.waiters.filter((w) => w.offset <= offset);
      this.waiters = this.waiters.filter((w) => w.offset > offset);
      for (const w of due) {
        clearTimeout(w.timer);
        w.resolve();
      }
    }
  }

  private waitApplied(offset: number, deadline: number, what: string): Promise<void> {
    // Not assertUsable(): a write already under way when close() begins may still finish.
    if (this.failure !== undefined) return Promise.reject(Errors.storeError(this.failure.message));
    if (this.applied >= offset) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        offset,
        resolve,
        reject,
        timer: setTimeout(
          () => {
            this.waiters = this.waiters.filter((w) => w !== waiter);
            reject(
              Errors.storeTimeout(
                `${what}: offset ${offset} of ${this.config.topic} not read within ${this.config.timeoutMs} ms ` +
                  `(read up to ${this.applied})`,
              ),
            );
          },
          Math.max(0, deadline - Date.now()),
        ),
      };
      this.waiters.push(waiter);
    });
  }

  private async ensureTopic(): Promise<void> {
    const { topic } = this.config;
    const admin = this.quietKafka.admin();
    await admin.connect();
    try {
      const partitions = await this.createIfMissing(admin, topic, [{ name: 'cleanup.policy', value: 'compact' }], 'schemas topic checked');
      if (partitions !== 1) {
        // Order across all records is what makes the state the same on every instance.
        throw new Error(`topic ${topic} has ${partitions} partitions; the schema registry needs exactly 1`);
      }
      // A topic created a moment ago may not be known yet to the broker that answers
      // DescribeConfigs (UNKNOWN_TOPIC_OR_PARTITION: seen once, starting a registry on a fresh topic).
      const described = await this.untilDeadline(() =>
        admin.describeConfigs({
          includeSynonyms: false,
          // Node's named-export detection for KafkaJS stops before ConfigResourceTypes: take it off the module.
          resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }],
        }),
      );
      const policy = described.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue;
      if (policy !== 'compact') {
        this.logger.warn({ topic, policy }, 'schemas topic is not compacted; schemas may be lost to retention');
      }
    } finally {
      await admin.disconnect();
    }
  }

  /** The audit topic is shared with riskloop's other writers; created here only if nobody has yet. */
  private async ensureAuditTopic(): Promise<void> {
    const topic = this.config.auditTopic;
    const admin = this.quietKafka.admin();
    await admin.connect();
    try {
      await this.createIfMissing(admin, topic, [], 'audit topic checked');
    } finally {
      await admin.disconnect();
    }
  }

  /** Creates a one-partition topic unless it exists; answers its partition count once all have a leader. */
  private async createIfMissing(admin: Admin, topic: string, configEntries: { name: string; value: string }[], checked: string): Promise<number> {
    if (!(await admin.listTopics()).includes(topic)) {
      const { brokers } = await admin.describeCluster();
      try {
        // Another instance may create it at the same moment; createTopics then answers false.
        const created = await admin.createTopics({
          waitForLeaders: true,
          // Replication: Confluent's default (3), bounded by what the cluster has.
          topics: [{ topic, numPartitions: 1, replicationFactor: Math.min(3, brokers.length), configEntries }],
        });
        this.logger.info({ topic, created }, checked);
      } catch (err) {
        // Created, but not yet known to the broker KafkaJS asks for its leaders (KRaft metadata still
        // propagating; seen on a fresh broker under load): partitionsWithLeader below waits for it.
        if (!(err instanceof Error) || !TOPIC_NOT_YET_KNOWN.test(err.message)) throw err;
      }
    }
    return this.partitionsWithLeader(admin, topic);
  }

  /**
   * The topic's partition count once every partition has a leader. An instance that found the
   * topic created by another instance a moment ago can see it before the broker serves it
   * (UNKNOWN_TOPIC_OR_PARTITION, LEADER_NOT_AVAILABLE), so this asks again until the deadline.
   */
  private async partitionsWithLeader(admin: Admin, topic: string): Promise<number> {
    const deadline = Date.now() + this.config.timeoutMs;
    for (;;) {
      try {
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
        const partitions = metadata.topics[0]?.partitions ?? [];
        if (partitions.length > 0 && partitions.every((p) => p.leader >= 0)) return partitions.length;
      } catch (err) {
        if (Date.now() >= deadline) throw err;
      }
      if (Date.now() >= deadline) throw new Error(`topic ${topic} has no leader after ${this.config.timeoutMs} ms`);
      await sleep(100);
    }
  }

  /** Runs `attempt` until it succeeds, every 100 ms, giving up with its last error at the start deadline. */
  private async untilDeadline<T>(attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.config.timeoutMs;
    for (;;) {
      try {
        return await attempt();
      } catch (err) {
        if (Date.now() >= deadline) throw err;
        await sleep(100);
      }
    }
  }

  private assertUsable(): void {
    if (this.failure !== undefined) throw Errors.storeError(this.failure.message);
    if (this.closing) throw Errors.storeError('the registry is shutting down');
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.logger.fatal({ err }, 'schemas topic reader failed');
    this.rejectWaiters(Errors.storeError(err.message));
    this.onFatal(err);
  }

  private rejectWaiters(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
