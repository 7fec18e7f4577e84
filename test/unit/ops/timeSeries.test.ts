/**
 * The dashboard's in-memory time series and the pieces shared with the Prometheus path: PromQL's
 * histogram_quantile on known buckets, rates from a ring of samples, the score reference mapped
 * onto the live buckets, the PSI heat map by event-time hour, release events and their metrics,
 * and the panel queries' placeholders.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DecisionMetrics, referenceCumulative, SCORE_BUCKETS } from '../../../ops/decisionMetrics.js';
import { ReleaseEvents } from '../../../ops/releaseEvents.js';
import { histogramQuantile, PANEL_QUERIES, promql, psiHeatmap, SampleRing, WINDOWS, windowTimes, type RingSample } from '../../../ops/timeSeries.js';
import type { DriftMeasurement } from '../../../processors/driftMonitor.js';

describe('histogramQuantile', () => {
  it('interpolates inside the bucket as Prometheus does', () => {
    // 100 observations: 10 ≤ 0.1, 50 ≤ 0.2, 90 ≤ 0.5, 100 ≤ 1.
    const b = [
      { le: 0.1, count: 10 },
      { le: 0.2, count: 50 },
      { le: 0.5, count: 90 },
      { le: 1, count: 100 },
      { le: Infinity, count: 100 },
    ];
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.2, 12); // rank 50: top of (0.1, 0.2]
    expect(histogramQuantile(0.3, b)).toBeCloseTo(0.15, 12); // rank 30: halfway through (0.1, 0.2]
    expect(histogramQuantile(0.05, b)).toBeCloseTo(0.05, 12); // first bucket starts at 0
    expect(histogramQuantile(0.95, b)).toBeCloseTo(0.75, 12);
    expect(histogramQuantile(0.99, [{ le: 1, count: 1 }, { le: Infinity, count: 10 }])).toBe(1); // in +Inf: the last finite bound
    expect(histogramQuantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }])).toBeNull();
  });
});

describe('SampleRing', () => {
  const sample = (t: number, n: number): RingSample => ({
    t,
    decisions: { APPROVE: 2 * n, DECLINE: n },
    deadLetters: { INVALID_PAN_LUHN: n },
    labels: { CHARGEBACK: n },
    fraud: n,
    labelsTotal: 2 * n,
    // Every decision at 0.02 s: all in the le=0.025 bucket (bounds 0.01, 0.025, 0.05).
    latency: [0, 3 * n, 3 * n, 3 * n],
    score: [...SCORE_BUCKETS.map((_, i) => (i === 0 ? n : 3 * n)), 3 * n],
    lag: { 'p.transactions[0]': n },
    runtimes: { loop: 1 },
  });

  it('computes per-second rates, quantiles and window shares from the samples', () => {
    const ring = new SampleRing([0.01, 0.025, 0.05], SCORE_BUCKETS);
    const now = 1_800_000_000_000; // a multiple of 5 s
    // One sample every 5 s for 20 minutes; 3 decisions per second (2 approve, 1 decline).
    for (let t = now - 20 * 60_000; t <= now; t += 5000) ring.push(sample(t, (t - (now - 20 * 60_000)) / 1000));
    const d = ring.chart('15m', now, { sloSeconds: 0.3, psiThreshold: 0.2, reference: null, psi: { hours: [], subjects: [], values: [] }, annotations: [] });
    expect(d.source).toBe('memory');
    expect(d.times).toHaveLength(181);
    expect(d.times[0]).toBe(now / 1000 - 900);
    for (const v of d.decisions.APPROVE!) expect(v).toBeCloseTo(2, 9);
    for (const v of d.decisions.DECLINE!) expect(v).toBeCloseTo(1, 9);
    for (const v of d.deadLetters.INVALID_PAN_LUHN!) expect(v).toBeCloseTo(1, 9);
    for (const v of d.fraudRate) expect(v).toBeCloseTo(0.5, 9);
    // All in (0.01, 0.025]: p50 is halfway through that bucket, as histogram_quantile says.
    for (const v of d.latency.p50) expect(v).toBeCloseTo(0.0175, 9);
    expect(d.lag['p.transactions[0]']![180]).toBe(1200);
    expect(d.runtimes.loop!.every((v) => v === 1)).toBe(true);
    // Over the 15 minutes: a third of the decisions in the first score bucket, the rest in the second.
    expect(d.score.live![0]).toBeCloseTo(1 / 3, 9);
    expect(d.score.live![1]).toBeCloseTo(2 / 3, 9);
    expect(d.score.live!.slice(2).every((v) => v === 0)).toBe(true);
  });

  it('has nothing before its first sample', () => {
    const ring = new SampleRing([0.01], SCORE_BUCKETS);
    const now = 1_800_000_000_000;
    ring.push(sample(now - 120_000, 0));
    ring.push(sample(now, 120));
    const d = ring.chart('1h', now, { sloSeconds: 0.3, psiThreshold: 0.2, reference: null, psi: { hours: [], subjects: [], values: [] }, annotations: [] });
    expect(d.step).toBe(WINDOWS['1h'].stepS);
    expect(d.decisions.APPROVE![0]).toBeNull();
    expect(d.decisions.APPROVE![d.times.length - 1]).toBeCloseTo(2, 9);
  });
});

describe('score reference on the live buckets', () => {
  it('spreads a reference bin evenly over the buckets it covers', () => {
    const ref = { edges: [0, 0.1, 1], proportions: [0.5, 0.5] };
    const c = referenceCumulative(ref, SCORE_BUCKETS);
    expect(c[0]).toBeCloseTo(0.25, 12); // half of the first bin (0..0.1) lies below 0.05
    expect(c[1]).toBeCloseTo(0.5, 12);
    expect(c[19]).toBeCloseTo(1, 12);
    const m = new DecisionMetrics(new Registry());
    const shares = m.referenceShares(ref);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it('exports the champion reference and the SLO as gauges, the SLO as a latency bucket', async () => {
    const registry = new Registry();
    new DecisionMetrics(registry, () => [{ version: 'm1', role: 'champion' }, { version: 'm2', role: 'shadow' }], Date.now, {
      latencySloMs: 120,
      scoreReference: (v) => (v === 'm1' ? { edges: [0, 0.5, 1], proportions: [0.8, 0.2] } : undefined),
    });
    const text = await registry.metrics();
    expect(text).toContain('riskloop_decision_latency_slo_seconds 0.12');
    expect(text).toContain('riskloop_decision_pipeline_latency_seconds_bucket{le="0.12"} 0');
    expect(text).toContain('riskloop_score_reference_share{model_version="m1",le="0.5"} 0.8');
    expect(text).toContain('riskloop_score_reference_share{model_version="m1",le="1"} 1');
    expect(text).not.toContain('model_version="m2",le=');
  });
});

describe('drift hours', () => {
  const m = (subject: string, hour: number, psi: number): DriftMeasurement => ({ subject, modelVersion: 'm1', windowStart: hour * 3_600_000, windowEnd: (hour + 1) * 3_600_000, psi, samples: 300, alerted: psi > 0.2 });

  it('counts consecutive event-time hours above the threshold, and a heat map of the last 24', async () => {
    const registry = new Registry();
    const d = new DecisionMetrics(registry);
    const hours = (await registry.getSingleMetric('riskloop_drift_hours_above_threshold')!.get()).values;
    expect(hours).toHaveLength(0);
    d.observeDrift(m('txn.amount_minor', 10, 0.5));
    d.observeDrift(m('txn.amount_minor', 11, 0.6));
    d.observeDrift(m('kyc.pep', 11, 0.01));
    d.observeDrift(m('txn.amount_minor', 12, 0.7));
    const value = async (subject: string) => (await registry.getSingleMetric('riskloop_drift_hours_above_threshold')!.get()).values.find((v) => v.labels.subject === subject)!.value;
    expect(await value('txn.amount_minor')).toBe(3);
    expect(await value('kyc.pep')).toBe(0);
    d.observeDrift(m('txn.amount_minor', 14, 0.7)); // hour 13 not measured: the run starts again
    expect(await value('txn.amount_minor')).toBe(1);
    d.observeDrift(m('txn.amount_minor', 15, 0.1));
    expect(await value('txn.amount_minor')).toBe(0);

    const heat = psiHeatmap(d.driftHours(), 24);
    expect(heat.subjects).toEqual(['kyc.pep', 'txn.amount_minor']);
    expect(heat.hours).toEqual([10, 11, 12, 14, 15].map((h) => h * 3600));
    expect(heat.values[0]).toEqual([null, 0.01, null, null, null]);
    expect(heat.values[1]).toEqual([0.5, 0.6, 0.7, 0.7, 0.1]);
    expect(psiHeatmap(d.driftHours(), 2).hours).toEqual([14 * 3600, 15 * 3600]);
  });
});

describe('release events', () => {
  it('counts applied and refused releases from zero and stamps what came into force', async () => {
    let now = 1_000_000;
    const events = new ReleaseEvents(() => now);
    events.record({ kind: 'rules', version: 'r1', mode: 'start', outcome: 'applied', reason: null });
    const registry = new Registry();
    events.register(registry);
    events.noteModelSet([{ version: 'm1', role: 'champion' }]);
    now += 5000;
    events.record({ kind: 'model', version: 'm2', mode: 'shadow', outcome: 'refused', reason: 'sha256 mismatch' });
    events.noteModelSet([{ version: 'm1', role: 'champion' }]); // unchanged: no event
    const text = await registry.metrics();
    expect(text).toContain('riskloop_releases_total{kind="model",outcome="applied"} 0');
    expect(text).toContain('riskloop_releases_total{kind="model",outcome="refused"} 1');
    expect(text).toContain('riskloop_releases_total{kind="rules",outcome="applied"} 1');
    expect(text).toContain('riskloop_releases_total{kind="rules",outcome="refused"} 0');
    expect(text).toContain('riskloop_release_timestamp_seconds{kind="model",version="m1",mode="champion"} 1000');
    expect(text).not.toContain('version="m2"');
    expect(events.events().map((e) => `${e.kind} ${e.version} ${e.outcome}`)).toEqual(['rules r1 applied', 'model m1 applied', 'model m2 refused']);
    expect(events.events(1_003_000).map((e) => e.version)).toEqual(['m2']);
  });
});

describe('panel queries', () => {
  it('fill in the rate window and the range, and align the window on its step', () => {
    expect(promql(PANEL_QUERIES.decisionsByOutcome, WINDOWS['1h'])).toBe('max by (outcome) (sum by (instance, outcome) (rate(riskloop_decisions_total[60s])))');
    expect(promql(PANEL_QUERIES.scoreLive, WINDOWS['24h'])).toContain('[86400s]');
    for (const q of Object.values(PANEL_QUERIES)) expect(promql(q, WINDOWS['15m'])).not.toContain('$__');
    const t = windowTimes('24h', 1_800_000_123_456);
    expect(t.end % 300).toBe(0);
    expect(t.times).toHaveLength(289);
  });
});
