/**
 * The rules step of the hot path: evaluates every rule of the current rule set against a
 * transaction's features and facts, and records the hits. Rules only record; the decision step
 * applies their actions with the model score (DECLINE > REVIEW > ALLOW, see decide.ts).
 *
 * Missing data: a comparison that reads a missing feature or fact (absent, a non-finite number, an
 * empty string or enrichment's MISSING placeholder) is neither true nor false but UNKNOWN, and a rule fires only when its
 * condition is TRUE. So a missing input never fires a rule, not even through `not`: `not (kyc.status
 * in [VERIFIED])` must not decline every customer during a KYC outage. Combinations follow Kleene's
 * three-valued logic: `all` is FALSE if any part is FALSE, else UNKNOWN if any part is UNKNOWN;
 * `any` is TRUE if any part is TRUE, else UNKNOWN if any part is UNKNOWN; `not UNKNOWN` is UNKNOWN.
 * A rule that wants to act on missing data says so with an explicit flag (kyc.missing == 1).
 * Enrichment writes the placeholder fact value MISSING (and default feature values, with the
 * kyc.missing / device.missing flags) when it has no row: the placeholder fact counts as missing
 * here, and rules over defaulted features check the flag first.
 *
 * Reload without restart: the processor reads `holder.current()` once per record, so a swap or a
 * reload lands between two records, never inside one; every hit carries the version it came from
 * through `ruleSetVersion`.
 */
import type { Logger } from 'pino';
import type { TokenizedTransaction } from '../schemas/types.js';
import type { Processor, ProcessorContext } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { MISSING_FACT } from './enrich.js';
import { type Condition, type RuleSet, type RuleSetOptions, TXN_FACTS, loadRuleSet } from './ruleSet.js';
import type { RiskContext, RuleHit } from './types.js';

/** TRUE, FALSE, or UNKNOWN (null) when an input is missing. */
export type Truth = boolean | null;

export interface RuleInputs {
  feature(name: string): number | undefined;
  fact(name: string): string | undefined;
}

const txnFact: { [K in (typeof TXN_FACTS)[number]]: (txn: TokenizedTransaction) => string } = {
  'txn.channel': (t) => t.channel,
  'txn.mcc': (t) => t.mcc,
  'txn.merchant_country': (t) => t.merchantCountry,
  'txn.currency': (t) => t.currency,
  'txn.bin': (t) => t.bin,
};

/** What a rule can read of a context: its features and facts, plus the TXN_FACTS of its transaction. */
export function ruleInputs(ctx: Pick<RiskContext, 'features' | 'facts' | 'txn'>): RuleInputs {
  return {
    feature: (name) => {
      const v = ctx.features[name];
      return v !== undefined && Number.isFinite(v) ? v : undefined;
    },
    fact: (name) => {
      const fromTxn = txnFact[name as keyof typeof txnFact];
      const v = fromTxn ? fromTxn(ctx.txn) : ctx.facts[name];
      return v === undefined || v === '' || v === MISSING_FACT ? undefined : v;
    },
  };
}

export function evaluateCondition(c: Condition, inputs: RuleInputs): Truth {
  if ('all' in c) {
    let unknown = false;
    for (const part of c.all) {
      const t = evaluateCondition(part, inputs);
      if (t === false) return false;
      if (t === null) unknown = true;
    }
    return unknown ? null : true;
  }
  if ('any' in c) {
    let unknown = false;
    for (const part of c.any) {
      const t = evaluateCondition(part, inputs);
      if (t === true) return true;
      if (t === null) unknown = true;
    }
    return unknown ? null : false;
  }
  if ('not' in c) {
    const t = evaluateCondition(c.not, inputs);
    return t === null ? null : !t;
  }
  if ('feature' in c) {
    const v = inputs.feature(c.feature);
    if (v === undefined) return null;
    switch (c.op) {
      case '>': return v > c.value;
      case '>=': return v >= c.value;
      case '<': return v < c.value;
      case '<=': return v <= c.value;
      case '==': return v === c.value;
      case '!=': return v !== c.value;
    }
  }
  const v = inputs.fact(c.fact);
  if (v === undefined) return null;
  if ('in' in c) return c.in.includes(v);
  const other = inputs.fact(c.otherFact);
  if (other === undefined) return null;
  return c.op === '==' ? v === other : v !== other;
}

/** The rules whose condition is TRUE, in file order. */
export function evaluateRules(ruleSet: RuleSet, inputs: RuleInputs): RuleHit[] {
  const hits: RuleHit[] = [];
  for (const rule of ruleSet.rules) {
    if (evaluateCondition(rule.when, inputs) === true) hits.push({ ruleId: rule.id, reasonCode: rule.reasonCode, action: rule.action });
  }
  return hits;
}

/** The rule set in force, swappable while the application runs. One holder is shared by all tasks. */
export class RuleSetHolder {
  private ruleSet: RuleSet;

  constructor(initial: RuleSet, private readonly logger?: Logger) {
    this.ruleSet = initial;
  }

  static async fromFile(path: string, options: RuleSetOptions = {}, logger?: Logger): Promise<RuleSetHolder> {
    return new RuleSetHolder(await loadRuleSet(path, options), logger);
  }

  current(): RuleSet {
    return this.ruleSet;
  }

  /** Puts `next` in force from the next record on; returns the rule set it replaced. */
  swap(next: RuleSet): RuleSet {
    const previous = this.ruleSet;
    this.ruleSet = next;
    this.logger?.info({ ruleSetVersion: next.version, previousVersion: previous.version, rules: next.rules.length }, 'rule set swapped');
    return previous;
  }

  /**
   * Loads, validates and swaps in a rule file. An invalid file throws RuleSetError (naming the
   * rule) and the current rule set stays in force.
   */
  async load(path: string, options: RuleSetOptions = {}): Promise<RuleSet> {
    let next: RuleSet;
    try {
      next = await loadRuleSet(path, options);
    } catch (error) {
      this.logger?.error({ err: error, ruleSetVersion: this.ruleSet.version }, 'rule set refused; the current one stays in force');
      throw error;
    }
    this.swap(next);
    return next;
  }
}

/** Processor: appends the rule hits and their reason codes to the context and sets ruleSetVersion. */
export class RulesProcessor implements Processor<string, RiskContext, string, RiskContext> {
  private ctx!: ProcessorContext<string, RiskContext>;

  constructor(private readonly holder: RuleSetHolder) {}

  init(context: ProcessorContext<string, RiskContext>): void {
    this.ctx = context;
  }

  process(record: Record<string, RiskContext>): void {
    const risk = record.value;
    if (risk === null) {
      this.ctx.recordDropped('null-value');
      return;
    }
    const ruleSet = this.holder.current();
    const hits = evaluateRules(ruleSet, ruleInputs(risk));
    this.ctx.forward({
      ...record,
      value: {
        ...risk,
        ruleHits: [...risk.ruleHits, ...hits],
        reasonCodes: [...risk.reasonCodes, ...hits.map((h) => h.reasonCode)],
        ruleSetVersion: ruleSet.version,
      },
    });
  }
}
