/**
 * What to do when a record cannot be read, processed or written.
 *
 * Three handlers, one per phase, as in Kafka Streams (deserialization, processing, production).
 * Each looks at the failure and answers FAIL (stop the task: the record's offset is not committed,
 * so after a fix it is read again), CONTINUE (skip it and log through pino) or DEAD_LETTER (skip it
 * and write a dead letter carrying the original bytes to the configured topic, so nothing is lost
 * silently). The task, not the handler, does the logging and dead-lettering so every handler gets
 * the same behaviour for free.
 */
import { createHash } from 'node:crypto';
import { classifyError } from './kafka/errorClass.js';
import type { Headers, RawRecord } from './records.js';
import type { OutgoingRecord } from './recordCollector.js';

export type HandlerResponse = 'FAIL' | 'CONTINUE' | 'DEAD_LETTER';

interface FailureContext {
  taskId: string;
  /** The node that failed: a source (deserialization), a processor, or a sink (production). */
  processorName: string;
  /** The input record whose processing led here; null inside a punctuator. */
  source: RawRecord | null;
}

export type DeserializationExceptionHandler = (ctx: FailureContext & { source: RawRecord }, error: unknown) => HandlerResponse;
export type ProcessingExceptionHandler = (ctx: FailureContext, error: unknown) => HandlerResponse;
export type ProductionExceptionHandler = (
  ctx: FailureContext & {
    /** 'serialization' when the sink's serdes threw (no bytes exist yet), 'send' when the collector did. */
    phase: 'serialization' | 'send';
    /** The encoded record, when encoding succeeded. */
    record: OutgoingRecord | null;
  },
  error: unknown,
) => HandlerResponse;

export const logAndFail = (): HandlerResponse => 'FAIL';
export const logAndContinue = (): HandlerResponse => 'CONTINUE';
export const sendToDeadLetter = (): HandlerResponse => 'DEAD_LETTER';

/**
 * The production handler for a loop that must not stop on one record, like Kafka Streams'
 * ProductionExceptionHandler deciding per exception:
 *  - DEAD_LETTER when the failure concerns that record only: its sink's serdes threw, or it is
 *    larger than its topic accepts (RecordTooLargeError, MESSAGE_TOO_LARGE), or the topic refuses it
 *    (INVALID_RECORD, a keyless record on a compacted topic). The input record that caused it
 *    becomes a dead letter (a reduced one if even that is too large) and the partition goes on.
 *  - FAIL for everything else (authorization, unknown errors): skipping those would drop every
 *    record, not one, so the instance stops and says why.
 * Errors of the Kafka client after the send (broker down, fenced) never reach this handler: the
 * runtime retries or rejoins (topology/kafka/errorClass.ts).
 */
export const deadLetterPerRecordProductionErrors: ProductionExceptionHandler = (ctx, error) =>
  ctx.phase === 'serialization' || classifyError(error).kind === 'per-record' ? 'DEAD_LETTER' : 'FAIL';

/** Why a dead letter was written; serde errors may carry a finer code (see `reasonOf`). */
export type DeadLetterPhase = 'DESERIALIZATION' | 'PROCESSING' | 'PRODUCTION';

export interface DeadLetter {
  /** Machine-readable code: the error's own `reason`/`code` string when it has one, else the phase. */
  reason: string;
  phase: DeadLetterPhase;
  sourceTopic: string | null;
  partition: number | null;
  offset: number | null;
  timestamp: number | null;
  key: Buffer | null;
  value: Buffer | null;
  headers: Headers;
  processor: string;
  taskId: string;
  errorClass: string;
  message: string;
  /** Wall clock of the failure, epoch ms. */
  failedAt: number;
  /**
   * Set on a reduced dead letter: the full one (original bytes + metadata) was itself too large to
   * produce. key, value and headers are then empty and this says what the record was.
   */
  reduced?: ReducedPayload;
}

/** What a reduced dead letter keeps of a record too large to carry. */
export interface ReducedPayload {
  /** Bytes of key + value + headers of the original record. */
  originalSize: number;
  /** SHA-256 (hex) of the original value bytes (of no bytes for a null value): finds the record again. */
  sha256: string;
  /**
   * The value's first bytes with every ASCII letter replaced by 'x' and every digit by '9': its
   * shape (JSON, Avro framing, text) without any card number, account id or other identifier.
   */
  excerpt: Buffer;
}

/** Bytes of the value kept (as a shape) in a reduced dead letter. */
export const REDUCED_EXCERPT_BYTES = 64;

/**
 * `digest` replaces the plain SHA-256 (the loop passes a keyed HMAC: a plain hash of a short value
 * would let anyone confirm a guessed account id); the field keeps its name.
 */
export function reducePayload(source: { key: Buffer | null; value: Buffer | null; headers: Headers }, digest?: (bytes: Buffer) => string): ReducedPayload {
  let size = (source.key?.length ?? 0) + (source.value?.length ?? 0);
  for (const [name, v] of Object.entries(source.headers)) size += Buffer.byteLength(name) + v.length;
  const value = source.value ?? Buffer.alloc(0);
  const excerpt = Buffer.from(value.subarray(0, REDUCED_EXCERPT_BYTES));
  for (let i = 0; i < excerpt.length; i++) {
    const b = excerpt[i]!;
    if (b >= 0x30 && b <= 0x39) excerpt[i] = 0x39;
    else if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) excerpt[i] = 0x78;
    // Non-ASCII bytes may be UTF-8 text (a name): shown as '.'.
    else if (b >= 0x80) excerpt[i] = 0x2e;
  }
  return { originalSize: size, sha256: digest ? digest(value) : createHash('sha256').update(value).digest('hex'), excerpt };
}

/** Turns a dead letter into the bytes written to the DLQ topic; pluggable so an Avro encoding can replace JSON. */
export interface DeadLetterEncoder {
  encode(deadLetter: DeadLetter): { key: Buffer | null; value: Buffer; headers?: Headers };
}

/** JSON dead letters: bytes as base64, keyed by the original key so a replay keeps partitioning. */
export const jsonDeadLetterEncoder: DeadLetterEncoder = {
  encode(dl) {
    const headers: { [name: string]: string } = {};
    for (const [name, value] of Object.entries(dl.headers)) headers[name] = value.toString('base64');
    const json = {
      reason: dl.reason,
      phase: dl.phase,
      sourceTopic: dl.sourceTopic,
      partition: dl.partition,
      offset: dl.offset,
      timestamp: dl.timestamp,
      key: dl.key === null ? null : dl.key.toString('base64'),
      value: dl.value === null ? null : dl.value.toString('base64'),
      headers,
      processor: dl.processor,
      taskId: dl.taskId,
      errorClass: dl.errorClass,
      message: dl.message,
      failedAt: dl.failedAt,
      ...(dl.reduced
        ? { reduced: { originalSize: dl.reduced.originalSize, sha256: dl.reduced.sha256, excerpt: dl.reduced.excerpt.toString('base64') } }
        : {}),
    };
    return { key: dl.key, value: Buffer.from(JSON.stringify(json), 'utf8') };
  },
};

export interface ErrorHandlers {
  deserialization: DeserializationExceptionHandler;
  processing: ProcessingExceptionHandler;
  production: ProductionExceptionHandler;
  /** Required as soon as any handler may answer DEAD_LETTER. */
  deadLetterTopic?: string;
  deadLetterEncoder?: DeadLetterEncoder;
  /**
   * Masks error messages before the task logs them (they can quote record contents, e.g. a JSON
   * parse error); the dead-letter encoder does its own masking. Default: logged as they are.
   */
  redactLogText?: (text: string) => string;
  /** Digest of a reduced dead letter's value (default plain SHA-256), see reducePayload. */
  digest?: (bytes: Buffer) => string;
}

/** Kafka Streams' defaults: every failure stops the task. */
export const defaultErrorHandlers: ErrorHandlers = {
  deserialization: logAndFail,
  processing: logAndFail,
  production: logAndFail,
};

export function errorClassOf(error: unknown): string {
  if (error instanceof Error) return error.constructor.name === 'Error' ? error.name : error.constructor.name;
  return typeof error;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A serde or processor may tag its errors with a `reason` (or `code`) string such as UNKNOWN_SCHEMA_ID. */
export function reasonOf(error: unknown, phase: DeadLetterPhase): string {
  if (typeof error === 'object' && error !== null) {
    const tagged = error as { reason?: unknown; code?: unknown };
    if (typeof tagged.reason === 'string') return tagged.reason;
    if (typeof tagged.code === 'string') return tagged.code;
  }
  return phase;
}

/**
 * Thrown out of a task when a handler answered FAIL (or dead-lettering itself failed). It says where
 * the failure happened so the runtime can log it and stop without committing the record's offset.
 */
export class TaskFailedError extends Error {
  constructor(
    readonly taskId: string,
    readonly processorName: string,
    readonly phase: DeadLetterPhase,
    readonly source: RawRecord | null,
    override readonly cause: unknown,
  ) {
    const where = source === null ? 'in a punctuator' : `on ${source.topic}-${source.partition}@${source.offset}`;
    super(`task ${taskId}: ${phase.toLowerCase()} failed in ${processorName} ${where}: ${messageOf(cause)}`);
    this.name = 'TaskFailedError';
  }
}
