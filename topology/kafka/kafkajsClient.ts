/**
 * The KafkaClient interfaces on KafkaJS 2.2.4.
 *
 * KafkaJS facts this file designs around (see its issue tracker):
 *  - GROUP_JOIN is emitted synchronously inside join/sync, before fetching resumes, so pausing
 *    in that handler keeps a new partition from being fetched before its task is ready.
 *  - Batches of only control records / aborted data never reach eachBatch; END_BATCH_PROCESS still
 *    reports their last offset, which is how readers know they reached the end (#1256).
 *  - Transactional calls must not overlap (#1068): every call on one producer is chained.
 *  - CONCURRENT_TRANSACTIONS right after a commit is normal (markers still being written); a short
 *    initial retry time keeps exactly-once throughput from paying KafkaJS' default 300 ms back-off.
 *    KafkaJS retries it for AddPartitionsToTxn but not for AddOffsetsToTxn: sendOffsets retries here.
 *  - The consumer restarts itself after a crash only when KafkaJS deems the error retriable; some
 *    errors of a broker restart (KafkaJSGroupCoordinatorNotFound) and of a moved generation are
 *    raised as non-retriable. The group consumer here restarts on every non-fatal error
 *    (errorClass.ts) and reports only fatal ones as a crash.
 */
import { randomUUID } from 'node:crypto';
import kafkajs, {
  AssignerProtocol,
  Kafka,
  PartitionAssigners,
  logLevel as KafkaLogLevel,
  type Assigner,
  type ConsumerRunConfig,
  type PartitionAssigner,
  type Consumer,
  type IHeaders,
  type KafkaMessage,
  type Producer as KjsProducer,
  type Transaction,
  type Message,
  type LogEntry,
} from 'kafkajs';
import type { Logger } from 'pino';
import type { RawRecord } from '../records.js';
import { tpKey } from '../records.js';
import type {
  Admin,
  FetchedBatch,
  GroupConsumer,
  GroupConsumerHandlers,
  KafkaClient,
  OutgoingRecord,
  PartitionReader,
  Producer,
  TopicPartition,
  TopicPartitionOffset,
  TaskAssignmentHints,
  TopicLimits,
  TopicSpec,
  TransactionalProducer,
} from './client.js';
import { kafkajsConnectionOptions, type KafkaConnection } from './connection.js';
import { classifyError } from './errorClass.js';
import { assignTasks, decodeTaskHints, encodeTaskHints } from './stickyTaskAssignor.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

// Not among the names Node's ESM loader detects in KafkaJS' CommonJS exports: read from the default export.
const { ConfigResourceTypes } = kafkajs;

function toHeaders(h: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined) continue;
    out[k] = Buffer.isBuffer(first) ? first : Buffer.from(first);
  }
  return out;
}

function toRaw(topic: string, partition: number, m: KafkaMessage): RawRecord {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    timestamp: Number(m.timestamp),
    key: m.key,
    value: m.value,
    headers: toHeaders(m.headers),
  };
}

function toMessages(records: OutgoingRecord[]): Map<string, Message[]> {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let list = byTopic.get(r.topic);
    if (!list) byTopic.set(r.topic, (list = []));
    const m: Message = { key: r.key, value: r.value, timestamp: String(r.timestamp) };
    if (r.headers) m.headers = r.headers;
    if (r.partition !== undefined) m.partition = r.partition;
    list.push(m);
  }
  return byTopic;
}

/**
 * KafkaJS sends each partition's messages of one request as one record batch, and the broker
 * refuses a batch over message.max.bytes (1 MiB by default). A poll's worth of output can exceed
 * that, so sends are cut into requests of at most this many bytes (estimated, with overhead).
 */
export const MAX_REQUEST_BYTES = 768 * 1024;

export function chunkBySize<T extends { key: Buffer | null; value: Buffer | null }>(records: T[], maxBytes = MAX_REQUEST_BYTES): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const r of records) {
    const n = (r.key?.length ?? 0) + (r.value?.length ?? 0) + 70;
    if (current.length > 0 && size + n > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += n;
  }
  if (current.length) chunks.push(current);
  return chunks;
}

function offsetsPayload(offsets: TopicPartitionOffset[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const byTopic = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    let list = byTopic.get(o.topic);
    if (!list) byTopic.set(o.topic, (list = []));
    list.push({ partition: o.partition, offset: String(o.offset) });
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
}

/** Chains async calls so that they never overlap. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

export interface KafkajsClientOptions {
  connection: KafkaConnection;
  clientId: string;
  logger: Logger;
}

export function createKafkajsClient(opts: KafkajsClientOptions): KafkaClient {
  const log = opts.logger.child({ component: 'kafkajs' });
  const kafka = new Kafka({
    clientId: opts.clientId,
    ...kafkajsConnectionOptions(opts.connection),
    connectionTimeout: 5000,
    requestTimeout: 30000,
    retry: { initialRetryTime: 50, retries: 8 },
    // KafkaJS logs every retried request at ERROR; route it through pino at debug/warn instead.
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        if (level <= KafkaLogLevel.ERROR) log.debug(rest, message);
        else if (level === KafkaLogLevel.WARN) log.debug(rest, message);
      },
  });

  return {
    async admin(): Promise<Admin> {
      const admin = kafka.admin();
      await admin.connect();
      return {
        async partitionCounts(topics) {
          const out = new Map<string, number>();
          const existing = new Set(await admin.listTopics());
          const wanted = topics.filter((t) => existing.has(t));
          if (wanted.length === 0) return out;
          const md = await admin.fetchTopicMetadata({ topics: wanted });
          for (const t of md.topics) out.set(t.name, t.partitions.length);
          return out;
        },
        async createTopics(specs: TopicSpec[]) {
          if (specs.length === 0) return;
          const existing = new Set(await admin.listTopics());
          const missing = specs.filter((s) => !existing.has(s.topic));
          if (missing.length === 0) return;
          // KafkaJS waits for leaders but gives up on UNKNOWN_TOPIC_OR_PARTITION, which a broker that
          // just started (KRaft metadata still propagating) answers for a new topic: retry that.
          await retryTransient(async () => {
            try {
              await admin.createTopics({
                waitForLeaders: true,
                topics: missing.map((s) => ({
                  topic: s.topic,
                  numPartitions: s.partitions,
                  replicationFactor: s.replicationFactor,
                  configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
                })),
              });
            } catch (err) {
              // Another instance may have created them at the same moment (or our previous attempt did).
              if (!(err instanceof Error) || !/already exists/i.test(err.message)) throw err;
            }
          }, CREATE_TOPICS_RETRIES);
        },
        async committedOffsets(groupId, topics) {
          const res = await admin.fetchOffsets({ groupId, topics });
          const out: TopicPartitionOffset[] = [];
          for (const t of res) {
            for (const p of t.partitions) {
              const off = Number(p.offset);
              if (off >= 0) out.push({ topic: t.topic, partition: p.partition, offset: off });
            }
          }
          return out;
        },
        async endOffsets(topic) {
          const res = await admin.fetchTopicOffsets(topic);
          return new Map(res.map((p) => [p.partition, Number(p.high)]));
        },
        async beginningOffsets(topic) {
          const res = await admin.fetchTopicOffsets(topic);
          return new Map(res.map((p) => [p.partition, Number(p.low)]));
        },
        async offsetsForTimes(topic, timestamp) {
          // KafkaJS answers the high watermark for a partition without such a record.
          const res = await admin.fetchTopicOffsetsByTimestamp(topic, timestamp);
          return new Map(res.map((p) => [p.partition, Number(p.offset)]));
        },
        async deleteTopics(topics) {
          if (topics.length) await admin.deleteTopics({ topics });
        },
        async topicLimits(topics) {
          const out = new Map<string, TopicLimits>();
          const existing = new Set(await admin.listTopics());
          const wanted = [...new Set(topics)].filter((t) => existing.has(t));
          if (wanted.length === 0) return out;
          const res = await admin.describeConfigs({
            includeSynonyms: false,
            resources: wanted.map((name) => ({ type: ConfigResourceTypes.TOPIC, name, configNames: ['max.message.bytes', 'cleanup.policy'] })),
          });
          for (const r of res.resources) {
            const entry = (name: string): string | undefined => r.configEntries.find((e) => e.configName === name)?.configValue;
            const max = Number(entry('max.message.bytes'));
            out.set(r.resourceName, {
              maxMessageBytes: Number.isFinite(max) && max > 0 ? max : DEFAULT_MAX_MESSAGE_BYTES,
              compacted: (entry('cleanup.policy') ?? '').includes('compact'),
            });
          }
          return out;
        },
        async disconnect() {
          await admin.disconnect();
        },
      };
    },

    groupConsumer(copts): GroupConsumer {
      const consumer = kafka.consumer({
        groupId: copts.groupId,
        readUncommitted: !copts.readCommitted,
        sessionTimeout: copts.sessionTimeoutMs,
        heartbeatInterval: copts.heartbeatIntervalMs,
        rebalanceTimeout: Math.max(60_000, copts.sessionTimeoutMs),
        maxBytesPerPartition: copts.maxBytesPerPartition,
        maxWaitTimeInMs: 50,
        // restartOnFailure is asked only for errors KafkaJS itself deems retriable: restart unless fatal.
        retry: { initialRetryTime: 100, retries: 10, restartOnFailure: async (e: Error) => classifyError(e).kind !== 'fatal' },
        ...(copts.assignment ? { partitionAssigners: [stickyTaskAssigner(copts.assignment), PartitionAssigners.roundRobin] } : {}),
      });
      return new KafkajsGroupConsumer(consumer, log);
    },

    partitionReader(ropts): PartitionReader {
      return new KafkajsPartitionReader(kafka, ropts.readCommitted, opts.clientId);
    },

    async producer(): Promise<Producer> {
      const p = kafka.producer({ idempotent: true, maxInFlightRequests: 5, allowAutoTopicCreation: false });
      await p.connect();
      return {
        async send(records) {
          for (const chunk of chunkBySize(records)) {
            const topicMessages = [...toMessages(chunk)].map(([topic, messages]) => ({ topic, messages }));
            await p.sendBatch({ topicMessages, acks: -1 });
          }
        },
        async disconnect() {
          await p.disconnect();
        },
      };
    },

    transactionalProducer(transactionalId: string): TransactionalProducer {
      return new KafkajsTransactionalProducer(kafka, transactionalId);
    },
  };
}

/** Back-off of the group consumer's own restarts (non-retriable but non-fatal crashes). */
const RESTART_BACKOFF_MS = [500, 1000, 2000, 5000];

/** The broker default of message.max.bytes (and so of a topic's max.message.bytes). */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

class KafkajsGroupConsumer implements GroupConsumer {
  private started = false;
  private stopped = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  constructor(
    private readonly consumer: Consumer,
    private readonly log: Logger,
  ) {}

  async start(topics: string[], handlers: GroupConsumerHandlers): Promise<void> {
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      this.restarts = 0;
      const assignment: TopicPartition[] = [];
      for (const [topic, partitions] of Object.entries(e.payload.memberAssignment)) {
        for (const partition of partitions) assignment.push({ topic, partition });
      }
      handlers.onAssignment(assignment);
    });
    const runConfig: ConsumerRunConfig = {
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, heartbeat }) => {
        const records = batch.messages.map((m) => toRaw(batch.topic, batch.partition, m));
        const nextOffset = Number(batch.lastOffset()) + 1;
        await handlers.onBatch(
          { topic: batch.topic, partition: batch.partition, records, nextOffset, highWatermark: Number(batch.highWatermark) },
          heartbeat,
        );
      },
    };
    const handleCrash = (error: Error, kafkajsRestarts: boolean): void => {
      if (this.stopped) return;
      if (kafkajsRestarts) {
        handlers.onRestart?.(error);
        return;
      }
      const c = classifyError(error);
      if (c.kind === 'fatal') {
        handlers.onCrash?.(error);
        return;
      }
      // KafkaJS gave up (it restarts only on errors it deems retriable); this one is not fatal, so
      // run the consumer again, as KafkaJS' own restart does (the subscription is kept).
      const delay = RESTART_BACKOFF_MS[Math.min(this.restarts, RESTART_BACKOFF_MS.length - 1)]!;
      this.restarts++;
      this.log.warn({ kind: c.kind, code: c.code, delayMs: delay }, 'group consumer stopped on a non-fatal error; restarting it');
      handlers.onRestart?.(error);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (this.stopped) return;
        this.consumer.run(runConfig).catch((err: Error) => {
          // run() itself failing (the broker still gone) is another crash of the same kind.
          handleCrash(err, false);
        });
      }, delay);
    };
    this.consumer.on(this.consumer.events.CRASH, (e) => handleCrash(e.payload.error, e.payload.restart));
    await this.consumer.connect();
    await this.consumer.subscribe({ topics, fromBeginning: true });
    this.started = true;
    await this.consumer.run(runConfig);
  }

  pause(partitions: TopicPartition[]): void {
    if (partitions.length) this.whileRunning('pause', () => this.consumer.pause(group(partitions)));
  }

  resume(partitions: TopicPartition[]): void {
    if (partitions.length) this.whileRunning('resume', () => this.consumer.resume(group(partitions)));
  }

  seek(p: TopicPartitionOffset): void {
    this.whileRunning('seek', () => this.consumer.seek({ topic: p.topic, partition: p.partition, offset: String(p.offset) }));
  }

  /**
   * KafkaJS throws from pause/resume/seek while its consumer is down between a crash and the
   * restart (no consumer group): nothing is fetched then, and the restart starts from the committed
   * offsets with a fresh assignment, so the call has nothing to act on. Seen during a broker restart
   * (test/integration/faults.test.ts): a task reset's pause threw out of the stream thread.
   */
  private whileRunning(what: string, call: () => void): void {
    try {
      call();
    } catch (err) {
      if (!/consumer#run must be called first/.test((err as Error).message)) throw err;
      this.log.debug({ call: what }, 'consumer not running (restarting): call skipped');
    }
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    try {
      await this.consumer.commitOffsets(offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })));
    } catch (err) {
      // Between a crash and its restart KafkaJS has no consumer group to commit through: that is
      // transient (errorClass.ts honours `kind`), the offsets are committed after the restart.
      if (/consumer#run must be called first/.test((err as Error).message)) throw Object.assign(err as Error, { kind: 'retriable' });
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.started) await this.consumer.disconnect();
  }
}

/**
 * A KafkaJS partition assigner over `assignTasks`: members send the tasks they own and those with
 * state on disk in their JoinGroup userData; the leader assigns whole tasks stickily.
 */
function stickyTaskAssigner(hints: TaskAssignmentHints): PartitionAssigner {
  return ({ cluster }): Assigner => ({
    name: 'RiskloopStickyTaskAssigner',
    version: 1,
    async assign({ members, topics }) {
      const tasks = new Map<string, TopicPartition[]>();
      for (const topic of topics) {
        for (const m of cluster.findTopicPartitionMetadata(topic)) {
          const tp = { topic, partition: m.partitionId };
          // A topic the topology does not map to a task (should not happen) is its own task.
          const id = hints.taskOf(tp) ?? `${topic}#${m.partitionId}`;
          const list = tasks.get(id) ?? [];
          list.push(tp);
          tasks.set(id, list);
        }
      }
      const memberHints = members.map((m) => {
        const meta = m.memberMetadata.length ? AssignerProtocol.MemberMetadata.decode(m.memberMetadata) : null;
        return { memberId: m.memberId, ...decodeTaskHints(meta?.userData) };
      });
      const assigned = assignTasks(memberHints, tasks);
      return [...assigned].map(([memberId, tps]) => {
        const assignment: { [topic: string]: number[] } = {};
        for (const tp of tps) (assignment[tp.topic] ??= []).push(tp.partition);
        return { memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }) };
      });
    },
    protocol({ topics }) {
      return {
        name: 'RiskloopStickyTaskAssigner',
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 1,
          topics,
          userData: encodeTaskHints({ owned: hints.owned(), stateful: hints.stateful() }),
        }),
      };
    },
  });
}

function group(partitions: TopicPartition[]): { topic: string; partitions: number[] }[] {
  const m = new Map<string, number[]>();
  for (const p of partitions) {
    let l = m.get(p.topic);
    if (!l) m.set(p.topic, (l = []));
    l.push(p.partition);
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}

/**
 * KafkaJS has no assign(): a reader is a consumer in a throw-away group of its own (sole member,
 * so it is assigned every partition), positioned with seek and never committing.
 */
class KafkajsPartitionReader implements PartitionReader {
  private consumer: Consumer | undefined;
  constructor(
    private readonly kafka: Kafka,
    private readonly readCommitted: boolean,
    private readonly clientId: string,
  ) {}

  async read(
    from: TopicPartitionOffset[],
    onBatch: (batch: FetchedBatch) => Promise<void> | void,
    opts: { follow?: boolean; until?: Map<string, number>; onFollowError?: (error: Error) => void } = {},
  ): Promise<void> {
    if (from.length === 0) return;
    const admin = this.kafka.admin();
    await admin.connect();
    const topics = [...new Set(from.map((f) => f.topic))];
    const ends = new Map<string, number>();
    const lows = new Map<string, number>();
    try {
      for (const t of topics) {
        for (const p of await admin.fetchTopicOffsets(t)) {
          ends.set(tpKey({ topic: t, partition: p.partition }), Number(p.high));
          lows.set(tpKey({ topic: t, partition: p.partition }), Number(p.low));
        }
      }
    } finally {
      await admin.disconnect();
    }
    const wanted = new Map(from.map((f) => [tpKey(f), f]));
    const pending = new Set<string>();
    for (const f of from) {
      const k = tpKey(f);
      const end = opts.until?.get(k) ?? ends.get(k) ?? 0;
      if (Math.max(f.offset, lows.get(k) ?? 0) < end) pending.add(k);
      if (opts.until?.has(k)) ends.set(k, end);
    }
    if (pending.size === 0 && !opts.follow) return;

    const consumer = this.kafka.consumer({
      groupId: `riskloop-reader-${this.clientId}-${randomUUID()}`,
      readUncommitted: !this.readCommitted,
      maxWaitTimeInMs: 50,
      maxBytesPerPartition: 4 * 1024 * 1024,
      sessionTimeout: 30000,
      retry: { initialRetryTime: 100, retries: 10, restartOnFailure: async (e: Error) => classifyError(e).kind !== 'fatal' },
    });
    this.consumer = consumer;
    let resolveDone!: () => void;
    let rejectDone!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    const progress = (topic: string, partition: number, next: number): void => {
      const k = tpKey({ topic, partition });
      if (pending.has(k) && next >= (ends.get(k) ?? 0)) {
        pending.delete(k);
        if (pending.size === 0) resolveDone();
      }
    };
    // Batches of only control markers never reach eachBatch; this event still reports them.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      progress(e.payload.topic, e.payload.partition, Number(e.payload.lastOffset) + 1);
    });
    let caughtUp = false;
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart) return;
      // After the initial read, a following reader has no caller waiting: report through the hook.
      if (caughtUp && opts.onFollowError) opts.onFollowError(e.payload.error);
      else rejectDone(e.payload.error);
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      // Position each wanted partition; pause the rest so nothing else is read.
      const unwanted: TopicPartition[] = [];
      for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) {
        for (const partition of parts) {
          const f = wanted.get(tpKey({ topic, partition }));
          if (f) consumer.seek({ topic, partition, offset: String(f.offset) });
          else unwanted.push({ topic, partition });
        }
      }
      if (unwanted.length) consumer.pause(group(unwanted));
    });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const k = tpKey(batch);
        if (!wanted.has(k)) return;
        const end = ends.get(k) ?? 0;
        let records = batch.messages.map((m) => toRaw(batch.topic, batch.partition, m));
        if (!opts.follow && opts.until?.has(k)) records = records.filter((r) => r.offset < end);
        try {
          await onBatch({
            topic: batch.topic,
            partition: batch.partition,
            records,
            nextOffset: Number(batch.lastOffset()) + 1,
            highWatermark: Number(batch.highWatermark),
          });
        } catch (err) {
          rejectDone(err as Error);
          throw err;
        }
      },
    });
    if (pending.size === 0) resolveDone();
    try {
      await done;
      caughtUp = true;
    } finally {
      if (!opts.follow) await this.stop();
    }
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    if (c) await c.disconnect();
  }
}

/** Back-offs (ms) of createTopics retries. */
const CREATE_TOPICS_RETRIES = [200, 500, 1000, 2000, 3000];

/** Back-offs (ms) of sendOffsets retries: ~3 s in all, several times the time to write markers. */
const SEND_OFFSETS_RETRIES = [20, 40, 80, 160, 320, 640, 1000, 1000];

/** Runs `fn`, retrying after each back-off while the error is retriable (errorClass.ts). */
export async function retryTransient<T>(fn: () => Promise<T>, backoffsMs: readonly number[]): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= backoffsMs.length || classifyError(err).kind !== 'retriable') throw err;
      await new Promise((r) => setTimeout(r, backoffsMs[attempt]));
    }
  }
}

class KafkajsTransactionalProducer implements TransactionalProducer {
  private readonly producer: KjsProducer;
  private txn: Transaction | undefined;
  private readonly serial = new Serial();

  constructor(
    kafka: Kafka,
    readonly transactionalId: string,
  ) {
    this.producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      transactionTimeout: 60_000,
      retry: { initialRetryTime: 20, maxRetryTime: 1000, retries: 15 },
    });
  }

  get inTransaction(): boolean {
    return this.txn !== undefined;
  }

  connect(): Promise<void> {
    // connect() sends InitProducerId for the transactional id: this bumps the epoch and fences
    // an older producer with the same id (a zombie owner of the same task).
    return this.serial.run(() => this.producer.connect());
  }

  begin(): Promise<void> {
    return this.serial.run(async () => {
      if (!this.txn) this.txn = await this.producer.transaction();
    });
  }

  send(records: OutgoingRecord[]): Promise<void> {
    return this.serial.run(async () => {
      if (records.length === 0) return;
      if (!this.txn) this.txn = await this.producer.transaction();
      for (const chunk of chunkBySize(records)) {
        const topicMessages = [...toMessages(chunk)].map(([topic, messages]) => ({ topic, messages }));
        await this.txn.sendBatch({ topicMessages, acks: -1 });
      }
    });
  }

  sendOffsets(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    return this.serial.run(async () => {
      if (offsets.length === 0) return;
      if (!this.txn) this.txn = await this.producer.transaction();
      const txn = this.txn;
      // KafkaJS does not retry AddOffsetsToTxn (CONCURRENT_TRANSACTIONS is routine right after the
      // previous commit, while its markers are written). The transaction stays open on a failure,
      // and AddOffsetsToTxn / TxnOffsetCommit are idempotent within it, so sending again is safe.
      await retryTransient(() => txn.sendOffsets({ consumerGroupId: groupId, topics: offsetsPayload(offsets) }), SEND_OFFSETS_RETRIES);
    });
  }

  commit(): Promise<void> {
    return this.serial.run(async () => {
      const t = this.txn;
      if (!t) return;
      this.txn = undefined;
      await t.commit();
    });
  }

  abort(): Promise<void> {
    return this.serial.run(async () => {
      const t = this.txn;
      if (!t) return;
      this.txn = undefined;
      await t.abort();
    });
  }

  disconnect(): Promise<void> {
    return this.serial.run(() => this.producer.disconnect());
  }
}
