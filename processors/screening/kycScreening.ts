/**
 * Sanctions / PEP screening of the KYC holder name, at ingress of the kyc topic.
 *
 *   kyc ─► partition check ─► kyc-screening ─► kyc-table            (the row, holderName removed)
 *                                   │    └──► screening-hits topic  (new hits only)
 *                                   └ screening store: per account the sealed name, party, list
 *                                     version screened with, and the hits at that version
 *
 * - A KYC record with a holder name is screened (person against individuals, business against
 *   organisations); the row goes on to the KYC table without the name, the sealed name and the hit
 *   facts go to the screening store, and hits the account did not already have become
 *   ScreeningHit records.
 * - A KYC record without a name (older producers) changes nothing here: the account keeps the name
 *   and hits it had. A tombstone deletes the account's screening row too.
 * - A new list version: a wall-clock check (every `recheckIntervalMs`) sees the holder's version
 *   differ from the one rows were screened with, opens each stale row's sealed name, screens it
 *   again and writes hits for entries the account did not match before (new hits only; a hit that
 *   persists is not written twice). At most `rescreenBatch` accounts per check, so a task with many
 *   accounts keeps processing records between batches; the rest follow at the next checks.
 * - Without a sealing key the loop keeps no name at all: a new list version then applies to an
 *   account at its next KYC update (docs/screening.md says why keeping it sealed is the default).
 *
 * The store is logged (its changelog holds only sealed names) and keyed by account token, so it
 * lives in the same task as the KYC table and the transactions it gates.
 */
import { z } from 'zod';
import type { KeyValueStore } from '../../state/types.js';
import { Stores, type KeyValueStoreBuilder, type StoreOptions } from '../../state/stores.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../../topology/processor.js';
import type { Record } from '../../topology/records.js';
import { Serdes } from '../../topology/serde.js';
import type { KycRecord, ScreeningHit } from '../../schemas/types.js';
import { DEFAULT_THRESHOLD, type Match, type Party } from '../../screening/matcher.js';
import type { SanctionsListHolder } from './listHolder.js';
import type { NameSealer } from './sealedName.js';

export const SCREENING_STORE = 'kyc-screening';

export const ScreeningConfig = z.object({
  /** Hit threshold on the match score (docs/screening.md: 0.85, measured on test/unit/screening/variants.csv). */
  threshold: z.number().min(0.5).max(1).default(DEFAULT_THRESHOLD),
  /** How often (wall clock) a task checks for a new list version. */
  recheckIntervalMs: z.number().int().positive().default(30_000),
  /** Accounts re-screened per check at most. */
  rescreenBatch: z.number().int().positive().default(5_000),
  /** Matches kept per screening (best first). */
  maxHitsPerAccount: z.number().int().positive().max(50).default(5),
});
export type ScreeningConfig = z.output<typeof ScreeningConfig>;

export interface StoredHit {
  entryId: string;
  kind: 'SANCTION' | 'PEP';
  score: number;
}

/** The screening store's row: hit facts, and the name only sealed. */
export interface ScreeningRow {
  sealedName: string | null;
  party: Party;
  listVersion: string;
  hits: StoredHit[];
  screenedAt: number;
}

export function screeningStore(options: StoreOptions = {}): KeyValueStoreBuilder<string, ScreeningRow> {
  return Stores.keyValue(SCREENING_STORE, Serdes.String, Serdes.Json<ScreeningRow>(), options);
}

export interface KycScreeningDeps {
  lists: SanctionsListHolder;
  /** Null: keep no name (re-screen at the next KYC update only). */
  sealer: NameSealer | null;
  config: ScreeningConfig;
  tableChild: string;
  hitsChild: string;
  /** Counters for /metrics and tests. */
  counters?: ScreeningCounters;
}

/** The screening counters as plain numbers (a thread's report, the sum over threads). */
export interface ScreeningCounts {
  screened: number;
  rescreened: number;
  hits: number;
  unopenable: number;
}

export class ScreeningCounters implements ScreeningCounts {
  screened = 0;
  rescreened = 0;
  hits = 0;
  /** Sealed names that did not open under the configured key (key changed): left for the next KYC update. */
  unopenable = 0;
}

export function hitFromMatch(accountToken: string, m: Match, trigger: ScreeningHit['trigger'], version: { id: string; fileDate: string }, threshold: number, sealedName: string | null, at: number): ScreeningHit {
  return {
    hitId: `${accountToken}|${m.entry.id}|${version.id}`,
    accountToken,
    listEntryId: m.entry.id,
    listEntryName: m.entry.name,
    matchedName: m.explanation.listName,
    matchedAlias: m.explanation.alias,
    listKind: m.entry.kind,
    programs: m.entry.programs,
    entityType: m.entry.entityType,
    score: m.score,
    threshold,
    method: m.explanation.method,
    pairs: m.explanation.pairs.map((p) => ({ queryIndex: p.queryIndex, listToken: p.listToken, similarity: p.similarity, how: p.how, queryTokensGlued: p.queryTokensGlued ?? 1 })),
    unmatchedListTokens: m.explanation.unmatchedListTokens,
    unmatchedQueryTokens: m.explanation.unmatchedQueryTokens,
    queryTokenCount: m.explanation.queryTokenCount,
    formula: m.explanation.formula,
    trigger,
    listVersion: version.id,
    listFileDate: version.fileDate,
    holderNameSealed: sealedName,
    screenedAt: at,
  };
}

export class KycScreeningProcessor implements Processor<string, KycRecord | null, string, KycRecord | null | ScreeningHit> {
  private ctx!: ProcessorContext<string, KycRecord | null | ScreeningHit>;
  private store!: KeyValueStore<string, ScreeningRow>;
  /** The version this task last finished re-screening with (in memory: after a restart one scan finds nothing stale). */
  private settledVersion: string | null = null;

  constructor(private readonly deps: KycScreeningDeps) {}

  init(ctx: ProcessorContext<string, KycRecord | null | ScreeningHit>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore(SCREENING_STORE);
    ctx.schedule(this.deps.config.recheckIntervalMs, 'WALL_CLOCK_TIME', (now) => this.rescreenStale(now));
  }

  process(record: Record<string, KycRecord | null>): void {
    const { key, value } = record;
    if (key !== null && value === null) this.store.delete(key);
    const name = value === null ? null : (value.holderName ?? this.openRerouted(value));
    if (key === null || value === null || name === null || name.trim() === '') {
      this.ctx.forward({ ...record, value: value === null ? null : withoutName(value) }, this.deps.tableChild);
      return;
    }
    // The table checks key against accountToken and refuses a mismatch; screening under the wrong
    // key would attach one account's hits to another, so a mismatch is not screened either.
    if (value.accountToken === key) this.screenOnArrival(key, value, name, record.timestamp);
    this.ctx.forward({ ...record, value: withoutName(value) }, this.deps.tableChild);
  }

  /** The name a re-routed record carries sealed (kycForReroute); null when none or it does not open. */
  private openRerouted(value: ReroutedKyc): string | null {
    if (value.holderNameSealed === undefined || this.deps.sealer === null) return null;
    try {
      return this.deps.sealer.open(value.holderNameSealed, value.accountToken);
    } catch {
      return null;
    }
  }

  private screenOnArrival(key: string, kyc: KycRecord, name: string, timestamp: number): void {
    const party: Party = kyc.entityType === 'BUSINESS' ? 'BUSINESS' : 'PERSON';
    const sealed = this.deps.sealer?.seal(name, key) ?? null;
    const previous = this.store.get(key);
    this.screenAndStore(key, name, party, sealed, previous?.hits ?? [], 'KYC_UPDATE', kyc.updatedAt, timestamp);
    if (this.deps.counters) this.deps.counters.screened++;
  }

  private screenAndStore(key: string, name: string, party: Party, sealed: string | null, before: StoredHit[], trigger: ScreeningHit['trigger'], at: number, timestamp: number): void {
    const { version, index } = this.deps.lists.current;
    const { threshold, maxHitsPerAccount } = this.deps.config;
    const matches = index.screen(name, { threshold, party, limit: maxHitsPerAccount });
    const known = new Set(before.map((h) => h.entryId));
    for (const m of matches) {
      if (known.has(m.entry.id)) continue;
      this.ctx.forward({ key, value: hitFromMatch(key, m, trigger, version, threshold, sealed, at), timestamp, headers: {} }, this.deps.hitsChild);
      if (this.deps.counters) this.deps.counters.hits++;
    }
    this.store.put(key, {
      sealedName: sealed,
      party,
      listVersion: version.id,
      hits: matches.map((m) => ({ entryId: m.entry.id, kind: m.entry.kind, score: m.score })),
      screenedAt: at,
    });
  }

  private rescreenStale(now: number): void {
    const current = this.deps.lists.current.version.id;
    if (this.settledVersion === current) return;
    const stale: [string, ScreeningRow][] = [];
    for (const { key, value } of this.store.all()) {
      if (value.listVersion === current || value.sealedName === null) continue;
      stale.push([key, value]);
      if (stale.length >= this.deps.config.rescreenBatch) break;
    }
    for (const [key, row] of stale) {
      let name: string | null = null;
      try {
        name = this.deps.sealer?.open(row.sealedName!, key) ?? null;
      } catch (error) {
        this.ctx.logger.warn({ event: 'screening-sealed-name-invalid', err: error instanceof Error ? error.message : String(error) }, 'sealed name does not open; the account is re-screened at its next KYC update');
      }
      if (name === null) {
        if (this.deps.counters) this.deps.counters.unopenable++;
        // Marked with the current version so it is not retried every check; its hits stay.
        this.store.put(key, { ...row, sealedName: null, listVersion: current });
        continue;
      }
      this.screenAndStore(key, name, row.party, row.sealedName, row.hits, 'LIST_UPDATE', now, now);
      if (this.deps.counters) this.deps.counters.rescreened++;
    }
    if (stale.length < this.deps.config.rescreenBatch) {
      this.settledVersion = current;
      this.ctx.logger.info({ event: 'screening-rescreen-done', listVersion: current, accounts: stale.length }, 'accounts re-screened with the current list version');
    }
  }
}

function withoutName(kyc: ReroutedKyc): KycRecord {
  if ((kyc.holderName === undefined || kyc.holderName === null) && kyc.holderNameSealed === undefined) return kyc;
  const { holderNameSealed: _sealed, ...rest } = kyc;
  return { ...rest, holderName: null };
}

/** A KYC record on the internal re-route topic: the name only sealed (or dropped). */
export type ReroutedKyc = KycRecord & { holderNameSealed?: string };

/**
 * What the kyc partition check puts on the internal re-route topic (processors/partitionCheck.ts):
 * no clear name crosses an internal topic, so it goes sealed under the screening key (opened by the
 * screening step of the task that owns the account), or, without a key, not at all — that account
 * is then screened at its next KYC update.
 */
export function kycForReroute(sealer: NameSealer | null): (value: KycRecord | null) => ReroutedKyc | null {
  return (value) => {
    if (value === null || value.holderName === undefined || value.holderName === null) return value;
    const { holderName, ...rest } = value;
    return sealer === null ? { ...rest, holderName: null } : { ...rest, holderName: null, holderNameSealed: sealer.seal(holderName, value.accountToken) };
  };
}

export function kycScreeningProcessor(deps: KycScreeningDeps): ProcessorSupplier<string, KycRecord | null, string, KycRecord | null | ScreeningHit> {
  return () => new KycScreeningProcessor(deps);
}
