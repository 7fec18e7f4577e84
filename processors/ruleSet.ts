/**
 * The rule set: one versioned JSON file (rules/ruleset.json) of declarative rules over a
 * transaction's features (numbers) and facts (strings), validated when it is loaded.
 *
 * A rule file is operational configuration that risk analysts change without a deploy, so a bad
 * file must be refused whole, with an error that names the rule and the place in its condition, and
 * the rules already running keep running (see RuleSetHolder in rules.ts).
 *
 * Condition language (JSON):
 *   { "feature": "card.count_1m", "op": ">=", "value": 5 }          op: > >= < <= == !=
 *   { "fact": "kyc.status", "in": ["REJECTED", "SUSPENDED"] }
 *   { "fact": "txn.merchant_country", "op": "!=", "otherFact": "kyc.country" }
 *   { "all": [c, ...] }   { "any": [c, ...] }   { "not": c }
 *
 * Facts are the context's facts (from enrichment, e.g. kyc.status) plus a few attributes of the
 * tokenised transaction itself, under TXN_FACTS. None of them is personal data.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { RuleAction } from './types.js';

export type FeatureOp = '>' | '>=' | '<' | '<=' | '==' | '!=';

export type Condition =
  | { readonly feature: string; readonly op: FeatureOp; readonly value: number }
  | { readonly fact: string; readonly in: readonly string[] }
  | { readonly fact: string; readonly op: '==' | '!='; readonly otherFact: string }
  | { readonly all: readonly Condition[] }
  | { readonly any: readonly Condition[] }
  | { readonly not: Condition };

export interface Rule {
  readonly id: string;
  readonly description: string;
  readonly when: Condition;
  readonly action: RuleAction;
  readonly reasonCode: string;
}

export interface RuleSet {
  readonly version: string;
  readonly rules: readonly Rule[];
}

/**
 * Transaction attributes a rule may read as facts, with how they are taken from the tokenised
 * transaction (rules.ts). Listed here so that the loader can check names against them.
 */
export const TXN_FACTS = ['txn.channel', 'txn.mcc', 'txn.merchant_country', 'txn.currency', 'txn.bin'] as const;

export class RuleSetError extends Error {
  override readonly name = 'RuleSetError';
}

export interface RuleSetOptions {
  /**
   * Feature names the hot path produces. When given, a rule naming any other feature is refused:
   * a typo would otherwise make the rule silently never fire (a missing feature never fires).
   */
  knownFeatures?: Iterable<string>;
  /** Fact names enrichment produces; TXN_FACTS are always known. Same purpose as knownFeatures. */
  knownFacts?: Iterable<string>;
}

const name = z.string().min(1).max(100).regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/i, 'must be a dotted name like card.count_1m');

const FeatureComparison = z.strictObject({
  feature: name,
  op: z.enum(['>', '>=', '<', '<=', '==', '!=']),
  value: z.number().finite(),
});
const FactMembership = z.strictObject({
  fact: name,
  in: z.array(z.string().min(1)).min(1),
});
const FactComparison = z.strictObject({
  fact: name,
  op: z.enum(['==', '!=']),
  otherFact: name,
});
const Combination = (key: 'all' | 'any') => z.strictObject({ [key]: z.array(z.unknown()).min(1) });
const Negation = z.strictObject({ not: z.unknown() });

const RuleShape = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,79}$/, 'must be lower-case letters, digits, ".", "_" or "-" (at most 80)'),
  description: z.string().min(1),
  when: z.unknown(),
  action: z.enum(['DECLINE', 'REVIEW', 'CHALLENGE', 'ALLOW']),
  reasonCode: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'must be UPPER_SNAKE_CASE (at most 64)'),
});

const FileShape = z.strictObject({
  version: z.string().regex(/^\d{4}-\d{2}-\d{2}\.\d+$/, 'must look like 2026-11-25.1 (date of the change, then a counter)'),
  rules: z.array(z.unknown()),
});

function describeIssues(error: z.ZodError, at: string): string {
  return error.issues
    .map((issue) => {
      const where = [at, ...issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))].join('').replace(/^\./, '');
      return `${where || '(top)'}: ${issue.message}`;
    })
    .join('; ');
}

interface Names {
  features: Set<string> | null;
  facts: Set<string> | null;
}

/**
 * Picks the condition's variant by its keys rather than trying each in turn: a union would answer
 * a typo with "no variant matched" and every variant's complaints; this names the one field wrong.
 */
function parseCondition(raw: unknown, at: string, names: Names): Condition {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RuleSetError(`${at}: a condition must be an object`);
  const parse = <T>(schema: z.ZodType<T>): T => {
    const result = schema.safeParse(raw);
    if (!result.success) throw new RuleSetError(describeIssues(result.error, at));
    return result.data;
  };
  const checkFeature = (feature: string): void => {
    if (names.features && !names.features.has(feature)) throw new RuleSetError(`${at}: unknown feature "${feature}"`);
  };
  const checkFact = (fact: string): void => {
    if (names.facts && !names.facts.has(fact)) throw new RuleSetError(`${at}: unknown fact "${fact}"`);
  };
  if ('all' in raw || 'any' in raw) {
    const key = 'all' in raw ? 'all' : 'any';
    const parsed = parse(Combination(key)) as { [k: string]: unknown[] };
    const children = parsed[key]!.map((child, i) => parseCondition(child, `${at}.${key}[${i}]`, names));
    return key === 'all' ? { all: children } : { any: children };
  }
  if ('not' in raw) return { not: parseCondition(parse(Negation).not, `${at}.not`, names) };
  if ('feature' in raw) {
    const c = parse(FeatureComparison);
    checkFeature(c.feature);
    return c;
  }
  if ('fact' in raw && 'in' in raw) {
    const c = parse(FactMembership);
    checkFact(c.fact);
    return c;
  }
  if ('fact' in raw) {
    const c = parse(FactComparison);
    checkFact(c.fact);
    checkFact(c.otherFact);
    return c;
  }
  throw new RuleSetError(`${at}: not a condition (expected one of feature, fact, all, any, not; got keys ${Object.keys(raw).join(', ') || 'none'})`);
}

/** Validates parsed JSON as a rule set; throws RuleSetError naming the rule at fault. */
export function parseRuleSet(raw: unknown, options: RuleSetOptions = {}, source = 'rule set'): RuleSet {
  const file = FileShape.safeParse(raw);
  if (!file.success) throw new RuleSetError(`${source}: ${describeIssues(file.error, '')}`);
  const names: Names = {
    features: options.knownFeatures ? new Set(options.knownFeatures) : null,
    facts: options.knownFacts ? new Set([...options.knownFacts, ...TXN_FACTS]) : null,
  };
  const ids = new Set<string>();
  const rules = file.data.rules.map((rawRule, index) => {
    const label = typeof rawRule === 'object' && rawRule !== null && 'id' in rawRule ? `rule #${index} "${String(rawRule.id)}"` : `rule #${index}`;
    try {
      const shape = RuleShape.safeParse(rawRule);
      if (!shape.success) throw new RuleSetError(describeIssues(shape.error, ''));
      if (ids.has(shape.data.id)) throw new RuleSetError(`duplicate id "${shape.data.id}"`);
      ids.add(shape.data.id);
      const rule: Rule = { ...shape.data, when: parseCondition(shape.data.when, 'when', names) };
      return rule;
    } catch (error) {
      if (error instanceof RuleSetError) throw new RuleSetError(`${source}: ${label}: ${error.message}`);
      throw error;
    }
  });
  return deepFreeze({ version: file.data.version, rules });
}

/** Reads and validates a rule file. */
export async function loadRuleSet(path: string, options: RuleSetOptions = {}): Promise<RuleSet> {
  const text = await readFile(path, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new RuleSetError(`${path}: not valid JSON: ${(error as Error).message}`);
  }
  return parseRuleSet(json, options, path);
}

/** A rule set is shared by every task between swaps; freezing it keeps one task from changing another's rules. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
