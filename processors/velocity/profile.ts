/**
 * The velocity profile of one account: everything the card and account velocity features need,
 * under ONE key of one store. A transaction costs one read and one write of its account's profile,
 * and between two commits the write-back cache turns all writes of a busy account into one
 * changelog record. (The first design kept minute/hour/day buckets under separate window-store
 * keys: ~15 range scans and ten puts per transaction; its RocksDB iterators alone were 17 % of the
 * loop's CPU, see bench/README.md.)
 *
 * Cards live inside their account's profile: producers key transactions by account token and a
 * card belongs to one account, so the account's events, each tagged with its card, hold both.
 *
 *   ev      the account's recent transactions, one small tuple each, sorted by event time (ties in
 *           arrival order), back to `horizonMs` before the newest; at most `maxEvents` of them
 *   hours   transactions pushed out of `ev` by that cap, folded per UTC hour (busy accounts only)
 *   days    every transaction, aggregated per UTC day (per account and per card), back to the
 *           longest day-aligned window of the feature set + grace (30 days at least when the
 *           previous-transaction search is declared, 90 + grace at most): day-aligned windows,
 *           z-score baselines and the previous-transaction search past the event horizon. When the
 *           feature set has a distinct count over a day-aligned window, each day also keeps its
 *           merchant and country sets (capped at `maxDistinctPerBucket`).
 *
 * The archive: an active account's older day buckets live under a key of their own,
 * `<account token>~days` (archiveKey), so that a transaction rewrites (serializes, writes to
 * RocksDB and to the changelog) its account's recent part only. With 30-day windows an account
 * holds ~32 day buckets of ~150-300 bytes each, 3-4× its events. Days move to the archive in
 * batches: once the profile holds more than `archiveBatchDays` (7 by default) days before
 * yesterday (newest's UTC day − 1), all of them go, so an account active every day rewrites its
 * archive about once a week; the archive is trimmed to the day horizon when it is rewritten (or
 * once it reaches a batch past it), so it may keep up to a batch of days no window reads. A late
 * transaction whose day is archived updates the archive. Every archived day is older than every
 * day in the profile. Profiles written before the archive existed hold all their days and read as
 * before; a profile flagged `archived` whose archive is missing reads without it (undercounts,
 * never fails) and drops the flag at its next write.
 *
 * Windows over `ev` are exact to the millisecond at both edges. A folded hour is counted only when
 * it lies wholly inside the window and all its events are ≤ t (so nothing outside the window, and
 * nothing from the future, is ever counted): past the cap, windows undercount at their edges, never
 * overcount. Folded hours keep capped distinct sets (`maxDistinctPerBucket`), so distinct counts
 * of such an account are lower bounds.
 *
 * Profiles are plain JSON (numbers round-trip exactly).
 */
import { type RunningStats, addValue } from './stats.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
export const floorTo = (t: number, unit: number): number => Math.floor(t / unit) * unit;

/** One transaction: event time, amount (minor units), merchant, merchant country, lat, lon, card index. */
export type EventEntry = [t: number, amount: number, merchant: string, country: string, lat: number | null, lon: number | null, card: number];

/** Latest located event of an aggregate: [eventTime, lat, lon]. */
export type Loc = [number, number, number];

export interface Aggregate extends RunningStats {
  /** Sum of amounts in minor units: exact (integers), unlike n × mean. */
  sum: number;
  /** Latest event time in the aggregate. */
  last: number;
  /** Largest amount (absent on buckets written before max existed: read as unknown). */
  max?: number;
  loc: Loc | null;
}

export interface FoldedHour extends Aggregate {
  start: number;
  mer: string[];
  cty: string[];
  /** Per card: [card index, count, sum, latest event time, max amount]. */
  cards: [number, number, number, number, number?][];
}

/**
 * Per card and day: [card index, latest event time, count, sum, max, mean, m2]. Entries written
 * before issue 16 hold the first two only; their count reads as 0 (day-aligned card windows
 * undercount for the days before the upgrade, never overcount).
 */
export type DayCard = [card: number, last: number, n?: number, sum?: number, max?: number, mean?: number, m2?: number];

export interface DayBucket extends Aggregate {
  start: number;
  cards: DayCard[];
  /** Merchant / country sets of the day, only when the feature set needs day-aligned distinct counts. */
  mer?: string[];
  cty?: string[];
}

export interface Profile {
  /** Card tokens, referenced by index (by the archive's day buckets too). */
  cards: string[];
  /** Newest event time ever recorded: trimming and expiry count back from it. */
  newest: number;
  ev: EventEntry[];
  hours: FoldedHour[];
  /** Day buckets since the archive's last day (all of them when there is no archive). */
  days: DayBucket[];
  /** Set while the account has an archive (under archiveKey): absent, no read of that key is needed. */
  archived?: true;
}

/** The account's older day buckets, sorted by start, under archiveKey(account). */
export interface ProfileArchive {
  archive: DayBucket[];
}

/** The key of an account's archive: '~' is outside the account tokens' alphabet (at_ + base64url). */
export const archiveKey = (accountKey: string): string => `${accountKey}~days`;
export const isArchiveKey = (key: string): boolean => key.endsWith('~days');

/** What recordEvent works on: the profile and, if the account has one, its archive. */
export interface ProfileParts {
  profile: Profile;
  archive: DayBucket[] | undefined;
  /** Set by recordEvent when the archive was changed (created, added to, trimmed, emptied): write it back. */
  archiveChanged: boolean;
}

export interface ProfileLimits {
  /** Events older than newest − horizon leave `ev` (they stay in their day bucket). */
  horizonMs: number;
  /** Day buckets older than the UTC day of newest − dayHorizonMs leave `days`. */
  dayHorizonMs: number;
  maxEvents: number;
  maxDistinctPerBucket: number;
  /** Whether day buckets keep merchant / country sets. */
  daySets?: boolean;
  /** More closed days (before yesterday) than this in the profile and they all move to the archive; absent, 7. */
  archiveBatchDays?: number;
}

/** JSON has no -Infinity: the earliest time a Date can hold stands for "never". */
const NEVER = -8.64e15;

export const emptyProfile = (): Profile => ({ cards: [], newest: NEVER, ev: [], hours: [], days: [] });

/**
 * The entry of card index c in a bucket's per-card list (hours and days keep the card index first);
 * undefined for a card the profile does not know (c < 0). A loop: `find` would allocate a closure per
 * bucket, and the reader visits up to 90 day buckets per transaction.
 */
export function cardEntry<E extends readonly [number, ...unknown[]]>(cards: readonly E[], c: number): E | undefined {
  if (c < 0) return undefined;
  for (let i = 0; i < cards.length; i++) if (cards[i]![0] === c) return cards[i];
  return undefined;
}

export function isLocated(e: EventEntry): e is [number, number, string, string, number, number, number] {
  return e[4] !== null && e[5] !== null;
}

/** Index of the first element whose key is > k (so equal keys keep their order). */
function upperBound<T>(xs: readonly T[], k: number, key: (x: T) => number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(xs[mid]!) <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function addToAggregate<A extends Aggregate>(a: A, t: number, amount: number, loc: Loc | null): void {
  const s = addValue(a, amount);
  a.n = s.n;
  a.mean = s.mean;
  a.m2 = s.m2;
  a.sum += amount;
  a.max = Math.max(a.max ?? amount, amount);
  a.last = Math.max(a.last, t);
  // Ties go to the later arrival, the rule the event scan in profileReader.ts applies.
  if (loc !== null && (a.loc === null || loc[0] >= a.loc[0])) a.loc = loc;
}

const newAggregate = (): Aggregate => ({ n: 0, mean: 0, m2: 0, sum: 0, last: NEVER, loc: null });

function addCapped(values: string[], v: string, cap: number): void {
  if (values.length < cap && !values.includes(v)) values.push(v);
}

/** Find-or-insert (sorted by start) of the bucket starting at `start`. */
function bucketAt<B extends { start: number }>(buckets: B[], start: number, create: () => B): B {
  const i = upperBound(buckets, start, (b) => b.start);
  if (i > 0 && buckets[i - 1]!.start === start) return buckets[i - 1]!;
  const b = create();
  buckets.splice(i, 0, b);
  return b;
}

function fold(hours: FoldedHour[], e: EventEntry, cap: number): void {
  const h = bucketAt(hours, floorTo(e[0], HOUR_MS), () => ({ ...newAggregate(), start: floorTo(e[0], HOUR_MS), mer: [], cty: [], cards: [] }));
  addToAggregate(h, e[0], e[1], isLocated(e) ? [e[0], e[4], e[5]] : null);
  addCapped(h.mer, e[2], cap);
  addCapped(h.cty, e[3], cap);
  const c = cardEntry(h.cards, e[6]);
  if (c === undefined) h.cards.push([e[6], 1, e[1], e[0], e[1]]);
  else {
    c[1] += 1;
    c[2] += e[1];
    c[3] = Math.max(c[3], e[0]);
    c[4] = Math.max(c[4] ?? e[1], e[1]);
  }
}

/** What the profile keeps of a transaction. */
export interface ProfileEvent {
  t: number;
  amount: number;
  merchant: string;
  country: string;
  lat: number | null;
  lon: number | null;
}

/**
 * Records one more transaction in `parts`, trimmed to the limits, mutating the profile and archive
 * in place: the caller got them from the store and puts them back (the store's value cache may
 * hold these instances), the archive only when `archiveChanged` says so.
 */
export function recordEvent(parts: ProfileParts, cardToken: string, x: ProfileEvent, limits: ProfileLimits): void {
  const p = parts.profile;
  let card = p.cards.indexOf(cardToken);
  if (card < 0) {
    card = p.cards.length;
    p.cards.push(cardToken);
  }
  const { t } = x;
  const entry: EventEntry = [t, x.amount, x.merchant, x.country, x.lat, x.lon, card];
  // In-order arrival is the common case: append; otherwise insert after every event ≤ t.
  if (p.ev.length === 0 || p.ev[p.ev.length - 1]![0] <= t) p.ev.push(entry);
  else p.ev.splice(upperBound(p.ev, t, (e) => e[0]), 0, entry);

  const dayStart = floorTo(t, DAY_MS);
  const archive = parts.archive;
  // A late transaction of an archived day updates the archive (every archived day is older than every day in the profile).
  const inArchive = archive !== undefined && archive.length > 0 && dayStart <= archive[archive.length - 1]!.start;
  if (inArchive) parts.archiveChanged = true;
  const day = bucketAt(inArchive ? archive : p.days, dayStart, () => ({ ...newAggregate(), start: dayStart, cards: [] }));
  addToAggregate(day, t, x.amount, isLocated(entry) ? [t, entry[4], entry[5]] : null);
  const dc = cardEntry(day.cards, card);
  if (dc === undefined) day.cards.push([card, t, 1, x.amount, x.amount, x.amount, 0]);
  else {
    dc[1] = Math.max(dc[1], t);
    // Welford's update, as addValue (stats.ts) does for the account, without allocating.
    const n = (dc[2] ?? 0) + 1;
    const mean = dc[5] ?? 0;
    const delta = x.amount - mean;
    const nextMean = mean + delta / n;
    dc[2] = n;
    dc[3] = (dc[3] ?? 0) + x.amount;
    dc[4] = Math.max(dc[4] ?? x.amount, x.amount);
    dc[5] = nextMean;
    dc[6] = (dc[6] ?? 0) + delta * (x.amount - nextMean);
  }
  if (limits.daySets === true) {
    addCapped((day.mer ??= []), x.merchant, limits.maxDistinctPerBucket);
    addCapped((day.cty ??= []), x.country, limits.maxDistinctPerBucket);
  }

  p.newest = Math.max(p.newest, t);
  trim(parts, limits);
}

/** The parts as read from the store: a fresh profile for an account without one. */
export const profileParts = (profile: Profile | undefined, archive: ProfileArchive | undefined): ProfileParts => ({
  profile: profile ?? emptyProfile(),
  archive: archive?.archive,
  archiveChanged: false,
});

function trim(parts: ProfileParts, limits: ProfileLimits): void {
  const p = parts.profile;
  const evFrom = p.newest - limits.horizonMs;
  let drop = 0;
  while (drop < p.ev.length && p.ev[drop]![0] <= evFrom) drop++;
  let changed = drop > 0;
  if (drop > 0) p.ev.splice(0, drop);
  // Past the cap the oldest events are folded per hour, not lost.
  if (p.ev.length > limits.maxEvents) {
    const over = p.ev.splice(0, p.ev.length - limits.maxEvents);
    for (const e of over) fold(p.hours, e, limits.maxDistinctPerBucket);
  }
  const hoursKept = p.hours.filter((h) => h.start + HOUR_MS > evFrom);
  if (hoursKept.length !== p.hours.length) {
    p.hours = hoursKept;
    changed = true;
  }
  const dayFrom = floorTo(p.newest - limits.dayHorizonMs, DAY_MS);
  if (p.days.length > 0 && p.days[0]!.start < dayFrom) {
    p.days = p.days.filter((d) => d.start >= dayFrom);
    changed = true;
  }
  // Days before yesterday leave the profile in batches (see the archive above).
  const closedFrom = floorTo(p.newest, DAY_MS) - DAY_MS;
  let closed = 0;
  while (closed < p.days.length && p.days[closed]!.start < closedFrom) closed++;
  let archive = parts.archive;
  const batch = limits.archiveBatchDays ?? 7;
  if (closed > batch) {
    archive = parts.archive ??= [];
    for (const d of p.days.splice(0, closed)) archive.push(d);
    parts.archiveChanged = true;
  }
  // Trimmed when rewritten anyway, or once a whole batch of it is out of reach.
  if (archive !== undefined && archive.length > 0 && archive[0]!.start < dayFrom && (parts.archiveChanged || archive[0]!.start < dayFrom - batch * DAY_MS)) {
    let drop = 0;
    while (drop < archive.length && archive[drop]!.start < dayFrom) drop++;
    archive.splice(0, drop);
    parts.archiveChanged = true;
    changed = true;
  }
  if (archive !== undefined && archive.length > 0) p.archived = true;
  else delete p.archived;
  if (changed && compactCards(p, archive ?? [])) parts.archiveChanged ||= archive !== undefined && archive.length > 0;
}

/**
 * Drops card tokens nothing refers to any more (a card re-issued under a new token, say). Returns
 * whether card indices moved (the archive's entries then changed too).
 */
function compactCards(p: Profile, archive: readonly DayBucket[]): boolean {
  const used = new Set<number>();
  for (const e of p.ev) used.add(e[6]);
  for (const h of p.hours) for (const c of h.cards) used.add(c[0]);
  for (const d of p.days) for (const c of d.cards) used.add(c[0]);
  for (const d of archive) for (const c of d.cards) used.add(c[0]);
  if (used.size === p.cards.length) return false;
  const remap = new Map<number, number>();
  const cards: string[] = [];
  p.cards.forEach((token, i) => {
    if (used.has(i)) {
      remap.set(i, cards.length);
      cards.push(token);
    }
  });
  p.cards = cards;
  for (const e of p.ev) e[6] = remap.get(e[6])!;
  for (const h of p.hours) for (const c of h.cards) c[0] = remap.get(c[0])!;
  for (const d of p.days) for (const c of d.cards) c[0] = remap.get(c[0])!;
  for (const d of archive) for (const c of d.cards) c[0] = remap.get(c[0])!;
  return true;
}

