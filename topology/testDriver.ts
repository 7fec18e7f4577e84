/**
 * Runs a topology in-process, with no broker, for tests: pipe records into input topics, read
 * output topics, advance the wall clock, read stores. Like Kafka Streams' TopologyTestDriver, and
 * like it, it runs the real thing: the same StreamTask and GlobalStateTask classes the Kafka runtime
 * runs, fed from in-memory topics. Output to a topic the topology reads (repartition topics, or a
 * user topic read back) is fed back into the reading task, so multi-sub-topology graphs run end to end.
 *
 * Deterministic: every piped record is processed to completion (through every sub-topology it
 * reaches) before the call returns, tasks run in (sub-topology, partition) order, the wall clock
 * only moves when told to, and every pipe ends with a commit, so changelog topics are up to date.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import type { KeyValueStore, StateStore, WindowStore } from '../state/types.js';
import type { ErrorHandlers } from './errors.js';
import { GlobalStateTask } from './globalStateTask.js';
import { RecordTooLargeError } from './kafka/errorClass.js';
import type { NodeCounters, TaskDropReason } from './internals/taskMetrics.js';
import { type OutgoingRecord, type RecordCollector, defaultPartition, recordBytes } from './recordCollector.js';
import type { Headers, RawRecord } from './records.js';
import type { Serde } from './serde.js';
import { StreamTask } from './streamTask.js';
import { type Topology, resolvePartitionCounts } from './topology.js';
import type { ValueAndTimestamp } from './dsl/internalSerdes.js';
import { isTimestamped, plainView } from './dsl/timestampedStore.js';

export interface TopologyTestDriverConfig {
  /** Initial wall-clock time, epoch ms (default 0). */
  initialWallClockTimeMs?: number;
  /** Partition count per topic; topics not listed have `defaultPartitions`. */
  partitions?: { readonly [topic: string]: number };
  /** Default 1, as in Kafka Streams' driver. */
  defaultPartitions?: number;
  /** Folder for persistent stores; default a fresh temporary folder, removed by close(). */
  stateDir?: string;
  errorHandlers?: ErrorHandlers;
  /** Default: a silent pino logger. */
  logger?: Logger;
  /**
   * Largest key + value + headers a sent record may have, per topic (as the Kafka runtime derives
   * from max.message.bytes): larger ones are refused with RecordTooLargeError at send, so tests can
   * drive the production handler. Default: no limit.
   */
  maxRecordBytes?: { readonly [topic: string]: number };
}

/** A record read back from a topic, decoded. */
export interface TestRecord<K, V> {
  key: K | null;
  value: V | null;
  timestamp: number;
  headers: Headers;
  partition: number;
  offset: number;
}

export interface DriverMetrics {
  recordsProcessed: number;
  deadLetters: number;
  punctuations: number;
  dropped: { [R in TaskDropReason]: number };
  /** Per node, summed over the tasks running it. */
  nodes: Map<string, NodeCounters>;
}

export class TopologyTestDriver {
  private readonly log = new Map<string, RawRecord[]>();
  private readonly nextOffsets = new Map<string, number>();
  private readonly readPositions = new Map<string, number>();
  private readonly tasks: StreamTask[] = [];
  private readonly taskByTopicPartition = new Map<string, StreamTask>();
  private readonly global: GlobalStateTask;
  private readonly partitionCounts = new Map<string, number>();
  private readonly globalTopics: Set<string>;
  private pendingGlobal: RawRecord[] = [];
  private wallClock: number;
  private readonly ownsStateDir: boolean;
  private readonly stateDir: string;
  private closed = false;

  private constructor(
    readonly topology: Topology,
    private readonly config: TopologyTestDriverConfig,
  ) {
    // Resolved first: a topology whose topics cannot be co-partitioned fails before anything is created.
    const resolved = resolvePartitionCounts(topology, (topic) => this.userPartitions(topic));
    this.wallClock = config.initialWallClockTimeMs ?? 0;
    this.ownsStateDir = config.stateDir === undefined;
    this.stateDir = config.stateDir ?? mkdtempSync(path.join(os.tmpdir(), 'riskloop-driver-'));
    const logger = config.logger ?? pino({ level: 'silent' });
    const collector: RecordCollector = {
      send: (record) => {
        const limit = config.maxRecordBytes?.[record.topic];
        if (limit !== undefined && recordBytes(record) > limit) throw new RecordTooLargeError(record.topic, recordBytes(record), limit);
        this.append(record);
      },
    };
    this.globalTopics = new Set(topology.globalStores().map((g) => g.topic));
    this.global = new GlobalStateTask({
      topology,
      stateDir: this.stateDir,
      logger,
      collector,
      clock: () => this.wallClock,
      ...(config.errorHandlers ? { errorHandlers: config.errorHandlers } : {}),
    });

    for (const [topic, n] of resolved.topics) this.partitionCounts.set(topic, n);
    for (const sub of topology.subtopologies()) {
      const count = resolved.tasks.get(sub.id)!;
      for (let partition = 0; partition < count; partition++) {
        const inputs = sub.sourceTopics.filter((t) => this.partitionsOf(t) > partition).map((topic) => ({ topic, partition }));
        const task = new StreamTask({
          topology,
          subtopology: sub.id,
          partition,
          collector,
          changelog: {
            send: (storeName, change) => {
              const topic = topology.changelogTopicFor(storeName);
              if (topic === undefined) throw new Error(`store ${storeName} is not logged but sent a change`);
              this.append({ topic, key: change.key, value: change.value, timestamp: change.timestamp, partition });
            },
          },
          stateDir: this.stateDir,
          logger,
          globalStores: this.global.stores(),
          clock: () => this.wallClock,
          inputPartitions: inputs,
          ...(config.errorHandlers ? { errorHandlers: config.errorHandlers } : {}),
        });
        this.tasks.push(task);
        for (const tp of inputs) this.taskByTopicPartition.set(`${tp.topic}:${tp.partition}`, task);
      }
    }
  }

  static async create(topology: Topology, config: TopologyTestDriverConfig = {}): Promise<TopologyTestDriver> {
    const driver = new TopologyTestDriver(topology, config);
    try {
      await driver.global.initialize();
      for (const task of driver.tasks) await task.initialize();
    } catch (error) {
      await driver.close();
      throw error;
    }
    return driver;
  }

  private userPartitions(topic: string): number {
    return this.config.partitions?.[topic] ?? this.config.defaultPartitions ?? 1;
  }

  /** Partition count of any topic: resolved for internal topics, configured for the others. */
  partitionsOf(topic: string): number {
    return this.partitionCounts.get(topic) ?? this.userPartitions(topic);
  }

  createInputTopic<K, V>(topic: string, keySerde: Serde<K>, valueSerde: Serde<V>, options: { startTimestampMs?: number; autoAdvanceMs?: number } = {}): TestInputTopic<K, V> {
    if (this.topology.sourceForTopic(topic) === undefined) throw new Error(`topic ${topic} is not read by this topology`);
    return new TestInputTopic(this, topic, keySerde, valueSerde, options.startTimestampMs ?? 0, options.autoAdvanceMs ?? 0);
  }

  createOutputTopic<K, V>(topic: string, keySerde: Serde<K>, valueSerde: Serde<V>): TestOutputTopic<K, V> {
    return new TestOutputTopic(this, topic, keySerde, valueSerde);
  }

  /**
   * Pipes raw bytes (e.g. malformed payloads) into a topic and processes them to completion.
   * The partition defaults to the key's murmur2 partition.
   */
  async pipeRaw(topic: string, record: { key: Buffer | null; value: Buffer | null; timestamp: number; headers?: Headers; partition?: number }): Promise<void> {
    this.assertOpen();
    if (this.topology.sourceForTopic(topic) === undefined) throw new Error(`topic ${topic} is not read by this topology`);
    this.append({ topic, ...record });
    await this.runUntilIdle();
  }

  /** Moves the wall clock and runs the WALL_CLOCK_TIME punctuators that became due. */
  async advanceWallClockTime(ms: number): Promise<void> {
    this.assertOpen();
    if (ms < 0) throw new Error('the wall clock cannot go back');
    this.wallClock += ms;
    for (const task of this.tasks) await task.punctuateWallClock(this.wallClock);
    await this.runUntilIdle();
  }

  currentWallClockTimeMs(): number {
    return this.wallClock;
  }

  /** Every record ever written to a topic, in append order (all partitions). */
  readRaw(topic: string): readonly RawRecord[] {
    return this.log.get(topic) ?? [];
  }

  /** Topics that received at least one record. */
  topicNames(): string[] {
    return [...this.log.keys()];
  }

  getStateStore<S extends StateStore = StateStore>(name: string, partition = 0): S {
    const global = this.global.stores().get(name);
    if (global) return global as S;
    const owners = this.tasks.filter((t) => t.stores().has(name));
    if (owners.length === 0) throw new Error(`no store named ${name}`);
    const task = owners.find((t) => t.partition === partition);
    if (!task) throw new Error(`store ${name} has no partition ${partition}`);
    return task.stores().get(name) as S;
  }

  /** A key-value store's plain values (a KTable's store keeps timestamps too: see getTimestampedKeyValueStore). */
  getKeyValueStore<K, V>(name: string, partition = 0): KeyValueStore<K, V> {
    return plainView(this.getStateStore<KeyValueStore<K, V>>(name, partition));
  }

  /** A KTable's store with each row's timestamp (Kafka Streams' getTimestampedKeyValueStore). */
  getTimestampedKeyValueStore<K, V>(name: string, partition = 0): KeyValueStore<K, ValueAndTimestamp<V>> {
    const store = this.getStateStore<KeyValueStore<K, ValueAndTimestamp<V>>>(name, partition);
    if (!isTimestamped(store)) throw new Error(`store ${name} is not a timestamped key-value store`);
    return store;
  }

  getWindowStore<K, V>(name: string, partition = 0): WindowStore<K, V> {
    return this.getStateStore<WindowStore<K, V>>(name, partition);
  }

  /** The tasks, in (sub-topology, partition) order, for tests that look inside. */
  streamTasks(): readonly StreamTask[] {
    return this.tasks;
  }

  metrics(): DriverMetrics {
    const all = [...this.tasks.map((t) => t.metrics), this.global.metrics];
    const dropped = { ...all[0]!.dropped };
    for (const key of Object.keys(dropped) as TaskDropReason[]) dropped[key] = all.reduce((sum, m) => sum + m.dropped[key], 0);
    const nodes = new Map<string, NodeCounters>();
    for (const m of all) {
      for (const [name, c] of m.nodes) {
        const sum = nodes.get(name) ?? { recordsIn: 0, recordsOut: 0, dropped: 0 };
        sum.recordsIn += c.recordsIn;
        sum.recordsOut += c.recordsOut;
        sum.dropped += c.dropped;
        nodes.set(name, sum);
      }
    }
    return {
      recordsProcessed: all.reduce((s, m) => s + m.recordsProcessed, 0),
      deadLetters: all.reduce((s, m) => s + m.deadLetters, 0),
      punctuations: all.reduce((s, m) => s + m.punctuations, 0),
      dropped,
      nodes,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.tasks) await task.close();
    await this.global.close();
    if (this.ownsStateDir) rmSync(this.stateDir, { recursive: true, force: true });
  }

  // ---- used by the test topics ----

  /** @internal */
  nextUnread(topic: string): RawRecord | undefined {
    const position = this.readPositions.get(topic) ?? 0;
    const record = this.log.get(topic)?.[position];
    if (record !== undefined) this.readPositions.set(topic, position + 1);
    return record;
  }

  /** @internal */
  unreadCount(topic: string): number {
    return (this.log.get(topic)?.length ?? 0) - (this.readPositions.get(topic) ?? 0);
  }

  // ---- internals ----

  private assertOpen(): void {
    if (this.closed) throw new Error('the driver is closed');
  }

  /** The in-memory broker: appends to the topic and hands the record to whoever reads the topic. */
  private append(record: OutgoingRecord): void {
    const partitions = this.partitionsOf(record.topic);
    const partition = record.partition ?? defaultPartition(record.key, partitions);
    if (partition < 0 || partition >= partitions) throw new Error(`topic ${record.topic} has no partition ${partition}`);
    const tp = `${record.topic}:${partition}`;
    const offset = this.nextOffsets.get(tp) ?? 0;
    this.nextOffsets.set(tp, offset + 1);
    const raw: RawRecord = {
      topic: record.topic,
      partition,
      offset,
      timestamp: record.timestamp,
      key: record.key,
      value: record.value,
      headers: record.headers ?? {},
    };
    const list = this.log.get(record.topic) ?? [];
    list.push(raw);
    this.log.set(record.topic, list);
    if (this.globalTopics.has(record.topic)) this.pendingGlobal.push(raw);
    else this.taskByTopicPartition.get(tp)?.addRecords([raw]);
  }

  /**
   * Processes until no task has buffered records: one record per task per round, each followed by
   * stream-time punctuation (as Kafka Streams' driver punctuates after every record), then commits.
   */
  private async runUntilIdle(): Promise<void> {
    for (;;) {
      let progressed = false;
      if (this.pendingGlobal.length > 0) {
        const batch = this.pendingGlobal;
        this.pendingGlobal = [];
        await this.global.update(batch);
        progressed = true;
      }
      for (const task of this.tasks) {
        const before = task.bufferedRecords();
        if (before === 0) continue;
        await task.process(1);
        await task.punctuateStreamTime();
        if (task.bufferedRecords() < before) progressed = true;
      }
      if (!progressed) break;
    }
    for (const task of this.tasks) await task.commit();
    await this.global.flush();
  }
}

export class TestInputTopic<K, V> {
  private currentTime: number;

  constructor(
    private readonly driver: TopologyTestDriver,
    readonly topic: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
    startTimestampMs: number,
    private readonly autoAdvanceMs: number,
  ) {
    this.currentTime = startTimestampMs;
  }

  /**
   * Pipes one record and processes it to completion. Without a timestamp the topic's own clock is
   * used (then moved by autoAdvanceMs). A null key or value is written as null bytes.
   */
  async pipeInput(key: K | null, value: V | null, timestamp?: number, headers: Headers = {}): Promise<void> {
    const ts = timestamp ?? this.currentTime;
    if (timestamp === undefined) this.currentTime += this.autoAdvanceMs;
    await this.driver.pipeRaw(this.topic, {
      key: key === null ? null : this.keySerde.serialize(key, this.topic),
      value: value === null ? null : this.valueSerde.serialize(value, this.topic),
      timestamp: ts,
      headers,
    });
  }

  /** Pipes records one after the other, each processed before the next (like Kafka Streams' driver). */
  async pipeKeyValueList(records: readonly { key: K | null; value: V | null; timestamp?: number }[]): Promise<void> {
    for (const r of records) await this.pipeInput(r.key, r.value, r.timestamp);
  }

  advanceTime(ms: number): void {
    this.currentTime += ms;
  }
}

export class TestOutputTopic<K, V> {
  constructor(
    private readonly driver: TopologyTestDriver,
    readonly topic: string,
    private readonly keySerde: Serde<K>,
    private readonly valueSerde: Serde<V>,
  ) {}

  /** Reads (and consumes) the next record; throws when there is none. */
  readRecord(): TestRecord<K, V> {
    const raw = this.driver.nextUnread(this.topic);
    if (raw === undefined) throw new Error(`no more records in ${this.topic}`);
    return {
      key: raw.key === null ? null : this.keySerde.deserialize(raw.key, this.topic),
      value: raw.value === null ? null : this.valueSerde.deserialize(raw.value, this.topic),
      timestamp: raw.timestamp,
      headers: raw.headers,
      partition: raw.partition,
      offset: raw.offset,
    };
  }

  readKeyValue(): { key: K | null; value: V | null } {
    const { key, value } = this.readRecord();
    return { key, value };
  }

  readValue(): V | null {
    return this.readRecord().value;
  }

  readRecordsToList(): TestRecord<K, V>[] {
    const out: TestRecord<K, V>[] = [];
    while (!this.isEmpty()) out.push(this.readRecord());
    return out;
  }

  readKeyValuesToList(): { key: K | null; value: V | null }[] {
    return this.readRecordsToList().map(({ key, value }) => ({ key, value }));
  }

  readValuesToList(): (V | null)[] {
    return this.readRecordsToList().map((r) => r.value);
  }

  /** Latest value per key (a table view of the topic); keys compare as Map keys, so use primitive keys. */
  readKeyValuesToMap(): Map<K | null, V | null> {
    const out = new Map<K | null, V | null>();
    for (const { key, value } of this.readRecordsToList()) out.set(key, value);
    return out;
  }

  isEmpty(): boolean {
    return this.driver.unreadCount(this.topic) === 0;
  }

  getQueueSize(): number {
    return this.driver.unreadCount(this.topic);
  }
}
