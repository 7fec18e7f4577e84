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
 */
import { EventEmitter } from 'node:events';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { CorruptCheckpointError, deleteCheckpoint, readCheckpoint, writeCheckpoint } from '../../state/checkpoint.js';
import type { ChangeRecord } from '../../state/types.js';
import type { ErrorHandlers } from '../errors.js';
import { GlobalStateTask } from '../globalStateTask.js';
import type { RawRecord, TopicPartition, TopicPartitionOffset } from '../records.js';
import { tpKey } from '../records.js';
import { StreamTask } from '../streamTask.js';
import type { Topology } from '../topology.js';
import type { Admin, FetchedBatch, GroupConsumer, KafkaClient, OutgoingRecord, PartitionReader, Producer, TransactionalProducer } from './client.js';
import { parseStreamsConfig, type StreamsConfig, type StreamsConfigInput } from './config.js';
import { awaitInternalTopics, prepareInternalTopics } from './internalTopics.js';
import { createKafkajsClient } from './kafkajsClient.js';
import { StreamsMetrics } from './metrics.js';
import { Mutex } from './mutex.js';
import { OutputPump } from './outputPump.js';
import { TaskOutput } from './taskOutput.js';

/** Records queued for the producer before processing waits for it (per pump). */
const MAX_PENDING_OUTPUT = 50_000;

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
}

export interface KafkaStreamsDeps {
  logger?: Logger;
  client?: KafkaClient;
  metrics?: StreamsMetrics;
  errorHandlers?: ErrorHandlers;
}

class RestoreCancelled extends Error {}

function isFenced(err: unknown): boolean {
  const text = `${(err as { type?: string }).type ?? ''} ${(err as Error)?.message ?? ''}`;
  return /FENCED|INVALID_PRODUCER_EPOCH|fenced|epoch/i.test(text);
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
  private globalReader: PartitionReader | undefined;
  private readonly readers = new Set<PartitionReader>();
  private timer: NodeJS.Timeout | undefined;
  private lastCommit = Date.now();
  private fatal: Error | undefined;

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
    this.client = deps.client ?? createKafkajsClient({ brokers: this.config.brokers, clientId: this.config.clientId, logger: this.log });
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
    await this.startGlobalState();
    if (!this.eos) {
      const producer = await this.client.producer();
      this.producer = producer;
      this.sharedPump = new OutputPump((records) => producer.send(records), MAX_PENDING_OUTPUT);
    }

    const consumer = this.client.groupConsumer({
      groupId: this.config.applicationId,
      readCommitted: this.eos,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
      heartbeatIntervalMs: this.config.heartbeatIntervalMs,
      maxBytesPerPartition: this.config.maxBytesPerPartition,
    });
    this.consumer = consumer;
    await consumer.start(this.topology.sourceTopics(), {
      onAssignment: (tps) => this.onAssignment(tps),
      onBatch: (batch) => this.onBatch(batch),
      onCrash: (err) => void this.fail(err),
    });
    this.timer = setInterval(() => void this.tick(), this.config.pollIntervalMs);
  }

  /** Resolves when the instance is RUNNING (all assigned tasks restored), or rejects on ERROR/timeout. */
  waitForRunning(timeoutMs = 60_000): Promise<void> {
    if (this.currentState === 'RUNNING') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('stateChange', onChange);
        reject(new Error(`not RUNNING after ${timeoutMs} ms (state ${this.currentState})`));
      }, timeoutMs);
      const onChange = (s: StreamsState): void => {
        if (s === 'RUNNING' || s === 'ERROR' || s === 'NOT_RUNNING') {
          clearTimeout(timer);
          this.off('stateChange', onChange);
          if (s === 'RUNNING') resolve();
          else reject(this.fatal ?? new Error(`instance went to ${s}`));
        }
      };
      this.on('stateChange', onChange);
    });
  }

  // ---------------------------------------------------------------- global state

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
    await g.initialize();
    if (!checkpoint) for (const s of g.stores().values()) await s.wipe();
    await deleteCheckpoint(dir);
    this.globalTask = g;
    const from: TopicPartitionOffset[] = [];
    for (const topic of g.topics()) {
      const ends = await this.admin!.endOffsets(topic);
      for (const partition of ends.keys()) from.push({ topic, partition, offset: checkpoint?.get(tpKey({ topic, partition })) ?? 0 });
    }
    const reader = this.client.partitionReader({ readCommitted: true });
    this.globalReader = reader;
    const started = Date.now();
    let applied = 0;
    // Bootstrap: read every global topic to its end before any stream task processes a record.
    // The reader keeps following afterwards; later updates go through the stream-thread mutex.
    let bootstrapped = false;
    await reader.read(
      from,
      async (batch) => {
        const apply = async (): Promise<void> => {
          applied += await g.update(batch.records);
        };
        if (bootstrapped) await this.mutex.run(apply);
        else await apply();
      },
      { follow: true },
    );
    bootstrapped = true;
    this.log.info({ applied, ms: Date.now() - started }, 'global stores bootstrapped');
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
    void this.mutex.run(() => this.rebalance(wanted)).catch((err) => this.fail(err));
  }

  private async rebalance(wanted: Map<string, TopicPartition[]>): Promise<void> {
    if (this.currentState === 'PENDING_SHUTDOWN' || this.currentState === 'NOT_RUNNING' || this.currentState === 'ERROR') return;
    for (const [id, at] of this.tasks) {
      if (!wanted.has(id)) await this.closeTask(at, this.eos ? 'dirty' : 'clean');
    }
    for (const [id, tps] of wanted) {
      if (this.tasks.has(id)) continue;
      const [sub, partition] = id.split('_').map(Number) as [number, number];
      const output = new TaskOutput(partition, (store) => this.topology.changelogTopicFor(store)!);
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
      const at: ActiveTask = { task, output, producer, pump, inputs: tps, status: 'restoring', position: new Map(), ends: new Map() };
      this.tasks.set(id, at);
      for (const tp of tps) this.taskByPartition.set(tpKey(tp), at);
      void this.restore(at).catch((err) => this.fail(err));
    }
    this.updateRunningState();
  }

  private updateRunningState(): void {
    if (this.currentState !== 'REBALANCING' && this.currentState !== 'RUNNING') return;
    const restoring = [...this.tasks.values()].some((t) => t.status === 'restoring');
    this.setState(restoring ? 'REBALANCING' : 'RUNNING');
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
    const from = changelogs.map((c) => ({ topic: c.topic, partition: c.partition, offset: checkpoint?.get(tpKey(c)) ?? 0 }));
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
    if (clean) {
      try {
        clean = await this.commitTask(at);
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
    await at.task.close({ wipe: !clean && this.eos });
    if (clean) await this.writeTaskCheckpoint(at);
    await at.producer?.disconnect().catch(() => undefined);
    this.metrics.remove({ task: at.task.id });
    this.log.info({ task: at.task.id, mode: clean ? 'clean' : 'dirty' }, 'task closed');
  }

  private async writeTaskCheckpoint(at: ActiveTask): Promise<void> {
    const offsets = new Map<string, number>();
    for (const c of at.task.changelogPartitions()) {
      const ends = await this.admin!.endOffsets(c.topic);
      offsets.set(tpKey(c), ends.get(c.partition) ?? 0);
    }
    if (offsets.size) await writeCheckpoint(at.task.taskDir, offsets);
  }

  // ---------------------------------------------------------------- processing

  private onBatch(batch: FetchedBatch): Promise<void> {
    return this.mutex.run(async () => {
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
      await this.processTask(at, records);
      if (records.length) at.position.set(key, Math.max(next, records[records.length - 1]!.offset + 1));
      if (this.config.boundedInput) this.checkCaughtUp();
      if (Date.now() - this.lastCommit >= this.config.commitIntervalMs) await this.commitAll();
    });
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
      await this.fail(err as Error);
      return;
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
      if (at.producer && isFenced(err)) return this.taskLost(at, err);
      throw err;
    }
  }

  /** Waits until the task's records are acknowledged; false when the task was fenced meanwhile. */
  private async drainOutputs(at: ActiveTask): Promise<boolean> {
    try {
      await at.pump.drain();
      return true;
    } catch (err) {
      if (at.producer && isFenced(err)) {
        await this.taskLost(at, err);
        return false;
      }
      throw err;
    }
  }

  /** Commits one task; false when it turned out to be fenced (and was dropped as lost). */
  private async commitTask(at: ActiveTask): Promise<boolean> {
    const t0 = performance.now();
    const offsets = await at.task.commit();
    await this.sendOutputs(at);
    if (!(await this.drainOutputs(at))) return false;
    if (at.producer) {
      if (offsets.length === 0 && !at.producer.inTransaction) return true;
      try {
        await at.producer.sendOffsets(this.config.applicationId, offsets);
        await at.producer.commit();
      } catch (err) {
        if (isFenced(err)) {
          await this.taskLost(at, err);
          return false;
        }
        throw err;
      }
    } else {
      if (offsets.length === 0) return true;
      await this.consumer!.commit(offsets);
    }
    this.metrics.observe('riskloop_commit_ms', { task: at.task.id }, performance.now() - t0);
    this.metrics.inc('riskloop_commits_total', { task: at.task.id });
    return true;
  }

  private async commitAll(): Promise<void> {
    this.lastCommit = Date.now();
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
    for (const at of running) {
      offsets.push(...(await at.task.commit()));
      await this.sendOutputs(at);
    }
    await this.sharedPump?.drain();
    if (offsets.length === 0) return;
    await this.consumer!.commit(offsets);
    const ms = performance.now() - t0;
    for (const at of running) {
      this.metrics.observe('riskloop_commit_ms', { task: at.task.id }, ms);
      this.metrics.inc('riskloop_commits_total', { task: at.task.id });
    }
  }

  /** Another instance owns the task now (we were fenced): forget our uncommitted work. */
  private async taskLost(at: ActiveTask, err: unknown): Promise<void> {
    this.log.warn({ task: at.task.id, err: (err as Error).message }, 'task fenced by a newer owner; dropping it');
    this.consumer?.pause(at.inputs);
    await this.closeTask(at, 'dirty');
  }

  private async tick(): Promise<void> {
    if (this.currentState !== 'RUNNING' && this.currentState !== 'REBALANCING') return;
    await this.mutex
      .run(async () => {
        const now = Date.now();
        for (const at of [...this.tasks.values()]) {
          if (at.status !== 'running') continue;
          if (await at.task.punctuateWallClock(now)) await this.sendOutputs(at);
        }
        if (now - this.lastCommit >= this.config.commitIntervalMs) await this.commitAll();
        this.publishTaskMetrics();
      })
      .catch((err) => this.fail(err));
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
    await this.mutex.run(async () => {
      for (const at of [...this.tasks.values()]) await this.closeTask(at, mode);
    });
    await this.consumer?.stop().catch(() => undefined);
    for (const r of this.readers) await r.stop().catch(() => undefined);
    await this.globalReader?.stop().catch(() => undefined);
    if (this.globalTask) {
      const g = this.globalTask;
      const positions = await g.flush();
      await g.close();
      if (mode === 'clean' && positions.length) {
        await writeCheckpoint(path.join(this.stateRoot(), this.config.applicationId, g.id), new Map(positions.map((p) => [tpKey(p), p.offset])));
      }
    }
    await this.sharedPump?.discard();
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
  }
}
