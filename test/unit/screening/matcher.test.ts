/**
 * The matcher on a labelled sample of name variants (variants.csv, written for this test against
 * the fictional sample lists): precision and recall printed and held above floors, the explanation
 * a compliance analyst reads, and the speed of blocked screening against a 10 000-entry list.
 *
 * Floors (docs/screening.md): recall ≥ 0.95, because a missed sanctions hit is the error a bank is
 * fined for, and the misses we know of are Arabic-script names against Latin-only entries (Arabic
 * transliterates to a consonant skeleton); precision ≥ 0.95, because every false hit is an analyst's
 * time and an account held up. Measured at the default threshold 0.85: P 1.000, R 0.971 (68/70).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { type ListEntry, loadList } from '../../../screening/lists.js';
import { DEFAULT_THRESHOLD, type Party, ScreeningIndex } from '../../../screening/matcher.js';

const SAMPLE = [...loadList('screening/lists/sample-ofac-sdn.csv').entries, ...loadList('screening/lists/sample-opensanctions.csv').entries];
const VARIANTS = parse(readFileSync('test/unit/screening/variants.csv'), { columns: true }) as { query: string; expected: string; category: string; party: Party }[];

function precisionRecall(index: ScreeningIndex, threshold: number) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const misses: string[] = [];
  for (const v of VARIANTS) {
    const matches = index.screen(v.query, { threshold, party: v.party });
    if (v.expected !== '') {
      if (matches.some((m) => m.entry.id === v.expected)) tp++;
      else {
        fn++;
        misses.push(`missed ${v.expected} (${v.category})`);
      }
    }
    for (const m of matches) {
      if (m.entry.id === v.expected) continue;
      fp++;
      misses.push(`false hit ${m.entry.id} ${m.score} (${v.category})`);
    }
  }
  return { tp, fp, fn, precision: tp / (tp + fp), recall: tp / (tp + fn), misses };
}

describe('matcher precision and recall on variants.csv', () => {
  const index = new ScreeningIndex(SAMPLE);

  it('the sample covers every kind of variant the issue names, and hard negatives', () => {
    const categories = new Set(VARIANTS.map((v) => v.category));
    for (const c of ['transliteration', 'reordered', 'typo', 'initials', 'missing-middle', 'hard-negative']) expect(categories).toContain(c);
    expect(VARIANTS.filter((v) => v.expected === '').length).toBeGreaterThanOrEqual(30);
  });

  it(`at the default threshold ${DEFAULT_THRESHOLD}: precision ≥ 0.95 and recall ≥ 0.95`, () => {
    const r = precisionRecall(index, DEFAULT_THRESHOLD);
    console.log(`screening P/R @${DEFAULT_THRESHOLD}: precision ${r.precision.toFixed(3)} recall ${r.recall.toFixed(3)} (tp ${r.tp}, fp ${r.fp}, fn ${r.fn}); ${r.misses.join('; ')}`);
    for (const t of [0.8, 0.9, 0.92]) {
      const o = precisionRecall(index, t);
      console.log(`screening P/R @${t}: precision ${o.precision.toFixed(3)} recall ${o.recall.toFixed(3)}`);
    }
    expect(r.precision).toBeGreaterThanOrEqual(0.95);
    expect(r.recall).toBeGreaterThanOrEqual(0.95);
  });

  it('the threshold is where it matters: 0.80 lets hard negatives through, 0.92 loses real variants', () => {
    expect(precisionRecall(index, 0.8).fp).toBeGreaterThan(0);
    expect(precisionRecall(index, 0.92).recall).toBeLessThan(0.9);
  });
});

describe('explanation', () => {
  const index = new ScreeningIndex(SAMPLE);

  it('says which list name matched, token by token, and the arithmetic — without the customer tokens', () => {
    const [m] = index.screen('Ivan Sergeyevich Petrow', { party: 'PERSON' });
    expect(m!.entry.id).toBe('ofac:90001');
    expect(m!.entry.programs).toEqual(['FICT-RUSSIA', 'FICT-CYBER']);
    expect(m!.explanation).toMatchObject({ listName: 'PETROV, Ivan Sergeyevich', alias: false, method: 'tokens', unmatchedListTokens: [], unmatchedQueryTokens: 0, queryTokenCount: 3 });
    expect(m!.explanation.pairs).toEqual([
      { queryIndex: 0, listToken: 'ivan', similarity: 1, how: 'exact' },
      { queryIndex: 1, listToken: 'sergeyevich', similarity: 1, how: 'exact' },
      { queryIndex: 2, listToken: 'petrov', similarity: 0.933, how: 'jaro-winkler' },
    ]);
    expect(m!.score).toBe(0.978);
    expect(m!.explanation.formula).toBe('tokens: ½·((2.933+2.933)/(3+3)) + ½·max(2.933/3, 2.933/3) = 0.978');
    expect(JSON.stringify(m!.explanation)).not.toMatch(/petrow/i);
  });

  it('glued tokens, initials and aliases are named as such', () => {
    const [glued] = index.screen('Abdul Rahman Al Rashidi');
    expect(glued!.explanation.pairs[0]).toEqual({ queryIndex: 0, listToken: 'abdulrahman', similarity: 1, how: 'exact', queryTokensGlued: 2 });
    const [initials] = index.screen('H. J. Mueller-Schmidt');
    expect(initials!.explanation.pairs.filter((p) => p.how === 'initial').map((p) => p.listToken)).toEqual(['hans', 'juergen']);
    const [alias] = index.screen('Yusuf Hadad');
    expect(alias!.explanation).toMatchObject({ listName: 'HADAD, Yusuf', alias: true });
  });

  it('a person is not screened against companies or vessels, a business not against individuals', () => {
    expect(index.screen('Marina Star', { party: 'BUSINESS' })).toEqual([]);
    expect(index.screen('Marina Star').map((m) => m.entry.id)).toEqual(['ofac:90010']);
    expect(index.screen('Golden Crescent Exchange', { party: 'PERSON' })).toEqual([]);
  });
});

/** A deterministic 10 000-entry list of made-up names (syllable soup), with the sample appended. */
function syntheticList(n: number): ListEntry[] {
  let seed = 20_261_203;
  const rnd = (k: number): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed % k;
  };
  const syl = ('ka ri mo sa len dor vi ta nu bel hor zan pe lu gar mi ros tek an vol ' +
    'bra che dim fa gu hel iz jor kel lam mar nes ok pra qui rud sev tor ul vas wen xa yev zor ' +
    'ab ek ig om ush bar cor dus fen gil hus kan lor mun nik').split(' ');
  const word = (): string => Array.from({ length: 2 + rnd(2) }, () => syl[rnd(syl.length)]).join('');
  const out: ListEntry[] = [];
  for (let i = 0; i < n; i++) {
    const name = `${word()} ${word()} ${rnd(2) ? word() : ''}`.trim();
    out.push({ id: `syn:${i}`, name, aliases: rnd(3) === 0 ? [`${word()} ${word()}`] : [], programs: ['SYN'], kind: 'SANCTION', entityType: 'individual' });
  }
  return out;
}

describe('speed with blocking (10 000 entries)', () => {
  it('screens a name in milliseconds and finds what the exhaustive scan finds for every variant', () => {
    const entries = [...syntheticList(10_000), ...SAMPLE];
    const t0 = performance.now();
    const index = new ScreeningIndex(entries);
    const buildMs = performance.now() - t0;
    const queries = VARIANTS.map((v) => v.query);
    const t2 = performance.now();
    // Every other variant: the exhaustive scan is what blocking saves, and it is slow on purpose.
    const checked = queries.filter((_, i) => i % 2 === 0);
    const exhaustive = checked.map((q) => index.screen(q, { exhaustive: true }).map((m) => [m.entry.id, m.score]));
    const exhaustiveMs = (performance.now() - t2) / checked.length;
    const rounds = 5;
    const t1 = performance.now();
    for (let r = 0; r < rounds; r++) for (const q of queries) index.screen(q);
    const blockedMs = (performance.now() - t1) / (rounds * queries.length);
    console.log(`screening speed: ${index.stats().names} names, ${index.stats().keys} keys, index built in ${buildMs.toFixed(0)} ms; ${blockedMs.toFixed(3)} ms/name blocked, ${exhaustiveMs.toFixed(2)} ms/name exhaustive (×${(exhaustiveMs / blockedMs).toFixed(0)})`);
    checked.forEach((q, i) => expect(index.screen(q).map((m) => [m.entry.id, m.score]), q).toEqual(exhaustive[i]));
    // Generous for a loaded 2-core CI machine (docs/screening.md has the figures measured here).
    expect(blockedMs).toBeLessThan(25);
    expect(exhaustiveMs / blockedMs).toBeGreaterThan(5);
  }, 120_000);
});
