/**
 * The runtime's metrics interface (topology/kafka/metrics.ts) exported through prom-client.
 *
 * Nothing is copied on the hot path: one collector object per metric name reads
 * `StreamsMetrics.snapshot()` when Prometheus scrapes. Names are mapped to Prometheus conventions:
 * `_ms` becomes `_seconds` (values divided by 1000, histogram buckets too), and series the runtime
 * publishes as gauges but that only ever grow (per-processor records in/out/dropped, dead letters,
 * drops by reason) are exported as counters with `_total`.
 */
import type { Registry } from 'prom-client';
import { Histogram, type MetricSample, type StreamsMetrics } from '../topology/kafka/metrics.js';

/** Runtime gauges that are really cumulative counts. */
const CUMULATIVE = new Set([
  'riskloop_processor_records_in',
  'riskloop_processor_records_out',
  'riskloop_processor_records_dropped',
  'riskloop_task_dropped_records',
  'riskloop_task_dead_letters',
  'riskloop_task_reduced_dead_letters',
]);

const HELP: Record<string, string> = {
  riskloop_records_processed_total: 'Input records processed, per task.',
  riskloop_records_out_total: 'Records sent to output topics (not changelogs), per task.',
  riskloop_batch_process_seconds: 'Time to process one fetched batch, per task.',
  riskloop_e2e_latency_seconds: 'From the input record timestamp to the output being sent, per task.',
  riskloop_consumer_lag: 'High watermark minus next offset, per input partition (records).',
  riskloop_restore_records: 'Changelog records restored so far, per task.',
  riskloop_rebalances_total: 'Partition assignments received.',
  riskloop_commits_total: 'Commits (transactions under exactly_once), per task.',
  riskloop_commit_seconds: 'Commit duration, per task.',
  riskloop_processor_records_in_total: 'Records into each processor node (throughput), per task.',
  riskloop_processor_records_out_total: 'Records forwarded by each processor node, per task.',
  riskloop_processor_records_dropped_total: 'Records dropped by each processor node, per task.',
  riskloop_task_dropped_records_total: 'Records dropped by the task, per reason.',
  riskloop_task_dead_letters_total: 'Records a task sent to the dead-letter topic.',
  riskloop_task_reduced_dead_letters_total: 'Dead letters written reduced (size, SHA-256, masked excerpt) because the full one was too large.',
  riskloop_runtime_errors_total: 'Recoverable errors the runtime met and handled, by class (retriable, migrated, corrupted, per-record), code and where.',
  riskloop_task_resets_total: 'Tasks closed dirty and recreated (corrupted state, failed exactly_once transaction, fenced).',
  riskloop_records_undeliverable_total: 'Output records the broker refused even alone (at_least_once), skipped with an error log line.',
  riskloop_task_process_latency_avg_seconds: 'Mean per-record processing latency of the task since start.',
  riskloop_task_process_latency_max_seconds: 'Max per-record processing latency of the task since start.',
};

export interface ExportedName {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** Multiplier from the runtime's unit to the exported one. */
  scale: number;
}

export function exportedName(sample: Pick<MetricSample, 'name' | 'type'>): ExportedName {
  let name = sample.name;
  let scale = 1;
  if (name.endsWith('_ms')) {
    name = `${name.slice(0, -3)}_seconds`;
    scale = 1 / 1000;
  }
  if (sample.type === 'gauge' && CUMULATIVE.has(sample.name)) return { name: `${name}_total`, type: 'counter', scale };
  return { name, type: sample.type, scale };
}

interface PromValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** A prom-client "metric" (anything with name/help/type/get) that reads one name from the snapshot. */
class SnapshotMetric {
  readonly aggregator = 'sum' as const;
  readonly help: string;

  constructor(
    private readonly source: () => StreamsMetrics,
    readonly name: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly scale: number,
    private readonly runtimeName: string,
  ) {
    this.help = HELP[name] ?? `riskloop runtime metric ${runtimeName}`;
  }

  async get(): Promise<{ name: string; help: string; type: string; values: PromValue[]; aggregator: 'sum' }> {
    const values: PromValue[] = [];
    for (const s of this.source().snapshot()) {
      if (s.name !== this.runtimeName) continue;
      if (s.histogram) {
        const h = s.histogram;
        let cumulative = 0;
        Histogram.buckets.forEach((le, i) => {
          cumulative += h.counts[i]!;
          values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: le * this.scale }, value: cumulative });
        });
        values.push({ metricName: `${this.name}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: h.count });
        values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: h.sum * this.scale });
        values.push({ metricName: `${this.name}_count`, labels: s.labels, value: h.count });
      } else {
        values.push({ labels: s.labels, value: s.value * this.scale });
      }
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

/**
 * Bridges runtime metrics into a registry. `sync()` registers collectors for names that appeared
 * since the last call (the runtime creates series lazily); the HTTP server calls it per scrape.
 */
export class RuntimeMetricsBridge {
  private readonly known = new Set<string>();

  constructor(
    private readonly registry: Registry,
    private readonly source: () => StreamsMetrics[],
  ) {}

  sync(): void {
    for (const metrics of this.source()) {
      for (const s of metrics.snapshot()) {
        if (this.known.has(s.name)) continue;
        this.known.add(s.name);
        const e = exportedName(s);
        const name = s.name;
        // Only snapshot() is read by SnapshotMetric, hence the narrow stand-in cast below.
        // Several runtimes (the loop and the drift monitor) share a name: one collector reads them all.
        const all = { snapshot: () => this.source().flatMap((m) => m.snapshot().filter((x) => x.name === name)) } as unknown as StreamsMetrics;
        // prom-client types registerMetric as taking its own Metric class; the registry only calls get(), name and type.
        this.registry.registerMetric(new SnapshotMetric(() => all, e.name, e.type, e.scale, name) as unknown as Parameters<Registry['registerMetric']>[0]);
      }
    }
  }
}
