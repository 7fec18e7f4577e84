/**
 * Idempotency by transaction id: a transaction received again (a gateway or producer retry) gets
 * the decision already made for it, and is not counted a second time in velocity, in the
 * cross-entity statistics or in training examples.
 *
 * Where it sits: right after ingress (and after the re-route of mis-partitioned transactions, so it
 * runs on the task that owns the account), before velocity and entity-activity:
 *
 *   ingress ─► transaction-ids ─┬─► velocity ─► … ─► decide ─► decision-snapshot ─► decisions
 *                               ├─► entity-activity                ▲        │
 *                               ├─► decisions-sink (repeat of a stored decision, duplicate = true)
 *                               └─► idempotency-dead-letters ◄──────────────┘
 *
 * What it remembers: nothing of its own. The decision-snapshot store of the label join (same task,
 * keyed by transaction id) already holds every decision made, with the rest of the Decision and a
 * fingerprint of the transaction (snapshotStore.ts), for as long as a label can still arrive:
 * `labelJoin.retentionMs` (180 days) of stream time after the transaction's event time. Ingress
 * accepts a transaction only within `ingress.maxPastMs` (30 days) of its Kafka timestamp, so a
 * retry ingress lets through always finds its decision; one sent later is dead-lettered by ingress
 * as EVENT_TIME_TOO_OLD like any stale transaction. Only a task whose stream time jumped far ahead
 * (a far-future timestamp on one of its inputs) could have expired a snapshot early; such a retry
 * is then decided as a new transaction.
 *
 * A transaction still on its way (the scoring step holds records until the end of the batch, so
 * the original and its retry can be in the same batch) is not in the snapshot store yet. This step
 * marks every transaction it lets through in the `transactions-in-flight` store (in memory, not
 * logged: it is empty again at the end of every batch, before any commit); a retry of an in-flight
 * transaction is parked on that entry, and the decision-snapshot step sends the decision for it
 * right after the original's. If the original never reaches a decision (its processing failed and
 * was dead-lettered), the parked retries are dead-lettered at the end of the batch
 * (RETRY_OF_UNDECIDED_TRANSACTION), never silently dropped.
 *
 * Same id, different transaction: the fingerprint (a SHA-256 digest of the tokenized transaction
 * without its ingress time, see `fingerprintOf`) differs, and the record becomes a dead letter TRANSACTION_ID_REUSED: answering a different payment with another one's
 * decision would be wrong both ways. A retry of a transaction whose snapshot predates `decided`
 * (written by an older version) becomes a dead letter DUPLICATE_NOT_REPLAYABLE.
 *
 * Guarantees. Under exactly_once the snapshot and the decision are written in one transaction, so
 * a retry finds exactly the decision that was emitted, and a crash loses or doubles neither. Under
 * at_least_once a crash reprocesses what was not committed: usually the snapshot was not restored
 * either and the transaction is decided again (an ordinary at_least_once duplicate, not flagged);
 * if the snapshot's changelog got out before the crash but the decision did not, the reprocessed
 * transaction comes out as a repeat (duplicate = true) that is the only copy on the topic. Readers
 * that must count every decision take the first record per transactionId (the audit sink does:
 * ON CONFLICT DO NOTHING); the metrics consumer skips duplicates and may then miss that one.
 */
import { createHash } from 'node:crypto';
import { buildDeadLetter } from '../schemas/deadLetter.js';
import type { Decision, DeadLetter, TokenizedTransaction } from '../schemas/types.js';
import { Stores, type KeyValueStoreBuilder } from '../state/stores.js';
import type { KeyValueStore } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Headers, Record } from '../topology/records.js';
import { Serdes } from '../topology/serde.js';
import { type DecisionSnapshot, SnapshotStore, repeatedDecision } from './snapshotStore.js';
import { type RiskContext, StoreNames } from './types.js';

export const IdempotencyReasons = {
  reused: 'TRANSACTION_ID_REUSED',
  notReplayable: 'DUPLICATE_NOT_REPLAYABLE',
  retryOfUndecided: 'RETRY_OF_UNDECIDED_TRANSACTION',
} as const;

/** Name of the in-memory store shared by the id check and the decision-snapshot step. */
export const IN_FLIGHT_STORE = 'transactions-in-flight';

/** A retry that arrived while its original was still on its way to a decision. */
export interface ParkedRetry {
  timestamp: number;
  /** Base64 of each header value (the record's trace context, already filtered at ingress). */
  headers: { [name: string]: string };
  sourceTopic: string;
  partition: number;
  offset: number;
  /** The retry's tokenized transaction as JSON (no PAN, no account id), for its dead letter. */
  txn: string;
}

export interface InFlight {
  fingerprint: string;
  retries: ParkedRetry[];
}

/** Running totals over every task sharing the object (tests and metrics read them). */
export interface IdempotencyCounters {
  /** Retries answered with the stored decision (at once, or after the in-flight original). */
  repeated: number;
  reused: number;
  notReplayable: number;
  retriesOfUndecided: number;
}

export function newIdempotencyCounters(): IdempotencyCounters {
  return { repeated: 0, reused: 0, notReplayable: 0, retriesOfUndecided: 0 };
}

export function inFlightStore(): KeyValueStoreBuilder<string, InFlight> {
  // Not persistent, not logged: entries live within one batch (see the file comment).
  return Stores.keyValue(IN_FLIGHT_STORE, Serdes.String, Serdes.Json<InFlight>(), { persistent: false, logged: false });
}

/**
 * What makes two receptions "the same transaction": every tokenized field except the ingress time
 * (differs per reception) and the card-token key id. The card token itself is kept: a retry that
 * straddles a card-key rotation is then seen as a different transaction and dead-lettered, which is
 * the safe side of a rare event.
 */
export function fingerprintOf(txn: TokenizedTransaction): string {
  const { ingestedAt: _ingestedAt, tokenKeyId: _keyId, ...rest } = txn;
  return createHash('sha256').update(JSON.stringify(rest)).digest('base64url').slice(0, 22);
}

export function encodeHeaders(headers: Headers): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  for (const [k, v] of Object.entries(headers)) out[k] = v.toString('base64');
  return out;
}

export function decodeHeaders(headers: { [name: string]: string }): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(headers)) out[k] = Buffer.from(v, 'base64');
  return out;
}

/** A dead letter for a tokenized transaction (no PAN or account id left to mask). */
export function idempotencyDeadLetter(
  where: { sourceTopic: string; partition: number; offset: number },
  txnJson: string,
  accountToken: string,
  processor: string,
  reason: string,
  failedAt: number,
): DeadLetter {
  return buildDeadLetter({
    ...where,
    key: Buffer.from(accountToken, 'utf8'),
    value: Buffer.from(txnJson, 'utf8'),
    headers: {},
    processor,
    error: Object.assign(new Error(`transaction not decided again: ${reason}`), { name: 'IdempotencyRejection' }),
    reason,
    failedAt,
  });
}

export interface IdempotencyConfig {
  /** The decisions sink: a repeat of a stored decision goes straight there. */
  decisionsChild: string;
  /** A sink to the dead-letter topic. */
  deadLetterChild: string;
}

export class TransactionIdProcessor implements Processor<string, RiskContext, string, RiskContext | Decision | DeadLetter> {
  private ctx!: ProcessorContext<string, RiskContext | Decision | DeadLetter>;
  private snapshots!: SnapshotStore;
  private inFlight!: KeyValueStore<string, InFlight>;
  private hotChildren: string[] = [];

  constructor(
    private readonly config: IdempotencyConfig,
    private readonly counters: IdempotencyCounters,
  ) {}

  init(ctx: ProcessorContext<string, RiskContext | Decision | DeadLetter>): void {
    this.ctx = ctx;
    const children = ctx.childNames();
    for (const c of [this.config.decisionsChild, this.config.deadLetterChild]) {
      if (!children.includes(c)) throw new Error(`${ctx.processorName}: configured child ${c} is not connected (children: ${children.join(', ')})`);
    }
    this.hotChildren = children.filter((c) => c !== this.config.decisionsChild && c !== this.config.deadLetterChild);
    this.snapshots = new SnapshotStore(
      ctx.getStateStore<KeyValueStore<string, DecisionSnapshot>>(StoreNames.decisionSnapshots),
      ctx.getStateStore<KeyValueStore<string, number>>(StoreNames.snapshotIndex),
    );
    this.inFlight = ctx.getStateStore(IN_FLIGHT_STORE);
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null || risk === undefined) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const { txn } = risk;
    const fingerprint = fingerprintOf(txn);
    const stored = this.snapshots.get(txn.transactionId);
    if (stored !== undefined) {
      if (stored.fingerprint !== undefined && stored.fingerprint !== fingerprint) return this.reject(record, IdempotencyReasons.reused);
      const repeat = repeatedDecision(stored);
      if (repeat === undefined) return this.reject(record, IdempotencyReasons.notReplayable);
      this.counters.repeated++;
      this.ctx.logger.debug({ event: 'duplicate-transaction', transactionId: txn.transactionId, ...this.position() }, 'transaction received again: stored decision repeated');
      this.ctx.forward({ key: repeat.accountToken, value: repeat, timestamp: record.timestamp, headers: record.headers }, this.config.decisionsChild);
      return;
    }
    const pending = this.inFlight.get(txn.transactionId);
    if (pending !== undefined) {
      if (pending.fingerprint !== fingerprint) return this.reject(record, IdempotencyReasons.reused);
      pending.retries.push({ timestamp: record.timestamp, headers: encodeHeaders(record.headers), ...this.position(), txn: JSON.stringify(txn) });
      this.inFlight.put(txn.transactionId, pending);
      return;
    }
    this.inFlight.put(txn.transactionId, { fingerprint, retries: [] });
    for (const child of this.hotChildren) this.ctx.forward(record, child);
  }

  private position(): { sourceTopic: string; partition: number; offset: number } {
    const meta = this.ctx.recordMetadata();
    return { sourceTopic: meta?.topic ?? 'unknown', partition: meta?.partition ?? -1, offset: meta?.offset ?? -1 };
  }

  private reject(record: Record<string, RiskContext>, reason: string): void {
    if (reason === IdempotencyReasons.reused) this.counters.reused++;
    else this.counters.notReplayable++;
    const where = this.position();
    const { txn } = record.value;
    this.ctx.logger.warn({ event: 'dead-letter', reason, transactionId: txn.transactionId, ...where }, 'transaction id already decided for another transaction');
    const letter = idempotencyDeadLetter(where, JSON.stringify(txn), txn.accountToken, this.ctx.processorName, reason, this.ctx.currentSystemTimeMs());
    this.ctx.forward({ key: `${where.sourceTopic}/${where.partition}/${where.offset}`, value: letter, timestamp: record.timestamp, headers: {} }, this.config.deadLetterChild);
  }
}

/** Name of the side-only build's store of transaction ids already counted. */
export const SEEN_IDS_STORE = 'transaction-ids-seen';

export function seenIdsStore(): KeyValueStoreBuilder<string, number> {
  // A replay's side phase is one bounded run: memory, not logged, gone with the run.
  return Stores.keyValue(SEEN_IDS_STORE, Serdes.String, Serdes.Long, { persistent: false, logged: false });
}

/**
 * The side-only build (a replay's first phase) has no decisions to check retries against; it still
 * must count a retried transaction once in the entity statistics, as the live loop does. This
 * forwards the first reception of each transaction id (in this run) and drops the others.
 */
export class FirstSightProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private seen!: KeyValueStore<string, number>;

  init(ctx: ProcessorContext<string, RiskContext>): void {
    this.ctx = ctx;
    this.seen = ctx.getStateStore(SEEN_IDS_STORE);
  }

  process(record: Record<string, RiskContext>): void {
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    const id = record.value.txn.transactionId;
    if (this.seen.get(id) !== undefined) return;
    this.seen.put(id, record.value.txn.eventTime);
    this.ctx.forward(record);
  }
}

export function transactionIdProcessor(
  config: IdempotencyConfig,
  counters: IdempotencyCounters = newIdempotencyCounters(),
): ProcessorSupplier<string, RiskContext, string, RiskContext | Decision | DeadLetter> {
  return () => new TransactionIdProcessor(config, counters);
}
