/**
 * Reads a velocity profile (profile.ts) as of one transaction's event time t, for the windows a
 * feature set declares (processors/featureSet/declaration.ts, ProfilePlan): count, sum and max per
 * exact and per day-aligned window for the transaction's card and its account, merchant/country
 * sets where a distinct count is declared, the previous transaction, the previous located one and
 * the z-score baselines. One pass over the events, one over the folded hours, one over the days
 * (the archived ones first).
 *
 * Only what happened at or before t is seen: events are sorted, the scan stops at the first one
 * after t; a folded hour counts only when all of it is ≤ t; day buckets are used only for days
 * before t's day. An event at the same millisecond as t was processed earlier, and counts.
 *
 * Window edges:
 *  - exact window W (≤ 7 d): events with event time in (t − W, t], to the millisecond; a folded
 *    hour counts when it lies wholly inside.
 *  - day-aligned window of N days (> 7 d): t's own UTC day up to t (events and folded hours, as
 *    above) plus the N whole UTC days before it, [day(t) − N d, day(t)): between N and N + 1 days
 *    of history, the trailing edge on a UTC midnight (day aggregates only, so state stays bounded).
 *
 * The reading object is owned by the caller and reused from one transaction to the next (the hot
 * path reads one profile per transaction: no per-window allocation).
 */
import type { LocatedEvent } from '../impossibleTravel.js';
import type { ProfilePlan } from '../featureSet/declaration.js';
import { DAY_MS, type DayBucket, type Loc, type Profile, cardEntry, floorTo, isLocated } from './profile.js';
import { type RunningStats, addValue, mergeStats } from './stats.js';

export interface WindowAcc {
  count: number;
  sum: number;
  /** Largest amount; -Infinity while count is 0. */
  max: number;
}

export interface ProfileReading {
  cardExact: WindowAcc[];
  accountExact: WindowAcc[];
  cardDay: WindowAcc[];
  accountDay: WindowAcc[];
  /** Per exact window with a distinct count: the sets (null elsewhere). */
  cardExactMerchants: (Set<string> | null)[];
  cardExactCountries: (Set<string> | null)[];
  accountExactMerchants: (Set<string> | null)[];
  accountExactCountries: (Set<string> | null)[];
  accountDayMerchants: (Set<string> | null)[];
  accountDayCountries: (Set<string> | null)[];
  cardPrevious: number | null;
  accountPrevious: number | null;
  previousLocated: LocatedEvent | null;
  /** Per declared z-score of the card / the account, in plan order. */
  cardBaselines: RunningStats[];
  accountBaselines: RunningStats[];
  /** Every accumulator and set above, flat: what `reset` clears before each read. */
  readonly allAccs: readonly WindowAcc[];
  readonly allSets: readonly Set<string>[];
}

const EMPTY: RunningStats = { n: 0, mean: 0, m2: 0 };
const acc = (): WindowAcc => ({ count: 0, sum: 0, max: Number.NEGATIVE_INFINITY });
const sets = (flags: readonly boolean[]): (Set<string> | null)[] => flags.map((f) => (f ? new Set<string>() : null));

export function newReading(plan: ProfilePlan): ProfileReading {
  const cardExact = plan.exact.map(acc);
  const accountExact = plan.exact.map(acc);
  const cardDay = plan.dayAligned.map(acc);
  const accountDay = plan.dayAligned.map(acc);
  const setLists = [sets(plan.exactDistinct), sets(plan.exactDistinct), sets(plan.exactDistinct), sets(plan.exactDistinct), sets(plan.dayDistinct), sets(plan.dayDistinct)] as const;
  return {
    cardExact,
    accountExact,
    cardDay,
    accountDay,
    cardExactMerchants: setLists[0],
    cardExactCountries: setLists[1],
    accountExactMerchants: setLists[2],
    accountExactCountries: setLists[3],
    accountDayMerchants: setLists[4],
    accountDayCountries: setLists[5],
    allAccs: [...cardExact, ...accountExact, ...cardDay, ...accountDay],
    allSets: setLists.flatMap((list) => list.filter((x): x is Set<string> => x !== null)),
    cardPrevious: null,
    accountPrevious: null,
    previousLocated: null,
    cardBaselines: plan.card.zscores.map(() => EMPTY),
    accountBaselines: plan.account.zscores.map(() => EMPTY),
  };
}

function reset(r: ProfileReading): void {
  for (const a of r.allAccs) {
    a.count = 0;
    a.sum = 0;
    a.max = Number.NEGATIVE_INFINITY;
  }
  for (const s of r.allSets) s.clear();
  r.cardPrevious = null;
  r.accountPrevious = null;
  r.previousLocated = null;
  r.cardBaselines.fill(EMPTY);
  r.accountBaselines.fill(EMPTY);
}

/** The later of a time that may be unset and a time (module level: no closure per read). */
const later = (a: number | null, b: number): number => (a === null || b > a ? b : a);

const add = (a: WindowAcc, n: number, sum: number, max: number | undefined): void => {
  a.count += n;
  a.sum += sum;
  if (max !== undefined && max > a.max) a.max = max;
};

const NO_DAYS: readonly DayBucket[] = [];

/**
 * Fills `r` (from newReading(plan)) with the profile as of t for the transaction's card;
 * `archive` is the account's archived days (profile.ts), older than every day in the profile.
 */
export function readProfile(
  p: Profile | undefined,
  archive: readonly DayBucket[] | undefined,
  cardToken: string,
  t: number,
  plan: ProfilePlan,
  r: ProfileReading,
  previousSearchDays: number,
): ProfileReading {
  reset(r);
  if (p === undefined) return r;
  const c = p.cards.indexOf(cardToken);
  const today = floorTo(t, DAY_MS);
  let loc: Loc | null = null;
  const exact = plan.exact;
  const nExact = exact.length;
  const nDay = plan.dayAligned.length;
  const cz = plan.card.zscores;
  const az = plan.account.zscores;

  for (const e of p.ev) {
    const et = e[0];
    if (et > t) break;
    const age = t - et;
    const mine = e[6] === c;
    const amount = e[1];
    for (let i = 0; i < nExact; i++) {
      if (age >= exact[i]!.ms) continue;
      add(r.accountExact[i]!, 1, amount, amount);
      r.accountExactMerchants[i]?.add(e[2]);
      r.accountExactCountries[i]?.add(e[3]);
      if (mine) {
        add(r.cardExact[i]!, 1, amount, amount);
        r.cardExactMerchants[i]?.add(e[2]);
        r.cardExactCountries[i]?.add(e[3]);
      }
    }
    // Sorted ascending with ties in arrival order: the last one seen is the latest (later arrival on ties).
    r.accountPrevious = et;
    if (mine) r.cardPrevious = et;
    if (isLocated(e)) loc = [et, e[4], e[5]];
    if (et >= today) {
      // t's own day: the head of every day-aligned window and of the original z-score baseline.
      for (let i = 0; i < nDay; i++) {
        add(r.accountDay[i]!, 1, amount, amount);
        r.accountDayMerchants[i]?.add(e[2]);
        r.accountDayCountries[i]?.add(e[3]);
        if (mine) add(r.cardDay[i]!, 1, amount, amount);
      }
      for (let i = 0; i < az.length; i++) if (az[i]!.gapDays === null) r.accountBaselines[i] = addValue(r.accountBaselines[i]!, amount);
      if (mine) for (let i = 0; i < cz.length; i++) if (cz[i]!.gapDays === null) r.cardBaselines[i] = addValue(r.cardBaselines[i]!, amount);
    }
  }

  for (const h of p.hours) {
    if (h.last > t) continue;
    const mineAt = cardEntry(h.cards, c);
    for (let i = 0; i < nExact; i++) {
      // Wholly inside (t − W, t]: its last event is ≤ t (checked above) and it starts after t − W.
      if (h.start <= t - exact[i]!.ms) continue;
      add(r.accountExact[i]!, h.n, h.sum, h.max);
      const mer = r.accountExactMerchants[i];
      if (mer) for (const m of h.mer) mer.add(m);
      const cty = r.accountExactCountries[i];
      if (cty) for (const x of h.cty) cty.add(x);
      // A folded hour's sets are the account's: a card's distinct counts leave them out (lower bound).
      if (mineAt !== undefined) add(r.cardExact[i]!, mineAt[1], mineAt[2], mineAt[4]);
    }
    if (h.start >= today) {
      for (let i = 0; i < nDay; i++) {
        add(r.accountDay[i]!, h.n, h.sum, h.max);
        const mer = r.accountDayMerchants[i];
        if (mer) for (const m of h.mer) mer.add(m);
        const cty = r.accountDayCountries[i];
        if (cty) for (const x of h.cty) cty.add(x);
        if (mineAt !== undefined) add(r.cardDay[i]!, mineAt[1], mineAt[2], mineAt[4]);
      }
      for (let i = 0; i < az.length; i++) if (az[i]!.gapDays === null) r.accountBaselines[i] = mergeStats(r.accountBaselines[i]!, h);
    }
    r.accountPrevious = later(r.accountPrevious, h.last);
    if (mineAt !== undefined) r.cardPrevious = later(r.cardPrevious, mineAt[3]);
    if (h.loc !== null && (loc === null || h.loc[0] > loc[0])) loc = h.loc;
  }

  const searchFrom = today - previousSearchDays * DAY_MS;
  const dayAligned = plan.dayAligned;
  // The archive's days, then the profile's: one ascending sequence, without concatenating them.
  const older = archive ?? NO_DAYS;
  const nOlder = older.length;
  const nDays = nOlder + p.days.length;
  for (let k = 0; k < nDays; k++) {
    const d = k < nOlder ? older[k]! : p.days[k - nOlder]!;
    // Days before t's day hold only events before t; t's own day is covered by the events above.
    if (d.start >= today) break;
    const ageDays = Math.round((today - d.start) / DAY_MS); // 1 = yesterday
    const mineAt = cardEntry(d.cards, c);
    for (let i = 0; i < nDay; i++) {
      if (ageDays > dayAligned[i]!.days) continue;
      add(r.accountDay[i]!, d.n, d.sum, d.max);
      const mer = r.accountDayMerchants[i];
      if (mer && d.mer) for (const m of d.mer) mer.add(m);
      const cty = r.accountDayCountries[i];
      if (cty && d.cty) for (const x of d.cty) cty.add(x);
      if (mineAt !== undefined) add(r.cardDay[i]!, mineAt[2] ?? 0, mineAt[3] ?? 0, mineAt[4]);
    }
    for (let i = 0; i < az.length; i++) {
      const z = az[i]!;
      const gap = z.gapDays ?? 0;
      if (ageDays > gap && ageDays <= gap + z.days) r.accountBaselines[i] = mergeStats(r.accountBaselines[i]!, d);
    }
    if (mineAt !== undefined && mineAt[2] !== undefined) {
      for (let i = 0; i < cz.length; i++) {
        const z = cz[i]!;
        const gap = z.gapDays ?? 0;
        if (ageDays > gap && ageDays <= gap + z.days) r.cardBaselines[i] = mergeStats(r.cardBaselines[i]!, { n: mineAt[2], mean: mineAt[5] ?? 0, m2: mineAt[6] ?? 0 });
      }
    }
    if (d.start < searchFrom) continue;
    r.accountPrevious = later(r.accountPrevious, d.last);
    if (mineAt !== undefined) r.cardPrevious = later(r.cardPrevious, mineAt[1]);
    if (d.loc !== null && (loc === null || d.loc[0] > loc[0])) loc = d.loc;
  }
  if (loc !== null) r.previousLocated = { time: loc[0], lat: loc[1], lon: loc[2] };
  return r;
}
