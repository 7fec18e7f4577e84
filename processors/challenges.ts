/**
 * Step-up challenges coming back: the `challenge-results` topic (ChallengeResult.avsc, keyed by
 * account token, co-partitioned with transactions) is kept per account in the hot task, and each
 * transaction reads what its account's challenges said before it.
 *
 *   challenge-results ─► challenge-history (store) ─► label-join   (FAILED → fraud, PASSED → legitimate)
 *   ... enrich ─► challenge-features (reads the store) ─► cross-entity ...
 *
 * Features (as of the transaction's event time t; only results with completedAt < t count, so the
 * transaction's own challenge, which ends after it was decided, never enters its own snapshot):
 *   challenge.failed_30d, challenge.passed_30d, challenge.abandoned_30d   results in (t − 30 d, t)
 *   challenge.secs_since_failed   seconds since the latest FAILED in that window; absent when none
 * A failed challenge is the strongest first-party signal the loop gets within minutes (a chargeback
 * takes weeks), which is why it is both a label and a feature of the account's next transactions.
 *
 * The history is a table in Kafka Streams' sense: a result processed before a transaction is seen by
 * it; the task picks records across its inputs in timestamp order, and the source's timestamp is
 * `completedAt`. It keeps at most `maxResults` results of the last 30 days per account (oldest
 * dropped first: the counts then undercount, never overcount); idle accounts age out when their
 * next result or transaction finds everything older than 30 days (the row is rewritten smaller),
 * and are otherwise bounded by the number of challenged accounts.
 */
import { z } from 'zod';
import { Stores, type KeyValueStoreBuilder, type StoreOptions } from '../state/stores.js';
import type { KeyValueStore } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes } from '../topology/serde.js';
import type { ChallengeOutcome, ChallengeResult } from '../schemas/types.js';
import type { RiskContext } from './types.js';

const DAY = 86_400_000;
export const CHALLENGE_WINDOW_MS = 30 * DAY;

export const CHALLENGE_HISTORY_STORE = 'challenge-history';

export const ChallengeFeatures = {
  failed30d: 'challenge.failed_30d',
  passed30d: 'challenge.passed_30d',
  abandoned30d: 'challenge.abandoned_30d',
  secsSinceFailed: 'challenge.secs_since_failed',
} as const;

export const ChallengesConfig = z.object({
  /** Results kept per account (30 days at most); a handful a month is normal, hundreds is an attack. */
  maxResults: z.number().int().min(1).max(10_000).default(64),
});
export type ChallengesConfig = z.output<typeof ChallengesConfig>;

const OUTCOME_CODE: { readonly [O in ChallengeOutcome]: number } = { PASSED: 0, FAILED: 1, ABANDONED: 2 };

/** One result: [completedAt, outcome code]; sorted by completedAt, ties in arrival order. */
export type ChallengeEntry = [completedAt: number, outcome: number];

export function challengeHistoryStore(options: StoreOptions = {}): KeyValueStoreBuilder<string, ChallengeEntry[]> {
  return Stores.keyValue(CHALLENGE_HISTORY_STORE, Serdes.String, Serdes.Json<ChallengeEntry[]>(), options);
}

/** The history with `result` in place, trimmed to the window behind its newest entry and to `max`. */
export function recordChallenge(history: readonly ChallengeEntry[], result: ChallengeResult, max: number): ChallengeEntry[] {
  const entry: ChallengeEntry = [result.completedAt, OUTCOME_CODE[result.result]];
  const next = [...history];
  let i = next.length;
  while (i > 0 && next[i - 1]![0] > entry[0]) i--;
  next.splice(i, 0, entry);
  const horizon = next[next.length - 1]![0] - CHALLENGE_WINDOW_MS;
  const kept = next.filter((e) => e[0] > horizon);
  return kept.length > max ? kept.slice(kept.length - max) : kept;
}

/** The challenge features of a transaction at event time `t` (see the file header). */
export function addChallengeFeatures(features: { [name: string]: number }, history: readonly ChallengeEntry[] | undefined, t: number): void {
  let failed = 0;
  let passed = 0;
  let abandoned = 0;
  let lastFailed = -Infinity;
  for (const [at, outcome] of history ?? []) {
    if (at >= t) break;
    if (at <= t - CHALLENGE_WINDOW_MS) continue;
    if (outcome === OUTCOME_CODE.FAILED) {
      failed++;
      lastFailed = at;
    } else if (outcome === OUTCOME_CODE.PASSED) passed++;
    else abandoned++;
  }
  features[ChallengeFeatures.failed30d] = failed;
  features[ChallengeFeatures.passed30d] = passed;
  features[ChallengeFeatures.abandoned30d] = abandoned;
  if (failed > 0) features[ChallengeFeatures.secsSinceFailed] = (t - lastFailed) / 1000;
}

/** Keeps each result in its account's history, then hands it on unchanged (to the label join). */
export class ChallengeHistoryProcessor implements Processor<string, ChallengeResult, string, ChallengeResult> {
  private ctx!: ProcessorContext<string, ChallengeResult>;
  private store!: KeyValueStore<string, ChallengeEntry[]>;

  constructor(private readonly config: ChallengesConfig) {}

  init(ctx: ProcessorContext<string, ChallengeResult>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(CHALLENGE_HISTORY_STORE);
  }

  process(record: Record<string, ChallengeResult>): void {
    const result = record.value;
    if (result === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    this.store.put(result.accountToken, recordChallenge(this.store.get(result.accountToken) ?? [], result, this.config.maxResults));
    this.ctx.forward(record);
  }
}

/** Adds the challenge features to each transaction's context. */
export class ChallengeFeaturesProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;
  private store!: KeyValueStore<string, ChallengeEntry[]>;

  init(ctx: ProcessorContext<string, RiskContext>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(CHALLENGE_HISTORY_STORE);
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    addChallengeFeatures(risk.features, this.store.get(risk.txn.accountToken), risk.txn.eventTime);
    this.ctx.forward(record);
  }
}

export function challengeHistoryProcessor(config: ChallengesConfig): ProcessorSupplier<string, ChallengeResult, string, ChallengeResult> {
  return () => new ChallengeHistoryProcessor(config);
}

export function challengeFeaturesProcessor(): ProcessorSupplier<string, RiskContext, string, RiskContext> {
  return () => new ChallengeFeaturesProcessor();
}
