/**
 * One sub-topology × one partition: the unit of work, state and commit, as in Kafka Streams.
 *
 * Life cycle (the Kafka runtime and the test driver call these in this order):
 *
 *   new StreamTask(...)            builds the task's stores (not open yet) and its input queues
 *   await initializeStores()       opens each store in <stateDir>/<applicationId>/<taskId>
 *   (runtime) restore             for each logged store, read its changelog partition
 *                                  (`changelogPartitions()`) and call store.restore(changes)
 *   initializeTopology()           creates the processors and calls their init(context)
 *   loop:
 *     addRecords(batch)            buffer raw records of the task's input partitions
 *     await process()              decode, then run records in timestamp order; returns how many
 *     await punctuateStreamTime()  STREAM_TIME punctuators due at the task's stream time
 *     await punctuateWallClock(t)  WALL_CLOCK_TIME punctuators due at t
 *     await commit()               flush stores (changelog records reach the ChangelogSink), then
 *                                  return the offsets to commit; the runtime flushes its producer
 *                                  (or sends them in its transaction) and commits them
 *   await close({ wipe })          close processors and stores
 *
 * `initialize()` does initializeStores + initializeTopology for callers with nothing to restore.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { ChangelogSink, StateStore } from '../state/types.js';
import { type ErrorHandlers, defaultErrorHandlers } from './errors.js';
import { PartitionGroup } from './internals/partitionGroup.js';
import { PunctuationQueue } from './internals/punctuationQueue.js';
import { TaskRuntime } from './internals/taskRuntime.js';
import type { TaskMetrics } from './internals/taskMetrics.js';
import type { Cancellable, PunctuationType, Punctuator } from './processor.js';
import type { RecordCollector } from './recordCollector.js';
import type { RawRecord, TopicPartition, TopicPartitionOffset } from './records.js';
import { tpKey } from './records.js';
import type { Topology } from './topology.js';

export interface StreamTaskOptions {
  topology: Topology;
  subtopology: number;
  partition: number;
  collector: RecordCollector;
  /** Receives the changes of logged stores at flush (the runtime maps them to changelog partitions). */
  changelog: ChangelogSink;
  /** Root state folder; the task's stores live in <stateDir>/<applicationId>/<taskId>. */
  stateDir: string;
  logger: Logger;
  errorHandlers?: ErrorHandlers;
  /** The global stores (from the GlobalStateTask), readable by every processor. */
  globalStores?: ReadonlyMap<string, StateStore>;
  /** Wall clock, epoch ms; the driver passes its mock clock. */
  clock?: () => number;
  /**
   * The partitions this task reads. Defaults to partition `partition` of every source topic of the
   * sub-topology; a runtime passes fewer when a source topic has fewer partitions than the task count.
   */
  inputPartitions?: readonly TopicPartition[];
  /** See PartitionGroup.processable. Default 0: process whatever is buffered. */
  maxTaskIdleMs?: number;
}

export class StreamTask {
  readonly id: string;
  readonly subtopology: number;
  readonly partition: number;
  private readonly runtime: TaskRuntime;
  private readonly group: PartitionGroup;
  private readonly storeMap = new Map<string, StateStore>();
  private readonly streamPunctuations = new PunctuationQueue();
  private readonly wallClockPunctuations = new PunctuationQueue();
  private readonly consumed = new Map<string, TopicPartitionOffset>();
  private readonly uncommitted = new Set<string>();
  private readonly clock: () => number;
  private state: 'created' | 'stores-open' | 'running' | 'closed' = 'created';

  constructor(private readonly options: StreamTaskOptions) {
    const { topology, subtopology, partition } = options;
    const sub = topology.subtopology(subtopology);
    this.id = `${subtopology}_${partition}`;
    this.subtopology = subtopology;
    this.partition = partition;
    this.clock = options.clock ?? Date.now;
    for (const name of sub.stores) this.storeMap.set(name, topology.storeBuilder(name).build());
    const inputs = options.inputPartitions ?? sub.sourceTopics.map((topic) => ({ topic, partition }));
    this.group = new PartitionGroup(inputs, options.maxTaskIdleMs ?? 0);
    this.runtime = new TaskRuntime({
      topology,
      taskId: this.id,
      nodeDefs: sub.nodes,
      localStores: this.storeMap,
      globalStores: options.globalStores ?? new Map(),
      collector: options.collector,
      errorHandlers: options.errorHandlers ?? defaultErrorHandlers,
      clock: this.clock,
      logger: options.logger.child({ taskId: this.id }),
      scheduler: (node, interval, type, punctuator) => this.schedule(node, interval, type, punctuator),
    });
  }

  get metrics(): TaskMetrics {
    return this.runtime.metrics;
  }

  /** The task's stores by name: the runtime restores the logged ones before initializeTopology. */
  stores(): ReadonlyMap<string, StateStore> {
    return this.storeMap;
  }

  /** For each logged store, the changelog partition that restores it (partition = task partition). */
  changelogPartitions(): { storeName: string; topic: string; partition: number }[] {
    const out: { storeName: string; topic: string; partition: number }[] = [];
    for (const name of this.storeMap.keys()) {
      const topic = this.options.topology.changelogTopicFor(name);
      if (topic !== undefined) out.push({ storeName: name, topic, partition: this.partition });
    }
    return out;
  }

  inputPartitions(): TopicPartition[] {
    return this.group.partitions();
  }

  get taskDir(): string {
    return path.join(this.options.stateDir, this.options.topology.applicationId, this.id);
  }

  async initializeStores(): Promise<void> {
    if (this.state !== 'created') throw new Error(`task ${this.id}: stores already initialized`);
    for (const store of this.storeMap.values()) {
      await store.open({
        taskDir: this.taskDir,
        taskId: this.id,
        ...(store.logged ? { changelog: this.options.changelog } : {}),
      });
    }
    this.state = 'stores-open';
  }

  initializeTopology(): void {
    if (this.state !== 'stores-open') throw new Error(`task ${this.id}: initializeStores() must run first`);
    this.runtime.initProcessors();
    this.state = 'running';
  }

  async initialize(): Promise<void> {
    await this.initializeStores();
    this.initializeTopology();
  }

  /** Buffers raw records; each must belong to one of the task's input partitions. */
  addRecords(records: readonly RawRecord[]): void {
    if (records.length === 0) return;
    let queue = this.group.queue(records[0]!);
    for (const record of records) {
      if (record.topic !== queue.tp.topic || record.partition !== queue.tp.partition) queue = this.group.queue(record);
      queue.add([record]);
    }
  }

  /** See PartitionGroup.setExhausted: a bounded run's input that has been read to its end. */
  setInputExhausted(tp: TopicPartition, exhausted = true): void {
    this.group.setExhausted(tp, exhausted);
  }

  bufferedRecords(): number {
    return this.group.size;
  }

  /**
   * Decodes what is buffered (awaiting serdes' prefetch once for the batch, if they have one),
   * then processes up to `maxRecords` records, lowest timestamp first across the task's inputs.
   * Returns the number of records processed (records skipped by the deserialization handler do not
   * count, but their offsets do advance). Throws TaskFailedError when a handler answers FAIL; the
   * failed record's offset is then not committed.
   */
  async process(maxRecords = Number.POSITIVE_INFINITY): Promise<number> {
    if (this.state !== 'running') throw new Error(`task ${this.id} is not running`);
    await this.decodeBuffered();
    let processed = 0;
    while (processed < maxRecords && this.group.processable(this.clock())) {
      const next = this.group.next();
      if (!next) break;
      if (next.stamped !== null) {
        const pending = this.runtime.process(next.stamped);
        if (pending !== undefined) await pending;
        processed++;
      }
      this.markConsumed(next.raw);
    }
    if (processed > 0) await this.runtime.flushProcessors();
    return processed;
  }

  private async decodeBuffered(): Promise<void> {
    const undecoded: RawRecord[] = [];
    for (const q of this.group.allQueues()) undecoded.push(...q.undecoded());
    if (undecoded.length === 0) return;
    await this.runtime.prefetch(undecoded);
    for (const q of this.group.allQueues()) q.decodePending((raw, partitionTime) => this.runtime.decode(raw, partitionTime));
  }

  private markConsumed(raw: RawRecord): void {
    const key = tpKey(raw);
    this.consumed.set(key, { topic: raw.topic, partition: raw.partition, offset: raw.offset + 1 });
    this.uncommitted.add(key);
  }

  /** The highest timestamp processed so far, or -1. */
  streamTime(): number {
    return this.runtime.streamTime();
  }

  private schedule(nodeName: string, intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable {
    if (type === 'STREAM_TIME') return this.streamPunctuations.schedule(nodeName, 0, intervalMs, punctuator);
    return this.wallClockPunctuations.schedule(nodeName, this.clock() + intervalMs, intervalMs, punctuator);
  }

  /** Runs the STREAM_TIME punctuators due at the current stream time; true if any ran. */
  async punctuateStreamTime(): Promise<boolean> {
    const now = this.runtime.streamTime();
    if (now < 0 || this.state !== 'running') return false;
    return this.runDue(this.streamPunctuations, now);
  }

  /** Runs the WALL_CLOCK_TIME punctuators due at `nowMs`; true if any ran. */
  async punctuateWallClock(nowMs: number = this.clock()): Promise<boolean> {
    if (this.state !== 'running') return false;
    return this.runDue(this.wallClockPunctuations, nowMs);
  }

  private async runDue(queue: PunctuationQueue, now: number): Promise<boolean> {
    const due = queue.due(now);
    for (const s of due) if (!s.cancelled) await this.runtime.punctuate(s.nodeName, s.punctuator, now);
    return due.length > 0;
  }

  /** Whether records were consumed since the last commit. */
  commitNeeded(): boolean {
    return this.uncommitted.size > 0;
  }

  /**
   * Flushes every store (so their changelog records reach the ChangelogSink) and returns the next
   * offset to read for each input partition that advanced since the last commit. All output caused
   * by those records has been handed to the collector or the changelog sink by the time this
   * resolves; the runtime must make the producer durable before committing the offsets.
   */
  async commit(): Promise<TopicPartitionOffset[]> {
    for (const store of this.storeMap.values()) await store.flush();
    const offsets = [...this.uncommitted].map((key) => this.consumed.get(key)!);
    this.uncommitted.clear();
    return offsets;
  }

  /**
   * Hands offsets returned by commit() back when the runtime could not commit them (the group's
   * generation moved, the coordinator was away), so the next commit carries them again.
   */
  uncommit(offsets: readonly TopicPartitionOffset[]): void {
    for (const o of offsets) this.uncommitted.add(tpKey(o));
  }

  /** Every input partition's next offset, committed or not. */
  consumedOffsets(): TopicPartitionOffset[] {
    return [...this.consumed.values()];
  }

  /**
   * Closes processors and stores and drops buffered records. Call commit() first for a clean close;
   * `wipe` deletes the local state (after an unclean exactly-once failure, say).
   */
  async close(options: { wipe?: boolean } = {}): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'running') this.runtime.closeProcessors();
    if (this.state !== 'created') {
      for (const store of this.storeMap.values()) {
        if (options.wipe) await store.wipe();
        await store.close();
      }
    }
    this.group.clear();
    this.state = 'closed';
  }

  /** For production failures the runtime learns of after send() returned (producer callbacks). */
  handleAsyncProductionError(sinkName: string, record: Parameters<TaskRuntime['handleAsyncProductionError']>[1], error: unknown): void {
    this.runtime.handleAsyncProductionError(sinkName, record, error);
  }
}
