/**
 * Jaro–Winkler similarity (Winkler 1990), written here rather than taken from npm: the TypeScript
 * package of the field we tried (@skyra/jaro-winkler 1.1.1) lets the common prefix run to 5
 * characters instead of Winkler's cap of 4, so every pair sharing four leading letters scores too
 * high (SHACKLEFORD/SHACKELFORD 0.985 instead of the published 0.982). A score a compliance team
 * quotes must be the textbook one: test/unit/screening/jaroWinkler.test.ts checks Winkler's table.
 *
 * Jaro: m matching characters (equal and no further apart than ⌊max(|a|,|b|)/2⌋ − 1), t half the
 * matched characters that are out of order; jaro = (m/|a| + m/|b| + (m − t)/m) / 3.
 * Winkler: jw = jaro + ℓ · 0.1 · (1 − jaro), ℓ the common prefix length, at most 4.
 */
// Reused between calls (screening compares many short tokens; two allocations per pair showed up
// as most of the time). Grown when a longer string comes.
let matchedA = new Uint8Array(64);
let matchedB = new Uint8Array(64);

export function jaro(a: string, b: string): number {
  if (a === b) return 1;
  const la = a.length;
  const lb = b.length;
  if (la === 0 || lb === 0) return 0;
  const window = Math.max(0, Math.floor(Math.max(la, lb) / 2) - 1);
  if (la > matchedA.length) matchedA = new Uint8Array(la * 2);
  if (lb > matchedB.length) matchedB = new Uint8Array(lb * 2);
  matchedA.fill(0, 0, la);
  matchedB.fill(0, 0, lb);
  let m = 0;
  for (let i = 0; i < la; i++) {
    const from = Math.max(0, i - window);
    const to = Math.min(lb - 1, i + window);
    for (let j = from; j <= to; j++) {
      if (matchedB[j] || a.charCodeAt(i) !== b.charCodeAt(j)) continue;
      matchedA[i] = 1;
      matchedB[j] = 1;
      m++;
      break;
    }
  }
  if (m === 0) return 0;
  let outOfOrder = 0;
  for (let i = 0, j = 0; i < la; i++) {
    if (!matchedA[i]) continue;
    while (!matchedB[j]) j++;
    if (a.charCodeAt(i) !== b.charCodeAt(j)) outOfOrder++;
    j++;
  }
  const t = outOfOrder / 2;
  return (m / la + m / lb + (m - t) / m) / 3;
}

export const WINKLER_PREFIX_SCALE = 0.1;
export const WINKLER_MAX_PREFIX = 4;

export function jaroWinkler(a: string, b: string): number {
  const j = jaro(a, b);
  let prefix = 0;
  const limit = Math.min(WINKLER_MAX_PREFIX, a.length, b.length);
  while (prefix < limit && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++;
  return j + prefix * WINKLER_PREFIX_SCALE * (1 - j);
}
