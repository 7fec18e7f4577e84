/**
 * Session-window aggregation, as Kafka Streams' KStreamSessionWindowAggregate: a record finds the
 * key's sessions within the inactivity gap of it, merges them (and itself) into one session, emits a
 * tombstone for each merged-away session and the new aggregate for the merged one; every output's
 * timestamp is its session's end. A record whose merged session would end before stream time −
 * gap − grace is late: dropped and counted.
 *
 * Storage: a window store keyed by (key, session end) — ends, not starts, so that old sessions
 * leave by whole segments as stream time passes — holding the session's start and aggregate.
 */
import type { WindowStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Serde } from '../../serde.js';
import type { SessionWindows, Window, Windowed } from '../../windows.js';
import type { Change } from '../change.js';

export interface SessionValue<VA> {
  start: number;
  value: VA;
}

/** int64 session start, then the aggregate's bytes. */
export function sessionValueSerde<VA>(inner: Serde<VA>): Serde<SessionValue<VA>> {
  return {
    serialize(s) {
      const value = inner.serialize(s.value);
      const out = Buffer.allocUnsafe(8 + value.length);
      out.writeBigInt64BE(BigInt(s.start), 0);
      value.copy(out, 8);
      return out;
    },
    deserialize(data) {
      return { start: Number(data.readBigInt64BE(0)), value: inner.deserialize(data.subarray(8)) };
    },
  };
}

export interface SessionFold<K, V, VA> {
  initializer: () => VA | undefined;
  aggregator: (key: K, value: V, aggregate: VA | undefined) => VA;
  merger: (key: K, aggOne: VA | undefined, aggTwo: VA) => VA | undefined;
}

export class SessionWindowAggregateProcessor<K, V, VA> implements Processor<K, V, Windowed<K>, Change<VA>> {
  private ctx!: ProcessorContext<Windowed<K>, Change<VA>>;
  private store!: WindowStore<K, SessionValue<VA>>;
  private observedStreamTime = -1;

  constructor(
    private readonly storeName: string,
    private readonly windows: SessionWindows,
    private readonly fold: SessionFold<K, V, VA>,
  ) {}

  init(context: ProcessorContext<Windowed<K>, Change<VA>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
  }

  process(record: Record<K, V>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    const ts = record.timestamp;
    if (ts > this.observedStreamTime) this.observedStreamTime = ts;
    const gap = this.windows.inactivityGapMs;
    const closeTime = this.observedStreamTime - this.windows.graceMs - gap;
    let merged: Window = { start: ts, end: ts };
    let agg = this.fold.initializer();
    const overlapping: { window: Window; value: VA }[] = [];
    // Sessions ending at or after ts - gap and starting at or before ts + gap.
    for (const { windowStart: end, value: s } of this.store.fetchRange(record.key, Math.max(0, ts - gap), Number.MAX_SAFE_INTEGER)) {
      if (s.start > ts + gap) continue;
      overlapping.push({ window: { start: s.start, end }, value: s.value });
      agg = this.fold.merger(record.key, agg, s.value);
      merged = { start: Math.min(merged.start, s.start), end: Math.max(merged.end, end) };
    }
    if (merged.end < closeTime) {
      this.ctx.recordDropped('late');
      this.ctx.logger.debug({ ...this.ctx.recordMetadata(), timestamp: ts, sessionEnd: merged.end, closeTime }, 'late record: its session is closed');
      return;
    }
    const base = { headers: record.headers };
    if (!(merged.start === ts && merged.end === ts)) {
      for (const old of overlapping) {
        this.store.put(record.key, null, old.window.end);
        this.ctx.forward({ ...base, key: { key: record.key, window: old.window }, value: { newValue: null, oldValue: old.value }, timestamp: old.window.end });
      }
    }
    const next = this.fold.aggregator(record.key, record.value, agg);
    this.store.put(record.key, { start: merged.start, value: next }, merged.end);
    this.ctx.forward({ ...base, key: { key: record.key, window: merged }, value: { newValue: next, oldValue: null }, timestamp: merged.end });
  }
}
