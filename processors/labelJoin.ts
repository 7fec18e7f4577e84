/**
 * The label join: decisions are remembered as snapshots, and labels that come back days or weeks
 * later (chargebacks, analyst verdicts, or the absence of both) are joined to them to make training
 * examples carrying the features exactly as the model saw them.
 *
 * Two processors in the hot sub-topology, sharing three stores (all co-partitioned by account token,
 * so a transaction's decision and its labels meet in the same task):
 *  - DecisionSnapshotProcessor, after the decision step: stores the snapshot and forwards the
 *    Decision unchanged (it can sit inline before the decisions sink).
 *  - LabelJoinProcessor, fed by the tokenized-chargebacks and analyst-outcomes sources: applies the
 *    rules of labels/labelPolicy.ts, and runs one STREAM_TIME punctuator for maturity negatives and
 *    snapshot retention. Everything it emits depends only on record contents and stream time, so a
 *    replay produces the same training examples (for labels processed long after their own event
 *    time, see `maturityGraceMs`).
 *
 * Wiring (names are the wiring file's choice; the two child names must match the config):
 *
 *   const config = LabelJoinConfig.parse({ trainingExamplesChild: 'training-examples-sink', unknownLabelsChild: 'unknown-labels' });
 *   addLabelJoin(topology, { decisionParent: 'decide', labelParents: ['chargebacks-source', 'analyst-outcomes-source'], config });
 *   topology.addSink('decisions-sink', decisionsTopic, {...}, 'decision-snapshot');
 *   topology.addSink('training-examples-sink', trainingTopic, {...}, 'label-join');
 *   topology.addProcessor('unknown-labels', deadLetterUnknownLabels, 'label-join');  // → DLQ, reason UNKNOWN_TRANSACTION
 */
import { z } from 'zod';
import { Stores, type KeyValueStoreBuilder, type StoreOptions } from '../state/stores.js';
import type { KeyValueStore, StoreBuilder } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes } from '../topology/serde.js';
import type { Topology } from '../topology/topology.js';
import type { Decision, DeadLetter, TrainingExample } from '../schemas/types.js';
import { IN_FLIGHT_STORE, IdempotencyReasons, type IdempotencyCounters, type InFlight, decodeHeaders, idempotencyDeadLetter } from './idempotency.js';
import { type EmittedLabel, LABEL_COPY_HEADER, type LabelEvent, applyLabel, maturityLabel, observe, trainingExample } from './labels/labelPolicy.js';
import { type DecisionSnapshot, SnapshotStore, decisionSnapshotStores, snapshotOf } from './snapshotStore.js';
import { StoreNames } from './types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const LabelJoinConfig = z
  .object({
    /**
     * A transaction with no label this long after its event time is a negative. 60 days: most
     * fraud chargebacks arrive within it; later ones become corrections.
     */
    maturityMs: z.number().int().positive().default(60 * DAY),
    /**
     * Extra stream time the maturity pass waits beyond the deadline before writing a negative, for
     * labels that are processed late (a label-feed outage). A label stamped before the deadline but
     * processed after the negative was written becomes a correction, and whether it does depends on
     * processing order; a grace at least as long as the worst feed delay takes that order out of the
     * result. The negative is stamped at the deadline either way. Default 0.
     */
    maturityGraceMs: z.number().int().nonnegative().default(0),
    /**
     * Snapshots (and what was emitted for them) are deleted this long after their event time; a
     * label arriving later is an unknown transaction. 180 days covers the card networks' chargeback
     * windows (120 days from the transaction, or from the expected delivery) with margin.
     */
    retentionMs: z.number().int().positive().default(180 * DAY),
    /** Stream-time interval of the maturity and retention pass. */
    punctuationIntervalMs: z.number().int().positive().default(HOUR),
    /** Child that receives TrainingExample records (the training-examples sink). */
    trainingExamplesChild: z.string().min(1),
    /** Child that receives UnmatchedLabel records (the wiring routes them to the dead-letter topic). */
    unknownLabelsChild: z.string().min(1),
  })
  .refine((c) => c.retentionMs >= c.maturityMs + c.maturityGraceMs, {
    message: 'retentionMs must be at least maturityMs + maturityGraceMs: a snapshot deleted before maturing would never get its negative',
    path: ['retentionMs'],
  })
  .refine((c) => c.trainingExamplesChild !== c.unknownLabelsChild, {
    message: 'trainingExamplesChild and unknownLabelsChild must be different nodes',
    path: ['unknownLabelsChild'],
  });
export type LabelJoinConfig = z.output<typeof LabelJoinConfig>;
export type LabelJoinConfigInput = z.input<typeof LabelJoinConfig>;

/** A label the join could not attach to a snapshot, forwarded to `unknownLabelsChild`. */
export interface UnmatchedLabel {
  /**
   * UNKNOWN_TRANSACTION: no snapshot (never decided here, or deleted by retention).
   * ACCOUNT_TOKEN_MISMATCH: the snapshot belongs to another account token than the label says.
   */
  reason: 'UNKNOWN_TRANSACTION' | 'ACCOUNT_TOKEN_MISMATCH';
  label: LabelEvent;
}

/** Running totals, summed over every task that shares the object. */
export interface LabelJoinCounters {
  examples: number;
  corrections: number;
  maturityNegatives: number;
  duplicateLabels: number;
  nonFraudChargebacks: number;
  unknownTransactions: number;
  accountTokenMismatches: number;
  snapshotsExpired: number;
  /** Chargeback copies under a previous account-token key that found no snapshot (a rotation is on). */
  previousKeyCopiesUnmatched: number;
}

export function newLabelJoinCounters(): LabelJoinCounters {
  return {
    examples: 0,
    corrections: 0,
    maturityNegatives: 0,
    duplicateLabels: 0,
    nonFraudChargebacks: 0,
    unknownTransactions: 0,
    accountTokenMismatches: 0,
    snapshotsExpired: 0,
    previousKeyCopiesUnmatched: 0,
  };
}

/** The store of what was emitted per transaction. */
export function labelsStore(options: StoreOptions = {}): KeyValueStoreBuilder<string, EmittedLabel> {
  return Stores.keyValue(StoreNames.labels, Serdes.String, Serdes.Json<EmittedLabel>(), options);
}

/** All three stores of the label join; connect each to both processors. */
export function labelJoinStores(options: StoreOptions = {}): StoreBuilder[] {
  return [...decisionSnapshotStores(options), labelsStore(options)];
}

function snapshotStoreOf(context: ProcessorContext<unknown, unknown>): SnapshotStore {
  return new SnapshotStore(
    context.getStateStore<KeyValueStore<string, DecisionSnapshot>>(StoreNames.decisionSnapshots),
    context.getStateStore<KeyValueStore<string, number>>(StoreNames.snapshotIndex),
  );
}

/**
 * Idempotency wiring of the snapshot step (see idempotency.ts): the in-flight store it shares with
 * the transaction-id check, and its two children. Without it the step stores and forwards only.
 */
export interface SnapshotIdempotency {
  decisionsChild: string;
  deadLetterChild: string;
  counters: IdempotencyCounters;
}

export class DecisionSnapshotProcessor implements Processor<string, Decision, string, Decision | DeadLetter> {
  private context!: ProcessorContext<string, Decision | DeadLetter>;
  private snapshots!: SnapshotStore;
  private inFlight: KeyValueStore<string, InFlight> | undefined;

  constructor(private readonly idempotency?: SnapshotIdempotency) {}

  init(context: ProcessorContext<string, Decision | DeadLetter>): void {
    this.context = context;
    this.snapshots = snapshotStoreOf(context);
    if (this.idempotency !== undefined) this.inFlight = context.getStateStore(IN_FLIGHT_STORE);
  }

  process(record: Record<string, Decision>): void {
    if (record.value === null) {
      this.context.recordDropped('null-value');
      return;
    }
    const decision = record.value;
    const pending = this.inFlight?.get(decision.transactionId);
    this.snapshots.put(snapshotOf(decision, pending?.fingerprint));
    if (this.idempotency === undefined) {
      this.context.forward(record);
      return;
    }
    const { decisionsChild } = this.idempotency;
    this.context.forward(record, decisionsChild);
    if (pending === undefined) return;
    this.inFlight!.delete(decision.transactionId);
    // Retries that arrived while this decision was being made get it too, right after it.
    for (const retry of pending.retries) {
      this.idempotency.counters.repeated++;
      const repeat: Decision = { ...decision, duplicate: true };
      this.context.forward({ key: repeat.accountToken, value: repeat, timestamp: retry.timestamp, headers: decodeHeaders(retry.headers) }, decisionsChild);
    }
  }

  /**
   * Runs after the scoring step's flush (topological order): every transaction let through in this
   * batch has been decided by now, so what is left in flight failed on its way. Its parked retries
   * become dead letters; the entries go, so a later retry is decided afresh.
   */
  flush(): void {
    if (this.inFlight === undefined || this.idempotency === undefined) return;
    const left = [...this.inFlight.all()];
    for (const { key: transactionId, value } of left) {
      this.inFlight.delete(transactionId);
      for (const retry of value.retries) {
        this.idempotency.counters.retriesOfUndecided++;
        const reason = IdempotencyReasons.retryOfUndecided;
        const where = { sourceTopic: retry.sourceTopic, partition: retry.partition, offset: retry.offset };
        const accountToken = (JSON.parse(retry.txn) as { accountToken: string }).accountToken;
        this.context.logger.warn({ event: 'dead-letter', reason, transactionId, ...where }, 'retry of a transaction whose original was not decided');
        const letter = idempotencyDeadLetter(where, retry.txn, accountToken, this.context.processorName, reason, this.context.currentSystemTimeMs());
        this.context.forward({ key: `${where.sourceTopic}/${where.partition}/${where.offset}`, value: letter, timestamp: retry.timestamp, headers: {} }, this.idempotency.deadLetterChild);
      }
    }
  }
}

export class LabelJoinProcessor implements Processor<string, LabelEvent, string, TrainingExample | UnmatchedLabel> {
  private context!: ProcessorContext<string, TrainingExample | UnmatchedLabel>;
  private snapshots!: SnapshotStore;
  private labels!: KeyValueStore<string, EmittedLabel>;

  constructor(
    private readonly config: LabelJoinConfig,
    private readonly counters: LabelJoinCounters,
  ) {}

  init(context: ProcessorContext<string, TrainingExample | UnmatchedLabel>): void {
    this.context = context;
    const children = context.childNames();
    for (const child of [this.config.trainingExamplesChild, this.config.unknownLabelsChild]) {
      // Forwarding to a missing child would fail on the first label, possibly weeks after deploy.
      if (!children.includes(child)) throw new Error(`${context.processorName}: configured child ${child} is not connected (children: ${children.join(', ') || 'none'})`);
    }
    this.snapshots = snapshotStoreOf(context);
    this.labels = context.getStateStore(StoreNames.labels);
    context.schedule(this.config.punctuationIntervalMs, 'STREAM_TIME', (streamTime) => this.punctuate(streamTime));
  }

  process(record: Record<string, LabelEvent>): void {
    const event = record.value;
    if (event === null) {
      this.context.recordDropped('null-value');
      return;
    }
    const snapshot = this.snapshots.get(event.transactionId);
    if (snapshot === undefined || snapshot.accountToken !== event.accountToken) {
      // A chargeback's copy under a previous account-token key (chargebackIngress.ts) is there for
      // snapshots made before a key rotation; finding none is expected, the original record speaks.
      if (record.headers[LABEL_COPY_HEADER] !== undefined) {
        this.counters.previousKeyCopiesUnmatched++;
        return;
      }
      this.unmatched(record, snapshot === undefined ? 'UNKNOWN_TRANSACTION' : 'ACCOUNT_TOKEN_MISMATCH');
      return;
    }
    const observation = observe(event);
    if (observation === null) {
      this.counters.nonFraudChargebacks++;
      return;
    }
    const before = this.labels.get(snapshot.transactionId);
    const result = applyLabel(snapshot, before, observation, this.config.maturityMs);
    if (result.examples.length === 0) {
      this.counters.duplicateLabels++;
      return;
    }
    this.labels.put(snapshot.transactionId, result.emitted);
    for (const example of result.examples) this.emit(example);
  }

  private unmatched(record: Record<string, LabelEvent>, reason: UnmatchedLabel['reason']): void {
    if (reason === 'UNKNOWN_TRANSACTION') this.counters.unknownTransactions++;
    else this.counters.accountTokenMismatches++;
    // info, not warn: labels for transactions decided before the loop went live arrive for months; the counter
    // and the dead-letter topic are where they are watched. Still one line per dead letter, with its position.
    const where = this.context.recordMetadata();
    this.context.logger.info(
      { event: 'dead-letter', reason, transactionId: record.value.transactionId, sourceTopic: where?.topic ?? 'unknown', partition: where?.partition ?? -1, offset: where?.offset ?? -1 },
      'label for no known decision snapshot',
    );
    this.context.forward({ key: record.key, value: { reason, label: record.value }, timestamp: record.timestamp, headers: record.headers }, this.config.unknownLabelsChild);
  }

  private emit(example: TrainingExample): void {
    this.counters.examples++;
    if (example.isCorrection) this.counters.corrections++;
    if (example.labelSource === 'MATURITY') this.counters.maturityNegatives++;
    // Stamped with the label's event time, not the triggering record's, so that an example's
    // timestamp is the same whichever record or punctuation happened to emit it.
    this.context.forward({ key: example.accountToken, value: example, timestamp: example.labeledAt, headers: {} }, this.config.trainingExamplesChild);
  }

  private punctuate(streamTime: number): void {
    this.matureUnlabelled(streamTime - this.config.maturityMs - this.config.maturityGraceMs);
    this.expire(streamTime - this.config.retentionMs);
  }

  /** Writes the negative of every unlabelled snapshot with eventTime ≤ bound not yet visited. */
  private matureUnlabelled(bound: number): void {
    if (bound < 0) return;
    const frontier = this.snapshots.maturityFrontier();
    if (frontier !== undefined && frontier >= bound) return;
    for (const entry of this.snapshots.indexed(frontier, bound)) {
      if (this.labels.get(entry.transactionId) !== undefined) continue;
      const snapshot = this.snapshots.get(entry.transactionId);
      if (snapshot === undefined) continue;
      const label = maturityLabel(snapshot, this.config.maturityMs);
      this.labels.put(entry.transactionId, label);
      this.emit(trainingExample(snapshot, label, false));
    }
    this.snapshots.setMaturityFrontier(bound);
  }

  /** Deletes snapshots with eventTime ≤ bound, and what was emitted for them. */
  private expire(bound: number): void {
    for (const entry of this.snapshots.indexed(undefined, bound)) {
      this.snapshots.delete(entry);
      this.labels.delete(entry.transactionId);
      this.counters.snapshotsExpired++;
    }
  }
}

export function decisionSnapshotProcessor(idempotency?: SnapshotIdempotency): ProcessorSupplier<string, Decision, string, Decision | DeadLetter> {
  return () => new DecisionSnapshotProcessor(idempotency);
}

export function labelJoinProcessor(
  config: LabelJoinConfig,
  counters: LabelJoinCounters = newLabelJoinCounters(),
): ProcessorSupplier<string, LabelEvent, string, TrainingExample | UnmatchedLabel> {
  return () => new LabelJoinProcessor(config, counters);
}

export interface AddLabelJoinOptions {
  /** The decision step, whose output (Decision) the snapshot processor reads. */
  decisionParent: string;
  /** Sources (or processors) delivering TokenizedChargeback and AnalystOutcome records. */
  labelParents: readonly string[];
  config: LabelJoinConfig;
  counters?: LabelJoinCounters;
  /** Default 'decision-snapshot'. */
  snapshotProcessorName?: string;
  /** Default 'label-join'. */
  labelJoinProcessorName?: string;
  storeOptions?: StoreOptions;
  /**
   * Idempotency by transaction id (idempotency.ts): the transaction-id check is a second parent of
   * the snapshot step's stores and shares the in-flight store with it. The caller adds the check,
   * the in-flight store and both children.
   */
  idempotency?: SnapshotIdempotency;
}

/**
 * Adds both processors and the three stores, and declares the co-partitioning the join relies on.
 * The caller then adds the children: the decisions sink under the snapshot processor, and the two
 * configured children under the label join.
 */
export function addLabelJoin(topology: Topology, options: AddLabelJoinOptions): { snapshotProcessor: string; labelJoinProcessor: string } {
  const snapshotProcessor = options.snapshotProcessorName ?? 'decision-snapshot';
  const labelJoin = options.labelJoinProcessorName ?? 'label-join';
  topology
    .addProcessor(snapshotProcessor, decisionSnapshotProcessor(options.idempotency), options.decisionParent)
    .addProcessor(labelJoin, labelJoinProcessor(options.config, options.counters), ...options.labelParents);
  for (const builder of labelJoinStores(options.storeOptions)) topology.addStateStore(builder, [snapshotProcessor, labelJoin]);
  topology.requireCopartitioning(labelJoin);
  return { snapshotProcessor, labelJoinProcessor: labelJoin };
}
