/**
 * Reason codes in words (processors/reasonText.ts): every rule of the shipped rule file explains
 * its own code with its description, every code the loop adds itself has a fixed text, and a code
 * nobody knows says so instead of vanishing.
 */
import { describe, expect, it } from 'vitest';
import { DecisionReasonCodes, decide } from '../../../processors/decide.js';
import { EnrichmentReasonCodes } from '../../../processors/enrich.js';
import { FIXED_REASON_TEXTS, reasonTexts } from '../../../processors/reasonText.js';
import { RuleSetHolder, evaluateRules } from '../../../processors/rules.js';
import { ScoringReasonCodes } from '../../../processors/scoring.js';

const ruleSet = (await RuleSetHolder.fromFile('rules/ruleset.json')).current();

describe('reason texts', () => {
  it('explains every rule code of the shipped rule file with its description, rule id and action', () => {
    const texts = reasonTexts(ruleSet.rules.map((r) => r.reasonCode), ruleSet, ruleSet.version);
    expect(texts).toHaveLength(ruleSet.rules.length);
    for (const [i, rule] of ruleSet.rules.entries()) {
      expect(texts[i]).toEqual({ code: rule.reasonCode, text: rule.description, source: 'rule', ruleId: rule.id, action: rule.action, ruleSetMatches: true });
    }
    expect(reasonTexts(['PEP_REVIEW'], ruleSet, ruleSet.version)[0]!.text).toMatch(/^Politically exposed person/);
  });

  it('has a fixed text for every code the loop adds itself (score bands, scoring fallbacks, enrichment gaps)', () => {
    const own = [...Object.values(DecisionReasonCodes), ...Object.values(ScoringReasonCodes), ...Object.values(EnrichmentReasonCodes)];
    for (const code of own) {
      const [t] = reasonTexts([code], ruleSet);
      expect(t!.source, code).not.toBe('unknown');
      expect(t!.text.length, code).toBeGreaterThan(30);
    }
    expect(Object.keys(FIXED_REASON_TEXTS).sort()).toEqual([...own].sort());
    expect(reasonTexts(['SCORE_ABOVE_REVIEW'], ruleSet)[0]).toMatchObject({ source: 'score', text: expect.stringMatching(/review threshold/) });
    expect(reasonTexts(['KYC_MISSING'], ruleSet)[0]).toMatchObject({ source: 'enrichment', text: expect.stringMatching(/No KYC record/) });
  });

  it('keeps the order of the decision (its precedence) and explains the codes of a real verdict', () => {
    const features: Record<string, number> = { 'kyc.pep': 1, 'account.amount_zscore_30d': 6, 'txn.amount_minor': 90_000 };
    const hits = evaluateRules(ruleSet, { feature: (n) => features[n], fact: () => undefined });
    const verdict = decide({ ruleHits: hits, score: 0.7, reasonCodes: ['DEVICE_UNKNOWN'] }, { review: 0.5, decline: 0.9 });
    expect(verdict.decision).toBe('REVIEW');
    const texts = reasonTexts(verdict.reasonCodes, ruleSet, ruleSet.version);
    expect(texts.map((t) => t.code)).toEqual(verdict.reasonCodes);
    expect(texts.map((t) => t.source)).toEqual(['rule', 'rule', 'score', 'enrichment']);
    expect(texts.every((t) => t.text.length > 0)).toBe(true);
  });

  it('says when a code is unknown and when the text comes from another rule-set version', () => {
    const [gone] = reasonTexts(['RETIRED_RULE_X'], ruleSet, '2025-01-01.1');
    expect(gone).toMatchObject({ code: 'RETIRED_RULE_X', source: 'unknown' });
    expect(gone!.text).toContain(`rule set ${ruleSet.version}`);
    expect(gone!.text).toContain('2025-01-01.1');
    expect(reasonTexts(['PEP_REVIEW'], ruleSet, '2025-01-01.1')[0]!.ruleSetMatches).toBe(false);
    expect(reasonTexts(['PEP_REVIEW'], undefined)[0]!.source).toBe('unknown');
  });
});
