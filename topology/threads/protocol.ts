/**
 * Messages between a StreamThreads client (main thread) and its stream threads (worker threads).
 * Everything here crosses a structured clone: plain data only.
 */
import type { StreamsState } from '../kafka/kafkaStreams.js';
import type { Labels } from '../kafka/metrics.js';

/** A StreamsMetrics sample as it crosses the thread boundary (Histogram becomes plain fields). */
export interface WireSample {
  name: string;
  labels: Labels;
  type: 'counter' | 'gauge' | 'histogram';
  value: number;
  histogram?: { counts: number[]; count: number; sum: number; max: number };
}

export interface WireTask {
  id: string;
  status: string;
}

/** What the main thread hands a new stream thread (workerData). */
export interface ThreadInit {
  /** File URL of the module exporting `createStreamThread` (a StreamThreadFactory). */
  module: string;
  data: unknown;
  index: number;
  metricsIntervalMs: number;
}

export type ToThread =
  | { type: 'close' }
  /** Fault injection (tests, drills): an uncaught error inside the thread, as a bug would throw. */
  | { type: 'crash' }
  | { type: 'app'; payload: unknown };

export type FromThread =
  | { type: 'started' }
  | { type: 'startFailed'; message: string }
  | { type: 'state'; to: StreamsState; from: StreamsState }
  | { type: 'metrics'; samples: WireSample[]; tasks: WireTask[]; report: unknown }
  /** The thread's runtime failed (it has already shut itself down dirty). */
  | { type: 'failed'; message: string }
  | { type: 'closed' }
  | { type: 'app'; payload: unknown };
