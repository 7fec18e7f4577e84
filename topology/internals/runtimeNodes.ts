/**
 * The live form of a topology's nodes inside one task: processor instances with their contexts,
 * and sinks that encode and hand records to the collector. Built fresh for every task.
 */
import type { Logger } from 'pino';
import type { StateStore } from '../../state/types.js';
import type { Cancellable, DropReason, Processor, ProcessorContext, PunctuationType, Punctuator } from '../processor.js';
import type { Record, RecordMetadata } from '../records.js';
import type { OutgoingRecord } from '../recordCollector.js';
import type { NodeCounters } from './taskMetrics.js';

/** What nodes and contexts need from the task that runs them. */
export interface NodeHost {
  readonly applicationId: string;
  readonly taskId: string;
  readonly logger: Logger;
  recordMetadata(): RecordMetadata | null;
  streamTime(): number;
  wallClock(): number;
  /** A store by name, local or global; undefined when there is none. */
  store(name: string): StateStore | undefined;
  isGlobalStore(name: string): boolean;
  schedule(nodeName: string, intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable;
  counters(nodeName: string): NodeCounters;
  recordDropped(nodeName: string, reason: DropReason): void;
  /** Awaited by the task before the next record: a processor returned a Promise. */
  track(nodeName: string, pending: Promise<void>): void;
  /** Applies the processing handler; throws TaskFailedError on FAIL. */
  onProcessingError(nodeName: string, error: unknown): void;
  /** Encodes and sends through the collector, applying the production handler on failure; true if sent. */
  send(sinkName: string, encode: () => OutgoingRecord): boolean;
}

export interface RuntimeNode {
  readonly name: string;
  process(record: Record<unknown, unknown>): void;
}

export class ProcessorRuntimeNode implements RuntimeNode, ProcessorContext<unknown, unknown> {
  readonly logger: Logger;
  private children: RuntimeNode[] = [];
  private readonly childByName = new Map<string, RuntimeNode>();
  private readonly counters: NodeCounters;

  constructor(
    readonly name: string,
    private readonly processor: Processor<unknown, unknown, unknown, unknown>,
    private readonly storeNames: readonly string[],
    private readonly host: NodeHost,
  ) {
    this.logger = host.logger.child({ processor: name });
    this.counters = host.counters(name);
  }

  setChildren(children: RuntimeNode[]): void {
    this.children = children;
    for (const child of children) this.childByName.set(child.name, child);
  }

  init(): void {
    this.processor.init?.(this);
  }

  close(): void {
    this.processor.close?.();
  }

  /** The processor's end-of-batch hook, or undefined when it has none. */
  flushHook(): (() => void | Promise<void>) | undefined {
    const p = this.processor;
    return p.flush ? () => p.flush!() : undefined;
  }

  process(record: Record<unknown, unknown>): void {
    this.counters.recordsIn++;
    let result: void | Promise<void>;
    try {
      result = this.processor.process(record);
    } catch (error) {
      this.host.onProcessingError(this.name, error);
      return;
    }
    // Only asynchronous processors pay for a promise; the task awaits it before the next record.
    if (result !== undefined && typeof result.then === 'function') {
      this.host.track(
        this.name,
        result.then(undefined, (error: unknown) => this.host.onProcessingError(this.name, error)),
      );
    }
  }

  // ---- ProcessorContext ----

  get applicationId(): string {
    return this.host.applicationId;
  }

  get taskId(): string {
    return this.host.taskId;
  }

  get processorName(): string {
    return this.name;
  }

  getStateStore<S extends StateStore>(name: string): S {
    if (!this.storeNames.includes(name) && !this.host.isGlobalStore(name)) {
      throw new Error(`processor ${this.name} has no access to store ${name}: connect it (addStateStore/process(..., storeNames))`);
    }
    const store = this.host.store(name);
    if (!store) throw new Error(`store ${name} is not available in task ${this.host.taskId}`);
    return store as S;
  }

  forward(record: Record<unknown, unknown>, childName?: string): void {
    if (childName !== undefined) {
      const child = this.childByName.get(childName);
      if (!child) throw new Error(`${this.name} has no child named ${childName}`);
      this.counters.recordsOut++;
      child.process(record);
      return;
    }
    for (const child of this.children) {
      this.counters.recordsOut++;
      child.process(record);
    }
  }

  childNames(): readonly string[] {
    return this.children.map((c) => c.name);
  }

  recordMetadata(): RecordMetadata | null {
    return this.host.recordMetadata();
  }

  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable {
    return this.host.schedule(this.name, intervalMs, type, punctuator);
  }

  currentStreamTimeMs(): number {
    return this.host.streamTime();
  }

  currentSystemTimeMs(): number {
    return this.host.wallClock();
  }

  recordDropped(reason: DropReason): void {
    this.host.recordDropped(this.name, reason);
  }
}

/** Passes decoded records to its children; the task's decoding already happened. */
export class SourceRuntimeNode implements RuntimeNode {
  private children: RuntimeNode[] = [];
  private readonly counters: NodeCounters;

  constructor(
    readonly name: string,
    host: NodeHost,
  ) {
    this.counters = host.counters(name);
  }

  setChildren(children: RuntimeNode[]): void {
    this.children = children;
  }

  process(record: Record<unknown, unknown>): void {
    this.counters.recordsIn++;
    for (const child of this.children) {
      this.counters.recordsOut++;
      child.process(record);
    }
  }
}

export class SinkRuntimeNode implements RuntimeNode {
  private readonly counters: NodeCounters;

  constructor(
    readonly name: string,
    private readonly topic: string,
    private readonly keySerde: { serialize(v: unknown, topic?: string): Buffer },
    private readonly valueSerde: { serialize(v: unknown, topic?: string): Buffer },
    private readonly host: NodeHost,
    private readonly partitioner?: ((key: unknown, value: unknown) => number | undefined) | undefined,
  ) {
    this.counters = host.counters(name);
  }

  process(record: Record<unknown, unknown>): void {
    this.counters.recordsIn++;
    const sent = this.host.send(this.name, () => {
      const partition = this.partitioner?.(record.key, record.value);
      return {
        topic: this.topic,
        key: record.key === null || record.key === undefined ? null : this.keySerde.serialize(record.key, this.topic),
        value: record.value === null || record.value === undefined ? null : this.valueSerde.serialize(record.value, this.topic),
        timestamp: record.timestamp,
        headers: record.headers,
        ...(partition === undefined ? {} : { partition }),
      };
    });
    if (sent) this.counters.recordsOut++;
  }
}
