/**
 * The measured interval of `loop-side` (the side sub-topologies alone write no decisions), taken
 * from the loop worker's samples of its counters (loopWorker.ts):
 * - complete: the transactions' sub-topology has processed every record of its input topics
 *   (`expected`, the sum of their end offsets after the input was produced: transactions and the
 *   labels that sub-topology also reads), and no task of the process has processed anything for
 *   `quietMs` (the repartitioned records of the last transactions are drained downstream);
 * - start: when that sub-topology's count crossed `warmup` (linear between the two samples around
 *   it; with no warm-up, the last sample before it had processed anything);
 * - end: the first sample showing the final total, so the end is late by at most one sampling
 *   period (the worker's BENCH_SAMPLE_MS).
 * The worker samples before start, every 20 ms until RUNNING and at RUNNING: tasks process records before
 * RUNNING is reported, and the smoke's tiny input (114 transactions) was done by then, so every
 * periodic sample showed the final count, no change was ever seen and the wait ran into its 900 s
 * deadline (issue 17).
 */
import type { Sample } from './loopProcess.js';

export type SideSample = Pick<Sample, 't' | 'processed' | 'transactionsSubtopologyProcessed'>;

export interface SideInterval {
  /** Worker Date.now() of the interval's start and end. */
  tWarm: number;
  tEnd: number;
}

export interface SideProgressOptions {
  warmup: number;
  /** Records in the transactions' sub-topology's input topics. */
  expected: number;
  quietMs: number;
}

/** The interval once the run is complete (see above), else null. */
export function sideInterval(samples: readonly SideSample[], opts: SideProgressOptions): SideInterval | null {
  const last = samples[samples.length - 1];
  if (!last || last.transactionsSubtopologyProcessed < opts.expected) return null;
  const end = lastChange(samples);
  if (end < 0 || last.t - samples[end]!.t < opts.quietMs) return null;
  return { tWarm: crossing(samples, opts.warmup), tEnd: samples[end]!.t };
}

/** Index of the first sample showing the final total of records processed (-1: no change seen). */
export function lastChange(samples: readonly SideSample[]): number {
  for (let i = samples.length - 1; i > 0; i--) if (samples[i]!.processed !== samples[i - 1]!.processed) return i;
  return -1;
}

/** When the transactions' sub-topology's count reached `warmup` (worker time). */
export function crossing(samples: readonly SideSample[], warmup: number): number {
  const count = (s: SideSample): number => s.transactionsSubtopologyProcessed;
  if (warmup <= 0) {
    // The start of processing lies after the last sample with nothing processed: taking that
    // sample's time makes the interval at most one sampling period too long, never too short.
    const before = samples.findLastIndex((s) => count(s) <= 0);
    return samples[Math.max(0, before)]!.t;
  }
  const b = samples.findIndex((s) => count(s) >= warmup);
  if (b < 0) throw new Error(`the count never reached the warm-up (${warmup})`);
  if (b === 0) return samples[0]!.t;
  const a = samples[b - 1]!;
  const s = samples[b]!;
  return a.t + ((s.t - a.t) * (warmup - count(a))) / (count(s) - count(a));
}

/**
 * True when records of the inputs are still due and nothing has been processed for `stallMs`,
 * counted from the last change but never from before RUNNING (`runningAt`, worker time): the
 * group join and restore are not a stall.
 */
export function stalled(samples: readonly SideSample[], expected: number, stallMs: number, runningAt: number): boolean {
  const last = samples[samples.length - 1];
  if (!last || last.transactionsSubtopologyProcessed >= expected) return false;
  const changed = lastChange(samples);
  const since = Math.max(runningAt, changed < 0 ? runningAt : samples[changed]!.t);
  return last.t - since > stallMs;
}

/**
 * Why the run is not complete yet, for the error a stalled or timed-out run fails with: what the
 * transactions' sub-topology has processed against its inputs, and since when nothing moved.
 */
export function sideStatus(samples: readonly SideSample[], opts: SideProgressOptions, inputTopics: readonly string[]): string {
  const last = samples[samples.length - 1];
  if (!last) return 'no sample from the loop worker';
  const end = lastChange(samples);
  const still = end < 0 ? 'no record processed yet' : `nothing processed for ${((last.t - samples[end]!.t) / 1000).toFixed(0)} s`;
  return (
    `the transactions' sub-topology processed ${last.transactionsSubtopologyProcessed} of the ${opts.expected} records of its inputs ` +
    `(${inputTopics.join(', ') || 'no input topics reported'}), all tasks ${last.processed} records; ${still}`
  );
}
