/**
 * What counts as a card number inside the fields of a valid transaction: a run of 13 to 19 digits
 * that passes the Luhn check, written contiguously or in the groups humans type (3 to 6 digits
 * joined by single spaces or dashes, as schemas/redactPan.ts finds them). Anything else — a UUID,
 * a 12-digit order number, a 20-digit reference, a mistyped card number — is left as the producer
 * sent it, because ids must come back unchanged for callers to match their decisions.
 *
 * The cost of precision: a 13–19-digit run that is not a card number still passes Luhn one time in
 * ten. Such a run in a transaction id makes the transaction a dead letter
 * (TRANSACTION_ID_CONTAINS_PAN, see ingress.ts); docs/producers.md tells producers not to use bare
 * 13–19-digit numbers as ids.
 *
 * Dead letters and forwarded headers keep the stricter byte-level masking of schemas/redactPan.ts
 * (every 12+ digit run, no Luhn check): nothing is matched against them, so over-masking is free.
 */
import { luhnValid } from './validation.js';

const MIN_PAN = 13;
const MAX_PAN = 19;
const MIN_GROUP = 3;
const MAX_GROUP = 6;
const KEEP_HEAD = 6;
const KEEP_TAIL = 4;

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/**
 * Whether `text` has fewer digits than the shortest card number: then it holds none. Most fields
 * of a transaction (names, country and category codes, IPs, short ids) are decided here without
 * the scan's arrays and closures, which were ~2 % of the hot path's CPU in the profile.
 */
function tooFewDigits(text: string): boolean {
  let digits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57 && ++digits >= MIN_PAN) return false;
  }
  return true;
}

/** Character positions of each card number in `text` (contiguous runs first, then typed groups). */
export function panPositions(text: string): number[][] {
  if (tooFewDigits(text)) return [];
  const found: number[][] = [];
  const taken = new Set<number>();
  const consider = (positions: number[]): void => {
    if (positions.length < MIN_PAN || positions.length > MAX_PAN) return;
    if (!luhnValid(positions.map((p) => text[p]).join(''))) return;
    found.push(positions);
    for (const p of positions) taken.add(p);
  };
  // Maximal contiguous runs: a PAN glued to more digits makes a run longer than 19, which is not a
  // card number (the digits around it would be part of it).
  for (let i = 0; i < text.length; ) {
    if (!isDigit(text[i])) {
      i++;
      continue;
    }
    const run: number[] = [];
    for (let j = i; isDigit(text[j]); j++) run.push(j);
    consider(run);
    i = run[run.length - 1]! + 1;
  }
  // Grouped: consecutive groups of 3–6 digits joined by one space or dash.
  let window: number[] = [];
  const flush = (): void => {
    if (!window.some((p) => taken.has(p))) consider(window);
    window = [];
  };
  for (let i = 0; i < text.length; ) {
    if (!isDigit(text[i])) {
      i++;
      continue;
    }
    const group: number[] = [];
    for (let j = i; isDigit(text[j]); j++) group.push(j);
    const end = group[group.length - 1]! + 1;
    if (group.length >= MIN_GROUP && group.length <= MAX_GROUP) window.push(...group);
    else flush();
    const joined = (text[end] === ' ' || text[end] === '-') && isDigit(text[end + 1]);
    if (!joined) flush();
    i = end;
  }
  flush();
  return found;
}

export function containsPan(text: string): boolean {
  return panPositions(text).length > 0;
}

/** `text` with each card number reduced to its first 6 and last 4 digits (the rest '*'), length kept. */
export function maskCardNumbers(text: string): string {
  const found = panPositions(text);
  if (found.length === 0) return text;
  const chars = text.split(''); // UTF-16 code units, as the positions are
  for (const positions of found) for (let k = KEEP_HEAD; k < positions.length - KEEP_TAIL; k++) chars[positions[k]!] = '*';
  return chars.join('');
}
