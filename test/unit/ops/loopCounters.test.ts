/**
 * The loop's in-process counters reach /metrics: re-routed records per topic and retry outcomes,
 * read at scrape time from the objects the processors update.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerLoopCounters } from '../../../ops/opsRuntime.js';
import { newIdempotencyCounters } from '../../../processors/idempotency.js';
import { MisroutedCounters } from '../../../processors/partitionCheck.js';
import { ScreeningCounters } from '../../../processors/screening/kycScreening.js';

describe('loop counters on /metrics', () => {
  it('exports riskloop_misrouted_records_total{topic} and riskloop_transaction_retries_total{outcome}', async () => {
    const registry = new Registry();
    const misrouted = new MisroutedCounters();
    const idempotency = newIdempotencyCounters();
    registerLoopCounters(registry, { misrouted, idempotency, screening: null });
    misrouted.add('riskloop.kyc');
    misrouted.add('riskloop.kyc');
    misrouted.add('riskloop.transactions');
    idempotency.repeated += 3;
    idempotency.reused += 1;
    const text = await registry.metrics();
    expect(text).toContain('riskloop_misrouted_records_total{topic="riskloop.kyc"} 2');
    expect(text).toContain('riskloop_misrouted_records_total{topic="riskloop.transactions"} 1');
    expect(text).toContain('riskloop_transaction_retries_total{outcome="repeated"} 3');
    expect(text).toContain('riskloop_transaction_retries_total{outcome="reused"} 1');
    // Read again at the next scrape, not accumulated twice.
    misrouted.add('riskloop.kyc');
    expect(await registry.metrics()).toContain('riskloop_misrouted_records_total{topic="riskloop.kyc"} 3');
    // No list configured: no screening series at all (a zero would read as "screened nothing").
    expect(text).not.toContain('riskloop_screening_events_total');
  });

  it('exports riskloop_screening_events_total{event} when screening is configured', async () => {
    const registry = new Registry();
    const screening = new ScreeningCounters();
    registerLoopCounters(registry, { misrouted: new MisroutedCounters(), idempotency: newIdempotencyCounters(), screening });
    screening.screened += 5;
    screening.hits += 1;
    let text = await registry.metrics();
    expect(text).toContain('riskloop_screening_events_total{event="screened"} 5');
    expect(text).toContain('riskloop_screening_events_total{event="hits"} 1');
    expect(text).toContain('riskloop_screening_events_total{event="rescreened"} 0');
    screening.screened += 2;
    text = await registry.metrics();
    expect(text).toContain('riskloop_screening_events_total{event="screened"} 7');
  });
});
