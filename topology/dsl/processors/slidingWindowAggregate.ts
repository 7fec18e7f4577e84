/**
 * Aggregation over SlidingWindows, after Kafka Streams' KStreamSlidingWindowAggregate.
 *
 * Windows are [start, start + diff], both ends inclusive, and exist only where records make them
 * distinct: each record at t has a left window [t - diff, t], and a right window [t + 1, t + 1 + diff]
 * once some later record falls within diff of it. Since the store only keeps aggregates (not the
 * records), a new window's aggregate is derived from neighbouring windows:
 *
 * - every existing window containing t gets the record folded in;
 * - the record's left window, if new, starts from the aggregate of the latest window ending before
 *   t when the previous record is within diff (that window then holds exactly the records of
 *   [t - diff, t)), else from nothing;
 * - the record's right window, if new and non-empty, copies the aggregate of the latest-starting
 *   window that contains t and records after t (before the record is added to it);
 * - the previous record's right window, if missing and the new record falls in it, is created
 *   holding just the new record.
 *
 * Records earlier than diff (t < diff) would need negative starts; like Kafka Streams they share one
 * window [0, diff]. Stored values carry the window's latest record timestamp, which the algorithm
 * needs and which becomes the output timestamp.
 */
import type { WindowStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { SlidingWindows, Windowed } from '../../windows.js';
import type { Change } from '../change.js';
import type { ValueAndTimestamp } from '../internalSerdes.js';
import type { Fold } from './aggregate.js';
import { LateRecords } from './lateRecords.js';

export class SlidingWindowAggregateProcessor<K, V, VA> implements Processor<K, V, Windowed<K>, Change<VA>> {
  private ctx!: ProcessorContext<Windowed<K>, Change<VA>>;
  private store!: WindowStore<K, ValueAndTimestamp<VA>>;
  private late!: LateRecords<K, V>;
  private outputs: string[] = [];
  private observedStreamTime = -1;
  private readonly diff: number;

  constructor(
    private readonly storeName: string,
    private readonly windows: SlidingWindows,
    private readonly fold: Fold<K, V, VA>,
    private readonly lateSinkName: string | undefined,
  ) {
    this.diff = windows.timeDifferenceMs;
  }

  init(context: ProcessorContext<Windowed<K>, Change<VA>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
    this.late = new LateRecords(context as ProcessorContext<unknown, unknown>, this.lateSinkName);
    this.outputs = this.late.outputChildren();
  }

  process(record: Record<K, V>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    const t = record.timestamp;
    if (t > this.observedStreamTime) this.observedStreamTime = t;
    const closeTime = this.observedStreamTime - this.windows.graceMs;
    // Every window containing t ends by t + diff: if that is closed, so are they all.
    if (t + this.diff < closeTime) {
      this.late.drop(record, { windowCloseMs: closeTime, streamTimeMs: this.observedStreamTime });
      return;
    }
    if (t < this.diff) this.processEarly(record, closeTime);
    else this.processInOrder(record, closeTime);
  }

  private processInOrder(record: Record<K, V>, closeTime: number): void {
    const t = record.timestamp;
    const starts = new Set<number>();
    let leftWinAgg: ValueAndTimestamp<VA> | undefined;
    let rightWinAgg: ValueAndTimestamp<VA> | undefined;
    let leftWinExists = false;
    let rightWinExists = false;
    let previousRecordTs: number | undefined;

    // Materialized first: the loop writes to the store it reads.
    const existing = [...this.store.fetchRange(record.key, Math.max(0, t - 2 * this.diff), t + 1)];
    for (const { windowStart: start, value: agg } of existing) {
      starts.add(start);
      const end = start + this.diff;
      if (end < t) {
        // Ascending order: the last such window is the latest one ending before t.
        leftWinAgg = agg;
        previousRecordTs = agg.timestamp;
      } else if (end === t) {
        leftWinExists = true;
        if (agg.timestamp < t) previousRecordTs = agg.timestamp;
        this.update(record, start, agg, closeTime);
      } else if (start <= t) {
        rightWinAgg = agg;
        this.update(record, start, agg, closeTime);
      } else if (start === t + 1) {
        rightWinExists = true;
      } else {
        throw new Error(`sliding window aggregate ${this.storeName}: unexpected window start ${start} for a record at ${t}`);
      }
    }

    if (previousRecordTs !== undefined) {
      const previousRightStart = previousRecordTs + 1;
      if (!starts.has(previousRightStart) && previousRightStart + this.diff >= t) this.update(record, previousRightStart, undefined, closeTime);
    }
    if (!leftWinExists) {
      const previousInLeftWindow = previousRecordTs !== undefined && t - this.diff <= previousRecordTs;
      this.update(record, t - this.diff, previousInLeftWindow ? leftWinAgg : undefined, closeTime, true);
    }
    if (!rightWinExists && rightWinAgg !== undefined && rightWinAgg.timestamp > t) this.createRightWindow(record, rightWinAgg);
  }

  /** For 0 <= t < diff: all early records share the window [0, diff]. */
  private processEarly(record: Record<K, V>, closeTime: number): void {
    const t = record.timestamp;
    const starts = new Set<number>();
    let combined: ValueAndTimestamp<VA> | undefined;
    let rightWinAgg: ValueAndTimestamp<VA> | undefined;
    let rightWinExists = false;
    let previousRecordTs: number | undefined;

    const existing = [...this.store.fetchRange(record.key, 0, t + 1)];
    for (const { windowStart: start, value: agg } of existing) {
      starts.add(start);
      if (start === 0) {
        combined = agg;
        if (agg.timestamp < t) previousRecordTs = agg.timestamp;
      } else if (start <= t) {
        rightWinAgg = agg;
        this.update(record, start, agg, closeTime);
      } else if (start === t + 1) {
        rightWinExists = true;
      } else {
        throw new Error(`sliding window aggregate ${this.storeName}: unexpected window start ${start} for an early record at ${t}`);
      }
    }

    // Without a right window found, the combined window can only hold records after t (if any).
    if (rightWinAgg === undefined && combined !== undefined && combined.timestamp > t) rightWinAgg = combined;
    if (!rightWinExists && rightWinAgg !== undefined && rightWinAgg.timestamp > t) this.createRightWindow(record, rightWinAgg);
    if (previousRecordTs !== undefined && !starts.has(previousRecordTs + 1)) this.update(record, previousRecordTs + 1, undefined, closeTime);
    this.update(record, 0, combined, closeTime);
  }

  /**
   * Folds the record into the window starting at `start` and emits it. `base` is the window's
   * aggregate when it exists, or what a new window starts from (undefined: nothing); `isNew` keeps
   * a borrowed base from being reported as the window's old value.
   */
  private update(record: Record<K, V>, start: number, base: ValueAndTimestamp<VA> | undefined, closeTime: number, isNew = false): void {
    const end = start + this.diff;
    if (end < closeTime) {
      // One of the record's windows (not all: see process) has closed; counted, as Kafka Streams does.
      this.late.closed(record, { windowCloseMs: closeTime, streamTimeMs: this.observedStreamTime }, 1);
      return;
    }
    const value = this.fold(record.key, record.value, base?.value);
    const timestamp = base === undefined ? record.timestamp : Math.max(record.timestamp, base.timestamp);
    this.store.put(record.key, { value, timestamp }, start);
    this.emit(record, start, value, isNew ? null : (base?.value ?? null), timestamp);
  }

  /** The record's right window holds the records after it: a copy of `agg`, without the record. */
  private createRightWindow(record: Record<K, V>, agg: ValueAndTimestamp<VA>): void {
    const start = record.timestamp + 1;
    this.store.put(record.key, agg, start);
    this.emit(record, start, agg.value, null, agg.timestamp);
  }

  private emit(record: Record<K, V>, start: number, value: VA, old: VA | null, timestamp: number): void {
    const out = { key: { key: record.key, window: { start, end: start + this.diff } }, value: { newValue: value, oldValue: old }, timestamp, headers: record.headers };
    for (const child of this.outputs) this.ctx.forward(out, child);
  }
}
