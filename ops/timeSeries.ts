/**
 * The time series behind the dashboard's charts, over a window of 15 min, 1 h or 24 h.
 *
 * Two sources with one shape (ChartData):
 *  - Prometheus, when RISKLOOP_PROMETHEUS_URL is set: the panel queries below, the same ones the
 *    Grafana dashboard (ops/grafana/riskloop.json) runs, through /api/v1/query_range. Prometheus
 *    keeps history across restarts and instances.
 *  - Otherwise an in-memory ring this process fills every few seconds from its own counters, and
 *    the same arithmetic as PromQL's rate() and histogram_quantile() applied to it (24 h at the
 *    sampling step; gone with the process).
 *
 * The PSI heat map and the release annotations always come from this process: PSI is per
 * event-time hour (what the drift monitor measures), which a scraped gauge does not carry.
 */
import type { DriftMeasurement } from '../processors/driftMonitor.js';
import type { ReleaseEvent } from './releaseEvents.js';

export type WindowName = '15m' | '1h' | '24h';
export const WINDOWS: Record<WindowName, { rangeS: number; stepS: number; rateS: number }> = {
  '15m': { rangeS: 900, stepS: 5, rateS: 60 },
  '1h': { rangeS: 3600, stepS: 15, rateS: 60 },
  '24h': { rangeS: 86_400, stepS: 300, rateS: 300 },
};

/**
 * The panel queries: Grafana's variables `$__rate_interval` (rate window) and `$__range` (the whole
 * window) stand for the durations; `promql()` fills them in for the page. Decision counters are
 * aggregated with max, not sum, across instances: every instance's ops consumer counts the whole
 * decisions topic.
 */
export const PANEL_QUERIES = {
  decisionsByOutcome: 'max by (outcome) (sum by (instance, outcome) (rate(riskloop_decisions_total[$__rate_interval])))',
  latencyP50: 'histogram_quantile(0.5, max by (le) (rate(riskloop_decision_pipeline_latency_seconds_bucket[$__rate_interval])))',
  latencyP95: 'histogram_quantile(0.95, max by (le) (rate(riskloop_decision_pipeline_latency_seconds_bucket[$__rate_interval])))',
  latencyP99: 'histogram_quantile(0.99, max by (le) (rate(riskloop_decision_pipeline_latency_seconds_bucket[$__rate_interval])))',
  latencySlo: 'max(riskloop_decision_latency_slo_seconds)',
  deadLettersByReason: 'max by (reason) (sum by (instance, reason) (rate(riskloop_dead_letters_total[$__rate_interval])))',
  labelsBySource: 'max by (label_source) (sum by (instance, label_source) (rate(riskloop_labels_total[$__rate_interval])))',
  fraudRate: 'max(sum by (instance) (rate(riskloop_labels_total{label="1"}[$__rate_interval])) / sum by (instance) (rate(riskloop_labels_total[$__rate_interval])))',
  groupLag: 'max by (topic, partition) (riskloop_group_lag)',
  runtimesRunning: 'min by (runtime) (riskloop_runtime_state{state="RUNNING"})',
  scoreLive: 'max by (le) (sum by (instance, le) (increase(riskloop_decision_score_bucket[$__range])))',
  scoreReference: 'max by (le) (riskloop_score_reference_share)',
  psi: 'max by (subject) (riskloop_drift_psi)',
  psiThreshold: 'max(riskloop_drift_psi_threshold)',
  releases: 'sum by (kind, outcome) (increase(riskloop_releases_total[$__range]))',
  releaseStamps: 'max by (kind, version, mode) (riskloop_release_timestamp_seconds) * 1000',
} as const;
export type PanelQuery = keyof typeof PANEL_QUERIES;

export function promql(query: string, w: { rateS: number; rangeS: number }): string {
  return query.replaceAll('$__rate_interval', `${w.rateS}s`).replaceAll('$__range', `${w.rangeS}s`);
}

/** Values aligned with ChartData.times (seconds); null where there is no value. */
export type Line = (number | null)[];

export interface ChartData {
  source: 'prometheus' | 'memory';
  window: WindowName;
  /** Unix seconds; times[i] = start + i·step. */
  start: number;
  end: number;
  step: number;
  times: number[];
  sloSeconds: number;
  psiThreshold: number;
  decisions: Record<string, Line>;
  latency: { p50: Line; p95: Line; p99: Line };
  deadLetters: Record<string, Line>;
  labels: Record<string, Line>;
  fraudRate: Line;
  lag: Record<string, Line>;
  runtimes: Record<string, Line>;
  /** Share of the window's decisions per score bucket (upper bounds), live and the champion's reference. */
  score: { bounds: number[]; live: number[] | null; reference: number[] | null };
  psi: { hours: number[]; subjects: string[]; values: (number | null)[][] };
  annotations: { at: number; kind: string; version: string; mode: string; outcome: string }[];
}

export function windowTimes(name: WindowName, nowMs: number): { start: number; end: number; step: number; times: number[] } {
  const w = WINDOWS[name];
  const end = Math.floor(nowMs / 1000 / w.stepS) * w.stepS;
  const start = end - w.rangeS;
  const times: number[] = [];
  for (let t = start; t <= end; t += w.stepS) times.push(t);
  return { start, end, step: w.stepS, times };
}

/** Prometheus' histogram_quantile on one set of cumulative bucket counts ({le, count}, +Inf last). */
export function histogramQuantile(q: number, buckets: readonly { le: number; count: number }[]): number | null {
  if (buckets.length < 2) return null;
  const total = buckets[buckets.length - 1]!.count;
  if (!(total > 0)) return null;
  const rank = q * total;
  let i = buckets.findIndex((b) => b.count >= rank);
  if (i < 0) i = buckets.length - 1;
  if (i === buckets.length - 1) return buckets[buckets.length - 2]!.le;
  const lo = i === 0 ? 0 : buckets[i - 1]!.le;
  const below = i === 0 ? 0 : buckets[i - 1]!.count;
  const inBucket = buckets[i]!.count - below;
  if (i === 0 && buckets[0]!.le <= 0) return buckets[0]!.le;
  return lo + (buckets[i]!.le - lo) * (inBucket === 0 ? 0 : (rank - below) / inBucket);
}

/** Per-bucket shares from cumulative counts (the last bound is +Inf, dropped: scores end at 1). */
export function sharesFromCumulative(cumulative: readonly number[]): number[] | null {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (!(total > 0)) return null;
  return cumulative.map((c, i) => (c - (i === 0 ? 0 : cumulative[i - 1]!)) / total);
}

/**
 * PSI per subject and event-time hour, for the `hours` most recent hours measured. Event time, not
 * the wall clock: a replay or a backlog shows the hours it measured.
 */
export function psiHeatmap(measurements: readonly DriftMeasurement[], hours = 24): ChartData['psi'] {
  const latest = Math.max(...measurements.map((m) => m.windowStart));
  const recent = measurements.filter((m) => m.windowStart > latest - hours * 3_600_000);
  const starts = [...new Set(recent.map((m) => m.windowStart / 1000))].sort((a, b) => a - b);
  const subjects = [...new Set(recent.map((m) => m.subject))].sort();
  const values = subjects.map((s) => starts.map((h) => {
    const hit = recent.filter((m) => m.subject === s && m.windowStart / 1000 === h);
    return hit.length ? Math.max(...hit.map((m) => m.psi)) : null;
  }));
  return { hours: starts, subjects, values };
}

export function annotationsOf(events: readonly ReleaseEvent[]): ChartData['annotations'] {
  return events.map((e) => ({ at: Math.floor(e.at / 1000), kind: e.kind, version: e.version, mode: e.mode, outcome: e.outcome }));
}

// ---------------------------------------------------------------------------------------------
// Prometheus

interface PromMatrix {
  status: string;
  error?: string;
  data: { resultType: string; result: { metric: Record<string, string>; values?: [number, string][]; value?: [number, string] }[] };
}

export class PrometheusSource {
  constructor(
    private readonly url: string,
    private readonly timeoutMs = 10_000,
  ) {}

  private async get(path: string, params: Record<string, string>): Promise<PromMatrix['data']> {
    const u = new URL(path, this.url.endsWith('/') ? this.url : `${this.url}/`);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    const res = await fetch(u, { signal: AbortSignal.timeout(this.timeoutMs) });
    const body = (await res.json()) as PromMatrix;
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? res.status}`);
    return body.data;
  }

  /** query_range, each series aligned with `times` and keyed by `keyOf(labels)`. */
  async range(query: string, t: { start: number; end: number; step: number; times: number[] }, keyOf: (m: Record<string, string>) => string): Promise<Record<string, Line>> {
    const data = await this.get('api/v1/query_range', { query, start: String(t.start), end: String(t.end), step: String(t.step) });
    const out: Record<string, Line> = {};
    for (const s of data.result) {
      const line: Line = t.times.map(() => null);
      for (const [ts, v] of s.values ?? []) {
        const i = Math.round((ts - t.start) / t.step);
        const n = Number(v);
        if (i >= 0 && i < line.length) line[i] = Number.isFinite(n) ? n : null;
      }
      out[keyOf(s.metric)] = line;
    }
    return out;
  }

  async instant(query: string, at: number): Promise<{ metric: Record<string, string>; value: number }[]> {
    const data = await this.get('api/v1/query', { query, time: String(at) });
    return data.result.map((s) => ({ metric: s.metric, value: Number(s.value![1]) }));
  }

  async chart(name: WindowName, nowMs: number, local: Pick<ChartData, 'psi' | 'annotations'>): Promise<ChartData> {
    const w = WINDOWS[name];
    const t = windowTimes(name, nowMs);
    const q = (k: PanelQuery) => promql(PANEL_QUERIES[k], w);
    const single = (r: Record<string, Line>): Line => Object.values(r)[0] ?? t.times.map(() => null);
    const [decisions, p50, p95, p99, deadLetters, labels, fraud, lag, runtimes, scoreLive, scoreRef, slo, threshold] = await Promise.all([
      this.range(q('decisionsByOutcome'), t, (m) => m.outcome ?? ''),
      this.range(q('latencyP50'), t, () => 'p50'),
      this.range(q('latencyP95'), t, () => 'p95'),
      this.range(q('latencyP99'), t, () => 'p99'),
      this.range(q('deadLettersByReason'), t, (m) => m.reason ?? ''),
      this.range(q('labelsBySource'), t, (m) => m.label_source ?? ''),
      this.range(q('fraudRate'), t, () => 'fraud'),
      this.range(q('groupLag'), t, (m) => `${m.topic}[${m.partition}]`),
      this.range(q('runtimesRunning'), t, (m) => m.runtime ?? ''),
      this.instant(q('scoreLive'), t.end),
      this.instant(q('scoreReference'), t.end),
      this.instant(q('latencySlo'), t.end),
      this.instant(q('psiThreshold'), t.end),
    ]);
    const byLe = (rows: { metric: Record<string, string>; value: number }[]) =>
      rows.filter((r) => r.metric.le !== '+Inf').map((r) => ({ le: Number(r.metric.le), value: r.value })).sort((a, b) => a.le - b.le);
    const live = byLe(scoreLive);
    const liveTotal = scoreLive.find((r) => r.metric.le === '+Inf')?.value ?? live[live.length - 1]?.value ?? 0;
    const ref = byLe(scoreRef);
    const bounds = live.length ? live.map((b) => b.le) : ref.map((b) => b.le);
    return {
      source: 'prometheus',
      window: name,
      ...t,
      sloSeconds: slo[0]?.value ?? 0,
      psiThreshold: threshold[0]?.value ?? 0,
      decisions,
      latency: { p50: single(p50), p95: single(p95), p99: single(p99) },
      deadLetters,
      labels,
      fraudRate: single(fraud),
      lag,
      runtimes,
      score: {
        bounds,
        live: liveTotal > 0 ? live.map((b, i) => (b.value - (i === 0 ? 0 : live[i - 1]!.value)) / liveTotal) : null,
        reference: ref.length ? ref.map((b, i) => b.value - (i === 0 ? 0 : ref[i - 1]!.value)) : null,
      },
      ...local,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// In memory

export interface RingSample {
  /** ms */
  t: number;
  decisions: Record<string, number>;
  deadLetters: Record<string, number>;
  labels: Record<string, number>;
  fraud: number;
  labelsTotal: number;
  /** Cumulative latency bucket counts, bounds in `latencyBounds` (+Inf last). */
  latency: number[];
  /** Cumulative score bucket counts over all model versions (+Inf last). */
  score: number[];
  lag: Record<string, number>;
  runtimes: Record<string, number>;
}

/** Fixed-size ring of samples; 24 h at a 5 s step is 17 280 small objects. */
export class SampleRing {
  private readonly samples: RingSample[] = [];

  constructor(
    readonly latencyBounds: readonly number[],
    readonly scoreBounds: readonly number[],
    private readonly capacity = 17_280,
  ) {}

  push(s: RingSample): void {
    this.samples.push(s);
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  /** The last sample at or before `ms`. */
  private at(ms: number): RingSample | undefined {
    let lo = 0;
    let hi = this.samples.length - 1;
    let found: RingSample | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.samples[mid]!.t <= ms) {
        found = this.samples[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  chart(name: WindowName, nowMs: number, fixed: Pick<ChartData, 'sloSeconds' | 'psiThreshold' | 'psi' | 'annotations'> & { reference: number[] | null }): ChartData {
    const w = WINDOWS[name];
    const t = windowTimes(name, nowMs);
    const pairs = t.times.map((ts) => {
      const b = this.at(ts * 1000);
      // As PromQL's rate(): a window only partly covered (the process started inside it) uses what it has.
      const first = this.samples[0];
      const a = this.at((ts - w.rateS) * 1000) ?? (first && first.t > (ts - w.rateS) * 1000 ? first : undefined);
      return b && a && b.t > a.t ? { a, b, dt: (b.t - a.t) / 1000 } : undefined;
    });
    const rates = (pick: (s: RingSample) => Record<string, number>): Record<string, Line> => {
      const keys = new Set<string>();
      for (const p of pairs) if (p) for (const k of Object.keys(pick(p.b))) keys.add(k);
      const out: Record<string, Line> = {};
      for (const k of keys) out[k] = pairs.map((p) => (p ? Math.max(0, (pick(p.b)[k] ?? 0) - (pick(p.a)[k] ?? 0)) / p.dt : null));
      return out;
    };
    const quantile = (q: number): Line =>
      pairs.map((p) => {
        if (!p) return null;
        const buckets = this.latencyBounds.map((le, i) => ({ le, count: p.b.latency[i]! - p.a.latency[i]! }));
        buckets.push({ le: Infinity, count: p.b.latency[this.latencyBounds.length]! - p.a.latency[this.latencyBounds.length]! });
        return histogramQuantile(q, buckets);
      });
    const gauges = (pick: (s: RingSample) => Record<string, number>): Record<string, Line> => {
      const samples = t.times.map((ts) => this.at(ts * 1000));
      const keys = new Set<string>();
      for (const s of samples) if (s && s.t > (t.start - w.stepS) * 1000) for (const k of Object.keys(pick(s))) keys.add(k);
      const out: Record<string, Line> = {};
      for (const k of keys) out[k] = samples.map((s) => (s ? (pick(s)[k] ?? null) : null));
      return out;
    };
    const last = this.at(t.end * 1000);
    const first = this.at(t.start * 1000);
    const scoreDelta = last ? last.score.map((c, i) => c - (first?.score[i] ?? 0)) : [];
    const labelPairs = pairs.map((p) => (p ? { fraud: p.b.fraud - p.a.fraud, all: p.b.labelsTotal - p.a.labelsTotal } : undefined));
    return {
      source: 'memory',
      window: name,
      ...t,
      sloSeconds: fixed.sloSeconds,
      psiThreshold: fixed.psiThreshold,
      decisions: rates((s) => s.decisions),
      latency: { p50: quantile(0.5), p95: quantile(0.95), p99: quantile(0.99) },
      deadLetters: rates((s) => s.deadLetters),
      labels: rates((s) => s.labels),
      fraudRate: labelPairs.map((p) => (p && p.all > 0 ? p.fraud / p.all : null)),
      lag: gauges((s) => s.lag),
      runtimes: gauges((s) => s.runtimes),
      score: { bounds: [...this.scoreBounds], live: scoreDelta.length ? (sharesFromCumulative(scoreDelta)?.slice(0, this.scoreBounds.length) ?? null) : null, reference: fixed.reference },
      psi: fixed.psi,
      annotations: fixed.annotations,
    };
  }
}
