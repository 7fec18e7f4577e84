/**
 * Feature-set declarations (features/*.json): which windowed aggregates, per entity, the hot path
 * computes, and which ratios it derives from them. Validated with zod when loaded, like the rule
 * set; every error names its path in the file. `compileFeatureSet` turns a declaration into the
 * plans the velocity step (card, account) and the cross-entity step (device, IP, merchant) run,
 * plus the full list of feature names the running set produces (what a model release is checked
 * against, processors/modelRegistry.ts). docs/features.md describes the format field by field.
 *
 * Names are derived, never written by hand (except ratios): `<entity>.<aggregate>_<window>`, e.g.
 * `card.count_30d`, `account.distinct_merchants_24h`, `ip.mean_7d`. The window is spelled as in
 * the file ("24h" and "1d" are different names for the same length: one of them is refused).
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ChallengeFeatures } from '../challenges.js';
import { EnrichmentFeatures } from '../enrich.js';
import { TRAVEL_FEATURE_NAMES } from '../impossibleTravel.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
/** Longest window any feature may have. */
export const MAX_WINDOW_DAYS = 90;
/** Card/account windows up to this length are exact (event by event); longer ones are day-aligned. */
export const EXACT_WINDOW_LIMIT_MS = 7 * DAY_MS;
/** How far back `secs_since_prev` and travel look past the exact events (whole days). */
export const PREVIOUS_SEARCH_DAYS = 30;

const WINDOW_RE = /^([1-9]\d*)(m|h|d)$/;
const UNIT_MS = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;

export function windowMs(spelled: string): number | undefined {
  const m = WINDOW_RE.exec(spelled);
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}

const Window = z.string().superRefine((w, ctx) => {
  const ms = windowMs(w);
  if (ms === undefined) ctx.addIssue({ code: 'custom', message: `window "${w}" must be a positive whole number of m, h or d (e.g. "1m", "24h", "30d")` });
  else if (ms > MAX_WINDOW_DAYS * DAY_MS) ctx.addIssue({ code: 'custom', message: `window "${w}" is longer than ${MAX_WINDOW_DAYS} days` });
});

export const PROFILE_AGGREGATES = ['count', 'sum', 'mean', 'max', 'distinct_merchants', 'distinct_countries'] as const;
export type ProfileAggregate = (typeof PROFILE_AGGREGATES)[number];
/** What the entity-stats buckets hold: counts and sums (mean = sum / count). */
export const ENTITY_AGGREGATES = ['count', 'sum', 'mean'] as const;
export type EntityAggregate = (typeof ENTITY_AGGREGATES)[number];

const windowsList = z.array(Window).min(1);

const ProfileEntity = z
  .object({
    aggregates: z.array(z.object({ of: z.array(z.enum(PROFILE_AGGREGATES)).min(1), windows: windowsList }).strict()).default([]),
    /** `<entity>.secs_since_prev`. */
    secsSincePrev: z.boolean().default(false),
    /**
     * `<entity>.amount_zscore_<window>[_gap<G>d]`: (amount − mean) / sample std of the baseline.
     * Without `gapDays`: the whole days of the window before t's day plus t's day up to t (the
     * original z-score). With `gapDays` G: the window's whole days ending before t's day and the G
     * whole days before it, so the latest 1 + G days (fraud in progress) are not in the baseline.
     */
    amountZscore: z
      .array(z.object({ window: Window, gapDays: z.number().int().min(0).max(7).optional(), minHistory: z.number().int().min(2).optional() }).strict())
      .default([]),
    /** travel.* (impossible travel against the previous located transaction); account only. */
    travel: z.boolean().default(false),
  })
  .strict();

const CrossEntity = z
  .object({
    aggregates: z.array(z.object({ of: z.array(z.enum(ENTITY_AGGREGATES)).min(1), windows: windowsList }).strict()).default([]),
    /** `<entity>.distinct_accounts_<window>` (device, IP; windows up to 24 h, from the hour buckets). */
    distinctAccounts: z.array(Window).default([]),
  })
  .strict();

const MerchantFraud = z
  .object({
    /** count of fraud labels or their rate per transaction. */
    measure: z.enum(['count', 'rate']),
    window: Window,
    /**
     * arrival: labels that ARRIVED in the window (names merchant.fraud_<measure>_<window>);
     * transaction: labels of the transactions made in the window, counted once they arrived
     * (merchant.txn_fraud_<measure>_<window>).
     */
    by: z.enum(['arrival', 'transaction']),
  })
  .strict();

const Ratio = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]*\.[a-z0-9_]+$/, 'must look like <entity>.<name> in lower case'),
    numerator: z.string().min(1),
    denominator: z.string().min(1),
  })
  .strict();

export const FeatureSetDeclaration = z
  .object({
    version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, ".", "_" or "-"'),
    description: z.string().optional(),
    card: ProfileEntity.prefault({}),
    account: ProfileEntity.prefault({}),
    device: CrossEntity.prefault({}),
    ip: CrossEntity.prefault({}),
    merchant: CrossEntity.extend({ fraud: z.array(MerchantFraud).default([]) }).strict().prefault({}),
    /** numerator ÷ denominator, both features of this set (or enrichment ones such as txn.amount_minor); absent when either is absent or the denominator is 0. */
    ratios: z.array(Ratio).default([]),
  })
  .strict();
export type FeatureSetDeclarationInput = z.input<typeof FeatureSetDeclaration>;
export type FeatureSetDeclaration = z.output<typeof FeatureSetDeclaration>;

// ---------------------------------------------------------------------------------------------
// Compiled plans

/** One card/account window: exact (event by event, (t − W, t]) or day-aligned ([day(t) − N d, t]). */
export interface ProfileWindow {
  spelled: string;
  ms: number;
  /** Whole days for a day-aligned window; 0 for an exact one. */
  days: number;
}

export interface ProfileOutput {
  name: string;
  aggregate: ProfileAggregate;
  /** Index into ProfilePlan.exact or ProfilePlan.dayAligned. */
  window: number;
  dayAligned: boolean;
}

export interface ZscoreOutput {
  name: string;
  days: number;
  /** null: the original baseline (days before t's day plus t's day up to t). */
  gapDays: number | null;
  /** null: the velocity config's zscoreMinHistory. */
  minHistory: number | null;
}

export interface EntityProfilePlan {
  outputs: ProfileOutput[];
  secsSincePrev: string | null;
  zscores: ZscoreOutput[];
}

/** What the velocity step computes (card and account share one read of the account's profile). */
export interface ProfilePlan {
  exact: ProfileWindow[];
  dayAligned: ProfileWindow[];
  /** Per exact / day-aligned window: whether merchant and country sets are collected for it. */
  exactDistinct: boolean[];
  dayDistinct: boolean[];
  card: EntityProfilePlan;
  account: EntityProfilePlan;
  travel: boolean;
  /** Longest exact window (the event horizon before grace); at least 24 h. */
  eventHorizonMs: number;
  /** Whole days of day aggregates any feature reads back (before grace). */
  dayHorizonDays: number;
  /** Whether day buckets must keep merchant / country sets (a distinct over a day-aligned window). */
  daySets: boolean;
}

export type EntitySeries = 'minuteBuckets' | 'hourBuckets' | 'dayBuckets';

export interface EntityWindowPlan {
  spelled: string;
  series: EntitySeries;
  size: number;
  width: number;
  count: string | null;
  sum: string | null;
  mean: string | null;
}

export interface CrossEntityKindPlan {
  windows: EntityWindowPlan[];
  distinctAccounts: { name: string; width: number }[];
}

export interface MerchantFraudPlan {
  name: string;
  measure: 'count' | 'rate';
  width: number;
  by: 'arrival' | 'transaction';
}

export interface RatioPlan {
  name: string;
  numerator: string;
  denominator: string;
}

export interface FeatureSet {
  version: string;
  declaration: FeatureSetDeclaration;
  profile: ProfilePlan;
  entities: { device: CrossEntityKindPlan; ip: CrossEntityKindPlan; merchant: CrossEntityKindPlan };
  merchantFraud: MerchantFraudPlan[];
  ratios: RatioPlan[];
  /** Names the velocity step writes (card, account, travel), in declaration order. */
  velocityNames: readonly string[];
  /** Names the cross-entity step writes (device, IP, merchant, ratios), in declaration order. */
  crossEntityNames: readonly string[];
  /** Every feature the running hot path can produce: the declared ones plus FIXED_FEATURE_NAMES (enrichment, challenge history). */
  produced: ReadonlySet<string>;
}

export class FeatureSetError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`feature set ${source} is invalid:\n  ${problems.join('\n  ')}`);
    this.name = 'FeatureSetError';
  }
}

/**
 * Features other hot-path steps always write, whatever the set declares: enrichment (kyc.*, the
 * device table's flags, txn.*) and step-up history (challenge.*). Ratios may use them; a model may
 * need them.
 */
export const FIXED_FEATURE_NAMES: readonly string[] = [...Object.values(EnrichmentFeatures), ...Object.values(ChallengeFeatures)];
const ENRICHMENT_NAMES = FIXED_FEATURE_NAMES;

function pathOf(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(top)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/** Validates and compiles a declaration (parsed JSON). `source` names it in errors (a file path). */
export function compileFeatureSet(input: unknown, source = 'feature set'): FeatureSet {
  const parsed = FeatureSetDeclaration.safeParse(input);
  if (!parsed.success) throw new FeatureSetError(source, parsed.error.issues.map((i) => `${pathOf(i.path)}: ${i.message}`));
  const d = parsed.data;
  const problems: string[] = [];
  const names = new Map<string, string>(); // name → where declared
  const claim = (name: string, where: string): void => {
    const before = names.get(name);
    if (before !== undefined) problems.push(`${where}: feature ${name} is already declared at ${before}`);
    else names.set(name, where);
  };

  // Card and account: one shared list of exact and of day-aligned windows.
  const exact: ProfileWindow[] = [];
  const dayAligned: ProfileWindow[] = [];
  const windowIndex = (spelled: string, where: string): { dayAligned: boolean; index: number } | undefined => {
    const ms = windowMs(spelled)!;
    if (ms <= EXACT_WINDOW_LIMIT_MS) {
      let i = exact.findIndex((w) => w.ms === ms);
      if (i < 0) i = exact.push({ spelled, ms, days: 0 }) - 1;
      return { dayAligned: false, index: i };
    }
    if (ms % DAY_MS !== 0) {
      problems.push(`${where}: window "${spelled}" is longer than 7 days and so day-aligned: it must be whole days (e.g. "30d")`);
      return undefined;
    }
    let i = dayAligned.findIndex((w) => w.ms === ms);
    if (i < 0) i = dayAligned.push({ spelled, ms, days: ms / DAY_MS }) - 1;
    return { dayAligned: true, index: i };
  };
  const exactDistinct: boolean[] = [];
  const dayDistinct: boolean[] = [];
  let zscoreDays = 0;
  const entityPlan = (entity: 'card' | 'account'): EntityProfilePlan => {
    const e = d[entity];
    const outputs: ProfileOutput[] = [];
    e.aggregates.forEach((group, g) => {
      group.windows.forEach((spelled, wi) => {
        const where = `${entity}.aggregates[${g}].windows[${wi}]`;
        const at = windowIndex(spelled, where);
        if (at === undefined) return;
        for (const aggregate of group.of) {
          const name = `${entity}.${aggregate}_${spelled}`;
          claim(name, `${entity}.aggregates[${g}]`);
          outputs.push({ name, aggregate, window: at.index, dayAligned: at.dayAligned });
          if (aggregate.startsWith('distinct_')) {
            if (entity === 'card' && at.dayAligned) {
              problems.push(`${where}: card.${aggregate} over "${spelled}" is not available: day aggregates keep merchant/country sets per account, not per card (use a window up to 7 days, or the account)`);
            }
            (at.dayAligned ? dayDistinct : exactDistinct)[at.index] = true;
          }
        }
      });
    });
    const zscores: ZscoreOutput[] = [];
    e.amountZscore.forEach((z0, i) => {
      const ms = windowMs(z0.window)!;
      if (ms % DAY_MS !== 0) {
        problems.push(`${entity}.amountZscore[${i}].window: "${z0.window}" must be whole days (the baseline is read from day aggregates)`);
        return;
      }
      const days = ms / DAY_MS;
      const gap = z0.gapDays ?? null;
      const name = `${entity}.amount_zscore_${z0.window}${gap === null ? '' : `_gap${gap}d`}`;
      claim(name, `${entity}.amountZscore[${i}]`);
      zscores.push({ name, days, gapDays: gap, minHistory: z0.minHistory ?? null });
      zscoreDays = Math.max(zscoreDays, days + (gap ?? 0));
    });
    const secs = e.secsSincePrev ? `${entity}.secs_since_prev` : null;
    if (secs !== null) claim(secs, `${entity}.secsSincePrev`);
    return { outputs, secsSincePrev: secs, zscores };
  };
  const card = entityPlan('card');
  const account = entityPlan('account');
  if (d.card.travel) problems.push('card.travel: travel is computed per account (set account.travel)');
  if (d.account.travel) for (const n of TRAVEL_FEATURE_NAMES) claim(n, 'account.travel');
  for (let i = 0; i < exact.length; i++) exactDistinct[i] = exactDistinct[i] ?? false;
  for (let i = 0; i < dayAligned.length; i++) dayDistinct[i] = dayDistinct[i] ?? false;
  const needsPrevious = card.secsSincePrev !== null || account.secsSincePrev !== null || d.account.travel;
  const profile: ProfilePlan = {
    exact,
    dayAligned,
    exactDistinct,
    dayDistinct,
    card,
    account,
    travel: d.account.travel,
    eventHorizonMs: Math.max(DAY_MS, ...exact.map((w) => w.ms)),
    dayHorizonDays: Math.max(needsPrevious ? PREVIOUS_SEARCH_DAYS : 1, zscoreDays, ...dayAligned.map((w) => w.days)),
    daySets: dayDistinct.some(Boolean),
  };

  // Device, IP, merchant: windows on the bucket series of entity-stats.
  const kindPlan = (kind: 'device' | 'ip' | 'merchant'): CrossEntityKindPlan => {
    const e = d[kind];
    const windows: EntityWindowPlan[] = [];
    e.aggregates.forEach((group, g) => {
      group.windows.forEach((spelled, wi) => {
        const where = `${kind}.aggregates[${g}].windows[${wi}]`;
        const ms = windowMs(spelled)!;
        const series: EntitySeries = ms <= HOUR_MS ? 'minuteBuckets' : ms <= DAY_MS ? 'hourBuckets' : 'dayBuckets';
        const size = series === 'minuteBuckets' ? MINUTE_MS : series === 'hourBuckets' ? HOUR_MS : DAY_MS;
        if (ms % size !== 0) {
          problems.push(`${where}: window "${spelled}" must be a whole number of ${size === HOUR_MS ? 'hours (windows over 1 h use hour buckets)' : 'days (windows over 24 h use day buckets)'}`);
          return;
        }
        let w = windows.find((x) => x.width === ms);
        if (w === undefined) {
          w = { spelled, series, size, width: ms, count: null, sum: null, mean: null };
          windows.push(w);
        }
        for (const aggregate of group.of) {
          const name = `${kind}.${aggregate}_${spelled}`;
          claim(name, `${kind}.aggregates[${g}]`);
          w[aggregate] = name;
        }
      });
    });
    const distinctAccounts = e.distinctAccounts.map((spelled, i) => {
      const ms = windowMs(spelled)!;
      if (kind === 'merchant') problems.push(`merchant.distinctAccounts[${i}]: merchants do not keep distinct accounts (device and IP do)`);
      if (ms > DAY_MS || ms % HOUR_MS !== 0) problems.push(`${kind}.distinctAccounts[${i}]: window "${spelled}" must be whole hours up to 24 h (hour buckets)`);
      const name = `${kind}.distinct_accounts_${spelled}`;
      claim(name, `${kind}.distinctAccounts[${i}]`);
      return { name, width: ms };
    });
    return { windows, distinctAccounts };
  };
  const entities = { device: kindPlan('device'), ip: kindPlan('ip'), merchant: kindPlan('merchant') };
  const merchantFraud = d.merchant.fraud.map((f, i): MerchantFraudPlan => {
    const ms = windowMs(f.window)!;
    if (ms % DAY_MS !== 0) problems.push(`merchant.fraud[${i}].window: "${f.window}" must be whole days (labels are counted per day)`);
    const name = `merchant.${f.by === 'arrival' ? '' : 'txn_'}fraud_${f.measure}_${f.window}`;
    claim(name, `merchant.fraud[${i}]`);
    return { name, measure: f.measure, width: ms, by: f.by };
  });

  const velocityNames = [...names.keys()].filter((n) => n.startsWith('card.') || n.startsWith('account.') || TRAVEL_FEATURE_NAMES.includes(n));
  const crossBefore = [...names.keys()].filter((n) => !velocityNames.includes(n));
  const ratios: RatioPlan[] = [];
  d.ratios.forEach((r, i) => {
    for (const side of ['numerator', 'denominator'] as const) {
      const operand = r[side];
      if (!names.has(operand) && !ENRICHMENT_NAMES.includes(operand)) {
        problems.push(`ratios[${i}].${side}: "${operand}" is neither a feature declared in this set nor an enrichment feature (${ENRICHMENT_NAMES.filter((n) => n.startsWith('txn.')).join(', ')}, ...)`);
      }
    }
    if (ENRICHMENT_NAMES.includes(r.name)) problems.push(`ratios[${i}].name: ${r.name} is an enrichment feature`);
    claim(r.name, `ratios[${i}]`);
    ratios.push({ name: r.name, numerator: r.numerator, denominator: r.denominator });
  });
  for (const n of names.keys()) if (ENRICHMENT_NAMES.includes(n)) problems.push(`${names.get(n)}: ${n} is an enrichment feature name`);
  if (problems.length > 0) throw new FeatureSetError(source, problems);

  return {
    version: d.version,
    declaration: d,
    profile,
    entities,
    merchantFraud,
    ratios,
    velocityNames: Object.freeze(velocityNames),
    crossEntityNames: Object.freeze([...crossBefore, ...ratios.map((r) => r.name)]),
    produced: new Set([...names.keys(), ...ENRICHMENT_NAMES]),
  };
}

export function parseFeatureSetText(text: string, source: string): FeatureSet {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new FeatureSetError(source, [`not JSON: ${(error as Error).message}`]);
  }
  return compileFeatureSet(json, source);
}

export async function loadFeatureSet(path: string): Promise<FeatureSet> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new FeatureSetError(path, [`cannot read: ${(error as Error).message}`]);
  }
  return parseFeatureSetText(text, path);
}

/** The shipped declaration (features/default.json). */
export const DEFAULT_FEATURE_SET_PATH = fileURLToPath(new URL('../../features/default.json', import.meta.url));

let defaultSet: FeatureSet | undefined;
/** The shipped default set, read once (what processors use when given no set). */
export function defaultFeatureSet(): FeatureSet {
  defaultSet ??= parseFeatureSetText(readFileSync(DEFAULT_FEATURE_SET_PATH, 'utf8'), DEFAULT_FEATURE_SET_PATH);
  return defaultSet;
}
