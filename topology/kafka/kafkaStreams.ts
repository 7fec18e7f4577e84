/**
 * KafkaStreams: runs a Topology on a Kafka cluster, as Kafka Streams does.
 *
 * One consumer group per applicationId; each assigned partition belongs to a task
 * (sub-topology × partition). A task is created on assignment, restored from its changelogs
 * (skipping replay when a checkpoint says its local state is current), then fed batches.
 *
 * Guarantees:
 *  - at_least_once: outputs and changelog records are sent after each batch; offsets are
 *    committed through the group at the commit interval, after the producer has acknowledged
 *    everything the committed records caused.
 *  - exactly_once: one transactional producer per task (transactionalId = <applicationId>-<taskId>)
 *    so the next owner of a task fences the previous one by epoch — KafkaJS cannot send the group
 *    generation with offsets (KIP-447), so a producer per instance could not fence zombies. Outputs,
 *    changelog records and input offsets go into the task's transaction, committed at the commit
 *    interval. Local state of a task is trusted only if the task was closed cleanly (checkpoint
 *    present); otherwise it is wiped and rebuilt from the read_committed changelog.
 *
 * All work on tasks (processing, commits, punctuation, rebalances) is serialised by one mutex:
 * it is the "stream thread". Restores run beside it so that a long restore never blocks batches
 * of running tasks, nor the consumer's heartbeats (kafkajs#387).
 *
 * Errors (see errorClass.ts for the classes): every error the runtime meets goes through
 * `handleError`, which acts on its class, as Kafka Streams does:
 *  - retriable (broker/network/coordinator briefly gone): at_least_once sends are retried in place
 *    and commits retried at the next interval, with back-off; the consumer restarts and rejoins by
 *    itself. Meanwhile the state is REBALANCING (not ready); it returns to RUNNING on the next
 *    successful commit. Under exactly_once a task whose send or commit failed this way has an open
 *    transaction in an unknown state: it is reset (aborted, wiped, restored) — see `resetTask`.
 *  - migrated (group generation moved; task fenced): at_least_once commits keep their offsets for
 *    the next commit and the consumer rejoins; a fenced exactly_once task is closed dirty and
 *    recreated if the next assignment still gives it to this instance.
 *  - corrupted: the task is closed dirty, wiped and restored.
 *  - per-record: refused before sending (TaskOutput) and decided by the production handler; one that
 *    still fails asynchronously is sent alone (at_least_once) or resets the task (exactly_once).
 *  - fatal (authorization, unsupported version/config, a handler's FAIL, unknown errors, or
 *    recoverable errors lasting longer than `maxTransientErrorMs` without a successful commit, or
 *    more than MAX_RESETS resets for corrupted state / refused records without one): the instance
 *    goes to ERROR and emits 'error'.
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { existsSync, readdirSync } from 'node:fs';
import { CHECKPOINT_FILE, CorruptCheckpointError, deleteCheckpoint, readCheckpoint, writeCheckpoint } from '../../state/checkpoint.js';
import type { ChangeRecord, KeyValue, KeyValueStore, StateStore, WindowStore, WindowedKeyValue, WindowedValue } from '../../state/types.js';
import { plainView } from '../dsl/timestampedStore.js';
import { partitionForKey } from '../murmur2.js';
import type { Serde } from '../serde.js';
import type { ErrorHandlers } from '../errors.js';
import { GlobalStateTask } from '../globalStateTask.js';
import type { RawRecord, TopicPartition, TopicPartitionOffset } from '../records.js';
import { tpKey } from '../records.js';
import { StreamTask } from '../streamTask.js';
import type { Topology } from '../topology.js';
import type { Admin, FetchedBatch, GroupConsumer, KafkaClient, OutgoingRecord, PartitionReader, Producer, TopicLimits, TransactionalProducer } from './client.js';
import { parseStreamsConfig, type StreamsConfig, type StreamsConfigInput } from './config.js';
import { type ErrorClass, classifyError } from './errorClass.js';
import { awaitInternalTopics, prepareInternalTopics } from './internalTopics.js';
import { createKafkajsClient } from './kafkajsClient.js';
import { StreamsMetrics } from './metrics.js';
import { Mutex } from './mutex.js';
import { OutputPump } from './outputPump.js';
import { recordBytes } from '../recordCollector.js';
import { type RecordLimit, TaskOutput } from './taskOutput.js';
import { waitForRunning } from './waitForRunning.js';

/** Records queued for the producer before processing waits for it (per pump). */
const MAX_PENDING_OUTPUT = 50_000;

/**
 * Bytes of a one-record batch besides key, value and headers: the v2 batch header (61) and the
 * record's own varints (≤ 30). A record over max.message.bytes less this is refused before sending.
 */
export const BATCH_OVERHEAD_BYTES = 128;

/**
 * Resets for a non-retriable cause (corrupted state, a per-record send failure the size check did
 * not foresee) in a row without a successful commit before the instance gives up: such a loop
 * would otherwise repeat forever. Resets for retriable causes (the broker away) are bounded by
 * maxTransientErrorMs instead.
 */
const MAX_RESETS = 5;

/** Back-off of retried sends and commits: 100 ms doubling to 5 s. */
function backoffMs(attempt: number): number {
  return Math.min(5_000, 100 * 2 ** Math.min(attempt, 6));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Interactive queries: a key-value store read across this instance's tasks. */
export interface ReadOnlyKeyValueStore<K, V> {
  get(key: K): V | undefined;
  all(): IterableIterator<KeyValue<K, V>>;
  /** Each task's entries in key-byte order, task after task (not globally ordered). */
  range(from: K | undefined, to: K | undefined): IterableIterator<KeyValue<K, V>>;
  approximateNumEntries(): number;
}

export interface ReadOnlyWindowStore<K, V> {
  fetch(key: K, windowStart: number): V | undefined;
  fetchRange(key: K, timeFrom: number, timeTo: number): IterableIterator<WindowedValue<V>>;
  all(): IterableIterator<WindowedKeyValue<K, V>>;
}

/** Where a key of a store lives (Kafka Streams' KeyQueryMetadata, without other instances' hosts). */
export interface KeyQueryMetadata {
  storeName: string;
  /** The input topic the store's sub-topology is partitioned by. */
  topic: string;
  partition: number;
  taskId: string;
  /** Whether this instance runs that task now (and so `keyValueStore(storeName).get(key)` answers). */
  local: boolean;
}

/** How often, at most, the global stores are flushed and checkpointed while running (checkpointGlobal). */
const GLOBAL_CHECKPOINT_MS = 10_000;

export type StreamsState = 'CREATED' | 'REBALANCING' | 'RUNNING' | 'PENDING_SHUTDOWN' | 'NOT_RUNNING' | 'ERROR';

interface ActiveTask {
  readonly task: StreamTask;
  readonly output: TaskOutput;
  readonly producer: TransactionalProducer | undefined;
  /** Sends this task's records in order in the background: its own under exactly_once, the shared one otherwise. */
  readonly pump: OutputPump;
  readonly inputs: TopicPartition[];
  status: 'restoring' | 'running' | 'closed';
  /** Next offset to process per input partition; batches below it are duplicates of a refetch. */
  readonly position: Map<string, number>;
  /** Bounded runs: the end offset of each input partition when the task started. */
  readonly ends: Map<string, number>;
  /** After a retriable processing failure: when to try the buffered records again, and how often it failed. */
  retryAt: number;
  retries: number;
  /** The restore running beside the stream thread (settled once the task runs or was cancelled). */
  restoring?: Promise<void>;
}

export interface KafkaStreamsDeps {
  logger?: Logger;
  client?: KafkaClient;
  metrics?: StreamsMetrics;
  errorHandlers?: ErrorHandlers;
}

class RestoreCancelled extends Error {}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export class KafkaStreams extends EventEmitter {
  readonly config: StreamsConfig;
  readonly metrics: StreamsMetrics;
  private readonly log: Logger;
  private readonly client: KafkaClient;
  private readonly mutex = new Mutex();
  private readonly tasks = new Map<string, ActiveTask>();
  private readonly taskByPartition = new Map<string, ActiveTask>();
  private currentState: StreamsState = 'CREATED';
  private admin: Admin | undefined;
  private consumer: GroupConsumer | undefined;
  private producer: Producer | undefined;
  private sharedPump: OutputPump | undefined;
  private globalTask: GlobalStateTask | undefined;
  /** The global task's update count at its last flush and checkpoint (checkpointGlobal). */
  private globalCheckpointed = 0;
  private globalCheckpointAt = 0;
  private globalReader: PartitionReader | undefined;
  private readonly readers = new Set<PartitionReader>();
  private timer: NodeJS.Timeout | undefined;
  private lastCommit = Date.now();
  private fatal: Error | undefined;
  /** The current assignment by task: lets a reset task come back while this instance still owns it. */
  private readonly assigned = new Map<string, TopicPartition[]>();
  private readonly limits = new Map<string, TopicLimits>();
  private readonly recordLimits = new Map<string, RecordLimit | undefined>();
  /** Since when recoverable errors have gone on without a successful commit; undefined when healthy. */
  private troubleSince: number | undefined;
  /** A recoverable error was met: report REBALANCING (not ready) until the next successful commit. */
  private degraded = false;
  private commitAttempts = 0;
  private nextCommitAt = 0;
  private resets = 0;
  private readonly resetTimers = new Set<NodeJS.Timeout>();
  /** Tasks whose stores are closed after their cancelled restore stops; keyed by task id. */
  private readonly closingTasks = new Map<string, Promise<void>>();

  constructor(
    readonly topology: Topology,
    config: StreamsConfigInput,
    private readonly deps: KafkaStreamsDeps = {},
  ) {
    super();
    this.config = parseStreamsConfig(config);
    if (topology.applicationId !== this.config.applicationId) {
      throw new Error(`topology was built for ${topology.applicationId} but the config says ${this.config.applicationId}`);
    }
    this.log = (deps.logger ?? pino({ level: 'info' })).child({ app: this.config.applicationId, client: this.config.clientId });
    this.metrics = deps.metrics ?? new StreamsMetrics();
    this.client = deps.client ?? createKafkajsClient({ connection: this.config.connection, clientId: this.config.clientId, logger: this.log });
  }

  get state(): StreamsState {
    return this.currentState;
  }

  private setState(next: StreamsState): void {
    if (next === this.currentState) return;
    const prev = this.currentState;
    this.currentState = next;
    this.log.info({ from: prev, to: next }, 'state change');
    this.emit('stateChange', next, prev);
  }

  /** Ids of the tasks this instance owns, with their status. */
  /**
   * Interactive queries: a read-only view of a named key-value store over this instance's running
   * tasks (restoring ones are left out, as Kafka Streams does by default). A KTable's rows are
   * returned as plain values. A key held by another instance reads as undefined: ask
   * `queryMetadataForKey` which partition holds it and whether it is local.
   */
  keyValueStore<K, V>(storeName: string): ReadOnlyKeyValueStore<K, V> {
    const local = (): KeyValueStore<K, V>[] => this.localStores<KeyValueStore<K, V>>(storeName).map((s) => plainView(s));
    return {
      get: (key) => {
        for (const store of local()) {
          const v = store.get(key);
          if (v !== undefined) return v;
        }
        return undefined;
      },
      *all() {
        for (const store of local()) yield* store.all();
      },
      *range(from, to) {
        for (const store of local()) yield* store.range(from, to);
      },
      approximateNumEntries: () => local().reduce((n, s) => n + s.approximateNumEntries(), 0),
    };
  }

  /** Interactive queries on a window store (windowed aggregations hold { value, timestamp } per window). */
  windowStore<K, V>(storeName: string): ReadOnlyWindowStore<K, V> {
    const local = (): WindowStore<K, V>[] => this.localStores<WindowStore<K, V>>(storeName);
    return {
      fetch: (key, windowStart) => {
        for (const store of local()) {
          const v = store.fetch(key, windowStart);
          if (v !== undefined) return v;
        }
        return undefined;
      },
      *fetchRange(key, timeFrom, timeTo) {
        for (const store of local()) yield* store.fetchRange(key, timeFrom, timeTo);
      },
      *all() {
        for (const store of local()) yield* store.all();
      },
    };
  }

  /**
   * Which partition (and so which task) holds `key` in `storeName`, and whether it runs here: the
   * key's murmur2 partition among the store's sub-topology's input partitions (the default
   * partitioner, as writes to it use). Instances learn only their own assignment from KafkaJS, so
   * `local: false` says "ask another instance", not which one.
   */
  async queryMetadataForKey<K>(storeName: string, key: K, keySerde: Serde<K>): Promise<KeyQueryMetadata> {
    const sub = this.topology.subtopologies().find((s) => s.stores.includes(storeName));
    if (!sub) throw new Error(`no store named ${storeName} in this topology`);
    if (!this.admin) throw new Error('queryMetadataForKey needs a started KafkaStreams');
    const topic = sub.sourceTopics[0]!;
    const count = (await this.admin.partitionCounts([topic])).get(topic);
    if (count === undefined) throw new Error(`topic ${topic} of store ${storeName} does not exist`);
    const partition = partitionForKey(keySerde.serialize(key, topic), count);
    const taskId = `${sub.id}_${partition}`;
    const task = this.tasks.get(taskId);
    return { storeName, topic, partition, taskId, local: task !== undefined && task.status === 'running' };
  }

  private localStores<S extends StateStore>(storeName: string): S[] {
    const global = this.globalTask?.stores().get(storeName);
    if (global) return [global as S];
    const out: S[] = [];
    for (const at of this.tasks.values()) {
      if (at.status !== 'running') continue;
      const store = at.task.stores().get(storeName);
      if (store) out.push(store as S);
    }
    if (out.length === 0 && !this.topology.subtopologies().some((s) => s.stores.includes(storeName))) throw new Error(`no store named ${storeName} in this topology`);
    return out;
  }

  taskStates(): { id: string; status: ActiveTask['status'] }[] {
    return [...this.tasks.values()].map((t) => ({ id: t.task.id, status: t.status }));
  }

  private get eos(): boolean {
    return this.config.processingGuarantee === 'exactly_once';
  }

  async start(): Promise<void> {
    if (this.currentState !== 'CREATED') throw new Error(`cannot start from state ${this.currentState}`);
    this.setState('REBALANCING');
    this.admin = await this.client.admin();
    const counts = await prepareInternalTopics(this.topology, this.admin, this.config.replicationFactor);
    await awaitInternalTopics(this.topology, this.admin);
    this.log.info({ tasks: Object.fromEntries(counts.tasks) }, 'internal topics ready');
    await this.loadTopicLimits();
    await this.startGlobalState();
    if (!this.eos) {
      this.producer = await this.client.producer();
      this.sharedPump = new OutputPump((records) => this.sendShared(records), MAX_PENDING_OUTPUT);
    }

    const consumer = this.client.groupConsumer({
      groupId: this.config.applicationId,
      readCommitted: this.eos,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      maxBytesPerPartition: this.config.maxBytesPerPartition,
      ...(this.config.stickyAssignment
        ? { assignment: { taskOf: (tp: TopicPartition) => this.taskIdFor(tp), owned: () => [...this.tasks.keys()], stateful: () => this.checkpointedTasks() } }
        : {}),
    });
    this.consumer = consumer;
    await consumer.start(this.topology.sourceTopics(), {
      onAssignment: (tps) => this.onAssignment(tps),
      onBatch: (batch, heartbeat) => this.onBatch(batch, heartbeat),
      onCrash: (err) => void this.fail(err),
      onRestart: (err) => this.noteTrouble(classifyError(err), 'consumer', err),
    });
    this.timer = setInterval(() => void this.tick(), this.config.pollIntervalMs);
  }

  /**
   * Learns each output topic's max.message.bytes (and compaction), so TaskOutput can refuse a record
   * the broker would refuse before it joins a batch (where it would fail the other records too).
   */
  private async loadTopicLimits(): Promise<void> {
    const outputs = new Set(this.topology.subtopologies().flatMap((sub) => sub.sinkTopics));
    const dlq = this.deps.errorHandlers?.deadLetterTopic;
    if (dlq) outputs.add(dlq);
    for (const [topic, limit] of await this.admin!.topicLimits([...outputs])) this.limits.set(topic, limit);
  }

  /** The limit a record for `topic` must respect (see TaskOutput); asked once per output record, so cached. */
  private recordLimitOf(topic: string): RecordLimit | undefined {
    if (this.recordLimits.has(topic)) return this.recordLimits.get(topic);
    const known = this.limits.get(topic);
    const configured = this.config.maxRecordBytes;
    let limit: RecordLimit | undefined;
    if (known || configured !== undefined) {
      const fromTopic = known ? known.maxMessageBytes - BATCH_OVERHEAD_BYTES : Number.POSITIVE_INFINITY;
      limit = { maxBytes: Math.min(fromTopic, configured ?? Number.POSITIVE_INFINITY), compacted: known?.compacted ?? false };
    }
    this.recordLimits.set(topic, limit);
    return limit;
  }

  /** Tasks with a checkpoint in this instance's state folder: their state is worth keeping here. */
  private checkpointedTasks(): string[] {
    const dir = path.join(this.stateRoot(), this.config.applicationId);
    try {
      return readdirSync(dir).filter((id) => /^\d+_\d+$/.test(id) && existsSync(path.join(dir, id, CHECKPOINT_FILE)));
    } catch {
      return [];
    }
  }

  /** Resolves when the instance is RUNNING (all assigned tasks restored), or rejects on ERROR/timeout. */
  waitForRunning(timeoutMs = 60_000): Promise<void> {
    return waitForRunning({ events: this, state: () => this.currentState, failure: () => this.fatal }, timeoutMs, 'instance');
  }


  // ---------------------------------------------------------------- global state

  /**
   * At each commit interval, when records were applied since the last time: flushes the global
   * stores and checkpoints their positions, as Kafka Streams' global state manager does. Without
   * it the stores' write caches were flushed only at close (a soak's heap grew by the global
   * entity-stats cache filling to its 10 000-entry bound) and a crash re-read the global topics
   * from the beginning. Global stores mirror their topics (put/delete per record), so state a
   * little ahead of the checkpoint converges when the records after it are applied again. Under
   * the stream-thread mutex, as the follower's updates are.
   */
  private async checkpointGlobal(): Promise<void> {
    const g = this.globalTask;
    if (!g || g.updates === this.globalCheckpointed) return;
    // At most every GLOBAL_CHECKPOINT_MS: under exactly_once the commit interval is 100 ms.
    const now = Date.now();
    if (now - this.globalCheckpointAt < GLOBAL_CHECKPOINT_MS) return;
    this.globalCheckpointAt = now;
    const updates = g.updates;
    const positions = await g.flush();
    this.globalCheckpointed = updates;
    await this.saveGlobalCheckpoint(g, positions);
  }

  /** Writes the global task's positions after a flush; only persistent stores can be resumed from one. */
  private async saveGlobalCheckpoint(g: GlobalStateTask, positions: TopicPartitionOffset[]): Promise<void> {
    if (positions.length === 0 || !g.persistent) return;
    await writeCheckpoint(path.join(this.stateRoot(), this.config.applicationId, g.id), new Map(positions.map((p) => [tpKey(p), p.offset])));
  }

  private async startGlobalState(): Promise<void> {
    if (this.topology.globalStores().length === 0) return;
    const g = new GlobalStateTask({ topology: this.topology, stateDir: this.stateRoot(), logger: this.log });
    const dir = path.join(this.stateRoot(), this.config.applicationId, g.id);
    let checkpoint: Map<string, number> | undefined;
    try {
      checkpoint = await readCheckpoint(dir);
    } catch (err) {
      if (!(err instanceof CorruptCheckpointError)) throw err;
    }
    // In-memory global stores start empty: only a checkpoint of persistent ones can be resumed from.
    if (!g.persistent) checkpoint = undefined;
    await g.initialize();
    if (!checkpoint) for (const s of g.stores().values()) await s.wipe();
    await deleteCheckpoint(dir);
    this.globalTask = g;
    const from: TopicPartitionOffset[] = [];
    for (const topic of g.topics()) {
      const ends = await this.admin!.endOffsets(topic);
      for (const partition of ends.keys()) from.push({ topic, partition, offset: checkpoint?.get(tpKey({ topic, partition })) ?? 0 });
    }
    const started = Date.now();
    const applied = await this.followGlobal(g, from, true);
    this.log.info({ applied: applied(), ms: Date.now() - started }, 'global stores bootstrapped');
  }

  /**
   * Reads the global topics from `from` and keeps following them. With `bootstrap`, resolves once
   * every topic was read to its end (before any stream task processes a record); later updates go
   * through the stream-thread mutex. A reader that stops on a non-fatal error (a broker restart) is
   * replaced by a new one from the positions applied so far; a fatal one fails the instance.
   */
  private async followGlobal(g: GlobalStateTask, from: TopicPartitionOffset[], bootstrap: boolean): Promise<() => number> {
    const reader = this.client.partitionReader({ readCommitted: true });
    this.globalReader = reader;
    let applied = 0;
    let bootstrapped = !bootstrap;
    const onFollowError = (err: Error): void => {
      if (this.globalReader !== reader) return;
      const c = classifyError(err);
      if (c.kind === 'fatal') {
        void this.fail(err);
        return;
      }
      void this.mutex
        .run(async () => {
          if (this.currentState === 'ERROR' || this.currentState === 'NOT_RUNNING' || this.currentState === 'PENDING_SHUTDOWN') return;
          this.noteTrouble(c, 'global', err);
          await reader.stop().catch(() => undefined);
          const positions = await g.flush();
          const at = new Map(positions.map((p) => [tpKey(p), p.offset]));
          const restart = from.map((f) => ({ ...f, offset: at.get(tpKey(f)) ?? f.offset }));
          this.restartGlobal(g, restart, 1);
        })
        .catch((e) => this.fail(asError(e)));
    };
    await reader.read(
      from,
      async (batch) => {
        const apply = async (): Promise<void> => {
          applied += await g.update(batch.records);
        };
        if (bootstrapped) await this.mutex.run(apply);
        else await apply();
      },
      { follow: true, onFollowError },
    );
    bootstrapped = true;
    return () => applied;
  }

  /**
   * Starts a new global reader from `from` after a back-off. Its start can fail too, and for the same
   * reasons as the reader it replaces: a broker just back still answers "not the leader" for a while
   * (a CI run lost an instance this way, 15 s after a broker restart). Such a failure is retried with
   * a longer back-off, bounded like every recoverable error by maxTransientErrorMs; only a fatal one
   * fails the instance.
   */
  private restartGlobal(g: GlobalStateTask, from: TopicPartitionOffset[], attempt: number): void {
    const timer = setTimeout(() => {
      this.resetTimers.delete(timer);
      if (this.currentState !== 'RUNNING' && this.currentState !== 'REBALANCING') return;
      // Started outside the mutex: its updates take the mutex themselves.
      this.followGlobal(g, from, false).catch(async (e: unknown) => {
        await this.globalReader?.stop().catch(() => undefined);
        const c = classifyError(e);
        if (c.kind === 'fatal' || this.troubleTooLong()) return this.fail(asError(e));
        if (this.currentState !== 'RUNNING' && this.currentState !== 'REBALANCING') return;
        this.noteTrouble(c, 'global', e);
        this.restartGlobal(g, from, attempt + 1);
      });
    }, backoffMs(attempt));
    this.resetTimers.add(timer);
  }

  // ---------------------------------------------------------------- rebalancing

  private stateRoot(): string {
    return this.config.instanceId ? path.join(this.config.stateDir, this.config.instanceId) : this.config.stateDir;
  }

  private taskIdFor(tp: TopicPartition): string | undefined {
    const sub = this.topology.subtopologyForTopic(tp.topic);
    return sub === undefined ? undefined : `${sub}_${tp.partition}`;
  }

  /** Synchronous part of a rebalance: runs before any batch of the new generation is fetched. */
  private onAssignment(assignment: TopicPartition[]): void {
    const consumer = this.consumer!;
    const wanted = new Map<string, TopicPartition[]>();
    for (const tp of assignment) {
      const id = this.taskIdFor(tp);
      if (id === undefined) continue;
      const list = wanted.get(id) ?? [];
      list.push(tp);
      wanted.set(id, list);
    }
    this.log.info({ tasks: [...wanted.keys()].sort() }, 'partitions assigned');
    this.metrics.inc('riskloop_rebalances_total');
    this.assigned.clear();
    for (const [id, tps] of wanted) this.assigned.set(id, tps);
    if (this.currentState === 'RUNNING') this.setState('REBALANCING');
    for (const [id, tps] of wanted) {
      const at = this.tasks.get(id);
      if (at?.status === 'running') {
        // KafkaJS restarts a kept partition from its committed offset after a rebalance; our task has
        // already processed past it, so put the fetch position back where the task is.
        for (const tp of tps) {
          const next = at.position.get(tpKey(tp));
          if (next !== undefined) consumer.seek({ ...tp, offset: next });
        }
      } else {
        consumer.pause(tps);
      }
    }
    void this.mutex.run(() => this.rebalance(wanted).catch((err) => this.handleError(err, 'rebalance')));
  }

  private async rebalance(wanted: Map<string, TopicPartition[]>): Promise<void> {
    if (this.currentState === 'PENDING_SHUTDOWN' || this.currentState === 'NOT_RUNNING' || this.currentState === 'ERROR') return;
    // A task that moves away is closed cleanly under both guarantees: under exactly_once that commits
    // its open transaction and writes a checkpoint, so its state here stays usable should it come
    // back (the sticky assignor prefers members holding a checkpoint). If the new owner fenced it
    // first, the commit fails as fenced and the close is dirty (aborted, wiped): still correct.
    for (const [id, at] of this.tasks) {
      if (!wanted.has(id)) await this.closeTask(at, 'clean');
    }
    for (const [id, tps] of wanted) {
      if (this.tasks.has(id)) continue;
      this.createTask(id, tps);
    }
    this.updateRunningState();
  }

  /** Creates a task for an assigned id and starts its restore (beside the stream thread). Call inside the mutex. */
  private createTask(id: string, tps: TopicPartition[]): void {
    const [sub, partition] = id.split('_').map(Number) as [number, number];
    const output = new TaskOutput(
      partition,
      (store) => this.topology.changelogTopicFor(store)!,
      (topic) => this.recordLimitOf(topic),
    );
    const task = new StreamTask({
      topology: this.topology,
      subtopology: sub,
      partition,
      collector: output.collector,
      changelog: output.changelog,
      stateDir: this.stateRoot(),
      logger: this.log,
      ...(this.deps.errorHandlers ? { errorHandlers: this.deps.errorHandlers } : {}),
      ...(this.globalTask ? { globalStores: this.globalTask.stores() } : {}),
      inputPartitions: tps,
      maxTaskIdleMs: this.config.boundedInput ? Number.POSITIVE_INFINITY : this.config.maxTaskIdleMs,
    });
    const producer = this.eos ? this.client.transactionalProducer(`${this.config.applicationId}-${id}`) : undefined;
    const pump = producer ? new OutputPump((records) => producer.send(records), MAX_PENDING_OUTPUT) : this.sharedPump!;
    const at: ActiveTask = { task, output, producer, pump, inputs: tps, status: 'restoring', position: new Map(), ends: new Map(), retryAt: 0, retries: 0 };
    this.tasks.set(id, at);
    for (const tp of tps) this.taskByPartition.set(tpKey(tp), at);
    // A previous incarnation of this task may still be closing its stores (its restore was cut
    // short): the new one opens the same folders only after that, or RocksDB's lock refuses it.
    const prior = this.closingTasks.get(id);
    at.restoring = (prior ? prior.then(() => this.restore(at)) : this.restore(at)).catch((err) => {
      if (at.status === 'closed') return;
      return this.mutex.run(() => this.handleError(err, 'restore', [at]));
    });
  }

  private updateRunningState(): void {
    if (this.currentState !== 'REBALANCING' && this.currentState !== 'RUNNING') return;
    const restoring = [...this.tasks.values()].some((t) => t.status === 'restoring');
    this.setState(restoring || this.degraded ? 'REBALANCING' : 'RUNNING');
  }

  private async restore(at: ActiveTask): Promise<void> {
    const { task } = at;
    const started = Date.now();
    // InitProducerId fences the task's previous owner and ends its open transaction, so the
    // changelog and the committed offsets we read next are final.
    if (at.producer) await at.producer.connect();
    await task.initializeStores();
    let checkpoint: Map<string, number> | undefined;
    try {
      checkpoint = await readCheckpoint(task.taskDir);
    } catch (err) {
      if (!(err instanceof CorruptCheckpointError)) throw err;
      this.log.warn({ task: task.id, err: (err as Error).message }, 'corrupt checkpoint: restoring from scratch');
    }
    // From here on local state runs ahead of the checkpoint: only a clean close writes a new one.
    await deleteCheckpoint(task.taskDir);
    const changelogs = task.changelogPartitions();
    if (!checkpoint && changelogs.length) for (const s of task.stores().values()) await s.wipe();
    const stores = task.stores();
    // An in-memory store starts empty in every instance: it restores its whole changelog whatever
    // the checkpoint says (Kafka Streams checkpoints persistent stores only).
    const from = changelogs.map((c) => ({ topic: c.topic, partition: c.partition, offset: stores.get(c.storeName)?.persistent === false ? 0 : (checkpoint?.get(tpKey(c)) ?? 0) }));
    const storeOf = new Map(changelogs.map((c) => [c.topic, stores.get(c.storeName)!]));
    let restored = 0;
    if (from.length) {
      const reader = this.client.partitionReader({ readCommitted: true });
      this.readers.add(reader);
      try {
        await reader.read(from, async (batch: FetchedBatch) => {
          if (at.status === 'closed') throw new RestoreCancelled();
          const changes: ChangeRecord[] = batch.records.map((r: RawRecord) => ({ key: r.key ?? Buffer.alloc(0), value: r.value, timestamp: r.timestamp }));
          await storeOf.get(batch.topic)!.restore(changes);
          restored += changes.length;
          this.metrics.set('riskloop_restore_records', { task: task.id }, restored);
          this.emit('restoreProgress', { task: task.id, topic: batch.topic, restored, remaining: Math.max(0, batch.highWatermark - batch.nextOffset) });
        });
      } catch (err) {
        if (err instanceof RestoreCancelled || at.status === 'closed') return;
        throw err;
      } finally {
        this.readers.delete(reader);
      }
    }
    if (at.status === 'closed') return;
    task.initializeTopology();
    const inputTopics = [...new Set(at.inputs.map((t) => t.topic))];
    const committed = await this.admin!.committedOffsets(this.config.applicationId, inputTopics);
    // Where to start a partition with no committed offset: its earliest record. The position is
    // always set explicitly, because a batch fetched while the task was restoring was dropped and
    // the consumer's own position may already be past it.
    const earliest = new Map<string, number>();
    for (const topic of inputTopics) {
      for (const [partition, low] of await this.admin!.beginningOffsets(topic)) earliest.set(tpKey({ topic, partition }), low);
    }
    if (this.config.boundedInput) {
      for (const topic of inputTopics) {
        for (const [partition, end] of await this.admin!.endOffsets(topic)) at.ends.set(tpKey({ topic, partition }), end);
      }
    }
    await this.mutex.run(async () => {
      if (at.status === 'closed') return;
      for (const tp of at.inputs) {
        const c = committed.find((o) => o.topic === tp.topic && o.partition === tp.partition);
        const start = c?.offset ?? earliest.get(tpKey(tp)) ?? 0;
        this.consumer!.seek({ ...tp, offset: start });
        at.position.set(tpKey(tp), start);
        const end = at.ends.get(tpKey(tp));
        if (end !== undefined && start >= end) task.setInputExhausted(tp);
      }
      at.status = 'running';
      this.consumer!.resume(at.inputs);
      this.log.info({ task: task.id, restored, ms: Date.now() - started, fromCheckpoint: Boolean(checkpoint) }, 'task restored and running');
      this.emit('taskRunning', task.id);
      this.updateRunningState();
      if (this.config.boundedInput) this.checkCaughtUp();
    });
  }

  /**
   * clean: commit what was processed, close, write a checkpoint (local state is current).
   * dirty: abort/forget uncommitted work, close without checkpoint (state is rebuilt next time).
   */
  private async closeTask(at: ActiveTask, mode: 'clean' | 'dirty'): Promise<void> {
    if (at.status === 'closed') return;
    const wasRunning = at.status === 'running';
    at.status = 'closed';
    this.tasks.delete(at.task.id);
    for (const tp of at.inputs) if (this.taskByPartition.get(tpKey(tp)) === at) this.taskByPartition.delete(tpKey(tp));
    let clean = mode === 'clean' && wasRunning;
    let checkpoint: Map<string, number> | undefined;
    if (clean) {
      try {
        // The checkpoint is read after our changelog records are acknowledged and before the commit:
        // under exactly_once the next owner cannot write to the changelog before our commit ends
        // (its InitProducerId waits for it), so these ends are ours; a checkpoint read after the
        // commit could include the next owner's first records, which this state does not hold.
        clean = await this.commitTask(at, true, async () => {
          checkpoint = await this.changelogEnds(at);
        });
      } catch (err) {
        this.log.warn({ task: at.task.id, err: (err as Error).message }, 'commit on close failed; closing dirty');
        clean = false;
      }
    }
    if (!clean) {
      at.output.discard();
      // The shared pump (at_least_once) also carries other tasks' records: leave it alone.
      if (at.producer) await at.pump.discard();
      if (at.producer?.inTransaction) await at.producer.abort().catch(() => undefined);
    }
    if (wasRunning || !at.restoring) {
      await at.task.close({ wipe: !clean && this.eos });
    } else {
      // Still restoring: the restore may be opening or wiping these very stores outside the stream
      // thread. Close them once it has stopped (it sees status 'closed' and gives up); waiting for
      // it here could deadlock, since its last step needs the stream thread we hold.
      const id = at.task.id;
      const closing = at.restoring
        .then(() => at.task.close({ wipe: this.eos }))
        .catch((err) => this.log.warn({ task: id, err: asError(err).message }, 'closing a cancelled restore failed'))
        .finally(() => {
          if (this.closingTasks.get(id) === closing) this.closingTasks.delete(id);
        });
      this.closingTasks.set(id, closing);
    }
    if (clean && checkpoint?.size) await writeCheckpoint(at.task.taskDir, checkpoint);
    await at.producer?.disconnect().catch(() => undefined);
    this.metrics.remove({ task: at.task.id });
    this.log.info({ task: at.task.id, mode: clean ? 'clean' : 'dirty' }, 'task closed');
  }

  /** End offset of each of the task's changelog partitions. */
  private async changelogEnds(at: ActiveTask): Promise<Map<string, number>> {
    const offsets = new Map<string, number>();
    const stores = at.task.stores();
    for (const c of at.task.changelogPartitions()) {
      if (stores.get(c.storeName)?.persistent === false) continue;
      const ends = await this.admin!.endOffsets(c.topic);
      offsets.set(tpKey(c), ends.get(c.partition) ?? 0);
    }
    return offsets;
  }

  // ---------------------------------------------------------------- processing

  private onBatch(batch: FetchedBatch, heartbeat: () => Promise<void>): Promise<void> {
    // KafkaJS heartbeats between batches only; while this one waits for the stream thread (a commit,
    // a rebalance's task closes) and is processed, keep heartbeating so that a 10 s session does
    // not take a busy member for a dead one. A heartbeat that learns of a rebalance throws: the
    // runner finds out on its own after the batch, so the error is dropped here.
    const beat = setInterval(() => void heartbeat().catch(() => undefined), this.config.heartbeatIntervalMs);
    // Errors never go back into KafkaJS (it would retry the batch, then crash the consumer): they
    // are handled here, by class.
    return this.mutex.run(() => this.processBatch(batch).catch((err) => this.handleError(err, 'process'))).finally(() => clearInterval(beat));
  }

  private async processBatch(batch: FetchedBatch): Promise<void> {
    const key = tpKey(batch);
    const at = this.taskByPartition.get(key);
    // Not ours (yet): the task is restoring and the partition will be re-positioned on resume.
    if (!at || at.status !== 'running' || this.currentState === 'ERROR') return;
    const next = at.position.get(key) ?? -1;
    const records = next < 0 ? batch.records : batch.records.filter((r) => r.offset >= next);
    this.metrics.set('riskloop_consumer_lag', { topic: batch.topic, partition: String(batch.partition) }, Math.max(0, batch.highWatermark - batch.nextOffset));
    const end = at.ends.get(key);
    if (end !== undefined && batch.nextOffset >= end) at.task.setInputExhausted(batch);
    if (records.length === 0 && end === undefined) return;
    if (at.retryAt > 0) {
      // Waiting out a retriable failure: buffer only (the tick retries), keeping record order.
      at.task.addRecords(records);
    } else {
      await this.processTask(at, records);
    }
    if (records.length) at.position.set(key, Math.max(next, records[records.length - 1]!.offset + 1));
    if (this.config.boundedInput) this.checkCaughtUp();
    if (this.commitDue()) await this.commitAll();
  }

  private commitDue(): boolean {
    const now = Date.now();
    return now - this.lastCommit >= this.config.commitIntervalMs && now >= this.nextCommitAt;
  }

  /**
   * Bounded runs: true once every task has processed its inputs up to their end offsets. Emits
   * 'caughtUp' once. Only meaningful when this instance owns all partitions (replay runs one).
   */
  caughtUp(): boolean {
    if (this.tasks.size === 0) return false;
    for (const at of this.tasks.values()) {
      if (at.status !== 'running' || at.task.bufferedRecords() > 0) return false;
      for (const tp of at.inputs) {
        const end = at.ends.get(tpKey(tp)) ?? 0;
        if ((at.position.get(tpKey(tp)) ?? 0) < end) return false;
      }
    }
    return true;
  }

  private caughtUpEmitted = false;
  private checkCaughtUp(): void {
    if (!this.caughtUpEmitted && this.caughtUp()) {
      this.caughtUpEmitted = true;
      this.emit('caughtUp');
    }
  }

  private async processTask(at: ActiveTask, records: RawRecord[]): Promise<void> {
    const t0 = performance.now();
    at.task.addRecords(records);
    let n: number;
    try {
      n = await at.task.process();
      await at.task.punctuateStreamTime();
    } catch (err) {
      // What escapes process() is a handler's FAIL (fatal) or a failure outside the records: a serde's
      // prefetch that could not reach the schema registry, say. The records stay buffered,
      // undecoded; the tick tries again after a back-off (processing of this task waits meanwhile).
      const c = classifyError(err);
      if (c.kind !== 'retriable' || this.troubleTooLong()) {
        await this.fail(asError(err));
        return;
      }
      this.noteTrouble(c, 'process', err);
      at.retryAt = Date.now() + backoffMs(at.retries++);
      this.consumer?.pause(at.inputs);
      return;
    }
    if (at.retryAt > 0) {
      at.retries = 0;
      at.retryAt = 0;
      this.consumer?.resume(at.inputs);
    }
    const labels = { task: at.task.id };
    this.metrics.inc('riskloop_records_processed_total', labels, n);
    if (n > 0) this.metrics.observe('riskloop_batch_process_ms', labels, performance.now() - t0);
    await this.sendOutputs(at);
  }

  private async sendOutputs(at: ActiveTask): Promise<void> {
    if (at.output.size === 0) return;
    const records = at.output.drain();
    const now = Date.now();
    let out = 0;
    for (const r of records) {
      if (!r.topic.endsWith('-changelog')) {
        out++;
        this.metrics.observe('riskloop_e2e_latency_ms', { task: at.task.id }, now - r.timestamp);
      }
    }
    this.metrics.inc('riskloop_records_out_total', { task: at.task.id }, out);
    try {
      await at.pump.push(records);
    } catch (err) {
      // Only a task's own (exactly_once) pump fails here: the shared one retries in place (sendShared).
      if (at.producer) return this.handleError(err, 'send', [at]);
      throw err;
    }
  }

  /** Waits until the task's records are acknowledged; false when a send failed and the task was reset. */
  private async drainOutputs(at: ActiveTask): Promise<boolean> {
    try {
      await at.pump.drain();
      return true;
    } catch (err) {
      if (!at.producer) throw err;
      await this.handleError(err, 'send', [at]);
      return false;
    }
  }

  /**
   * The shared (at_least_once) producer's send, as the pump calls it. Retriable failures are retried
   * in place with back-off (a record may then be written twice: at-least-once allows it, and a reset
   * of every task would cost a full restore each); a per-record failure the size check did not
   * foresee sends the records one by one and skips, with an error log line and a metric, the ones
   * refused again; a producer fenced or out of sequence is replaced. Fatal errors, and recoverable
   * ones lasting past maxTransientErrorMs, fail the send (and so the instance).
   */
  private async sendShared(records: OutgoingRecord[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.producer!.send(records);
        return;
      } catch (err) {
        const c = classifyError(err);
        if (c.kind === 'fatal' || this.troubleTooLong()) throw err;
        if (c.kind === 'per-record') {
          if (records.length > 1) return this.sendOneByOne(records);
          throw err;
        }
        this.noteTrouble(c, 'send', err);
        if (c.kind === 'migrated' || c.kind === 'corrupted') await this.replaceSharedProducer();
        await sleep(backoffMs(attempt));
      }
    }
  }

  private async sendOneByOne(records: OutgoingRecord[]): Promise<void> {
    for (const r of records) {
      try {
        await this.sendShared([r]);
      } catch (err) {
        if (classifyError(err).kind !== 'per-record') throw err;
        this.metrics.inc('riskloop_records_undeliverable_total', { topic: r.topic });
        this.log.error(
          { event: 'undeliverable', topic: r.topic, partition: r.partition, size: recordBytes(r), code: classifyError(err).code, err: asError(err).message },
          'output record refused by the broker; skipped',
        );
      }
    }
  }

  private async replaceSharedProducer(): Promise<void> {
    const old = this.producer;
    this.producer = await this.client.producer();
    await old?.disconnect().catch(() => undefined);
  }

  /**
   * Commits one task; false when that was impossible and the task was reset or dropped instead
   * (fenced, or its transaction failed: see handleError). `closing`: the task is being closed, so a
   * failure only makes the close dirty, without resetting it.
   */
  private async commitTask(at: ActiveTask, closing = false, beforeCommit?: () => Promise<void>): Promise<boolean> {
    const t0 = performance.now();
    const offsets = await at.task.commit();
    if (closing) {
      // Closing: any failure makes the close dirty (closeTask catches it); nothing to reset.
      if (at.output.size) await at.pump.push(at.output.drain());
      await at.pump.drain();
      await beforeCommit?.();
    } else {
      await this.sendOutputs(at);
      if (at.status === 'closed') return false;
      if (!(await this.drainOutputs(at))) return false;
    }
    if (at.producer) {
      if (offsets.length === 0 && !at.producer.inTransaction) {
        // Nothing to commit and nothing failing: as good as a commit for ending a degraded spell.
        if (!closing) this.committed(false);
        return true;
      }
      try {
        await at.producer.sendOffsets(this.config.applicationId, offsets);
        await at.producer.commit();
      } catch (err) {
        if (closing) throw err;
        // The transaction's fate is unknown to KafkaJS after a failed EndTxn (it cannot be retried):
        // fenced → the task is lost; anything recoverable → reset (abort, wipe, restore).
        await this.handleError(err, 'commit', [at]);
        return false;
      }
    } else {
      if (offsets.length === 0) return true;
      try {
        await this.consumer!.commit(offsets);
      } catch (err) {
        at.task.uncommit(offsets);
        if (closing) throw err;
        await this.handleError(err, 'commit');
        return false;
      }
    }
    this.metrics.observe('riskloop_commit_ms', { task: at.task.id }, performance.now() - t0);
    this.metrics.inc('riskloop_commits_total', { task: at.task.id });
    this.committed();
    return true;
  }

  private async commitAll(): Promise<void> {
    this.lastCommit = Date.now();
    await this.checkpointGlobal();
    const running = [...this.tasks.values()].filter((at) => at.status === 'running');
    if (this.eos) {
      // Each task has its own producer and transaction: commit them side by side, so the round
      // trips of N transactions (AddOffsets, TxnOffsetCommit, EndTxn) overlap instead of adding up.
      await Promise.all(running.map((at) => this.commitTask(at)));
      return;
    }
    // at_least_once: one producer and one consumer for all tasks. Flush every task, wait once for
    // the producer, commit every task's offsets in one request.
    const t0 = performance.now();
    const offsets: TopicPartitionOffset[] = [];
    const byTask = new Map<ActiveTask, TopicPartitionOffset[]>();
    for (const at of running) {
      const own = await at.task.commit();
      byTask.set(at, own);
      offsets.push(...own);
      await this.sendOutputs(at);
    }
    await this.sharedPump?.drain();
    if (offsets.length === 0) {
      this.committed();
      return;
    }
    try {
      await this.consumer!.commit(offsets);
    } catch (err) {
      // Not committed: the offsets go into the next commit (if the task is still ours by then).
      for (const [at, own] of byTask) at.task.uncommit(own);
      await this.handleError(err, 'commit');
      return;
    }
    this.committed();
    const ms = performance.now() - t0;
    for (const at of running) {
      this.metrics.observe('riskloop_commit_ms', { task: at.task.id }, ms);
      this.metrics.inc('riskloop_commits_total', { task: at.task.id });
    }
  }

  // ---------------------------------------------------------------- errors

  /**
   * Acts on an error by its class (errorClass.ts). Runs inside the stream thread (the mutex).
   * `affected`: the tasks whose send, commit or restore failed (none for instance-wide failures).
   */
  private async handleError(err: unknown, where: string, affected: ActiveTask[] = []): Promise<void> {
    if (this.currentState === 'ERROR' || this.currentState === 'NOT_RUNNING' || this.currentState === 'PENDING_SHUTDOWN') return;
    const c = classifyError(err);
    if (c.kind === 'fatal') return this.fail(asError(err));
    if (this.troubleTooLong()) {
      return this.fail(new Error(`recoverable errors for more than ${this.config.maxTransientErrorMs} ms without a successful commit; last (${c.kind} ${c.code} in ${where}): ${asError(err).message}`));
    }
    this.noteTrouble(c, where, err);
    const tasks = affected.filter((at) => at.status !== 'closed');
    if (affected.length > 0 && tasks.length === 0) return;
    if (tasks.length === 0) {
      // Instance-wide (at_least_once commit, rebalance bookkeeping): the commit is retried after
      // the back-off with its offsets kept; a moved generation is followed by a rejoin that KafkaJS
      // starts by itself (the heartbeat learns of the rebalance).
      this.nextCommitAt = Date.now() + backoffMs(this.commitAttempts++);
      return;
    }
    for (const at of tasks) {
      if (c.kind === 'migrated') {
        this.log.warn({ task: at.task.id, code: c.code }, 'task migrated (fenced by a newer owner or generation moved); dropping its uncommitted work');
        // If the assignment still gives us the task when the group has settled, it comes back.
        await this.resetTask(at, this.config.sessionTimeoutMs);
      } else {
        if (c.kind !== 'retriable') this.resets++;
        await this.resetTask(at, backoffMs(this.resets + this.commitAttempts++));
      }
    }
  }

  /**
   * Closes a task dirty (its uncommitted work is dropped; under exactly_once its transaction is
   * aborted and its state wiped) and, after `delayMs`, creates it again if this instance is still
   * assigned it: it restores and continues from the last committed offsets, as Kafka Streams does
   * for TaskCorruptedException.
   */
  private async resetTask(at: ActiveTask, delayMs: number): Promise<void> {
    const id = at.task.id;
    this.consumer?.pause(at.inputs);
    await this.closeTask(at, 'dirty');
    if (this.resets > MAX_RESETS) {
      await this.fail(new Error(`task ${id}: ${this.resets} task resets (corrupted state or refused records) without a successful commit in between`));
      return;
    }
    this.metrics.inc('riskloop_task_resets_total', { task: id });
    const timer = setTimeout(() => {
      this.resetTimers.delete(timer);
      void this.mutex.run(async () => {
        if (this.currentState !== 'RUNNING' && this.currentState !== 'REBALANCING') return;
        const tps = this.assigned.get(id);
        if (!tps || this.tasks.has(id)) return;
        this.log.info({ task: id }, 'recreating reset task');
        this.createTask(id, tps);
        this.updateRunningState();
      });
    }, delayMs);
    this.resetTimers.add(timer);
  }

  /** Records a recoverable error: a metric, a warning, and REBALANCING until the next successful commit. */
  private noteTrouble(c: ErrorClass, where: string, err: unknown): void {
    this.metrics.inc('riskloop_runtime_errors_total', { kind: c.kind, code: c.code, where });
    this.troubleSince ??= Date.now();
    this.log.warn({ kind: c.kind, code: c.code, where, err: asError(err).message }, 'recoverable error; retrying');
    if (!this.degraded) {
      this.degraded = true;
      if (this.currentState === 'RUNNING') this.setState('REBALANCING');
    }
  }

  private troubleTooLong(): boolean {
    return this.troubleSince !== undefined && Date.now() - this.troubleSince > this.config.maxTransientErrorMs;
  }

  /**
   * A commit went through (`real`), or there was nothing to commit and nothing failed: the trouble,
   * if any, is over. Only a real commit ends a run of resets (MAX_RESETS).
   */
  private committed(real = true): void {
    this.troubleSince = undefined;
    this.commitAttempts = 0;
    this.nextCommitAt = 0;
    if (real) this.resets = 0;
    if (this.degraded) {
      this.degraded = false;
      this.log.info('recovered: commits go through again');
      this.updateRunningState();
    }
  }

  private async tick(): Promise<void> {
    if (this.currentState !== 'RUNNING' && this.currentState !== 'REBALANCING') return;
    await this.mutex.run(() =>
      (async () => {
        const now = Date.now();
        for (const at of [...this.tasks.values()]) {
          if (at.status !== 'running') continue;
          if (at.retryAt > 0 && now >= at.retryAt && at.task.bufferedRecords() > 0) await this.processTask(at, []);
          if (at.status !== 'running') continue;
          if (await at.task.punctuateWallClock(now)) await this.sendOutputs(at);
        }
        if (this.commitDue()) await this.commitAll();
        this.publishTaskMetrics();
      })().catch((err) => this.handleError(err, 'tick')),
    );
  }

  /**
   * Copies each task's own counters (kept as plain numbers on the per-record path) into the
   * metrics interface: per processor records in/out/dropped, drops by reason, process latency.
   */
  publishTaskMetrics(): void {
    for (const at of this.tasks.values()) {
      const m = at.task.metrics;
      const task = at.task.id;
      for (const [processor, c] of m.nodes) {
        this.metrics.set('riskloop_processor_records_in', { task, processor }, c.recordsIn);
        this.metrics.set('riskloop_processor_records_out', { task, processor }, c.recordsOut);
        this.metrics.set('riskloop_processor_records_dropped', { task, processor }, c.dropped);
      }
      for (const [reason, n] of Object.entries(m.dropped)) this.metrics.set('riskloop_task_dropped_records', { task, reason }, n);
      this.metrics.set('riskloop_task_dead_letters', { task }, m.deadLetters);
      this.metrics.set('riskloop_task_reduced_dead_letters', { task }, m.reducedDeadLetters);
      const l = m.processLatency;
      this.metrics.set('riskloop_task_process_latency_avg_ms', { task }, l.count ? l.totalMs / l.count : 0);
      this.metrics.set('riskloop_task_process_latency_max_ms', { task }, l.maxMs);
    }
  }

  // ---------------------------------------------------------------- shutdown

  private async fail(err: Error): Promise<void> {
    if (this.currentState === 'ERROR' || this.currentState === 'NOT_RUNNING') return;
    this.fatal = err;
    this.log.error({ err: err.message }, 'stream thread failed');
    this.setState('ERROR');
    this.emit('error', err);
    // fail() may be called from inside the stream thread (a job holding the mutex); the shutdown
    // needs the mutex itself, so it runs after that job ends rather than waiting for it here.
    setImmediate(() => {
      this.shutdown('dirty')
        .catch((e) => this.log.error({ err: (e as Error).message }, 'shutdown after failure failed'))
        .finally(() => this.emit('closed'));
    });
  }

  /** Graceful stop: commit, close tasks with checkpoints, leave the group. */
  async close(): Promise<void> {
    if (this.currentState === 'NOT_RUNNING' || this.currentState === 'CREATED') {
      this.setState('NOT_RUNNING');
      return;
    }
    if (this.currentState === 'ERROR') return;
    this.setState('PENDING_SHUTDOWN');
    await this.shutdown('clean');
    this.setState('NOT_RUNNING');
  }

  private async shutdown(mode: 'clean' | 'dirty'): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const t of this.resetTimers) clearTimeout(t);
    this.resetTimers.clear();
    await this.mutex.run(async () => {
      for (const at of [...this.tasks.values()]) await this.closeTask(at, mode);
    });
    await this.consumer?.stop().catch(() => undefined);
    for (const r of this.readers) await r.stop().catch(() => undefined);
    await Promise.all(this.closingTasks.values());
    await this.globalReader?.stop().catch(() => undefined);
    if (this.globalTask) {
      const g = this.globalTask;
      const positions = await g.flush();
      await g.close();
      if (mode === 'clean') await this.saveGlobalCheckpoint(g, positions);
    }
    await this.sharedPump?.discard();
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}
