/**
 * Punctuation schedules of one task and one time type, with Kafka Streams' timing rules: a schedule
 * fires when time reaches its next due time, is called with the current time, and then moves to
 * the next due time strictly after now — a punctuator that fell behind fires once, not per missed
 * interval, and stays aligned to its original grid.
 */
import type { Cancellable, Punctuator } from '../processor.js';

export interface PunctuationSchedule {
  readonly nodeName: string;
  readonly intervalMs: number;
  readonly punctuator: Punctuator;
  nextMs: number;
  cancelled: boolean;
}

export class PunctuationQueue {
  private schedules: PunctuationSchedule[] = [];

  schedule(nodeName: string, firstDueMs: number, intervalMs: number, punctuator: Punctuator): Cancellable {
    if (!(intervalMs >= 1)) throw new Error(`punctuation interval must be at least 1 ms, got ${intervalMs}`);
    const entry: PunctuationSchedule = { nodeName, intervalMs, punctuator, nextMs: firstDueMs, cancelled: false };
    this.schedules.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
        this.schedules = this.schedules.filter((s) => s !== entry);
      },
    };
  }

  /** The schedules due at `nowMs`, earliest first; each is advanced past `nowMs` as it is returned. */
  due(nowMs: number): PunctuationSchedule[] {
    const due = this.schedules.filter((s) => s.nextMs <= nowMs).sort((a, b) => a.nextMs - b.nextMs);
    for (const s of due) {
      const missed = Math.floor((nowMs - s.nextMs) / s.intervalMs);
      s.nextMs += (missed + 1) * s.intervalMs;
    }
    return due;
  }

  get size(): number {
    return this.schedules.length;
  }
}
