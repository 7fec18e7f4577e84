/**
 * One metrics interface for the runtime: counters, gauges and latency histograms, each with labels
 * (task, processor, topic, partition …). The Prometheus exporter (prom-client) reads `snapshot()`;
 * tests read it directly. Histograms keep fixed log-spaced buckets so memory stays constant.
 */

export type Labels = Record<string, string>;

/** Bucket upper bounds in ms: 0.05 ms … ~100 s, 4 per power of ten. */
const BUCKETS = Array.from({ length: 25 }, (_, i) => 0.05 * 10 ** (i / 4));

export class Histogram {
  readonly counts = new Array<number>(BUCKETS.length + 1).fill(0);
  count = 0;
  sum = 0;
  max = 0;

  observe(v: number): void {
    this.count++;
    this.sum += v;
    if (v > this.max) this.max = v;
    let i = 0;
    while (i < BUCKETS.length && v > BUCKETS[i]!) i++;
    this.counts[i]!++;
  }

  /** Upper bound of the bucket holding quantile q (an over-estimate by at most one bucket). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= target) return i < BUCKETS.length ? Math.min(BUCKETS[i]!, this.max) : this.max;
    }
    return this.max;
  }

  static readonly buckets: readonly number[] = BUCKETS;
}

export interface MetricSample {
  name: string;
  labels: Labels;
  type: 'counter' | 'gauge' | 'histogram';
  value: number;
  histogram?: Histogram;
}

function keyOf(name: string, labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`);
  return `${name}{${parts.join(',')}}`;
}

export class StreamsMetrics {
  private readonly counters = new Map<string, MetricSample>();
  private readonly gauges = new Map<string, MetricSample>();
  private readonly histograms = new Map<string, MetricSample & { histogram: Histogram }>();

  inc(name: string, labels: Labels = {}, by = 1): void {
    const k = keyOf(name, labels);
    let s = this.counters.get(k);
    if (!s) this.counters.set(k, (s = { name, labels, type: 'counter', value: 0 }));
    s.value += by;
  }

  set(name: string, labels: Labels, value: number): void {
    const k = keyOf(name, labels);
    let s = this.gauges.get(k);
    if (!s) this.gauges.set(k, (s = { name, labels, type: 'gauge', value: 0 }));
    s.value = value;
  }

  observe(name: string, labels: Labels, value: number): void {
    const k = keyOf(name, labels);
    let s = this.histograms.get(k);
    if (!s) this.histograms.set(k, (s = { name, labels, type: 'histogram', value: 0, histogram: new Histogram() }));
    s.histogram.observe(value);
    s.value = s.histogram.count;
  }

  /** Drops every series carrying these labels (e.g. a task that moved to another instance). */
  remove(match: Labels): void {
    for (const map of [this.counters, this.gauges, this.histograms] as Map<string, MetricSample>[]) {
      for (const [k, s] of map) {
        if (Object.entries(match).every(([mk, mv]) => s.labels[mk] === mv)) map.delete(k);
      }
    }
  }

  get(name: string, labels: Labels = {}): number {
    const k = keyOf(name, labels);
    return this.counters.get(k)?.value ?? this.gauges.get(k)?.value ?? this.histograms.get(k)?.value ?? 0;
  }

  /** Sum of a counter over all label sets that include `match`. */
  total(name: string, match: Labels = {}): number {
    let sum = 0;
    for (const s of this.counters.values()) {
      if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
    return sum;
  }

  snapshot(): MetricSample[] {
    return [...this.counters.values(), ...this.gauges.values(), ...this.histograms.values()];
  }
}
