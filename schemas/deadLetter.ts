/**
 * Builds the DeadLetter record for a record a processor gave up on, under one rule for identifiers
 * (issue 15: no account id or PAN in clear past ingress, dead letters included):
 *
 *  - value: kept only when it holds no identifier in clear — the caller scrubbed it (ingress and
 *    chargeback ingress encode the parsed record with the account id replaced by its token and the
 *    PAN masked), or it comes from a topic only the loop writes (tokenized internal topics). A value
 *    from a topic outside producers write that could not be parsed (wrong magic byte, unknown schema
 *    id, Avro that does not decode, a record that failed in processing) is described instead
 *    (`value: 'describe'`): no bytes, but its size, a keyed digest (HMAC-SHA256 under the
 *    dead-letter digest key, see processors/tokenizer.ts) to match the producer's copy, and its shape
 *    (letters as 'x', digits as '9', other non-ASCII bytes as '.'), in the `reduced` field.
 *  - key: kept when it has the shape of an account token; anything else (a clear account id, a
 *    PAN, a device id) is replaced by the account token of its text, which is also the token of the
 *    account when a producer keyed by the clear id.
 *  - headers: a well-formed W3C traceparent is kept; every other header value becomes its size.
 *  - message: error texts can quote record contents (avsc, zod), so known identifiers are
 *    replaced, quoted strings are elided, card numbers masked and long digit runs hidden.
 * Every dead letter still says where the record is (topic, partition, offset: the original can be
 * read there while retention lasts) and why it was refused (reason, errorClass, processor).
 *
 * PAN masking (`redact`) is applied on top, for the bytes that are kept.
 */
import { SerdeError } from './errors.js';
import { maskPans } from './redactPan.js';
import type { DeadLetter, ReducedPayload } from './types.js';

/** What the dead-letter rule needs of the tokenizer (processors/tokenizer.ts implements it). */
export interface IdentifierProtection {
  isAccountToken(text: string): boolean;
  accountToken(text: string): string;
  deadLetterDigest(bytes: Buffer): string;
}

/** W3C trace context (version-traceid-parentid-flags): hex only, so it cannot carry an identifier. */
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Whether a header may travel as it is: only a well-formed traceparent. */
export function isSafeHeader(name: string, value: string): boolean {
  return name === 'traceparent' && TRACEPARENT.test(value);
}

/** Bytes of a value shown as a shape in a described dead letter. */
export const SHAPE_BYTES = 64;

/** The first bytes with ASCII letters as 'x', digits as '9' and bytes >= 0x80 (UTF-8 text, or Avro varints) as '.'. */
export function shapeOf(value: Buffer): Buffer {
  const out = Buffer.from(value.subarray(0, SHAPE_BYTES));
  for (let i = 0; i < out.length; i++) {
    const b = out[i]!;
    if (b >= 0x30 && b <= 0x39) out[i] = 0x39;
    else if ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) out[i] = 0x78;
    else if (b >= 0x80) out[i] = 0x2e;
  }
  return out;
}

const QUOTED = /"[^"]*"|'[^']*'|`[^`]*`/g;
/** Account numbers are often all digits; no error text of ours needs a run this long. */
const LONG_DIGITS = /\d{8,}/g;

/**
 * An error text made safe to keep or log: `known` identifiers replaced by '[id]', quoted strings
 * elided to their length, card numbers masked, runs of 8+ digits hidden.
 */
export function scrubText(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const k of known) if (k.length >= 3) out = out.replaceAll(k, '[id]');
  out = out.replace(QUOTED, (m) => `${m[0]}[${m.length - 2} chars]${m[0]}`);
  const masked = maskPans(Buffer.from(out, 'utf8'));
  if (masked.masked) out = masked.bytes.toString('utf8');
  return out.replace(LONG_DIGITS, (m) => '#'.repeat(m.length));
}

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
  /** The identifier rule of the file comment; without it key, headers and message are kept as given. */
  protect?: IdentifierProtection;
  /**
   * With `protect`: 'keep' the value (already scrubbed by the caller, or from a topic only the loop
   * writes) or 'describe' it (no bytes). Default 'keep'.
   */
  value?: 'keep' | 'describe';
  /** Identifiers known in clear (a parsed account id): replaced in the message and headers. */
  known?: readonly string[];
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
  const protect = opts.protect;
  let redacted = false;
  const keep = (bytes: Buffer | null): Buffer | null => {
    if (bytes === null || !opts.redact) return bytes;
    const out = opts.redact(bytes);
    if (!out.equals(bytes)) redacted = true;
    return out;
  };
  const keepText = (text: string): string => (opts.redact ? keep(Buffer.from(text, 'utf8'))!.toString('utf8') : text);
  const rawKey = ctx.key === null ? null : ctx.key.toString('utf8');
  const known = [...(opts.known ?? []), ...(rawKey !== null && protect && !protect.isAccountToken(rawKey) ? [rawKey] : [])];
  let reduced = ctx.reduced ?? null;
  if (reduced === null && protect && opts.value === 'describe' && ctx.value !== null) {
    reduced = { originalSize: recordSize(ctx), sha256: protect.deadLetterDigest(ctx.value), excerpt: shapeOf(ctx.value) };
    redacted = true;
  }
  let key: Buffer | null = null;
  if (!reduced || protect) {
    if (protect && rawKey !== null && !protect.isAccountToken(rawKey)) {
      key = Buffer.from(protect.accountToken(rawKey), 'utf8');
      redacted = true;
    } else key = keep(ctx.key);
  }
  const value = reduced ? null : keep(ctx.value);
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(ctx.reduced ? {} : (ctx.headers ?? {}))) {
    if (v === undefined) continue;
    const text = headerValue(v);
    if (protect && !isSafeHeader(name, text)) {
      headers[name] = `[${Buffer.byteLength(text)} bytes]`;
      redacted = true;
    } else headers[name] = keepText(text);
  }
  // Error messages can quote record contents; mask them with the same hook as the bytes.
  const message = keepText(protect ? scrubText(facts.message, known) : facts.message);
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

function recordSize(ctx: DeadLetterContext): number {
  let size = (ctx.key?.length ?? 0) + (ctx.value?.length ?? 0);
  for (const [name, v] of Object.entries(ctx.headers ?? {})) if (v !== undefined) size += Buffer.byteLength(name) + Buffer.byteLength(headerValue(v));
  return size;
}

/** The redactor for a source topic: PAN masking where the catalogue says the topic carries PANs. */
export function redactorFor(topic: { containsPan: boolean }): DeadLetterOptions {
  return topic.containsPan ? { redact: (b) => maskPans(b).bytes } : {};
}
