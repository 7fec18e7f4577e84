/**
 * The part of a task shared by stream tasks and the global state task: the live nodes, decoding
 * with the source serdes, running one record through the graph, and the three error handlers.
 * Keeping it in one place is what lets the test driver and the Kafka runtime run the same code.
 */
import type { Logger } from 'pino';
import type { StateStore } from '../../state/types.js';
import {
  type DeadLetterPhase,
  type ErrorHandlers,
  type HandlerResponse,
  TaskFailedError,
  errorClassOf,
  jsonDeadLetterEncoder,
  messageOf,
  reasonOf,
  reducePayload,
  type DeadLetter,
} from '../errors.js';
import { classifyError } from '../kafka/errorClass.js';
import type { Cancellable, DropReason, PunctuationType, Punctuator } from '../processor.js';
import type { OutgoingRecord, RecordCollector } from '../recordCollector.js';
import type { RawRecord, RecordMetadata } from '../records.js';
import type { Serde } from '../serde.js';
import type { NodeDef, SourceNode, Topology } from '../topology.js';
import { type NodeHost, ProcessorRuntimeNode, type RuntimeNode, SinkRuntimeNode, SourceRuntimeNode } from './runtimeNodes.js';
import { type NodeCounters, TaskMetrics } from './taskMetrics.js';

/** A decoded record with its event time, waiting to be processed. */
export interface StampedRecord {
  raw: RawRecord;
  key: unknown;
  value: unknown;
  timestamp: number;
}

export interface TaskRuntimeOptions {
  topology: Topology;
  taskId: string;
  nodeDefs: readonly NodeDef[];
  localStores: ReadonlyMap<string, StateStore>;
  globalStores: ReadonlyMap<string, StateStore>;
  /** Absent only where nothing is ever sent (a global task without a dead-letter topic). */
  collector: RecordCollector | undefined;
  errorHandlers: ErrorHandlers;
  clock: () => number;
  logger: Logger;
  /** Absent in the global task, whose processors cannot punctuate. */
  scheduler?: (nodeName: string, intervalMs: number, type: PunctuationType, punctuator: Punctuator) => Cancellable;
}

export class TaskRuntime implements NodeHost {
  readonly metrics = new TaskMetrics();
  readonly applicationId: string;
  readonly taskId: string;
  readonly logger: Logger;
  private current: RawRecord | null = null;
  private observedStreamTime = -1;
  private pending: Promise<void>[] = [];
  private processors: ProcessorRuntimeNode[] = [];
  private readonly sourcesByTopic = new Map<string, SourceRuntimeNode>();

  constructor(private readonly options: TaskRuntimeOptions) {
    this.applicationId = options.topology.applicationId;
    this.taskId = options.taskId;
    this.logger = options.logger;
  }

  /** Instantiates the processors (one per node, from their suppliers) and calls their init. */
  initProcessors(): void {
    const live = new Map<string, RuntimeNode>();
    const withChildren: { node: SourceRuntimeNode | ProcessorRuntimeNode; children: readonly string[] }[] = [];
    for (const def of this.options.nodeDefs) {
      switch (def.kind) {
        case 'source': {
          const node = new SourceRuntimeNode(def.name, this);
          live.set(def.name, node);
          withChildren.push({ node, children: def.children });
          for (const topic of def.topics) this.sourcesByTopic.set(topic, node);
          break;
        }
        case 'processor': {
          const node = new ProcessorRuntimeNode(def.name, def.supplier(), def.stores, this);
          live.set(def.name, node);
          withChildren.push({ node, children: def.children });
          this.processors.push(node);
          break;
        }
        case 'sink':
          live.set(def.name, new SinkRuntimeNode(def.name, def.topic, def.keySerde, def.valueSerde, this, def.partitioner));
          break;
      }
    }
    for (const { node, children } of withChildren) node.setChildren(children.map((c) => live.get(c)!));
    for (const p of this.processors) p.init();
  }

  /**
   * Runs the processors' end-of-batch hooks in topological order, so that what an upstream
   * processor forwards from its flush is processed downstream before that node's own flush.
   */
  async flushProcessors(): Promise<void> {
    for (const p of this.processors) {
      const hook = p.flushHook();
      if (hook) await this.punctuate(p.name, hook, this.observedStreamTime);
    }
  }

  closeProcessors(): void {
    for (const p of this.processors) p.close();
    this.processors = [];
  }

  // ---- decoding ----

  private sourceDef(topic: string): SourceNode {
    const source = this.options.topology.sourceForTopic(topic);
    if (!source) throw new Error(`task ${this.taskId} has no source for topic ${topic}`);
    return source;
  }

  /** Lets serdes fetch what they need (schemas) for a batch, awaiting only when some serde asks to. */
  async prefetch(raws: readonly RawRecord[]): Promise<void> {
    const payloads = new Map<Serde<unknown>, Buffer[]>();
    const add = (serde: Serde<unknown>, bytes: Buffer | null): void => {
      if (bytes === null || !serde.prefetch) return;
      const list = payloads.get(serde);
      if (list) list.push(bytes);
      else payloads.set(serde, [bytes]);
    };
    for (const raw of raws) {
      const source = this.sourceDef(raw.topic);
      add(source.keySerde, raw.key);
      add(source.valueSerde, raw.value);
    }
    if (payloads.size === 0) return;
    await Promise.all([...payloads].map(([serde, list]) => serde.prefetch!(list)));
  }

  /**
   * Decodes a record and extracts its event time. Returns null when the record is to be skipped
   * (the deserialization handler said CONTINUE or DEAD_LETTER, or the timestamp is invalid).
   */
  decode(raw: RawRecord, partitionTime: number): StampedRecord | null {
    const source = this.sourceDef(raw.topic);
    let key: unknown;
    let value: unknown;
    let timestamp: number;
    try {
      key = raw.key === null ? null : source.keySerde.deserialize(raw.key, raw.topic);
      value = raw.value === null ? null : source.valueSerde.deserialize(raw.value, raw.topic);
      timestamp = source.timestampExtractor({ ...raw, key, value }, partitionTime);
    } catch (error) {
      let response: HandlerResponse;
      try {
        response = this.options.errorHandlers.deserialization({ taskId: this.taskId, processorName: source.name, source: raw }, error);
      } catch {
        response = 'FAIL';
      }
      this.metrics.dropped.deserialization++;
      this.metrics.node(source.name).dropped++;
      this.applyResponse('DESERIALIZATION', source.name, response, error, raw);
      return null;
    }
    if (!(timestamp >= 0)) {
      this.logger.warn({ topic: raw.topic, partition: raw.partition, offset: raw.offset, timestamp }, 'skipping record with invalid timestamp');
      this.metrics.dropped['invalid-timestamp']++;
      return null;
    }
    return { raw, key, value, timestamp };
  }

  // ---- processing ----

  /**
   * Runs one decoded record through the graph. Returns a promise only when some processor on the
   * record's path returned one; the caller must await it before the next record.
   */
  process(record: StampedRecord): Promise<void> | undefined {
    const source = this.sourcesByTopic.get(record.raw.topic);
    if (!source) throw new Error(`task ${this.taskId} has no source for topic ${record.raw.topic}`);
    this.current = record.raw;
    if (record.timestamp > this.observedStreamTime) this.observedStreamTime = record.timestamp;
    const started = performance.now();
    source.process({ key: record.key, value: record.value, timestamp: record.timestamp, headers: record.raw.headers });
    this.metrics.recordsProcessed++;
    if (this.pending.length > 0) return this.settlePending(started);
    this.metrics.recordLatency(performance.now() - started);
    return undefined;
  }

  private async settlePending(started: number): Promise<void> {
    // A pending processor may forward to another asynchronous one, which adds to the list.
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await Promise.all(batch);
    }
    this.metrics.recordLatency(performance.now() - started);
  }

  /** Runs a punctuator with no current record, applying the processing handler to its errors. */
  async punctuate(nodeName: string, punctuator: Punctuator, timestamp: number): Promise<void> {
    this.current = null;
    this.metrics.punctuations++;
    try {
      const result = punctuator(timestamp);
      if (result !== undefined) await result;
    } catch (error) {
      this.onProcessingError(nodeName, error);
    }
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      await Promise.all(batch);
    }
  }

  streamTime(): number {
    return this.observedStreamTime;
  }

  /** Sets stream time when a runtime knows it better (e.g. restored from committed metadata). */
  advanceStreamTime(timestamp: number): void {
    if (timestamp > this.observedStreamTime) this.observedStreamTime = timestamp;
  }

  // ---- NodeHost ----

  recordMetadata(): RecordMetadata | null {
    const c = this.current;
    return c === null ? null : { topic: c.topic, partition: c.partition, offset: c.offset };
  }

  wallClock(): number {
    return this.options.clock();
  }

  store(name: string): StateStore | undefined {
    return this.options.localStores.get(name) ?? this.options.globalStores.get(name);
  }

  isGlobalStore(name: string): boolean {
    return this.options.globalStores.has(name);
  }

  schedule(nodeName: string, intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable {
    if (!this.options.scheduler) throw new Error(`${nodeName}: processors of global stores cannot schedule punctuators`);
    return this.options.scheduler(nodeName, intervalMs, type, punctuator);
  }

  counters(nodeName: string): NodeCounters {
    return this.metrics.node(nodeName);
  }

  recordDropped(nodeName: string, reason: DropReason): void {
    this.metrics.dropped[reason]++;
    this.metrics.node(nodeName).dropped++;
  }

  track(_nodeName: string, pending: Promise<void>): void {
    this.pending.push(pending);
  }

  onProcessingError(nodeName: string, error: unknown): void {
    // A FAIL further down the graph travels up through every parent unchanged.
    if (error instanceof TaskFailedError) throw error;
    let response: HandlerResponse;
    try {
      response = this.options.errorHandlers.processing({ taskId: this.taskId, processorName: nodeName, source: this.current }, error);
    } catch {
      response = 'FAIL';
    }
    this.metrics.dropped.processing++;
    this.metrics.node(nodeName).dropped++;
    this.applyResponse('PROCESSING', nodeName, response, error, this.current);
  }

  send(sinkName: string, encode: () => OutgoingRecord): boolean {
    let record: OutgoingRecord | null = null;
    let phase: 'serialization' | 'send' = 'serialization';
    try {
      record = encode();
      phase = 'send';
      if (!this.options.collector) throw new Error(`task ${this.taskId} has no record collector`);
      this.options.collector.send(record);
      return true;
    } catch (error) {
      if (error instanceof TaskFailedError) throw error;
      let response: HandlerResponse;
      try {
        response = this.options.errorHandlers.production({ taskId: this.taskId, processorName: sinkName, source: this.current, phase, record }, error);
      } catch {
        response = 'FAIL';
      }
      this.metrics.dropped.production++;
      this.metrics.node(sinkName).dropped++;
      this.applyResponse('PRODUCTION', sinkName, response, error, this.current);
      return false;
    }
  }

  /**
   * For production errors a runtime learns of asynchronously (a failed producer send): asks the
   * production handler and dead-letters or throws as it answers.
   */
  handleAsyncProductionError(sinkName: string, record: OutgoingRecord, error: unknown): void {
    let response: HandlerResponse;
    try {
      response = this.options.errorHandlers.production({ taskId: this.taskId, processorName: sinkName, source: null, phase: 'send', record }, error);
    } catch {
      response = 'FAIL';
    }
    this.metrics.dropped.production++;
    this.applyResponse('PRODUCTION', sinkName, response, error, null);
  }

  private applyResponse(phase: DeadLetterPhase, nodeName: string, response: HandlerResponse, error: unknown, source: RawRecord | null): void {
    const where = source === null ? {} : { topic: source.topic, partition: source.partition, offset: source.offset };
    const redact = this.options.errorHandlers.redactLogText ?? ((text: string) => text);
    const fields = { taskId: this.taskId, processor: nodeName, phase, ...where, errorClass: errorClassOf(error), error: redact(messageOf(error)) };
    if (response === 'CONTINUE') {
      this.logger.warn(fields, 'skipping record after error');
      return;
    }
    if (response === 'DEAD_LETTER') {
      this.deadLetter(phase, nodeName, error, source);
      this.logger.warn({ event: 'dead-letter', reason: reasonOf(error, phase), ...fields, deadLetterTopic: this.options.errorHandlers.deadLetterTopic }, 'record sent to dead-letter topic');
      return;
    }
    this.logger.error(fields, 'failing task after error');
    throw new TaskFailedError(this.taskId, nodeName, phase, source, error);
  }

  /**
   * Writes the dead letter of `source`. When the full letter cannot be produced for a reason about
   * that letter alone (too large for the dead-letter topic: a source record near the broker's limit
   * plus metadata), a reduced letter goes instead (size, SHA-256, masked excerpt; no key, value or
   * headers). When even that fails on a per-record error, the record is skipped with an error log
   * line (topic, partition, offset, reason) and counted as `undeliverable`: the partition goes on.
   * Any other failure (no dead-letter topic configured, say) stops the task.
   */
  private deadLetter(phase: DeadLetterPhase, nodeName: string, error: unknown, source: RawRecord | null): void {
    const { deadLetterTopic, deadLetterEncoder } = this.options.errorHandlers;
    const collector = this.options.collector;
    if (!deadLetterTopic || !collector) {
      throw new TaskFailedError(this.taskId, nodeName, phase, source, new Error(`DEAD_LETTER requested but no dead-letter topic is configured (${messageOf(error)})`));
    }
    const failedAt = this.options.clock();
    const letter: DeadLetter = {
      reason: reasonOf(error, phase),
      phase,
      sourceTopic: source?.topic ?? null,
      partition: source?.partition ?? null,
      offset: source?.offset ?? null,
      timestamp: source?.timestamp ?? null,
      key: source?.key ?? null,
      value: source?.value ?? null,
      headers: source?.headers ?? {},
      processor: nodeName,
      taskId: this.taskId,
      errorClass: errorClassOf(error),
      message: messageOf(error),
      failedAt,
    };
    const encoder = deadLetterEncoder ?? jsonDeadLetterEncoder;
    const write = (dl: DeadLetter): void => {
      const encoded = encoder.encode(dl);
      collector.send({
        topic: deadLetterTopic,
        key: encoded.key,
        value: encoded.value,
        timestamp: source?.timestamp ?? failedAt,
        ...(encoded.headers ? { headers: encoded.headers } : {}),
      });
    };
    try {
      write(letter);
    } catch (sendError) {
      if (classifyError(sendError).kind !== 'per-record') throw new TaskFailedError(this.taskId, nodeName, phase, source, sendError);
      const reduced = reducePayload({ key: letter.key, value: letter.value, headers: letter.headers }, this.options.errorHandlers.digest);
      const where = source === null ? {} : { topic: source.topic, partition: source.partition, offset: source.offset };
      try {
        write({ ...letter, key: null, value: null, headers: {}, reduced });
      } catch (reducedError) {
        if (classifyError(reducedError).kind !== 'per-record') throw new TaskFailedError(this.taskId, nodeName, phase, source, reducedError);
        this.metrics.dropped.undeliverable++;
        this.logger.error(
          { event: 'undeliverable', taskId: this.taskId, processor: nodeName, reason: letter.reason, ...where, size: reduced.originalSize, sha256: reduced.sha256, error: messageOf(reducedError) },
          'record skipped: not even a reduced dead letter could be produced',
        );
        return;
      }
      this.metrics.reducedDeadLetters++;
      this.logger.warn(
        { event: 'reduced-dead-letter', taskId: this.taskId, processor: nodeName, reason: letter.reason, ...where, size: reduced.originalSize, sha256: reduced.sha256, error: messageOf(sendError) },
        'dead letter too large to produce: wrote a reduced one',
      );
    }
    this.metrics.deadLetters++;
  }
}
