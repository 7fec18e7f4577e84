/**
 * Ingress for chargebacks: the only step that sees a chargeback's clear account id. It checks the
 * key is the account's token, tokenizes (ingress.ts `tokenizeChargeback`), re-routes a record on the
 * wrong partition (partitionCheck.ts) and forwards the TokenizedChargeback to the label steps.
 *
 * A record it refuses becomes a dead letter it builds itself (like transaction ingress, and unlike
 * the runtime's generic handler, which would keep the raw bytes and with them the clear account id):
 * the chargeback with the account id replaced by its token everywhere and PAN-like runs masked,
 * Avro-encoded with the raw topic's serde; the key kept only when it is an account token (else the
 * token of its text, schemas/deadLetter.ts). Reasons:
 * ACCOUNT_TOKEN_MISMATCH, TRANSACTION_ID_CONTAINS_PAN, EMPTY_VALUE (a tombstone: chargebacks are
 * events, there is nothing to delete).
 *
 * During an account-token key rotation (previous keys configured, docs/operations.md) a chargeback
 * also goes to the label steps once under each previous token, marked with the LABEL_COPY_HEADER:
 * a transaction decided before the rotation has its decision snapshot under the old token (and on
 * that token's partition), so only such a copy can join it. The label join drops a copy that finds
 * no snapshot without a dead letter; the current-token record is dead-lettered as usual.
 *
 * Children: the label steps, `deadLetterChild` (a sink to the dead-letter topic) and, in the hot
 * path, the re-route sink.
 */
import { buildDeadLetter, redactorFor } from '../schemas/deadLetter.js';
import type { Chargeback, DeadLetter, TokenizedChargeback } from '../schemas/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { IngressRejection, maskedChargeback, tokenizeChargeback } from './ingress.js';
import { type PartitionCheckOptions, type Rerouted, expectedPartition, isMisrouted } from './partitionCheck.js';
import { LABEL_COPY_HEADER } from './labels/labelPolicy.js';
import type { Tokenizer } from './tokenizer.js';

export interface ChargebackIngressOptions {
  tokenizer: Tokenizer;
  deadLetterChild: string;
  /** Encodes the masked chargeback for its dead letter (the raw topic's Avro serde). */
  encodeOriginal: (cb: Chargeback) => Buffer;
  /** The wrong-partition check; absent where partitions do not matter (the side-only build). */
  partitionCheck?: PartitionCheckOptions & { rerouteChild: string };
}

export class ChargebackIngressProcessor implements Processor<string, Chargeback, string, TokenizedChargeback | Rerouted | DeadLetter> {
  private ctx!: ProcessorContext<string, TokenizedChargeback | Rerouted | DeadLetter>;
  private children: string[] = [];
  private readonly redact = redactorFor({ containsPan: true });

  constructor(private readonly options: ChargebackIngressOptions) {}

  init(ctx: ProcessorContext<string, TokenizedChargeback | Rerouted | DeadLetter>): void {
    this.ctx = ctx;
    const all = ctx.childNames();
    if (!all.includes(this.options.deadLetterChild)) throw new Error(`${ctx.processorName}: no child named ${this.options.deadLetterChild} for dead letters`);
    this.children = all.filter((c) => c !== this.options.deadLetterChild && c !== this.options.partitionCheck?.rerouteChild);
  }

  process(r: Record<string, Chargeback>): void {
    if (r.value === null || r.value === undefined) return this.deadLetter(r, null, 'EMPTY_VALUE', 'chargeback record has no value (a tombstone); an event stream has nothing to delete');
    let cb: TokenizedChargeback;
    try {
      cb = tokenizeChargeback(r.value, this.options.tokenizer, r.key);
    } catch (err) {
      if (!(err instanceof IngressRejection)) throw err;
      return this.deadLetter(r, r.value, err.reason, err.message);
    }
    const check = this.options.partitionCheck;
    if (check !== undefined && isMisrouted(this.ctx, cb.accountToken, check)) {
      this.ctx.forward({ key: cb.accountToken, value: { kind: 'chargeback', value: cb }, timestamp: r.timestamp, headers: {} }, check.rerouteChild);
    } else {
      for (const child of this.children) this.ctx.forward({ key: cb.accountToken, value: cb, timestamp: r.timestamp, headers: {} }, child);
    }
    this.copiesUnderPreviousKeys(r, cb);
  }

  private copiesUnderPreviousKeys(r: Record<string, Chargeback>, cb: TokenizedChargeback): void {
    const check = this.options.partitionCheck;
    const partition = this.ctx.recordMetadata()?.partition;
    for (const token of this.options.tokenizer.previousAccountTokens(r.value.accountId)) {
      const copy: TokenizedChargeback = { ...cb, accountToken: token };
      const headers = { [LABEL_COPY_HEADER]: Buffer.from('previous-account-key') };
      // Not isMisrouted: a copy is not the producer's mistake and must not count as one.
      if (check !== undefined && partition !== undefined && expectedPartition(token, check.partitions) !== partition) {
        this.ctx.forward({ key: token, value: { kind: 'chargeback', value: copy }, timestamp: r.timestamp, headers }, check.rerouteChild);
      } else {
        for (const child of this.children) this.ctx.forward({ key: token, value: copy, timestamp: r.timestamp, headers }, child);
      }
    }
  }

  private deadLetter(r: Record<string, Chargeback>, raw: Chargeback | null, reason: string, message: string): void {
    const meta = this.ctx.recordMetadata();
    const where = { sourceTopic: meta?.topic ?? 'unknown', partition: meta?.partition ?? -1, offset: meta?.offset ?? -1 };
    const token = raw === null ? undefined : this.options.tokenizer.accountToken(raw.accountId);
    // Key by the dead-letter rule (not a token: the token of its text); value parsed and scrubbed.
    const letter = buildDeadLetter(
      {
        ...where,
        key: r.key === null || r.key === undefined ? null : Buffer.from(r.key, 'utf8'),
        value: raw === null ? null : this.options.encodeOriginal(maskedChargeback(raw, token!)),
        headers: {},
        processor: this.ctx.processorName,
        error: Object.assign(new Error(message), { name: 'IngressRejection' }),
        reason,
        failedAt: this.ctx.currentSystemTimeMs(),
      },
      { ...this.redact, protect: this.options.tokenizer, value: 'keep', known: raw === null ? [] : [raw.accountId] },
    );
    if (raw !== null) letter.redacted = true;
    this.ctx.logger.warn({ event: 'dead-letter', reason, ...where }, 'chargeback rejected at ingress');
    this.ctx.forward({ key: `${where.sourceTopic}/${where.partition}/${where.offset}`, value: letter, timestamp: r.timestamp, headers: {} }, this.options.deadLetterChild);
  }
}

export function chargebackIngressProcessor(options: ChargebackIngressOptions): ProcessorSupplier<string, Chargeback, string, TokenizedChargeback | Rerouted | DeadLetter> {
  return () => new ChargebackIngressProcessor(options);
}
