/**
 * Aggregation over TimeWindows (tumbling and hopping). Each record updates every window that
 * contains it and is still open; a window closes when the stream time seen by this processor
 * reaches its end + grace. A record whose windows are all closed is late: dropped, counted and
 * optionally routed to the late-records sink. Updates are emitted for every record (eager emit).
 */
import type { WindowStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { TimeWindows, Windowed } from '../../windows.js';
import type { Change } from '../change.js';
import type { ValueAndTimestamp } from '../internalSerdes.js';
import type { Fold } from './aggregate.js';
import { LateRecords } from './lateRecords.js';

export class TimeWindowAggregateProcessor<K, V, VA> implements Processor<K, V, Windowed<K>, Change<VA>> {
  private ctx!: ProcessorContext<Windowed<K>, Change<VA>>;
  private store!: WindowStore<K, ValueAndTimestamp<VA>>;
  private late!: LateRecords<K, V>;
  private outputs: string[] = [];
  /** Highest timestamp this processor has seen; records may reach it re-timestamped, so not the task's. */
  private observedStreamTime = -1;

  constructor(
    private readonly storeName: string,
    private readonly windows: TimeWindows,
    private readonly fold: Fold<K, V, VA>,
    private readonly lateSinkName: string | undefined,
  ) {}

  init(context: ProcessorContext<Windowed<K>, Change<VA>>): void {
    this.ctx = context;
    this.store = context.getStateStore(this.storeName);
    this.late = new LateRecords(context as ProcessorContext<unknown, unknown>, this.lateSinkName);
    this.outputs = this.late.outputChildren();
  }

  process(record: Record<K, V>): void {
    if (record.key === null || record.key === undefined) return this.ctx.recordDropped('null-key');
    if (record.value === null || record.value === undefined) return this.ctx.recordDropped('null-value');
    if (record.timestamp > this.observedStreamTime) this.observedStreamTime = record.timestamp;
    const closeTime = this.observedStreamTime - this.windows.graceMs;
    let updated = 0;
    let closed = 0;
    for (const window of this.windows.windowsFor(record.timestamp)) {
      // Open while end > stream time - grace, i.e. it closes once stream time reaches end + grace.
      if (window.end <= closeTime) {
        closed++;
        continue;
      }
      const old = this.store.fetch(record.key, window.start);
      const value = this.fold(record.key, record.value, old?.value);
      const timestamp = old === undefined ? record.timestamp : Math.max(old.timestamp, record.timestamp);
      this.store.put(record.key, { value, timestamp }, window.start);
      updated++;
      const out = { key: { key: record.key, window }, value: { newValue: value, oldValue: old?.value ?? null }, timestamp, headers: record.headers };
      for (const child of this.outputs) this.ctx.forward(out, child);
    }
    const details = { windowCloseMs: closeTime, streamTimeMs: this.observedStreamTime };
    if (updated === 0) this.late.drop(record, details, closed);
    else if (closed > 0) this.late.closed(record, details, closed);
  }
}
