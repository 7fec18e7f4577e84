/**
 * Keeps the global stores (GlobalKTables and `addGlobalStore`) up to date: every instance reads all
 * partitions of the global topics and applies them through the stores' processors. The topics are
 * the stores' changelogs, so global stores are never logged.
 *
 * Life cycle: new → await initialize() → await update(records) for every batch read (from the
 * beginning, or from the offsets saved by the last flush()) → await flush() periodically → close().
 * A runtime bootstraps by reading each global topic to its end before any stream task processes,
 * and keeps updating afterwards; `stores()` is what stream tasks receive as `globalStores`.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { StateStore } from '../state/types.js';
import { type ErrorHandlers, defaultErrorHandlers } from './errors.js';
import { TaskRuntime } from './internals/taskRuntime.js';
import type { TaskMetrics } from './internals/taskMetrics.js';
import type { RecordCollector } from './recordCollector.js';
import type { RawRecord, TopicPartitionOffset } from './records.js';
import { tpKey } from './records.js';
import type { NodeDef, Topology } from './topology.js';

export interface GlobalStateTaskOptions {
  topology: Topology;
  /** Global stores live in <stateDir>/<applicationId>/global. */
  stateDir: string;
  logger: Logger;
  errorHandlers?: ErrorHandlers;
  /** Only needed to write dead letters. */
  collector?: RecordCollector;
  clock?: () => number;
}

export class GlobalStateTask {
  readonly id = 'global';
  private readonly runtime: TaskRuntime;
  private readonly storeMap = new Map<string, StateStore>();
  private readonly partitionTimes = new Map<string, number>();
  private readonly positions = new Map<string, TopicPartitionOffset>();
  private running = false;
  /** Batches applied so far: the instance flushes and checkpoints when it moved (KafkaStreams.checkpointGlobal). */
  updates = 0;

  constructor(private readonly options: GlobalStateTaskOptions) {
    const { topology } = options;
    const nodeDefs: NodeDef[] = [];
    for (const g of topology.globalStores()) {
      this.storeMap.set(g.storeName, g.builder.build());
      nodeDefs.push(g.source, g.processor);
    }
    this.runtime = new TaskRuntime({
      topology,
      taskId: this.id,
      nodeDefs,
      // Global processors reach their store through the global map, like every other processor.
      localStores: new Map(),
      globalStores: this.storeMap,
      collector: options.collector,
      errorHandlers: options.errorHandlers ?? defaultErrorHandlers,
      clock: options.clock ?? Date.now,
      logger: options.logger.child({ taskId: this.id }),
    });
  }

  get metrics(): TaskMetrics {
    return this.runtime.metrics;
  }

  /** The global topics to read, all partitions. */
  topics(): string[] {
    return this.options.topology.globalStores().map((g) => g.topic);
  }

  stores(): ReadonlyMap<string, StateStore> {
    return this.storeMap;
  }

  /** Every global store is on disk: only then can a checkpoint be resumed from (an in-memory store starts empty). */
  get persistent(): boolean {
    return [...this.storeMap.values()].every((s) => s.persistent);
  }

  async initialize(): Promise<void> {
    const taskDir = path.join(this.options.stateDir, this.options.topology.applicationId, this.id);
    for (const store of this.storeMap.values()) await store.open({ taskDir, taskId: this.id });
    this.runtime.initProcessors();
    this.running = true;
  }

  /** Applies records of global topics, in the given order; returns how many were applied. */
  async update(records: readonly RawRecord[]): Promise<number> {
    if (!this.running) throw new Error('global state task is not initialized');
    if (records.length === 0) return 0;
    this.updates++;
    await this.runtime.prefetch(records);
    let applied = 0;
    for (const raw of records) {
      const key = tpKey(raw);
      const stamped = this.runtime.decode(raw, this.partitionTimes.get(key) ?? -1);
      if (stamped !== null) {
        if (stamped.timestamp > (this.partitionTimes.get(key) ?? -1)) this.partitionTimes.set(key, stamped.timestamp);
        const pending = this.runtime.process(stamped);
        if (pending !== undefined) await pending;
        applied++;
      }
      this.positions.set(key, { topic: raw.topic, partition: raw.partition, offset: raw.offset + 1 });
    }
    return applied;
  }

  /** Flushes the stores and returns the next offset of every partition applied so far (to checkpoint locally). */
  async flush(): Promise<TopicPartitionOffset[]> {
    for (const store of this.storeMap.values()) await store.flush();
    return [...this.positions.values()];
  }

  async close(options: { wipe?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.runtime.closeProcessors();
    for (const store of this.storeMap.values()) {
      if (options.wipe) await store.wipe();
      await store.close();
    }
    this.running = false;
  }
}
