/**
 * The shipped rule file (rules/ruleset.json), rule by rule at its boundaries, the three-valued
 * handling of missing inputs, and the rules processor through the test driver, including a rule set
 * swapped and reloaded between two records.
 */
import { ChallengeFeatures } from '../../../processors/challenges.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CROSS_ENTITY_FEATURE_NAMES } from '../../../processors/crossEntity/features.js';
import { EnrichmentFacts, EnrichmentFeatures } from '../../../processors/enrich.js';
import { RuleSetHolder, RulesProcessor, evaluateCondition, evaluateRules, ruleInputs } from '../../../processors/rules.js';
import { type RuleSet, RuleSetError, loadRuleSet, parseRuleSet } from '../../../processors/ruleSet.js';
import { type RiskContext, newRiskContext } from '../../../processors/types.js';
import { VELOCITY_FEATURE_NAMES } from '../../../processors/velocityFeatures.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { ScreeningFacts, ScreeningFeatures } from '../../../processors/screening/facts.js';
import { Topology } from '../../../topology/topology.js';

const RULE_FILE = path.resolve(import.meta.dirname, '../../../rules/ruleset.json');

/** A customer no rule of the shipped file should fire on: medium tier, verified, nothing unusual. */
function cleanContext(): RiskContext {
  const ctx = newRiskContext({ ...EXAMPLES.TokenizedTransaction, merchantCountry: 'DE' }, 1_000);
  ctx.features = {
    'card.count_1m': 1,
    'card.count_1h': 2,
    'card.sum_1h': 5_000,
    'account.amount_zscore_30d': 0.3,
    'travel.impossible': 0,
    'kyc.sanctioned': 0,
    'kyc.pep': 0,
    'kyc.watchlist_hits': 0,
    'kyc.risk_tier': 1,
    'kyc.account_age_days': 800,
    'device.missing': 0,
    'device.blocked': 0,
    'device.age_days': 40,
    'kyc.missing': 0,
    'txn.amount_minor': 4_200,
    'txn.card_present': 0,
  };
  ctx.facts = { 'kyc.status': 'VERIFIED', 'kyc.country': 'DE' };
  return ctx;
}

function withChanges(changes: { features?: Record<string, number>; facts?: Record<string, string>; merchantCountry?: string }): RiskContext {
  const ctx = cleanContext();
  Object.assign(ctx.features, changes.features ?? {});
  Object.assign(ctx.facts, changes.facts ?? {});
  if (changes.merchantCountry) ctx.txn = { ...ctx.txn, merchantCountry: changes.merchantCountry };
  return ctx;
}

let shipped: RuleSet;
beforeAll(async () => {
  shipped = await loadRuleSet(RULE_FILE);
});

const firing = (ctx: RiskContext): string[] => evaluateRules(shipped, ruleInputs(ctx)).map((h) => h.ruleId);

describe('the shipped rule set', () => {
  it('loads, carries its version, and fires nothing on a clean transaction', () => {
    expect(shipped.version).toBe('2026-12-03.2');
    expect(firing(cleanContext())).toEqual([]);
  });

  type Case = [string, Parameters<typeof withChanges>[0]];
  // Each rule: changes that sit exactly on its boundary (fires) and just beyond it (does not).
  const boundaries: { rule: string; fires: Case[]; quiet: Case[] }[] = [
    { rule: 'sanctions-hit', fires: [['sanctioned', { features: { 'kyc.sanctioned': 1 } }]], quiet: [] },
    {
      rule: 'screening-sanctions-strong',
      fires: [['score 0.95', { features: { 'screening.sanctions_hit': 1, 'screening.sanctions_score': 0.95 } }]],
      quiet: [['no hit (score 0)', { features: { 'screening.sanctions_hit': 0, 'screening.sanctions_score': 0 } }]],
    },
    {
      rule: 'screening-sanctions-possible',
      fires: [['score 0.949', { features: { 'screening.sanctions_hit': 1, 'screening.sanctions_score': 0.949 } }]],
      quiet: [['no hit', { features: { 'screening.sanctions_hit': 0, 'screening.sanctions_score': 0 } }]],
    },
    { rule: 'screening-pep', fires: [['pep hit', { features: { 'screening.pep_hit': 1 } }]], quiet: [['none', { features: { 'screening.pep_hit': 0 } }]] },
    {
      rule: 'kyc-rejected-or-suspended',
      fires: [['rejected', { facts: { 'kyc.status': 'REJECTED' } }], ['suspended', { facts: { 'kyc.status': 'SUSPENDED' } }]],
      quiet: [['expired', { facts: { 'kyc.status': 'EXPIRED' } }]],
    },
    { rule: 'blocked-device', fires: [['blocked', { features: { 'device.blocked': 1 } }]], quiet: [] },
    {
      rule: 'card-testing-burst',
      fires: [['5 in a minute at 10.00', { features: { 'card.count_1m': 5, 'txn.amount_minor': 1_000 } }]],
      quiet: [
        ['4 in a minute', { features: { 'card.count_1m': 4, 'txn.amount_minor': 1_000 } }],
        ['10.01', { features: { 'card.count_1m': 5, 'txn.amount_minor': 1_001 } }],
      ],
    },
    {
      rule: 'velocity-1h',
      fires: [['15 in an hour', { features: { 'card.count_1h': 15 } }], ['5,000.00 in an hour', { features: { 'card.sum_1h': 500_000 } }]],
      quiet: [['14 and 4,999.99', { features: { 'card.count_1h': 14, 'card.sum_1h': 499_999 } }]],
    },
    { rule: 'impossible-travel', fires: [['flag', { features: { 'travel.impossible': 1 } }]], quiet: [] },
    { rule: 'pep', fires: [['pep', { features: { 'kyc.pep': 1 } }]], quiet: [] },
    { rule: 'watchlist-hit', fires: [['one hit', { features: { 'kyc.watchlist_hits': 1 } }]], quiet: [] },
    {
      rule: 'new-device-abroad',
      fires: [['device of 0.99 days, CH vs DE', { features: { 'device.age_days': 0.99 }, merchantCountry: 'CH' }]],
      quiet: [
        ['device of 1 day', { features: { 'device.age_days': 1 }, merchantCountry: 'CH' }],
        ['home country', { features: { 'device.age_days': 0 } }],
        ['card present', { features: { 'device.age_days': 0, 'txn.card_present': 1 }, merchantCountry: 'CH' }],
        // What enrichment writes for an unknown device: the flag, and age 0.
        ['unknown device', { features: { 'device.age_days': 0, 'device.missing': 1 }, merchantCountry: 'CH' }],
        // What it writes without KYC: the flag and the MISSING placeholder as the home country.
        ['no KYC', { features: { 'device.age_days': 0, 'kyc.missing': 1 }, facts: { 'kyc.country': 'MISSING' }, merchantCountry: 'CH' }],
      ],
    },
    {
      rule: 'amount-zscore-high',
      fires: [['z 4 at 500.00', { features: { 'account.amount_zscore_30d': 4, 'txn.amount_minor': 50_000 } }]],
      quiet: [
        ['z 3.99', { features: { 'account.amount_zscore_30d': 3.99, 'txn.amount_minor': 50_000 } }],
        ['499.99', { features: { 'account.amount_zscore_30d': 4, 'txn.amount_minor': 49_999 } }],
      ],
    },
    {
      rule: 'device-many-accounts',
      fires: [['5 accounts in 24 h', { features: { 'device.distinct_accounts_24h': 5 } }]],
      quiet: [['4 accounts', { features: { 'device.distinct_accounts_24h': 4 } }]],
    },
    {
      rule: 'merchant-high-fraud-rate',
      fires: [['10 % card not present', { features: { 'merchant.fraud_rate_90d': 0.1 } }]],
      quiet: [
        ['9.99 %', { features: { 'merchant.fraud_rate_90d': 0.0999 } }],
        ['card present', { features: { 'merchant.fraud_rate_90d': 0.5, 'txn.card_present': 1 } }],
      ],
    },
    {
      rule: 'failed-challenge-24h',
      fires: [['failed 23:59:59 ago', { features: { 'challenge.failed_30d': 1, 'challenge.secs_since_failed': 86_399 } }]],
      quiet: [
        ['failed 24 h ago', { features: { 'challenge.failed_30d': 1, 'challenge.secs_since_failed': 86_400 } }],
        ['no failure (feature absent)', { features: { 'challenge.failed_30d': 0 } }],
      ],
    },
    {
      rule: 'step-up-new-device',
      fires: [['device of 0.99 days, 100.00 online', { features: { 'device.age_days': 0.99, 'txn.amount_minor': 10_000 } }]],
      quiet: [
        ['99.99', { features: { 'device.age_days': 0.99, 'txn.amount_minor': 9_999 } }],
        ['device of 1 day', { features: { 'device.age_days': 1, 'txn.amount_minor': 10_000 } }],
        ['card present', { features: { 'device.age_days': 0, 'txn.amount_minor': 10_000, 'txn.card_present': 1 } }],
        ['unknown device', { features: { 'device.age_days': 0, 'device.missing': 1, 'txn.amount_minor': 10_000 } }],
      ],
    },
    {
      rule: 'step-up-large-cnp',
      fires: [['2,000.00 online', { features: { 'txn.amount_minor': 200_000 } }]],
      quiet: [
        ['1,999.99', { features: { 'txn.amount_minor': 199_999 } }],
        ['card present', { features: { 'txn.amount_minor': 500_000, 'txn.card_present': 1 } }],
      ],
    },
    {
      rule: 'trusted-low-risk-small',
      fires: [['tier 0, 365 days, 25.00', { features: { 'kyc.risk_tier': 0, 'kyc.account_age_days': 365, 'txn.amount_minor': 2_500 } }]],
      quiet: [
        ['364 days', { features: { 'kyc.risk_tier': 0, 'kyc.account_age_days': 364, 'txn.amount_minor': 2_500 } }],
        ['25.01', { features: { 'kyc.risk_tier': 0, 'kyc.account_age_days': 365, 'txn.amount_minor': 2_501 } }],
        ['tier 1', { features: { 'kyc.risk_tier': 1, 'kyc.account_age_days': 365, 'txn.amount_minor': 2_500 } }],
        ['not verified', { features: { 'kyc.risk_tier': 0, 'kyc.account_age_days': 365, 'txn.amount_minor': 2_500 }, facts: { 'kyc.status': 'PENDING' } }],
      ],
    },
  ];

  for (const { rule, fires, quiet } of boundaries) {
    for (const [label, changes] of fires) {
      it(`${rule} fires at its boundary (${label})`, () => expect(firing(withChanges(changes))).toEqual([rule]));
    }
    for (const [label, changes] of quiet) {
      it(`${rule} stays quiet just past it (${label})`, () => expect(firing(withChanges(changes))).toEqual([]));
    }
  }

  it('names only features and facts the hot path produces', async () => {
    const knownFeatures = [...VELOCITY_FEATURE_NAMES, ...Object.values(EnrichmentFeatures), ...CROSS_ENTITY_FEATURE_NAMES, ...Object.values(ChallengeFeatures), ...Object.values(ScreeningFeatures)];
    const knownFacts = [...Object.values(EnrichmentFacts), ...Object.values(ScreeningFacts)];
    await expect(loadRuleSet(RULE_FILE, { knownFeatures, knownFacts })).resolves.toMatchObject({ version: shipped.version });
  });

  it('covers every rule of the file in the boundary table', () => {
    expect(boundaries.map((b) => b.rule).sort()).toEqual(shipped.rules.map((r) => r.id).sort());
  });

  it('reports several hits in file order, with their actions and reason codes', () => {
    const hits = evaluateRules(shipped, ruleInputs(withChanges({ features: { 'kyc.pep': 1, 'device.blocked': 1 } })));
    expect(hits).toEqual([
      { ruleId: 'blocked-device', reasonCode: 'DEVICE_BLOCKED', action: 'DECLINE' },
      { ruleId: 'pep', reasonCode: 'PEP_REVIEW', action: 'REVIEW' },
    ]);
  });

  it('does not fire on missing inputs: an absent KYC row fires neither the KYC rule nor the foreign-device rule', () => {
    const ctx = withChanges({ features: { 'device.age_days': 0 }, merchantCountry: 'CH' });
    delete ctx.facts['kyc.status'];
    delete ctx.facts['kyc.country'];
    delete ctx.features['kyc.sanctioned'];
    expect(firing(ctx)).toEqual([]);
  });
});

describe('three-valued conditions', () => {
  const inputs = ruleInputs({ ...cleanContext(), features: { present: 2, nan: Number.NaN }, facts: { status: 'VERIFIED', empty: '' } });

  it("enrichment's MISSING placeholder is a missing fact", () => {
    const noKyc = ruleInputs({ ...cleanContext(), facts: { 'kyc.status': 'MISSING' } });
    expect(evaluateCondition({ fact: 'kyc.status', in: ['MISSING'] }, noKyc)).toBeNull();
    expect(evaluateCondition({ fact: 'txn.merchant_country', op: '!=', otherFact: 'kyc.status' }, noKyc)).toBeNull();
  });

  it('a comparison over a missing, non-finite or empty input is UNKNOWN, and stays UNKNOWN under not', () => {
    expect(evaluateCondition({ feature: 'absent', op: '>=', value: 0 }, inputs)).toBeNull();
    expect(evaluateCondition({ feature: 'nan', op: '!=', value: 1 }, inputs)).toBeNull();
    expect(evaluateCondition({ fact: 'empty', in: [''] }, inputs)).toBeNull();
    expect(evaluateCondition({ not: { fact: 'absent', in: ['VERIFIED'] } }, inputs)).toBeNull();
    expect(evaluateCondition({ not: { fact: 'status', in: ['VERIFIED'] } }, inputs)).toBe(false);
  });

  it('all is FALSE on any FALSE part, any is TRUE on any TRUE part, whatever is unknown', () => {
    const unknown = { feature: 'absent', op: '>', value: 0 } as const;
    const yes = { feature: 'present', op: '==', value: 2 } as const;
    const no = { feature: 'present', op: '<', value: 2 } as const;
    expect(evaluateCondition({ all: [unknown, no] }, inputs)).toBe(false);
    expect(evaluateCondition({ all: [unknown, yes] }, inputs)).toBeNull();
    expect(evaluateCondition({ all: [yes, yes] }, inputs)).toBe(true);
    expect(evaluateCondition({ any: [unknown, yes] }, inputs)).toBe(true);
    expect(evaluateCondition({ any: [unknown, no] }, inputs)).toBeNull();
    expect(evaluateCondition({ any: [no, no] }, inputs)).toBe(false);
  });

  it('reads the transaction facts from the tokenised transaction', () => {
    const ctx = cleanContext();
    const facts = ruleInputs(ctx);
    expect(facts.fact('txn.merchant_country')).toBe('DE');
    expect(facts.fact('txn.mcc')).toBe(ctx.txn.mcc);
    expect(facts.fact('txn.channel')).toBe('ECOM');
    expect(facts.fact('txn.bin')).toBe('411111');
  });
});

describe('loading a rule file', () => {
  const rule = (over: object = {}) => ({
    id: 'velocity-1h',
    description: 'x',
    when: { feature: 'card.count_1h', op: '>=', value: 15 },
    action: 'REVIEW',
    reasonCode: 'VELOCITY_1H_HIGH',
    ...over,
  });
  const file = (...rules: object[]) => ({ version: '2026-11-25.1', rules });
  const refusal = (raw: unknown, options = {}): string => {
    try {
      parseRuleSet(raw, options, 'test.json');
    } catch (error) {
      expect(error).toBeInstanceOf(RuleSetError);
      return (error as Error).message;
    }
    throw new Error('expected a refusal');
  };

  it('names the rule and the place in its condition', () => {
    const message = refusal(file(rule({ id: 'ok' }), rule({ when: { any: [{ feature: 'card.count_1h', op: '=>', value: 15 }] } })));
    expect(message).toContain('rule #1 "velocity-1h"');
    expect(message).toContain('when.any[0].op');
  });

  it('refuses unknown keys, bad actions, bad reason codes, duplicate ids, a bad version and non-conditions', () => {
    expect(refusal(file(rule({ when: { feature: 'a.b', op: '>', value: 1, valeu: 2 } })))).toMatch(/valeu/);
    expect(refusal(file(rule({ action: 'BLOCK' })))).toMatch(/rule #0 "velocity-1h": action/);
    expect(refusal(file(rule({ reasonCode: 'velocity high' })))).toMatch(/reasonCode: must be UPPER_SNAKE_CASE/);
    expect(refusal(file(rule(), rule()))).toMatch(/rule #1 "velocity-1h": duplicate id/);
    expect(refusal({ version: 'v2', rules: [] })).toMatch(/version: must look like 2026-11-25.1/);
    expect(refusal(file(rule({ when: { threshold: 3 } })))).toMatch(/when: not a condition/);
    expect(refusal(file(rule({ when: { all: [] } })))).toMatch(/when\.all/);
  });

  it('refuses a feature or fact the hot path does not produce, when told which exist', () => {
    const options = { knownFeatures: ['card.count_1h'], knownFacts: ['kyc.status'] };
    expect(parseRuleSet(file(rule()), options).rules).toHaveLength(1);
    expect(refusal(file(rule({ when: { feature: 'card.count_1hr', op: '>=', value: 15 } })), options)).toMatch(/unknown feature "card.count_1hr"/);
    expect(refusal(file(rule({ when: { fact: 'kyc.state', in: ['X'] } })), options)).toMatch(/unknown fact "kyc.state"/);
    // Transaction facts are always known.
    expect(parseRuleSet(file(rule({ when: { fact: 'txn.mcc', in: ['6051'] } })), options).rules).toHaveLength(1);
  });

  it('freezes what it returns', () => {
    const ruleSet = parseRuleSet(file(rule()));
    expect(Object.isFrozen(ruleSet.rules[0]!.when)).toBe(true);
  });
});

describe('RulesProcessor', () => {
  let driver: TopologyTestDriver | undefined;
  afterEach(async () => {
    await driver?.close();
    driver = undefined;
  });

  const burstRules = (version: string, threshold: number): RuleSet =>
    parseRuleSet({
      version,
      rules: [{ id: 'burst', description: 'x', when: { feature: 'card.count_1m', op: '>=', value: threshold }, action: 'DECLINE', reasonCode: 'BURST' }],
    });

  async function start(holder: RuleSetHolder) {
    const json = Serdes.Json<RiskContext>();
    const topology = new Topology({ applicationId: 'rules' })
      .addSource('in', 'ctx', { keySerde: Serdes.String, valueSerde: json })
      .addProcessor('rules', () => new RulesProcessor(holder), 'in')
      .addSink('out', 'ruled', { keySerde: Serdes.String, valueSerde: json }, 'rules');
    driver = await TopologyTestDriver.create(topology);
    return { input: driver.createInputTopic('ctx', Serdes.String, json), output: driver.createOutputTopic('ruled', Serdes.String, json) };
  }

  const withBurst = (count: number, reasonCodes: string[] = []): RiskContext => ({
    ...cleanContext(),
    features: { 'card.count_1m': count },
    reasonCodes,
  });

  it('appends hits and reason codes after those already gathered, and sets the rule set version', async () => {
    const { input, output } = await start(new RuleSetHolder(burstRules('2026-11-25.1', 5)));
    await input.pipeInput('acct', withBurst(5, ['KYC_MISSING']), 1_000);
    await input.pipeInput('acct', withBurst(4), 2_000);
    const [hit, quiet] = output.readValuesToList();
    expect(hit!.ruleHits).toEqual([{ ruleId: 'burst', reasonCode: 'BURST', action: 'DECLINE' }]);
    expect(hit!.reasonCodes).toEqual(['KYC_MISSING', 'BURST']);
    expect(hit!.ruleSetVersion).toBe('2026-11-25.1');
    expect(quiet!.ruleHits).toEqual([]);
    expect(quiet!.ruleSetVersion).toBe('2026-11-25.1');
  });

  it('applies a swapped rule set from the next record on', async () => {
    const holder = new RuleSetHolder(burstRules('2026-11-25.1', 5));
    const { input, output } = await start(holder);
    await input.pipeInput('acct', withBurst(3), 1_000);
    holder.swap(burstRules('2026-11-25.2', 3));
    await input.pipeInput('acct', withBurst(3), 2_000);
    const [before, after] = output.readValuesToList();
    expect([before!.ruleSetVersion, before!.ruleHits.length]).toEqual(['2026-11-25.1', 0]);
    expect([after!.ruleSetVersion, after!.ruleHits.length]).toEqual(['2026-11-25.2', 1]);
  });

  it('reloads a file between records, and keeps the rules in force when the new file is invalid', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-rules-'));
    const file = path.join(dir, 'ruleset.json');
    const write = (version: string, threshold: number | string) =>
      writeFileSync(file, JSON.stringify({ version, rules: [{ id: 'burst', description: 'x', when: { feature: 'card.count_1m', op: '>=', value: threshold }, action: 'DECLINE', reasonCode: 'BURST' }] }));
    write('2026-11-25.1', 5);
    const holder = await RuleSetHolder.fromFile(file);
    const { input, output } = await start(holder);

    await input.pipeInput('acct', withBurst(4), 1_000);
    write('2026-11-26.1', 4);
    await holder.load(file);
    await input.pipeInput('acct', withBurst(4), 2_000);
    write('2026-11-26.2', 'four');
    await expect(holder.load(file)).rejects.toThrow(/rule #0 "burst": when.value/);
    await input.pipeInput('acct', withBurst(4), 3_000);

    const versions = output.readValuesToList().map((c) => [c!.ruleSetVersion, c!.ruleHits.length]);
    expect(versions).toEqual([
      ['2026-11-25.1', 0],
      ['2026-11-26.1', 1],
      ['2026-11-26.1', 1],
    ]);
  });
});
