/**
 * The producer contract's partitioning, enforced: every account-keyed input (transactions, KYC,
 * chargebacks, analyst outcomes) must be on partition `murmur2(utf8(key)) mod partitions` — Kafka's
 * Java default partitioner, the one the loop's own output uses — or the record lands on a task that
 * does not hold its account's state: a KYC row the transaction never sees (KYC_MISSING), a
 * chargeback with no decision snapshot (UNKNOWN_TRANSACTION). librdkafka's default
 * (`consistent_random`, CRC32) and Sarama's default (FNV-1a) put most keys elsewhere.
 *
 * What happens to a record on the wrong partition: it is re-routed, not rejected. The step that
 * reads it first (after tokenization for the topics that carry an account id, so that no clear id
 * reaches an internal topic) wraps it in a `Rerouted` envelope and sends it through the internal
 * topic `<app>-rerouted-repartition` (JSON, partitioned by murmur2 like every sink). That topic is
 * a source of the same hot sub-topology: the task that owns the key reads it back and the `rerouted`
 * step hands each record to the step it would have reached on the right partition. The record is
 * decided (or joined) exactly as if the producer had partitioned it right, one internal hop later.
 * Each re-route is counted (`MisroutedCounters`, exported as riskloop_misrouted_records_total{topic})
 * and logged at warn with topic, partition, expected partition and offset (never the key).
 *
 * Ordering: a re-routed record is processed after records that were already on the right
 * partition, so a producer that mixes partitioners may see a KYC update applied later than its
 * timestamp order would have it. That is the documented cost of getting the partitioner wrong (the
 * fix is the producer setting in docs/producers.md); nothing is lost or mis-joined.
 *
 * The partition count is the catalogue's (`partitions`, RISKLOOP_PARTITIONS). If the topics were
 * created with another count, every record looks misrouted and is re-routed (still to the right
 * task: the internal topic is partitioned by its real count) — visible at once in the metric.
 */
import type { AnalystOutcome, ChallengeResult, KycRecord, TokenizedChargeback } from '../schemas/types.js';
import { partitionForKey } from '../topology/murmur2.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Headers, Record } from '../topology/records.js';
import { isSafeHeader } from '../schemas/deadLetter.js';
import { maskCardNumbers } from './panDetect.js';
import { isAccountTokenShaped } from './tokenizer.js';
import type { RiskContext } from './types.js';

/** Base name of the internal topic (<applicationId>-rerouted-repartition). */
export const REROUTED_TOPIC_BASE = 'rerouted';

/** A record on its way to the task that owns its key. Internal JSON: no PAN, no clear account id. */
export type Rerouted =
  | { kind: 'transaction'; value: RiskContext }
  | { kind: 'kyc'; value: KycRecord | null }
  | { kind: 'chargeback'; value: TokenizedChargeback }
  | { kind: 'analyst-outcome'; value: AnalystOutcome }
  | { kind: 'challenge-result'; value: ChallengeResult };

/** Re-routed records per source topic, summed over the tasks sharing the object. */
export class MisroutedCounters {
  private readonly byTopic = new Map<string, number>();

  add(topic: string): void {
    this.byTopic.set(topic, (this.byTopic.get(topic) ?? 0) + 1);
  }

  get(topic: string): number {
    return this.byTopic.get(topic) ?? 0;
  }

  entries(): [topic: string, count: number][] {
    return [...this.byTopic.entries()];
  }
}

/** The partition Kafka's default (murmur2) partitioner gives a string key. */
export function expectedPartition(key: string, partitions: number): number {
  return partitionForKey(Buffer.from(key, 'utf8'), partitions);
}

export interface PartitionCheckOptions {
  /** Partition count of the account-keyed topics (the catalogue's). */
  partitions: number;
  counters: MisroutedCounters;
}

/**
 * Whether the record being processed sits on the wrong partition for `key`; if so counts it and
 * logs one line. Records without metadata (from a punctuator or a flush) are never misrouted.
 */
export function isMisrouted(ctx: ProcessorContext<unknown, unknown>, key: string, options: PartitionCheckOptions): boolean {
  const meta = ctx.recordMetadata();
  if (meta === null) return false;
  const expected = expectedPartition(key, options.partitions);
  if (meta.partition === expected) return false;
  options.counters.add(meta.topic);
  ctx.logger.warn(
    { event: 'misrouted', sourceTopic: meta.topic, partition: meta.partition, expectedPartition: expected, offset: meta.offset },
    'record on the wrong partition for its key (producer partitioner is not murmur2): re-routed to the owning task',
  );
  return true;
}

/** Thrown for a tombstone or empty record on an event stream; the error handlers dead-letter it. */
export class EmptyValueError extends Error {
  readonly reason = 'EMPTY_VALUE';
  constructor(what: string) {
    super(`${what}: record has no value (a tombstone); an event stream has nothing to delete`);
    this.name = 'EmptyValueError';
  }
}

/**
 * Thrown for a KYC row or analyst outcome whose key is not an account token, or not the token its
 * value names: such a record cannot be placed, and its key may be a clear account id, which must
 * not reach a state store, a changelog or the re-route topic. The error handlers dead-letter it
 * (key tokenized, value described: schemas/deadLetter.ts).
 */
export class AccountKeyError extends Error {
  readonly reason = 'ACCOUNT_TOKEN_MISMATCH';
  constructor(what: string) {
    // Codes only: the key may be the identifier.
    super(`${what}: record key is not the account token of the record`);
    this.name = 'AccountKeyError';
  }
}

/** A value's string fields with card numbers masked (panDetect: Luhn-valid runs only). */
function maskStringFields<V>(value: V): V {
  if (value === null || typeof value !== 'object') return value;
  let out: { [k: string]: unknown } | undefined;
  for (const [k, v] of Object.entries(value as { [k: string]: unknown })) {
    if (typeof v !== 'string') continue;
    const masked = maskCardNumbers(v);
    if (masked !== v) (out ??= { ...(value as { [k: string]: unknown }) })[k] = masked;
  }
  return (out as V | undefined) ?? value;
}

/** Only a well-formed traceparent travels on with a producer's record; other headers stay here. */
function traceHeaders(headers: Headers): Headers {
  const out: Headers = {};
  const tp = headers['traceparent'];
  if (tp !== undefined && isSafeHeader('traceparent', tp.toString('utf8'))) out['traceparent'] = tp;
  return out;
}

/**
 * The check for a topic whose records need no tokenization (KYC rows, analyst outcomes), keyed by
 * the account token the producer computed: a record whose key is not token-shaped or differs from
 * the value's `accountToken` is refused (AccountKeyError); a PAN typed into a string field is
 * masked; only a well-formed traceparent header is kept. A record on the right partition then goes
 * to every child but the re-route one.
 */
export class PartitionCheckProcessor<V> implements Processor<string, V, string, V | Rerouted> {
  private ctx!: ProcessorContext<string, V | Rerouted>;
  private children: string[] = [];

  constructor(
    private readonly options: PartitionCheckOptions & {
      rerouteChild: string;
      wrap: (value: V | null) => Rerouted;
      /** Tombstones of an event stream are refused (EMPTY_VALUE); a table's go on (a delete). */
      tombstones: 'forward' | 'reject';
      what: string;
    },
  ) {}

  init(ctx: ProcessorContext<string, V | Rerouted>): void {
    this.ctx = ctx;
    const all = ctx.childNames();
    if (!all.includes(this.options.rerouteChild)) throw new Error(`${ctx.processorName}: no child ${this.options.rerouteChild}`);
    this.children = all.filter((c) => c !== this.options.rerouteChild);
  }

  process(record: Record<string, V>): void {
    if (record.value === null && this.options.tombstones === 'reject') throw new EmptyValueError(this.options.what);
    if (record.key !== null) {
      const named = (record.value as { accountToken?: unknown } | null)?.accountToken;
      if (!isAccountTokenShaped(record.key) || (typeof named === 'string' && named !== record.key)) throw new AccountKeyError(this.options.what);
    }
    const clean = { key: record.key, value: maskStringFields(record.value), timestamp: record.timestamp, headers: traceHeaders(record.headers) };
    // A null key cannot be placed anywhere: let the next step count and drop it as before.
    if (record.key !== null && isMisrouted(this.ctx, record.key, this.options)) {
      this.ctx.forward({ ...clean, value: this.options.wrap(clean.value) }, this.options.rerouteChild);
      return;
    }
    for (const child of this.children) this.ctx.forward(clean, child);
  }
}

export function partitionCheckProcessor<V>(options: ConstructorParameters<typeof PartitionCheckProcessor<V>>[0]): ProcessorSupplier<string, V, string, V | Rerouted> {
  return () => new PartitionCheckProcessor<V>(options);
}

export interface ReroutedChildren {
  transaction: readonly string[];
  kyc: readonly string[];
  label: readonly string[];
  /** Where challenge results go (the challenge history, which hands them to the label join); default `label`. */
  challenge?: readonly string[];
}

/** Reads the internal topic back on the owning task and hands each record to where it belongs. */
export class ReroutedProcessor implements Processor<string, Rerouted, string, unknown> {
  private ctx!: ProcessorContext<string, unknown>;
  private targets!: ReroutedChildren;

  constructor(private readonly children: ReroutedChildren) {}

  init(ctx: ProcessorContext<string, unknown>): void {
    this.ctx = ctx;
    const present = new Set(ctx.childNames());
    // The side-only or hot-only builds lack some children (label-attribution-keys, for one).
    const keep = (names: readonly string[]) => names.filter((n) => present.has(n));
    this.targets = { transaction: keep(this.children.transaction), kyc: keep(this.children.kyc), label: keep(this.children.label), challenge: keep(this.children.challenge ?? this.children.label) };
  }

  process(record: Record<string, Rerouted>): void {
    const envelope = record.value;
    if (envelope === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const targets =
      envelope.kind === 'transaction' ? this.targets.transaction : envelope.kind === 'kyc' ? this.targets.kyc : envelope.kind === 'challenge-result' ? this.targets.challenge! : this.targets.label;
    const out = { key: record.key, value: envelope.value, timestamp: record.timestamp, headers: record.headers };
    for (const child of targets) this.ctx.forward(out, child);
  }
}

export function reroutedProcessor(children: ReroutedChildren): ProcessorSupplier<string, Rerouted, string, unknown> {
  return () => new ReroutedProcessor(children);
}
