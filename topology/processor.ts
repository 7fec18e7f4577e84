/**
 * The Processor API: the layer the DSL is written on, and the escape hatch (`KStream.process`) for
 * logic the DSL cannot express. Everything here is synchronous on the per-record path; a processor
 * may still return a Promise from `process` (the task awaits it before the next record), which costs
 * a promise only for processors that actually need one.
 */
import type { Logger } from 'pino';
import type { StateStore } from '../state/types.js';
import type { Record, RecordMetadata } from './records.js';

export type PunctuationType = 'STREAM_TIME' | 'WALL_CLOCK_TIME';

/** Called with the stream time (STREAM_TIME) or the wall-clock time (WALL_CLOCK_TIME) that triggered it. */
export type Punctuator = (timestamp: number) => void | Promise<void>;

export interface Cancellable {
  cancel(): void;
}

/**
 * Why a processor dropped a record; each reason is a counter in the task's metrics. 'stale': a
 * foreign-key join response made from a left value that has since changed.
 */
export type DropReason = 'late' | 'null-key' | 'null-value' | 'expired' | 'stale';

export interface ProcessorContext<KForward = unknown, VForward = unknown> {
  readonly applicationId: string;
  /** "<subtopology>_<partition>", or "global" in the global state task. */
  readonly taskId: string;
  /** Name of the processor node this context belongs to. */
  readonly processorName: string;
  /** Pino logger bound to this task and processor. */
  readonly logger: Logger;
  /** A store connected to this processor, or a global store. Throws for any other name. */
  getStateStore<S extends StateStore>(name: string): S;
  /** Sends a record to every child, or to the named child only. */
  forward(record: Record<KForward, VForward>, childName?: string): void;
  /** Names of this node's children, in the order they were connected (riskloop addition). */
  childNames(): readonly string[];
  /** Source topic, partition and offset of the record being processed; null inside a punctuator. */
  recordMetadata(): RecordMetadata | null;
  /**
   * STREAM_TIME punctuators fire when the task's stream time reaches the next multiple of the interval
   * (aligned to 0, like Kafka Streams); WALL_CLOCK_TIME ones every interval of wall-clock time from now.
   * A punctuator that fell several intervals behind fires once, not once per missed interval.
   */
  schedule(intervalMs: number, type: PunctuationType, punctuator: Punctuator): Cancellable;
  /** The task's stream time: the highest record timestamp it has processed, or -1 before any. */
  currentStreamTimeMs(): number;
  currentSystemTimeMs(): number;
  /** Counts a dropped record against this processor and the task. */
  recordDropped(reason: DropReason): void;
}

export interface Processor<KIn, VIn, KOut = never, VOut = never> {
  init?(context: ProcessorContext<KOut, VOut>): void;
  process(record: Record<KIn, VIn>): void | Promise<void>;
  /**
   * riskloop addition: called after the task has processed the records it had buffered (the end
   * of one poll), before commit and punctuation. A processor that works better on a batch (ONNX
   * inference) holds records in `process` and handles them here; forwards from `flush` run
   * through the children like forwards from `process`, with no record metadata.
   */
  flush?(): void | Promise<void>;
  close?(): void;
}

/** Each task builds its own processor instances, so a supplier must return a new one per call. */
export type ProcessorSupplier<KIn, VIn, KOut = never, VOut = never> = () => Processor<KIn, VIn, KOut, VOut>;
