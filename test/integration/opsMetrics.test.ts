/**
 * The ops server during a real run: the loop on the broker, the ops server on an ephemeral port,
 * N transactions produced (some invalid of known kinds), then /metrics scraped and its counters
 * checked against what the test produced; /healthz, /readyz and /api/summary alongside. The series
 * the charts and alerts need are there (SLO, reference, group lag, runtime state, releases), no
 * label value holds a card number or an account id, and the in-memory chart series (no Prometheus
 * configured) add up to the same counts as /metrics.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { testAppConfig } from '../support/appConfig.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { startOps } from '../../ops/opsRuntime.js';
import type { ChartData } from '../../ops/timeSeries.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { brokers, uniq } from '../support/env.js';
import { produce } from '../support/kafkaIo.js';
import { loopData } from '../support/loopData.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-ops-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };
const logger = pino({ level: 'error' });

/** Sum of a metric's samples in Prometheus text, over series whose labels include `match`. */
function sumOf(text: string, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}

describe('ops server on a real run', () => {
  it('exports counters that match what was produced, and reports health', async () => {
    const id = uniq('ops');
    const c = testAppConfig(id, stateRoot);
    await ensureTopics(c, io, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const N = 3000;
    const data = loopData(new Tokenizer(c.tokenizer), { accounts: 300, transactions: N, invalidEvery: 50, chargebacks: 0, unknownChargebacks: 0 });
    const expectedLetters = new Map<string, number>();
    for (const r of data.invalid.values()) expectedLetters.set(r, (expectedLetters.get(r) ?? 0) + 1);

    const app = await buildRiskLoopApp(c, logger);
    await app.streams.start();
    const ops = await startOps(
      { port: 0 },
      { connection: c.kafka, applicationId: c.applicationId, catalogue, serdes, streams: { loop: app.streams }, models: app.models, logger, releases: app.releases, settings: { latencySloMs: 250, sampleIntervalMs: 1000, lagPollMs: 1000 } },
    );
    const base = `http://127.0.0.1:${ops.address.port}`;
    try {
      expect(ops.address.host).toBe('127.0.0.1');
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      await app.streams.waitForRunning(120_000);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(((await ready.json()) as { runtimes: { loop: { state: string } } }).runtimes.loop.state).toBe('RUNNING');

      await produce(
        brokers(),
        catalogue.transactions.name,
        data.transactions.map((r) => ({ key: r.key, value: serdes.transactions.serialize(r.value), timestamp: String(r.value.eventTime) })),
      );
      let text = '';
      const deadline = Date.now() + 150_000;
      while (Date.now() < deadline) {
        text = await (await fetch(`${base}/metrics`)).text();
        if (sumOf(text, 'riskloop_decisions_total') >= data.validIds.size && sumOf(text, 'riskloop_dead_letters_total') >= data.invalid.size) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      // Let anything extra (a duplicate would be a bug) arrive before the final scrape.
      await new Promise((r) => setTimeout(r, 3000));
      text = await (await fetch(`${base}/metrics`)).text();

      expect(sumOf(text, 'riskloop_decisions_total')).toBe(data.validIds.size);
      expect(sumOf(text, 'riskloop_decisions_total', { model_version: 'bootstrap-v1' })).toBe(data.validIds.size);
      for (const [reason, n] of expectedLetters) expect(sumOf(text, 'riskloop_dead_letters_total', { reason })).toBe(n);
      expect(sumOf(text, 'riskloop_dead_letters_total')).toBe(data.invalid.size);
      expect(sumOf(text, 'riskloop_decision_score_count')).toBe(data.validIds.size);
      expect(sumOf(text, 'riskloop_records_processed_total')).toBeGreaterThanOrEqual(N);
      // The run uses RocksDB stores: their native memory is reported (memtables hold the unflushed writes).
      expect(sumOf(text, 'riskloop_rocksdb_memory_bytes', { kind: 'memtables' })).toBeGreaterThan(0);
      expect(sumOf(text, 'riskloop_processor_records_in_total')).toBeGreaterThan(0);
      expect(sumOf(text, 'riskloop_e2e_latency_seconds_count')).toBeGreaterThanOrEqual(data.validIds.size);
      expect(text).toMatch(/riskloop_model_info\{version="bootstrap-v1",role="champion"\} 1/);
      expect(text).toMatch(/# TYPE riskloop_consumer_lag gauge/);

      const summary = (await (await fetch(`${base}/api/summary`)).json()) as { totals: { decisions: number; deadLetters: number; byOutcome?: Record<string, number> }; approvalRate: number; latencyMs: { p99: number } };
      expect(summary.totals.decisions).toBe(data.validIds.size);
      expect(summary.totals.deadLetters).toBe(data.invalid.size);
      expect(summary.latencyMs.p99).toBeGreaterThanOrEqual(0);
      expect((await fetch(`${base}/`)).headers.get('content-type')).toMatch(/text\/html/);

      // What the charts and alerts read.
      expect(sumOf(text, 'riskloop_decision_latency_slo_seconds')).toBe(0.25);
      expect(sumOf(text, 'riskloop_decision_pipeline_latency_seconds_bucket', { le: '0.25' })).toBeGreaterThan(0);
      expect(sumOf(text, 'riskloop_score_reference_share', { model_version: 'bootstrap-v1', le: '1' })).toBeCloseTo(1, 9);
      expect(sumOf(text, 'riskloop_runtime_state', { runtime: 'loop', state: 'RUNNING' })).toBe(1);
      expect(sumOf(text, 'riskloop_runtime_state', { runtime: 'loop' })).toBe(1);
      expect(sumOf(text, 'riskloop_releases_total', { kind: 'rules', outcome: 'applied' })).toBe(1);
      expect(sumOf(text, 'riskloop_releases_total', { kind: 'model', outcome: 'refused' })).toBe(0);
      expect(sumOf(text, 'riskloop_drift_psi_threshold')).toBe(0.2);
      // Group lag per input partition: every transaction produced is committed by now (lag 0), the end offsets add up.
      const lagDeadline = Date.now() + 30_000;
      while (sumOf(text, 'riskloop_group_lag', { topic: catalogue.transactions.name }) !== 0 || sumOf(text, 'riskloop_input_end_offset', { topic: catalogue.transactions.name }) !== N) {
        if (Date.now() > lagDeadline) throw new Error(`group lag not settled: ${text.split('\n').filter((l) => l.startsWith('riskloop_group_lag') || l.startsWith('riskloop_input_end')).join('\n')}`);
        await new Promise((r) => setTimeout(r, 500));
        text = await (await fetch(`${base}/metrics`)).text();
      }
      expect(text.match(new RegExp(`riskloop_group_lag\\{topic="${catalogue.transactions.name.replaceAll('.', '\\.')}",partition="\\d"\\}`, 'g'))).toHaveLength(c.partitions);
      // No label value is a card number or an account id.
      for (const m of text.matchAll(/="([^"]*)"/g)) {
        expect(m[1], 'a label value').not.toMatch(/ACC-\d{6}/);
        // Bucket bounds are decimals; anything else with 13–19 digits in a row could be a card number.
        if (!/^\d*\.\d+(e-?\d+)?$/.test(m[1]!)) expect(m[1], 'a label value').not.toMatch(/\d{13,19}/);
      }
      for (const pan of new Set(data.transactions.map((r) => r.value.pan))) expect(text.includes(pan), 'a PAN in /metrics').toBe(false);

      // The charts without Prometheus: the in-memory series over 15 minutes hold every decision.
      // The ring samples on a timer: under load its sample after the last decision can come late, so
      // wait (15 s at most) until its score shares equal /metrics' buckets.
      const buckets = text.split('\n').filter((l) => l.startsWith('riskloop_decision_score_bucket{'));
      const sharesFromMetrics = (bounds: number[]) => {
        const cumulative = bounds.map((le) => sumOf(buckets.join('\n'), 'riskloop_decision_score_bucket', { le: String(le) }));
        return cumulative.map((c, i) => (c - (i === 0 ? 0 : cumulative[i - 1]!)) / data.validIds.size);
      };
      let series = (await (await fetch(`${base}/api/series?window=15m`)).json()) as ChartData;
      const seriesDeadline = Date.now() + 15_000;
      const same = (s: ChartData) => sharesFromMetrics(s.score.bounds).every((want, i) => Math.abs((s.score.live?.[i] ?? NaN) - want) < 1e-9);
      while (!same(series) && Date.now() < seriesDeadline) {
        await new Promise((r) => setTimeout(r, 500));
        series = (await (await fetch(`${base}/api/series?window=15m`)).json()) as ChartData;
      }
      expect(series.source).toBe('memory');
      expect(series.sloSeconds).toBe(0.25);
      const expectedShares = sharesFromMetrics(series.score.bounds);
      series.score.live!.forEach((share, i) => expect(share).toBeCloseTo(expectedShares[i]!, 9));
      expect(series.score.reference!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      expect(Object.keys(series.decisions).sort()).toEqual(Object.keys(summary.totals.byOutcome ?? {}).sort());
      const peak = Math.max(...Object.values(series.decisions).flatMap((l) => l.filter((v): v is number => v !== null)));
      expect(peak).toBeGreaterThan(0);
      expect(Object.keys(series.lag)).toHaveLength(5 * c.partitions);
      expect(series.runtimes.loop!.at(-1)).toBe(1);
      expect(series.annotations.map((a) => `${a.kind} ${a.version}`)).toEqual(expect.arrayContaining(['model bootstrap-v1', `rules ${app.rules.current().version}`]));
      expect((await fetch(`${base}/api/series?window=2d`)).status).toBe(400);
      expect((await fetch(`${base}/assets/uPlot.iife.min.js`)).status).toBe(200);
    } finally {
      await ops.close();
      await app.close();
    }
  }, 300_000);
});
