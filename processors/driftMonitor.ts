/**
 * Drift monitor: population stability index (PSI) of the score and of each model feature per
 * hour of event time, against the reference distributions stored with the model release.
 *
 * It runs on a single task (see ops/driftTopology.ts: decisions are re-keyed to one partition),
 * because PSI is a statement about the whole population of an hour, not about one partition's
 * share of it. Counts per (hour, model version) live in a logged store, so a restarted instance
 * resumes the open hours; an hour is closed by a stream-time punctuator once stream time passes its
 * end plus a grace period, so a replay of the same decisions closes the same hours with the same
 * counts and raises the same alerts (only `raisedAt` is wall clock). A decision arriving for an
 * hour already closed is counted as a late drop, never folded into a later hour.
 *
 * Counting is micro-batched: records update an in-memory map and `flush()` (end of batch) writes
 * each touched hour once, instead of serialising ~26 histograms per decision.
 */
import { z } from 'zod';
import { binIndex, psi } from '../ops/psi.js';
import type { Alert, Decision, ModelRelease, ReferenceHistogram } from '../schemas/types.js';
import { Stores, type KeyValueStoreBuilder } from '../state/stores.js';
import type { KeyValueStore } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes } from '../topology/serde.js';

/** The reference key the trainer uses for the model's own score. */
export const SCORE_REFERENCE = '__score__';
export const DRIFT_COUNTS_STORE = 'drift-hour-counts';
export const DRIFT_REFERENCES_STORE = 'drift-references';

export const DriftConfig = z.object({
  /** PSI above which an alert is raised; 0.2 is the conventional "significant shift". */
  threshold: z.number().positive().default(0.2),
  /** Tumbling window of event time. */
  windowMs: z.number().int().positive().default(3_600_000),
  /** How long after a window's end (in stream time) it stays open for out-of-order decisions. */
  graceMs: z.number().int().nonnegative().default(600_000),
  /** Below this many decisions an hour's PSI is noise (a 20-bin histogram needs a few hundred). */
  minSamples: z.number().int().positive().default(200),
  /** How often (in stream time) closed windows are looked for. */
  punctuateIntervalMs: z.number().int().positive().default(60_000),
});
export type DriftConfigInput = z.input<typeof DriftConfig>;
export type DriftConfig = z.output<typeof DriftConfig>;

/** What the monitor needs of a decision; the repartition step trims a Decision to this. */
export interface DriftObservation {
  modelVersion: string;
  score: number | null;
  features: { [name: string]: number };
}

export function observationOf(d: Decision): DriftObservation | null {
  if (d.modelVersion === null) return null;
  return { modelVersion: d.modelVersion, score: d.score, features: d.features };
}

/** Counts of one (hour, model version): per reference key, decisions per bin. */
interface HourCounts {
  windowStart: number;
  modelVersion: string;
  n: number;
  bins: { [reference: string]: number[] };
}

/** One computed PSI: what the metric shows and what the alert carries. */
export interface DriftMeasurement {
  subject: string;
  modelVersion: string;
  windowStart: number;
  windowEnd: number;
  psi: number;
  samples: number;
  alerted: boolean;
}

/** Told of every measurement (the ops metrics set gauges from it); must not throw. */
export type DriftListener = (m: DriftMeasurement) => void;

export type References = { [reference: string]: ReferenceHistogram };

export function driftCountsStore(): KeyValueStoreBuilder<string, HourCounts> {
  return Stores.keyValue<string, HourCounts>(DRIFT_COUNTS_STORE, Serdes.String, Serdes.Json<HourCounts>(), { persistent: false, logged: true });
}

/** Global store: model version → its reference distributions, fed by the model-releases topic. */
export function driftReferencesStore(): KeyValueStoreBuilder<string, References> {
  return Stores.keyValue<string, References>(DRIFT_REFERENCES_STORE, Serdes.String, Serdes.Json<References>(), { persistent: false, logged: false });
}

export function driftReferencesUpdater(): ProcessorSupplier<string, ModelRelease | null> {
  return () => {
    let store: KeyValueStore<string, References>;
    return {
      init(ctx) {
        store = ctx.getStateStore(DRIFT_REFERENCES_STORE);
      },
      process(record) {
        // A tombstone only compacts the topic; old decisions of that version still need their reference.
        if (record.value === null) return;
        if (Object.keys(record.value.referenceDistributions).length > 0) store.put(record.value.version, record.value.referenceDistributions);
      },
    };
  };
}

/** Zero-padded so byte order is time order: one range scan finds every closable hour. */
const hourKey = (windowStart: number, version: string): string => `${String(windowStart).padStart(15, '0')}|${version}`;

export class DriftMonitor implements Processor<string, DriftObservation, string, Alert> {
  private ctx!: ProcessorContext<string, Alert>;
  private counts!: KeyValueStore<string, HourCounts>;
  private references!: KeyValueStore<string, References>;
  private readonly pending = new Map<string, HourCounts>();
  private readonly warnedMissing = new Set<string>();

  constructor(
    private readonly config: DriftConfig,
    /** References of versions that never went through the releases topic (the model card at start-up). */
    private readonly seeded: ReadonlyMap<string, References>,
    private readonly listener: DriftListener | undefined,
  ) {}

  init(ctx: ProcessorContext<string, Alert>): void {
    this.ctx = ctx;
    this.counts = ctx.getStateStore(DRIFT_COUNTS_STORE);
    this.references = ctx.getStateStore(DRIFT_REFERENCES_STORE);
    ctx.schedule(this.config.punctuateIntervalMs, 'STREAM_TIME', (t) => this.closeWindows(t));
  }

  private referencesOf(version: string): References | undefined {
    return this.references.get(version) ?? this.seeded.get(version);
  }

  process(record: Record<string, DriftObservation>): void {
    const obs = record.value;
    if (obs === null) return this.ctx.recordDropped('null-value');
    const { windowMs, graceMs } = this.config;
    const windowStart = Math.floor(record.timestamp / windowMs) * windowMs;
    if (windowStart + windowMs + graceMs <= this.ctx.currentStreamTimeMs()) return this.ctx.recordDropped('late');
    const refs = this.referencesOf(obs.modelVersion);
    if (!refs) {
      if (!this.warnedMissing.has(obs.modelVersion)) {
        this.warnedMissing.add(obs.modelVersion);
        this.ctx.logger.warn({ modelVersion: obs.modelVersion }, 'no reference distributions for this model version: its decisions are not monitored for drift');
      }
      return;
    }
    const key = hourKey(windowStart, obs.modelVersion);
    let hour = this.pending.get(key) ?? this.counts.get(key);
    if (!hour) hour = { windowStart, modelVersion: obs.modelVersion, n: 0, bins: {} };
    this.pending.set(key, hour);
    hour.n++;
    for (const [name, ref] of Object.entries(refs)) {
      const value = name === SCORE_REFERENCE ? obs.score : obs.features[name];
      // A missing feature is "not available" in the hot path, not a value: it has no bin.
      if (value === null || value === undefined || Number.isNaN(value)) continue;
      const bins = (hour.bins[name] ??= new Array<number>(ref.proportions.length).fill(0));
      bins[binIndex(ref.edges, value)]!++;
    }
  }

  flush(): void {
    for (const [key, hour] of this.pending) this.counts.put(key, hour);
    this.pending.clear();
  }

  private closeWindows(streamTime: number): void {
    this.flush();
    const { windowMs, graceMs } = this.config;
    const closable: [string, HourCounts][] = [];
    for (const kv of this.counts.all()) {
      if (kv.value.windowStart + windowMs + graceMs > streamTime) break;
      closable.push([kv.key, kv.value]);
    }
    for (const [key, hour] of closable) {
      this.evaluate(hour);
      this.counts.delete(key);
    }
  }

  private evaluate(hour: HourCounts): void {
    const refs = this.referencesOf(hour.modelVersion);
    if (!refs || hour.n < this.config.minSamples) return;
    const windowEnd = hour.windowStart + this.config.windowMs;
    // Sorted so alerts come out in the same order on every replay.
    for (const name of Object.keys(hour.bins).sort()) {
      const counts = hour.bins[name]!;
      const samples = counts.reduce((s, c) => s + c, 0);
      if (samples < this.config.minSamples) continue;
      const value = psi(refs[name]!.proportions, counts);
      const alerted = value > this.config.threshold;
      this.listener?.({ subject: name, modelVersion: hour.modelVersion, windowStart: hour.windowStart, windowEnd, psi: value, samples, alerted });
      if (!alerted) continue;
      const alert: Alert = {
        kind: name === SCORE_REFERENCE ? 'SCORE_DRIFT_PSI' : 'FEATURE_DRIFT_PSI',
        subject: name,
        value,
        threshold: this.config.threshold,
        windowStart: hour.windowStart,
        windowEnd,
        raisedAt: this.ctx.currentSystemTimeMs(),
        details: { modelVersion: hour.modelVersion, samples: String(samples), topBins: topBins(refs[name]!, counts) },
      };
      this.ctx.logger.warn({ kind: alert.kind, subject: name, psi: value, modelVersion: hour.modelVersion, windowStart: hour.windowStart }, 'drift alert');
      this.ctx.forward({ key: name, value: alert, timestamp: windowEnd - 1, headers: {} });
    }
  }
}

/** The three bins contributing most to the PSI, as "[lo,hi): live% vs ref%", for the analyst reading the alert. */
function topBins(ref: ReferenceHistogram, counts: readonly number[]): string {
  const n = counts.reduce((s, c) => s + c, 0);
  return counts
    .map((c, i) => {
      const a = c / n;
      const e = ref.proportions[i]!;
      return { i, a, e, part: (Math.max(a, 1e-4) - Math.max(e, 1e-4)) * Math.log(Math.max(a, 1e-4) / Math.max(e, 1e-4)) };
    })
    .sort((x, y) => y.part - x.part || x.i - y.i)
    .slice(0, 3)
    .map((b) => `[${ref.edges[b.i]},${ref.edges[b.i + 1]}): ${(100 * b.a).toFixed(1)}% vs ${(100 * b.e).toFixed(1)}%`)
    .join('; ');
}

export function driftMonitor(config: DriftConfig, seeded: ReadonlyMap<string, References>, listener?: DriftListener): ProcessorSupplier<string, DriftObservation, string, Alert> {
  return () => new DriftMonitor(config, seeded, listener);
}
