/**
 * Builds the DeadLetter record for a record a processor gave up on.
 *
 * Redaction is a hook rather than built in because only the caller knows whether the source topic
 * can carry a PAN (the catalogue's `containsPan`). For such topics pass `redact: maskPans` (or a
 * decoder-aware redactor): the DeadLetter schema promises that no PAN reaches the dead-letter topic.
 */
import { SerdeError } from './errors.js';
import { maskPans } from './redactPan.js';
import type { DeadLetter, ReducedPayload } from './types.js';

export interface DeadLetterContext {
  sourceTopic: string;
  partition: number;
  /** Kafka offsets arrive as strings from kafkajs; both forms are accepted. */
  offset: number | string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  processor: string;
  error: unknown;
  /** Overrides the reason derived from the error (SerdeError.reason, else PROCESSING). */
  reason?: string;
  failedAt?: number;
  /**
   * A reduced dead letter (the full one was too large to produce): key, value and headers are
   * dropped and this describes the record instead (size, SHA-256, letters/digits-masked excerpt).
   */
  reduced?: ReducedPayload;
}

export interface DeadLetterOptions {
  /** Rewrites key and value bytes before they are kept; return the input when there is nothing to hide. */
  redact?: (bytes: Buffer) => Buffer;
}

function headerValue(v: Buffer | string | (Buffer | string)[]): string {
  if (Array.isArray(v)) return v.map((x) => x.toString()).join(',');
  return v.toString();
}

function errorFacts(error: unknown): { errorClass: string; reason: string; message: string } {
  if (error instanceof SerdeError) return { errorClass: error.name, reason: error.reason, message: error.message };
  if (error instanceof Error) return { errorClass: error.name, reason: 'PROCESSING', message: error.message };
  return { errorClass: typeof error, reason: 'PROCESSING', message: String(error) };
}

export function buildDeadLetter(ctx: DeadLetterContext, opts: DeadLetterOptions = {}): DeadLetter {
  const facts = errorFacts(ctx.error);
  let redacted = false;
  const keep = (bytes: Buffer | null): Buffer | null => {
    if (bytes === null || !opts.redact) return bytes;
    const out = opts.redact(bytes);
    if (!out.equals(bytes)) redacted = true;
    return out;
  };
  const keepText = (text: string): string => (opts.redact ? keep(Buffer.from(text, 'utf8'))!.toString('utf8') : text);
  const reduced = ctx.reduced ?? null;
  const key = reduced ? null : keep(ctx.key);
  const value = reduced ? null : keep(ctx.value);
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(reduced ? {} : (ctx.headers ?? {}))) {
    if (v === undefined) continue;
    headers[name] = keepText(headerValue(v));
  }
  // Error messages can quote record contents; mask them with the same hook as the bytes.
  const message = keepText(facts.message);
  return {
    sourceTopic: ctx.sourceTopic,
    partition: ctx.partition,
    offset: Number(ctx.offset),
    key,
    value,
    redacted,
    headers,
    processor: ctx.processor,
    errorClass: facts.errorClass,
    reason: ctx.reason ?? facts.reason,
    message,
    failedAt: ctx.failedAt ?? Date.now(),
    reduced,
  };
}

/** The redactor for a source topic: PAN masking where the catalogue says the topic carries PANs. */
export function redactorFor(topic: { containsPan: boolean }): DeadLetterOptions {
  return topic.containsPan ? { redact: (b) => maskPans(b).bytes } : {};
}
