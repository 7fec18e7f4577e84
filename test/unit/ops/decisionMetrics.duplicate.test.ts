/**
 * A decision repeated for a retried transaction (duplicate = true) is not a second decision: the
 * decision counters, rates and dashboard totals skip it; it has its own counter.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DecisionMetrics } from '../../../ops/decisionMetrics.js';
import { EXAMPLES } from '../../../schemas/index.js';
import type { Decision } from '../../../schemas/types.js';

describe('DecisionMetrics and repeated decisions', () => {
  it('counts a decision once however often it is repeated', async () => {
    const registry = new Registry();
    const m = new DecisionMetrics(registry, () => [], () => 1_000_000);
    const d = { ...EXAMPLES.Decision, duplicate: false } as Decision;
    m.observeDecision(d);
    m.observeDecision({ ...d, duplicate: true });
    m.observeDecision({ ...d, duplicate: true });
    const text = await registry.metrics();
    expect(text).toMatch(/riskloop_decisions_total\{outcome="REVIEW",[^}]*\} 1\n/);
    expect(text).toMatch(/riskloop_decisions_repeated_total\{outcome="REVIEW"\} 2\n/);
    expect(text).toMatch(/riskloop_decision_reason_codes_total\{reason_code="SCORE_ABOVE_REVIEW"\} 1\n/);
    expect(m.summary().totals.decisions).toBe(1);
  });
});
