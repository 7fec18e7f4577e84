/**
 * The fuzzy name matcher, built so that a compliance analyst can recompute any score by hand.
 *
 * For a customer name Q and one list name C (primary name or alias), both normalised into tokens
 * (normalize.ts):
 *
 *  1. Token pairs. Every Q token is compared with every C token: equal → 1 ("exact"); one of them a
 *     single letter that starts the other → 0.9 ("initial"); otherwise Jaro–Winkler, kept when at
 *     least TOKEN_FLOOR ("jaro-winkler"), else the pair does not count. Pairs are taken greedily,
 *     best first, each token used once: word order does not matter (token sort), and surplus
 *     tokens on either side just stay unmatched (token set).
 *     Two adjacent tokens of one side may also be glued to match one token of the other
 *     ("abdul"+"rahman" ↔ "abdulrahman"); such a pair covers two tokens on that side.
 *  2. Token score = ½ · (covQ + covC) / (|Q| + |C|) + ½ · max(covQ / |Q|, covC / |C|), where covQ
 *     is the sum over taken pairs of similarity × customer tokens covered (covC the same for the
 *     list side). The first half is how much of both names matched (a missing middle name costs
 *     a little), the second how much of the better-covered name matched (so it costs not too
 *     much). When one side has a single token and the other more, the second half is replaced by
 *     the first: a bare "Smith" must not match every Smith on the list.
 *  3. Joined score, only when the token counts differ: Jaro–Winkler of the tokens glued together
 *     (in order, and sorted), for names written as one word on one side ("Abdulrahman" / "Abdul Rahman", CJK names that
 *     transliterate without spaces), used only when the glued lengths are within 20 %.
 *  4. Score = max(token score, joined score), over the entry's names; a hit when ≥ the threshold.
 *
 * Blocking: list tokens are indexed by their Double Metaphone codes and by their first three
 * letters; a customer name is compared only with entries that share a key with one of its tokens
 * (or the key of its glued form). A typo that changes every token's sound and start is the miss
 * this buys; docs/screening.md gives the measured speed-up.
 */
import { doubleMetaphone } from 'double-metaphone';
import { jaroWinkler } from './jaroWinkler.js';
import { type ListEntry, entryNames } from './lists.js';
import { nameTokens } from './normalize.js';

/** Below this a token pair is not a match at all (JW of unrelated short words is often ~0.6–0.7). */
export const TOKEN_FLOOR = 0.85;
export const INITIAL_SIMILARITY = 0.9;
/** Two tokens whose lengths differ more than this are not spellings of one word. */
export const MIN_LENGTH_RATIO = 0.75;
/** Default hit threshold; docs/screening.md says why (measured on test/unit/screening/variants.csv). */
export const DEFAULT_THRESHOLD = 0.85;

export type PairKind = 'exact' | 'initial' | 'jaro-winkler';

export interface TokenPair {
  /** Position of the token in the customer's normalised name (the token itself is personal data). */
  queryIndex: number;
  /** The list token (public). */
  listToken: string;
  similarity: number;
  how: PairKind;
  /** Set when this many adjacent customer tokens were glued to match one list token. */
  queryTokensGlued?: number;
}

export interface MatchExplanation {
  /** The list name (primary or alias) the score is for. */
  listName: string;
  alias: boolean;
  method: 'tokens' | 'joined';
  pairs: TokenPair[];
  unmatchedListTokens: string[];
  unmatchedQueryTokens: number;
  queryTokenCount: number;
  /** The score's arithmetic, e.g. "tokens: ½·((1.95+1.95)/(2+3)) + ½·max(1.95/2, 1.95/3) = 0.878". */
  formula: string;
}

export interface Match {
  entry: ListEntry;
  score: number;
  explanation: MatchExplanation;
}

interface IndexedName {
  entryIndex: number;
  name: string;
  alias: boolean;
  tokens: string[];
  joined: string;
  sortedJoined: string;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function keysOf(token: string): string[] {
  const [a, b] = doubleMetaphone(token);
  const keys = [`p:${token.slice(0, 3)}`];
  if (a) keys.push(`m:${a}`);
  if (b && b !== a) keys.push(`m:${b}`);
  return keys;
}

function pairSimilarity(q: string, c: string, glued: boolean): { s: number; how: PairKind } | null {
  if (q === c) return { s: 1, how: 'exact' };
  if (glued && (q.length === 1 || c.length === 1)) return null;
  if ((q.length === 1 && c.startsWith(q)) || (c.length === 1 && q.startsWith(c))) return { s: INITIAL_SIMILARITY, how: 'initial' };
  if (q.length === 1 || c.length === 1) return null;
  // Jaro-Winkler rewards a shared start, so a name inside a longer one ("Volkov" / "Volkovsky",
  // "Wei" / "Weiming") scores ~0.9: different names, refused by length.
  if (Math.min(q.length, c.length) / Math.max(q.length, c.length) < MIN_LENGTH_RATIO) return null;
  const s = jaroWinkler(q, c);
  return s >= TOKEN_FLOOR ? { s, how: 'jaro-winkler' } : null;
}

interface Candidate {
  /** Query token positions covered (one, or two adjacent ones glued). */
  qs: number[];
  /** List token positions covered. */
  cs: number[];
  s: number;
  how: PairKind;
}

function tokenScore(q: string[], c: IndexedName): { score: number; explanation: MatchExplanation } {
  const candidates: Candidate[] = [];
  const add = (qs: number[], cs: number[], qt: string, ct: string): void => {
    const p = pairSimilarity(qt, ct, qs.length + cs.length > 2);
    if (p) candidates.push({ qs, cs, s: p.s, how: p.how });
  };
  for (let i = 0; i < q.length; i++) {
    for (let j = 0; j < c.tokens.length; j++) {
      add([i], [j], q[i]!, c.tokens[j]!);
      // One name written as two words on one side ("Abdul Rahman" / "Abdulrahman").
      if (i + 1 < q.length) add([i, i + 1], [j], q[i]! + q[i + 1]!, c.tokens[j]!);
      if (j + 1 < c.tokens.length) add([i], [j, j + 1], q[i]!, c.tokens[j]! + c.tokens[j + 1]!);
    }
  }
  // Best first; on a tie the glued pair (it covers more tokens), then by position.
  candidates.sort((x, y) => y.s - x.s || y.qs.length + y.cs.length - (x.qs.length + x.cs.length) || x.qs[0]! - y.qs[0]! || x.cs[0]! - y.cs[0]!);
  const usedQ = new Set<number>();
  const usedC = new Set<number>();
  const pairs: TokenPair[] = [];
  let coveredQ = 0;
  let coveredC = 0;
  for (const p of candidates) {
    if (p.qs.some((i) => usedQ.has(i)) || p.cs.some((j) => usedC.has(j))) continue;
    for (const i of p.qs) usedQ.add(i);
    for (const j of p.cs) usedC.add(j);
    coveredQ += p.s * p.qs.length;
    coveredC += p.s * p.cs.length;
    pairs.push({ queryIndex: p.qs[0]!, listToken: p.cs.map((j) => c.tokens[j]!).join('+'), similarity: round3(p.s), how: p.how, ...(p.qs.length > 1 ? { queryTokensGlued: p.qs.length } : {}) });
  }
  const nq = q.length;
  const nc = c.tokens.length;
  const both = (coveredQ + coveredC) / (nq + nc);
  // A one-token name on one side and more on the other: only the both-sides half counts.
  const subsetAllowed = Math.min(nq, nc) >= 2 || nq === nc;
  const subset = subsetAllowed ? Math.max(coveredQ / nq, coveredC / nc) : both;
  const score = 0.5 * both + 0.5 * subset;
  pairs.sort((a, b) => a.queryIndex - b.queryIndex);
  return {
    score,
    explanation: {
      listName: c.name,
      alias: c.alias,
      method: 'tokens',
      pairs,
      unmatchedListTokens: c.tokens.filter((_, j) => !usedC.has(j)),
      unmatchedQueryTokens: nq - usedQ.size,
      queryTokenCount: nq,
      formula: `tokens: ½·((${round3(coveredQ)}+${round3(coveredC)})/(${nq}+${nc})) + ½·${subsetAllowed ? `max(${round3(coveredQ)}/${nq}, ${round3(coveredC)}/${nc})` : 'the same'} = ${round3(score)}`,
    },
  };
}

function joinedScore(q: string[], c: IndexedName): number {
  const qj = q.join('');
  const qs = [...q].sort().join('');
  // Only for names split differently (same token count: the token score already says it all).
  if (q.length === c.tokens.length) return 0;
  const lengthRatio = Math.min(qj.length, c.joined.length) / Math.max(qj.length, c.joined.length);
  if (lengthRatio < 0.8) return 0;
  return Math.max(jaroWinkler(qj, c.joined), jaroWinkler(qs, c.sortedJoined));
}

/** Who is screened: a person is compared with individuals only, a business with organisations only. */
export type Party = 'PERSON' | 'BUSINESS';

/**
 * The party an entry can be: OFAC "individual" / FollowTheMoney "Person" are persons; vessels and
 * aircraft are never an account holder; everything else (OFAC's unnamed type, Organization,
 * Company, LegalEntity) is a business.
 */
export function entryParty(entry: ListEntry): Party | null {
  if (/^(individual|person)$/i.test(entry.entityType)) return 'PERSON';
  if (/vessel|aircraft|airplane/i.test(entry.entityType)) return null;
  return 'BUSINESS';
}

export interface ScreenOptions {
  /** Default DEFAULT_THRESHOLD. */
  threshold?: number;
  /** Only entries of this party (entryParty); default every entry. */
  party?: Party;
  /** At most this many matches, best first (default 5). */
  limit?: number;
}

export interface ScreeningStats {
  entries: number;
  names: number;
  keys: number;
}

/** An in-memory index of one list version. Build once per version; screening is synchronous. */
export class ScreeningIndex {
  private readonly names: IndexedName[] = [];
  private readonly byKey = new Map<string, number[]>();
  private readonly parties: (Party | null)[];

  constructor(readonly entries: readonly ListEntry[]) {
    this.parties = entries.map(entryParty);
    entries.forEach((entry, entryIndex) => {
      entryNames(entry).forEach((name, k) => {
        const tokens = nameTokens(name);
        if (tokens.length === 0) return;
        const idx = this.names.length;
        this.names.push({ entryIndex, name, alias: k > 0, tokens, joined: tokens.join(''), sortedJoined: [...tokens].sort().join('') });
        for (const key of new Set([...tokens.flatMap(keysOf), ...keysOf(tokens.join(''))])) {
          let list = this.byKey.get(key);
          if (!list) this.byKey.set(key, (list = []));
          list.push(idx);
        }
      });
    });
  }

  stats(): ScreeningStats {
    return { entries: this.entries.length, names: this.names.length, keys: this.byKey.size };
  }

  /** Indexes of the names sharing a blocking key with the query (all of them when `exhaustive`). */
  private candidates(tokens: string[], exhaustive: boolean): Iterable<number> {
    if (exhaustive) return this.names.keys();
    const out = new Set<number>();
    for (const key of new Set([...tokens.flatMap(keysOf), ...keysOf(tokens.join(''))])) for (const i of this.byKey.get(key) ?? []) out.add(i);
    return out;
  }

  /**
   * Matches of `name` at or above the threshold, best entry first, one per entry (its best name).
   * `exhaustive` skips blocking (for measuring what blocking misses).
   */
  screen(name: string, options: ScreenOptions & { exhaustive?: boolean } = {}): Match[] {
    const threshold = options.threshold ?? DEFAULT_THRESHOLD;
    const tokens = nameTokens(name);
    if (tokens.length === 0) return [];
    const best = new Map<number, Match>();
    for (const i of this.candidates(tokens, options.exhaustive ?? false)) {
      const c = this.names[i]!;
      if (options.party !== undefined && this.parties[c.entryIndex] !== options.party) continue;
      const t = tokenScore(tokens, c);
      const j = joinedScore(tokens, c);
      let score = t.score;
      let explanation = t.explanation;
      if (j > t.score) {
        score = j;
        explanation = { ...t.explanation, method: 'joined', formula: `joined: Jaro-Winkler of the glued tokens = ${round3(j)}` };
      }
      if (score < threshold) continue;
      const prev = best.get(c.entryIndex);
      if (!prev || score > prev.score) best.set(c.entryIndex, { entry: this.entries[c.entryIndex]!, score: round3(score), explanation });
    }
    return [...best.values()].sort((a, b) => b.score - a.score || a.entry.id.localeCompare(b.entry.id)).slice(0, options.limit ?? 5);
  }
}
