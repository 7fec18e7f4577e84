/**
 * Reads a velocity profile (profile.ts) as of one transaction's event time t: window counts and
 * sums for its card and its account, distinct merchants/countries, the previous transaction, the
 * previous located one and the amount baseline. One pass over the events, one over the folded
 * hours, one over the days.
 *
 * Only what happened at or before t is seen: events are sorted, the scan stops at the first one
 * after t; a folded hour counts only when all of it is ≤ t; day buckets are used only for days
 * before t's day. An event at the same millisecond as t was processed earlier, and counts.
 */
import type { LocatedEvent } from '../impossibleTravel.js';
import { DAY_MS, type Loc, type Profile, floorTo, isLocated } from './profile.js';
import { EMPTY_STATS, type RunningStats, addValue, mergeStats } from './stats.js';

export interface WindowTotals {
  count: number;
  sum: number;
}

export interface ReadOptions {
  /** Window lengths W: each window is (t − W, t]. */
  windowsMs: readonly number[];
  /** The window whose distinct merchants and countries are collected. */
  distinctWindowMs: number;
  /** Whole UTC days before t's day in the baseline (t's own day up to t is added). */
  baselineDays: number;
  /** How many whole days before t's day the previous transaction is searched in. */
  previousSearchDays: number;
}

export interface ProfileReading {
  card: WindowTotals[];
  account: WindowTotals[];
  merchants: Set<string>;
  countries: Set<string>;
  cardPrevious: number | null;
  accountPrevious: number | null;
  previousLocated: LocatedEvent | null;
  baseline: RunningStats;
}

export function readProfile(p: Profile | undefined, cardToken: string, t: number, o: ReadOptions): ProfileReading {
  const card = o.windowsMs.map(() => ({ count: 0, sum: 0 }));
  const account = o.windowsMs.map(() => ({ count: 0, sum: 0 }));
  const r: ProfileReading = {
    card,
    account,
    merchants: new Set(),
    countries: new Set(),
    cardPrevious: null,
    accountPrevious: null,
    previousLocated: null,
    baseline: EMPTY_STATS,
  };
  if (p === undefined) return r;
  const c = p.cards.indexOf(cardToken);
  const today = floorTo(t, DAY_MS);
  let loc: Loc | null = null;
  const later = (a: number | null, b: number): number => (a === null || b > a ? b : a);

  for (const e of p.ev) {
    const et = e[0];
    if (et > t) break;
    const age = t - et;
    const mine = e[6] === c;
    for (let i = 0; i < o.windowsMs.length; i++) {
      if (age >= o.windowsMs[i]!) continue;
      account[i]!.count += 1;
      account[i]!.sum += e[1];
      if (mine) {
        card[i]!.count += 1;
        card[i]!.sum += e[1];
      }
    }
    if (age < o.distinctWindowMs) {
      r.merchants.add(e[2]);
      r.countries.add(e[3]);
    }
    // Sorted ascending with ties in arrival order: the last one seen is the latest (later arrival on ties).
    r.accountPrevious = et;
    if (mine) r.cardPrevious = et;
    if (isLocated(e)) loc = [et, e[4], e[5]];
    if (et >= today) r.baseline = addValue(r.baseline, e[1]);
  }

  for (const h of p.hours) {
    if (h.last > t) continue;
    const mineAt = h.cards.find((x) => x[0] === c);
    for (let i = 0; i < o.windowsMs.length; i++) {
      // Wholly inside (t − W, t]: its last event is ≤ t (checked above) and it starts after t − W.
      if (h.start <= t - o.windowsMs[i]!) continue;
      account[i]!.count += h.n;
      account[i]!.sum += h.sum;
      if (mineAt !== undefined) {
        card[i]!.count += mineAt[1];
        card[i]!.sum += mineAt[2];
      }
    }
    if (h.start > t - o.distinctWindowMs) {
      for (const m of h.mer) r.merchants.add(m);
      for (const x of h.cty) r.countries.add(x);
    }
    r.accountPrevious = later(r.accountPrevious, h.last);
    if (mineAt !== undefined) r.cardPrevious = later(r.cardPrevious, mineAt[3]);
    if (h.loc !== null && (loc === null || h.loc[0] > loc[0])) loc = h.loc;
    if (h.start >= today) r.baseline = mergeStats(r.baseline, h);
  }

  const baselineFrom = today - o.baselineDays * DAY_MS;
  const searchFrom = today - o.previousSearchDays * DAY_MS;
  for (const d of p.days) {
    // Days before t's day hold only events before t; t's own day is covered by the events above.
    if (d.start >= today) break;
    if (d.start >= baselineFrom) r.baseline = mergeStats(r.baseline, d);
    if (d.start < searchFrom) continue;
    r.accountPrevious = later(r.accountPrevious, d.last);
    const mineAt = d.cards.find((x) => x[0] === c);
    if (mineAt !== undefined) r.cardPrevious = later(r.cardPrevious, mineAt[1]);
    if (d.loc !== null && (loc === null || d.loc[0] > loc[0])) loc = d.loc;
  }
  if (loc !== null) r.previousLocated = { time: loc[0], lat: loc[1], lon: loc[2] };
  return r;
}
