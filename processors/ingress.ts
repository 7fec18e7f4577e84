/**
 * Ingress: the first processor of the hot path and the only code that sees a PAN or a clear
 * account id. It validates the raw transaction, checks that the record key is the account token of
 * the transaction's account id, tokenizes, and forwards a RiskContext keyed by the account token.
 * A record that fails goes to the dead-letter child, parsed and scrubbed (account id replaced by
 * its token everywhere, PAN masked; key and headers by the rule of schemas/deadLetter.ts); the
 * stream goes on.
 *
 * Wiring:
 *   source (raw transactions; Kafka record timestamps: the event-time bounds are checked against
 *           them, so the source must use the record-timestamp extractor)
 *     → ingress ─┬─ next step(s) of the hot path (every child except the dead-letter one)
 *                └─ '<deadLetterChild>' sink → dead-letter topic, key Serdes.String, DeadLetter Avro serde
 * Forwarded records carry the transaction's event time as their timestamp.
 *
 * What happens to a PAN outside the `pan` field. A cashier typing a card number into a note, or a
 * gateway stuffing it into an id, is a real failure mode; the output must never carry it. In the
 * fields of a valid transaction a card number is what really is one (processors/panDetect.ts: a
 * Luhn-valid run of 13–19 digits, contiguous or typed in groups); ids that merely have many digits
 * (UUIDs, 12-digit order numbers) come back exactly as sent. Then per kind of field:
 *  - transactionId: the caller matches its decision by it, so it is never rewritten. An id that
 *    holds a card number makes the transaction a dead letter TRANSACTION_ID_CONTAINS_PAN (masked
 *    like every dead letter): a decision under a changed id could not be matched, and one under the
 *    clear id would carry the PAN. A chargeback naming such an id is refused the same way.
 *  - other identifiers (merchantId, terminalId, deviceId, a chargeback's chargebackId) are looked up
 *    by exact value, and masking would make different ids collide; they are replaced whole by a
 *    keyed pseudonym (Tokenizer.identifierPseudonym): unique and stable.
 *  - descriptive fields (merchantName, mcc, merchantCountry, ip) are masked in place to BIN + last 4,
 *    which keeps them readable for analysts.
 * A transaction with a masked or pseudonymized field still flows (it is a valid authorisation) with
 * reason code INGRESS_PAN_SCRUBBED, and a warning naming the fields (never their values) is logged.
 * Dead letters keep the stricter byte-level masking of schemas/redactPan.ts (every 12+ digit run). Clear account ids are removed
 * where they are structurally (the accountId field, the key, dead letters) and wherever the
 * record's own account id appears verbatim in another field (replaced by its token); other
 * accounts' ids have no shape by which to find them inside free text, so that is not attempted.
 *
 * Raw headers belong to the producer and may carry anything: only an allow-list (trace context by
 * default) is forwarded — a traceparent only when well-formed (hex), others PAN-masked and with
 * the account id replaced by its token.
 */
import { z } from 'zod';
import { buildDeadLetter, isSafeHeader, redactorFor } from '../schemas/deadLetter.js';
import { avroType } from '../schemas/load.js';
import { maskPans } from '../schemas/redactPan.js';
import type { Chargeback, DeadLetter, TokenizedChargeback, TokenizedTransaction, Transaction } from '../schemas/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Headers, Record } from '../topology/records.js';
import { containsPan, maskCardNumbers } from './panDetect.js';
import { type PartitionCheckOptions, type Rerouted, isMisrouted } from './partitionCheck.js';
import { type Tokenizer, binOf, last4Of } from './tokenizer.js';
import { type RiskContext, newRiskContext } from './types.js';
import { type IngressRejectReason, validateTransaction } from './validation.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

export const IngressConfig = z.object({
  /** Name of the child (a sink to the dead-letter topic) that receives rejected records. */
  deadLetterChild: z.string().min(1).default('ingress-dead-letters'),
  /** Oldest accepted event time, relative to the Kafka record timestamp. */
  maxPastMs: z.number().int().nonnegative().default(30 * DAY),
  /** Newest accepted event time, relative to the Kafka record timestamp (terminal clock skew). */
  maxFutureMs: z.number().int().nonnegative().default(5 * MINUTE),
  /** Raw headers forwarded downstream (values PAN-masked); every other header stays at ingress. */
  forwardHeaders: z.array(z.string()).default(['traceparent', 'tracestate']),
});
export type IngressConfigInput = z.input<typeof IngressConfig>;
export type IngressConfig = z.output<typeof IngressConfig>;

export const INGRESS_PAN_SCRUBBED = 'INGRESS_PAN_SCRUBBED';

/** Why ingress refused a record; `reason` is what the runtime's dead-letter handler reads too. */
export class IngressRejection extends Error {
  override readonly name = 'IngressRejection';
  readonly reason: IngressRejectReason;

  constructor(readonly reasons: readonly [IngressRejectReason, ...IngressRejectReason[]]) {
    // Codes only: any value of the record could be (or contain) the PAN or the account id.
    super(`rejected at ingress: ${reasons.join(', ')}`);
    this.reason = reasons[0];
  }
}

export interface IngressDeps {
  tokenizer: Tokenizer;
  /**
   * Encodes the masked original record for the dead letter. The wiring passes the raw topic's Avro
   * serde (`v => serdes.transactions.serialize(v)`) so the bytes carry the registry framing a
   * replay tool expects; the default is plain Avro binary of the Transaction schema, unframed.
   */
  encodeOriginal?: (original: Transaction) => Buffer;
  /**
   * The wrong-partition check (partitionCheck.ts): a valid transaction on another partition than
   * its account token's goes, tokenized, to `rerouteChild` instead of the hot path. Absent in the
   * side-only build, where partitions do not matter.
   */
  partitionCheck?: PartitionCheckOptions & { rerouteChild: string };
}

function maskText(text: string): string {
  const { bytes, masked } = maskPans(Buffer.from(text, 'utf8'));
  return masked ? bytes.toString('utf8') : text;
}

function scrubIdentifier(value: string, tokenizer: Tokenizer): string {
  return containsPan(value) ? tokenizer.identifierPseudonym(value) : value;
}

/** The tokenized transaction and the names of the fields a PAN-like run was removed from. */
export function tokenizeTransaction(
  txn: Transaction,
  tokenizer: Tokenizer,
  ingestedAt: number,
): { txn: TokenizedTransaction; scrubbedFields: string[] } {
  const scrubbedFields: string[] = [];
  const track = <V extends string | null>(field: string, before: V, after: V): V => {
    if (after !== before) scrubbedFields.push(field);
    return after;
  };
  const accountToken = tokenizer.accountToken(txn.accountId);
  // The account id typed into another field (a merchant name, a device id) becomes its token there too.
  const noAccountId = (v: string): string => (txn.accountId.length > 0 ? v.replaceAll(txn.accountId, accountToken) : v);
  /** Identifiers: joined on by exact value, so replaced whole by a pseudonym. */
  const id = <V extends string | null>(field: keyof Transaction, v: V): V =>
    track(field, v, (v === null ? null : scrubIdentifier(noAccountId(v), tokenizer)) as V);
  /** Descriptive fields: masked in place, still readable. */
  const text = <V extends string | null>(field: keyof Transaction, v: V): V => track(field, v, (v === null ? null : maskCardNumbers(noAccountId(v))) as V);
  // Never rewritten (see the file comment): the processor dead-letters such a transaction first.
  if (containsPan(txn.transactionId)) throw new IngressRejection(['TRANSACTION_ID_CONTAINS_PAN']);
  const card = tokenizer.cardToken(txn.pan);
  return {
    txn: {
      transactionId: txn.transactionId,
      eventTime: txn.eventTime,
      ingestedAt,
      accountToken,
      cardToken: card.token,
      tokenKeyId: card.keyId,
      bin: binOf(txn.pan),
      last4: last4Of(txn.pan),
      amountMinor: txn.amountMinor,
      currency: txn.currency,
      merchantId: id('merchantId', txn.merchantId),
      merchantName: text('merchantName', txn.merchantName),
      terminalId: id('terminalId', txn.terminalId),
      mcc: text('mcc', txn.mcc),
      merchantCountry: text('merchantCountry', txn.merchantCountry),
      channel: txn.channel,
      cardPresent: txn.cardPresent,
      threeDsAuthenticated: txn.threeDsAuthenticated,
      lat: txn.lat,
      lon: txn.lon,
      deviceId: id('deviceId', txn.deviceId),
      ip: text('ip', txn.ip),
    },
    scrubbedFields,
  };
}

/**
 * A raw chargeback as the label join's chargeback branch needs it: account token instead of the
 * account id, the transaction id as sent (it is what the decision snapshot is keyed by), other
 * fields scrubbed like a transaction's. Throws IngressRejection: ACCOUNT_TOKEN_MISMATCH when the
 * record key is not the account's token, TRANSACTION_ID_CONTAINS_PAN when the transaction id holds
 * a card number (such a transaction was dead-lettered, so there is nothing to join it to).
 */
export function tokenizeChargeback(cb: Chargeback, tokenizer: Tokenizer, recordKey: string | null): TokenizedChargeback {
  const accountToken = tokenizer.accountToken(cb.accountId);
  // The token under a key being rotated out is accepted, and replaced by the current one.
  if (!tokenizer.isAccountKeyOf(cb.accountId, recordKey)) throw new IngressRejection(['ACCOUNT_TOKEN_MISMATCH']);
  if (containsPan(cb.transactionId)) throw new IngressRejection(['TRANSACTION_ID_CONTAINS_PAN']);
  // As for transactions: the account id typed into another field becomes its token there.
  const noAccountId = (v: string): string => (cb.accountId.length > 0 ? v.replaceAll(cb.accountId, accountToken) : v);
  return {
    chargebackId: scrubIdentifier(noAccountId(cb.chargebackId), tokenizer),
    transactionId: cb.transactionId,
    accountToken,
    reasonCode: maskCardNumbers(noAccountId(cb.reasonCode)),
    amountMinor: cb.amountMinor,
    currency: maskCardNumbers(noAccountId(cb.currency)),
    reportedAt: cb.reportedAt,
    fraud: cb.fraud,
  };
}

/**
 * A rejected chargeback as its dead letter keeps it: the account id replaced by its token wherever
 * it occurs, PAN-like runs (12+ digits) masked in every string.
 */
export function maskedChargeback(cb: Chargeback, accountToken: string): Chargeback {
  const scrub = (s: string): string => maskText(cb.accountId.length > 0 ? s.replaceAll(cb.accountId, accountToken) : s);
  return {
    ...cb,
    chargebackId: scrub(cb.chargebackId),
    transactionId: scrub(cb.transactionId),
    accountId: accountToken,
    reasonCode: scrub(cb.reasonCode),
    currency: scrub(cb.currency),
  };
}

/** The PAN field of a rejected record: BIN and last 4 at most, whatever its length or content. */
function maskPanField(pan: string): string {
  if (pan.length <= 10) return '*'.repeat(pan.length);
  return pan.slice(0, 6) + '*'.repeat(pan.length - 10) + pan.slice(-4);
}

/**
 * The rejected record as the dead letter keeps it: PAN masked, account id replaced by its token
 * everywhere it occurs (the record is already known to be wrong, so it may sit inside any field),
 * PAN-like runs masked in every string. Numbers and flags are kept for diagnosis.
 */
function maskedOriginal(txn: Transaction, accountToken: string): Transaction {
  const scrub = (s: string): string => maskText(txn.accountId.length > 0 ? s.replaceAll(txn.accountId, accountToken) : s);
  const orNull = (s: string | null): string | null => (s === null ? null : scrub(s));
  return {
    ...txn,
    transactionId: scrub(txn.transactionId),
    accountId: accountToken,
    pan: maskPanField(txn.pan),
    currency: scrub(txn.currency),
    merchantId: scrub(txn.merchantId),
    merchantName: orNull(txn.merchantName),
    terminalId: orNull(txn.terminalId),
    mcc: scrub(txn.mcc),
    merchantCountry: scrub(txn.merchantCountry),
    deviceId: orNull(txn.deviceId),
    ip: orNull(txn.ip),
  };
}

export class IngressProcessor implements Processor<string, Transaction, string, RiskContext | DeadLetter | Rerouted> {
  private ctx!: ProcessorContext<string, RiskContext | DeadLetter | Rerouted>;
  private readonly config: IngressConfig;
  private readonly tokenizer: Tokenizer;
  private readonly encodeOriginal: (original: Transaction) => Buffer;
  private readonly forwardHeaders: ReadonlySet<string>;
  private hotPathChildren: string[] = [];
  private readonly redact = redactorFor({ containsPan: true });
  private readonly partitionCheck: IngressDeps['partitionCheck'];

  constructor(config: IngressConfigInput, deps: IngressDeps) {
    this.config = IngressConfig.parse(config);
    this.tokenizer = deps.tokenizer;
    this.encodeOriginal = deps.encodeOriginal ?? ((t) => avroType('Transaction').toBuffer(t));
    this.forwardHeaders = new Set(this.config.forwardHeaders);
    this.partitionCheck = deps.partitionCheck;
  }

  init(context: ProcessorContext<string, RiskContext | DeadLetter | Rerouted>): void {
    this.ctx = context;
    const children = context.childNames();
    if (!children.includes(this.config.deadLetterChild)) {
      throw new Error(`ingress: no child named ${this.config.deadLetterChild} for dead letters (children: ${children.join(', ')})`);
    }
    const reroute = this.partitionCheck?.rerouteChild;
    if (reroute !== undefined && !children.includes(reroute)) throw new Error(`ingress: no child named ${reroute} for re-routed records`);
    this.hotPathChildren = children.filter((c) => c !== this.config.deadLetterChild && c !== reroute);
    if (this.hotPathChildren.length === 0) throw new Error('ingress: no child besides the dead-letter sink');
  }

  process(record: Record<string, Transaction>): void {
    const raw = record.value;
    if (raw === null || raw === undefined) {
      this.emptyValue(record);
      return;
    }
    const reasons = validateTransaction(raw, record.timestamp, this.config);
    const accountToken = this.tokenizer.accountToken(raw.accountId);
    // The token under a key being rotated out is accepted; everything after ingress uses the current one.
    if (!this.tokenizer.isAccountKeyOf(raw.accountId, record.key)) reasons.push('ACCOUNT_TOKEN_MISMATCH');
    if (containsPan(raw.transactionId)) reasons.push('TRANSACTION_ID_CONTAINS_PAN');
    const [first, ...rest] = reasons;
    if (first !== undefined) {
      this.deadLetter(record, raw, accountToken, new IngressRejection([first, ...rest]));
      return;
    }

    const now = this.ctx.currentSystemTimeMs();
    const { txn, scrubbedFields } = tokenizeTransaction(raw, this.tokenizer, now);
    const risk = newRiskContext(txn, now);
    if (scrubbedFields.length > 0) {
      risk.reasonCodes.push(INGRESS_PAN_SCRUBBED);
      this.ctx.logger.warn({ fields: scrubbedFields, ...this.position() }, 'PAN-like digits removed from transaction fields at ingress');
    }
    const headers = this.allowedHeaders(record.headers, raw.accountId, accountToken);
    if (this.partitionCheck !== undefined && isMisrouted(this.ctx, accountToken, this.partitionCheck)) {
      const envelope: Rerouted = { kind: 'transaction', value: risk };
      this.ctx.forward({ key: accountToken, value: envelope, timestamp: txn.eventTime, headers }, this.partitionCheck.rerouteChild);
      return;
    }
    const out = { key: accountToken, value: risk, timestamp: txn.eventTime, headers };
    for (const child of this.hotPathChildren) this.ctx.forward(out, child);
  }

  /**
   * A tombstone on the transactions topic: an event stream has nothing to delete, so it is a dead
   * letter EMPTY_VALUE (the key PAN-masked; it should be an account token, but it is the producer's).
   */
  private emptyValue(record: Record<string, Transaction>): void {
    const where = this.position();
    const reason = 'EMPTY_VALUE';
    const letter = buildDeadLetter(
      {
        ...where,
        key: record.key === null || record.key === undefined ? null : Buffer.from(record.key, 'utf8'),
        value: null,
        headers: {},
        processor: this.ctx.processorName,
        error: Object.assign(new Error('transaction record has no value (a tombstone); an event stream has nothing to delete'), { name: 'EmptyValueError' }),
        reason,
        failedAt: this.ctx.currentSystemTimeMs(),
      },
      { ...this.redact, protect: this.tokenizer },
    );
    this.ctx.logger.warn({ event: 'dead-letter', reason, ...where }, 'transaction rejected at ingress');
    this.ctx.forward({ key: `${where.sourceTopic}/${where.partition}/${where.offset}`, value: letter, timestamp: record.timestamp, headers: {} }, this.config.deadLetterChild);
  }

  /**
   * The allow-listed headers: a traceparent only when well-formed (hex only); others with the
   * account id replaced by its token and PAN-like runs masked.
   */
  private allowedHeaders(headers: Headers, accountId: string, accountToken: string): Headers {
    const out: Headers = {};
    for (const [name, value] of Object.entries(headers)) {
      if (!this.forwardHeaders.has(name)) continue;
      const text = value.toString('utf8');
      if (name === 'traceparent') {
        if (isSafeHeader(name, text)) out[name] = value;
        continue;
      }
      out[name] = maskPans(Buffer.from(accountId.length > 0 ? text.replaceAll(accountId, accountToken) : text, 'utf8')).bytes;
    }
    return out;
  }

  private position(): { sourceTopic: string; partition: number; offset: number } {
    const meta = this.ctx.recordMetadata();
    return { sourceTopic: meta?.topic ?? 'unknown', partition: meta?.partition ?? -1, offset: meta?.offset ?? -1 };
  }

  private deadLetter(record: Record<string, Transaction>, raw: Transaction, accountToken: string, rejection: IngressRejection): void {
    const where = this.position();
    const original = maskedOriginal(raw, accountToken);
    // Key and headers by the dead-letter rule (a key that is not a token becomes the token of its
    // text); the value is the parsed record with the account id tokenized and the PAN masked.
    const letter = buildDeadLetter(
      {
        ...where,
        key: record.key === null || record.key === undefined ? null : Buffer.from(record.key, 'utf8'),
        value: this.encodeOriginal(original),
        headers: record.headers,
        processor: this.ctx.processorName,
        error: rejection,
        reason: rejection.reason,
        failedAt: this.ctx.currentSystemTimeMs(),
      },
      { ...this.redact, protect: this.tokenizer, value: 'keep', known: [raw.accountId] },
    );
    // The PAN field and the account id were rewritten before encoding, so redaction happened even
    // when the byte-level pass found nothing left to mask.
    letter.redacted = true;
    // One line per dead letter, with the (masked) transaction id and the source position to find it.
    this.ctx.logger.warn({ event: 'dead-letter', reason: rejection.reason, reasons: rejection.reasons, transactionId: original.transactionId, ...where }, 'transaction rejected at ingress');
    this.ctx.forward(
      { key: `${where.sourceTopic}/${where.partition}/${where.offset}`, value: letter, timestamp: record.timestamp, headers: {} },
      this.config.deadLetterChild,
    );
  }
}

/** Supplier for Topology.addProcessor: one processor per task, sharing the (stateless) tokenizer. */
export function ingressProcessor(config: IngressConfigInput, deps: IngressDeps): ProcessorSupplier<string, Transaction, string, RiskContext | DeadLetter | Rerouted> {
  IngressConfig.parse(config); // fail at wiring time, not when the first task starts
  return () => new IngressProcessor(config, deps);
}
