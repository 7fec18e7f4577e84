/**
 * Name normalisation: the same steps for a customer's name and for every list name, so that two
 * spellings of one name become the same tokens before any fuzzy comparison.
 *
 *  1. NFKD, then drop combining marks: "Müller" → "Muller", "Đorđević" keeps its base letters.
 *  2. Transliteration of what is left outside ASCII with any-ascii (per-character tables for every
 *     Unicode script: Cyrillic "Путин" → "Putin", Greek, Arabic "محمد" → "mhmd" — Arabic and Hebrew
 *     are written without short vowels, so their transliteration is a consonant skeleton; see
 *     docs/screening.md for what that costs).
 *  3. Lower case; apostrophes vanish ("O'Brien" → "obrien"), any other non-alphanumeric is a token
 *     break ("Al-Baghdadi" → "al baghdadi").
 *  4. Stop words go: honorifics and titles (mr, dr, sheikh, …) and legal forms (ltd, llc, gmbh, …),
 *     which say nothing about who someone is and would otherwise make unrelated names look alike.
 *  5. The Arabic article (al, el, ul, …) is glued to the next token: "al baghdadi" and "albaghdadi"
 *     are the same name written two ways.
 *
 * OFAC writes individuals as "SURNAME, Given Names": token comparison is order-free (matcher.ts),
 * so the comma needs no special handling.
 */
import anyAscii from 'any-ascii';

export const HONORIFICS = [
  'mr', 'mrs', 'ms', 'miss', 'mx', 'dr', 'prof', 'sir', 'dame', 'lord', 'lady', 'rev', 'hon', 'jr', 'sr',
  'sheikh', 'shaykh', 'sheik', 'haji', 'hajji', 'mullah', 'maulana', 'imam', 'general', 'gen', 'colonel', 'col',
  'herr', 'frau', 'monsieur', 'mme', 'senor', 'sra', 'gospodin',
] as const;

export const LEGAL_FORMS = [
  'ltd', 'limited', 'llc', 'llp', 'lp', 'plc', 'inc', 'incorporated', 'corp', 'corporation', 'co', 'company',
  'gmbh', 'ag', 'kg', 'sa', 'sas', 'sarl', 'srl', 'spa', 'bv', 'nv', 'oy', 'ab', 'as', 'aps',
  'ooo', 'zao', 'oao', 'pao', 'jsc', 'ojsc', 'cjsc', 'fze', 'fzco', 'pte', 'pty', 'bhd', 'sdn', 'the',
] as const;

/** Arabic article forms that are glued to the token after them. */
export const PARTICLES = ['al', 'el', 'ul', 'ad', 'ar', 'as', 'ash', 'at', 'az'] as const;

const STOP = new Set<string>([...HONORIFICS, ...LEGAL_FORMS]);
const PARTICLE = new Set<string>(PARTICLES);

/** Step 1–3 only: a lower-case ASCII string with single spaces. */
export function foldName(raw: string): string {
  const decomposed = raw.normalize('NFKD').replace(/\p{M}+/gu, '');
  return anyAscii(decomposed)
    .toLowerCase()
    .replace(/['’`´]/g, '')
    .replace(/[^a-z0-9]+/g, ' ')
    .trim();
}

/** The name's tokens after every step; empty when nothing is left (a name of titles only). */
export function nameTokens(raw: string): string[] {
  const words = foldName(raw).split(' ').filter((w) => w.length > 0 && !STOP.has(w));
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    // "as"/"at" are also English words, but only a particle before another word is glued, and a
    // stop-word "as" (Norwegian legal form) has already gone.
    if (PARTICLE.has(w) && i + 1 < words.length) {
      out.push(w + words[i + 1]!);
      i++;
    } else {
      out.push(w);
    }
  }
  return out;
}
