/**
 * The decision snapshots the label join reads: what the model saw for each transaction, kept until
 * its labels can no longer arrive.
 *
 * Two key-value stores, both in the hot sub-topology and both logged:
 *  - `StoreNames.decisionSnapshots`: transactionId → DecisionSnapshot. Point lookups when a label
 *    arrives.
 *  - `StoreNames.snapshotIndex`: `<eventTime, 13 digits zero-padded>|<transactionId>` → eventTime.
 *    Zero-padding makes byte order equal time order, so "every snapshot with eventTime ≤ bound" is
 *    one range scan; the maturity and retention passes need exactly that. 13 digits reach the year
 *    2286. The string form (rather than 8-byte big-endian) keeps changelog keys readable.
 *
 * The index also holds one reserved entry, `~maturity-frontier`: the eventTime bound up to which
 * the maturity pass has already looked. '~' sorts after every digit, so no time-range scan ever
 * meets it. Keeping it in a logged store (not in a processor field) means a restarted or migrated
 * task resumes where the previous one stopped instead of rescanning months of matured snapshots.
 */
import { Stores, type KeyValueStoreBuilder, type StoreOptions } from '../state/stores.js';
import type { KeyValueStore } from '../state/types.js';
import { Serdes } from '../topology/serde.js';
import type { Decision, DecisionAction } from '../schemas/types.js';
import { StoreNames } from './types.js';

/**
 * The part of a Decision that a training example needs; wall-clock fields are left out on purpose.
 * `decided` and `fingerprint` serve idempotency (processors/idempotency.ts): the rest of the
 * decision as it was emitted, so a retry of the transaction gets it back unchanged, and a digest
 * of the transaction it was made for, so a different transaction reusing the id is told apart.
 * Both are absent on snapshots written before they existed (a retry of such a transaction cannot be
 * answered with its decision and is dead-lettered, see idempotency.ts).
 */
export interface DecisionSnapshot {
  transactionId: string;
  accountToken: string;
  eventTime: number;
  features: Record<string, number>;
  facts: Record<string, string>;
  decision: DecisionAction;
  modelVersion: string | null;
  /** Feature set that computed `features`; absent on snapshots written before it was recorded. */
  featureSetVersion?: string | null;
  decided?: DecidedFields;
  fingerprint?: string;
}

/** The Decision fields a snapshot does not need for training, kept to repeat the decision. */
export type DecidedFields = Pick<Decision, 'cardToken' | 'decidedAt' | 'score' | 'shadowScores' | 'ruleSetVersion' | 'reasonCodes' | 'topContributions' | 'contributions' | 'pipelineLatencyMs'>;

export function snapshotOf(decision: Decision, fingerprint?: string): DecisionSnapshot {
  return {
    transactionId: decision.transactionId,
    accountToken: decision.accountToken,
    eventTime: decision.eventTime,
    features: decision.features,
    facts: decision.facts,
    decision: decision.decision,
    modelVersion: decision.modelVersion,
    ...(decision.featureSetVersion == null ? {} : { featureSetVersion: decision.featureSetVersion }),
    decided: {
      cardToken: decision.cardToken,
      decidedAt: decision.decidedAt,
      score: decision.score,
      shadowScores: decision.shadowScores,
      ruleSetVersion: decision.ruleSetVersion,
      reasonCodes: decision.reasonCodes,
      topContributions: decision.topContributions,
      ...(decision.contributions == null ? {} : { contributions: decision.contributions }),
      pipelineLatencyMs: decision.pipelineLatencyMs,
    },
    ...(fingerprint === undefined ? {} : { fingerprint }),
  };
}

/** The stored decision again, marked as a duplicate; undefined for a snapshot without `decided`. */
export function repeatedDecision(snapshot: DecisionSnapshot): Decision | undefined {
  const d = snapshot.decided;
  if (d === undefined) return undefined;
  return {
    transactionId: snapshot.transactionId,
    accountToken: snapshot.accountToken,
    cardToken: d.cardToken,
    eventTime: snapshot.eventTime,
    decidedAt: d.decidedAt,
    decision: snapshot.decision,
    score: d.score,
    modelVersion: snapshot.modelVersion,
    ...(snapshot.featureSetVersion == null ? {} : { featureSetVersion: snapshot.featureSetVersion }),
    shadowScores: d.shadowScores,
    ruleSetVersion: d.ruleSetVersion,
    reasonCodes: d.reasonCodes,
    features: snapshot.features,
    facts: snapshot.facts,
    topContributions: d.topContributions,
    ...(d.contributions == null ? {} : { contributions: d.contributions }),
    pipelineLatencyMs: d.pipelineLatencyMs,
    duplicate: true,
  };
}

const TIME_DIGITS = 13;
/** Largest event time the index can order (10^13 − 1 ms, year 2286). */
export const MAX_INDEXED_EVENT_TIME = 10 ** TIME_DIGITS - 1;
const FRONTIER_KEY = '~maturity-frontier';

export class InvalidEventTimeError extends Error {
  /** Read by the task's error handlers as the dead-letter reason. */
  readonly reason = 'INVALID_EVENT_TIME';
  constructor(transactionId: string, eventTime: number) {
    super(`decision ${transactionId} has event time ${eventTime}, outside 0..${MAX_INDEXED_EVENT_TIME}`);
    this.name = 'InvalidEventTimeError';
  }
}

function paddedTime(eventTime: number): string {
  return String(eventTime).padStart(TIME_DIGITS, '0');
}

export function snapshotIndexKey(eventTime: number, transactionId: string): string {
  return `${paddedTime(eventTime)}|${transactionId}`;
}

/**
 * Upper bound (inclusive, for `range`) covering every index key with eventTime ≤ `eventTime`.
 * Real keys always contain '|', so no key equals the bound itself: it behaves as exclusive of
 * eventTime + 1.
 */
function upToBound(eventTime: number): string {
  return paddedTime(Math.min(eventTime, MAX_INDEXED_EVENT_TIME - 1) + 1);
}

export interface IndexedSnapshot {
  indexKey: string;
  transactionId: string;
  eventTime: number;
}

/** Store builders for the wiring file: add both and connect them to the snapshot writer and the label join. */
export function decisionSnapshotStores(options: StoreOptions = {}): [KeyValueStoreBuilder<string, DecisionSnapshot>, KeyValueStoreBuilder<string, number>] {
  return [
    Stores.keyValue(StoreNames.decisionSnapshots, Serdes.String, Serdes.Json<DecisionSnapshot>(), options),
    Stores.keyValue(StoreNames.snapshotIndex, Serdes.String, Serdes.Long, options),
  ];
}

/** Typed access to the two stores that keeps them consistent with each other. */
export class SnapshotStore {
  constructor(
    private readonly snapshots: KeyValueStore<string, DecisionSnapshot>,
    private readonly index: KeyValueStore<string, number>,
  ) {}

  get(transactionId: string): DecisionSnapshot | undefined {
    return this.snapshots.get(transactionId);
  }

  put(snapshot: DecisionSnapshot): void {
    const { transactionId, eventTime } = snapshot;
    if (!Number.isSafeInteger(eventTime) || eventTime < 0 || eventTime > MAX_INDEXED_EVENT_TIME) {
      throw new InvalidEventTimeError(transactionId, eventTime);
    }
    // A transaction decided twice (a replay under at-least-once) must not leave a stale index entry.
    const previous = this.snapshots.get(transactionId);
    if (previous !== undefined && previous.eventTime !== eventTime) this.index.delete(snapshotIndexKey(previous.eventTime, transactionId));
    this.snapshots.put(transactionId, snapshot);
    this.index.put(snapshotIndexKey(eventTime, transactionId), eventTime);
    // A snapshot older than what the maturity pass already covered would never be visited: move
    // the frontier back so that the next pass includes it.
    const frontier = this.maturityFrontier();
    if (frontier !== undefined && eventTime <= frontier) this.index.put(FRONTIER_KEY, eventTime - 1);
  }

  /** Removes the snapshot and its index entry. */
  delete(entry: IndexedSnapshot): void {
    this.index.delete(entry.indexKey);
    const current = this.snapshots.get(entry.transactionId);
    // Only if the snapshot still belongs to this index entry (see the re-decided case in put).
    if (current !== undefined && current.eventTime === entry.eventTime) this.snapshots.delete(entry.transactionId);
  }

  /**
   * Index entries with afterExclusive < eventTime ≤ upToInclusive (no lower bound when undefined),
   * oldest first. Returned as an array so the caller may write to the stores while going through it.
   */
  indexed(afterExclusive: number | undefined, upToInclusive: number): IndexedSnapshot[] {
    if (upToInclusive < 0) return [];
    const from = afterExclusive === undefined || afterExclusive < 0 ? undefined : upToBound(afterExclusive);
    const out: IndexedSnapshot[] = [];
    for (const { key, value } of this.index.range(from, upToBound(upToInclusive))) {
      out.push({ indexKey: key, transactionId: key.slice(TIME_DIGITS + 1), eventTime: value });
    }
    return out;
  }

  /** Event-time bound the maturity pass has covered; undefined before its first pass. */
  maturityFrontier(): number | undefined {
    return this.index.get(FRONTIER_KEY);
  }

  setMaturityFrontier(eventTime: number): void {
    this.index.put(FRONTIER_KEY, eventTime);
  }
}
