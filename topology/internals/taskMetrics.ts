/**
 * Counters of one task. Plain numbers rather than a metrics library so the per-record path costs
 * an increment; the Kafka runtime reads and exports them (topology/kafka/metrics.ts).
 */
import type { DropReason } from '../processor.js';

/** Drops counted by the task itself, in addition to the processors' own reasons. */
export type TaskDropReason = DropReason | 'deserialization' | 'processing' | 'production' | 'invalid-timestamp' | 'undeliverable';

export interface NodeCounters {
  recordsIn: number;
  recordsOut: number;
  dropped: number;
}

export class TaskMetrics {
  /** Per node: records received, records forwarded (sinks: sent), records it dropped. */
  readonly nodes = new Map<string, NodeCounters>();
  readonly dropped: { [R in TaskDropReason]: number } = {
    late: 0,
    'null-key': 0,
    'null-value': 0,
    expired: 0,
    stale: 0,
    deserialization: 0,
    processing: 0,
    production: 0,
    'invalid-timestamp': 0,
    /** Records skipped because not even a reduced dead letter could be produced (logged at error). */
    undeliverable: 0,
  };
  recordsProcessed = 0;
  punctuations = 0;
  deadLetters = 0;
  /** Dead letters written reduced (the full one was too large); also counted in deadLetters. */
  reducedDeadLetters = 0;
  /** Wall time spent processing records (decode excluded), for an average and a maximum per record. */
  readonly processLatency = { count: 0, totalMs: 0, maxMs: 0 };

  node(name: string): NodeCounters {
    let counters = this.nodes.get(name);
    if (!counters) {
      counters = { recordsIn: 0, recordsOut: 0, dropped: 0 };
      this.nodes.set(name, counters);
    }
    return counters;
  }

  recordLatency(ms: number): void {
    this.processLatency.count++;
    this.processLatency.totalMs += ms;
    if (ms > this.processLatency.maxMs) this.processLatency.maxMs = ms;
  }
}
