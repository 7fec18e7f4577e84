/**
 * `loop-alo` / `loop-eos`: the whole risk loop (ingress, velocity features, enrichment, rules,
 * ONNX scoring, decision, snapshot store, label join) in its own process at maximum rate, on a
 * simulation pre-produced to a fresh prefix (KYC and device signals, then transactions, then the
 * labels that are not in the future). Throughput is decisions arriving at a read_committed consumer,
 * after a warm-up of W decisions up to the last: (N − W) / (t(N) − t(W)). CPU of the loop process
 * over the same interval, from /proc/<pid>/stat, per 1 000 decisions.
 */
import { defaultCommitIntervalMs } from '../../topology/kafka/config.js';
import { type BenchEnv, createLoopTopics, dropRun, loopRun, produceParts, simulateFor, writeResult } from './common.js';
import { DecisionWatcher } from './decisionWatcher.js';
import { LoopProcess } from './loopProcess.js';
import { CpuSampler } from './procCpu.js';
import type { ThroughputResult } from './passthrough.js';

export interface LoopThroughputResult extends ThroughputResult {
  guarantee: 'at_least_once' | 'exactly_once';
  commitIntervalMs: number;
  startToRunningMs: number | null;
  peakRssMiB: number;
  /** CPU ms (user + system) of the loop process per 1 000 decisions, over the measured interval. */
  cpuMsPer1000: number;
  passthroughRecordsPerSec?: number;
  ratioToPassthrough?: number;
}

export async function loopThroughput(
  env: BenchEnv,
  guarantee: 'at_least_once' | 'exactly_once',
  opts: { customers: number; days: number; warmup: number; commitIntervalMs?: number; cpuProfileDir?: string; passthroughRecordsPerSec?: number },
): Promise<LoopThroughputResult> {
  const name = guarantee === 'exactly_once' ? 'loop-eos' : 'loop-alo';
  const run = loopRun(env, name, guarantee, opts.commitIntervalMs);
  await createLoopTopics(env, run);
  const records = simulateFor(run, { customers: opts.customers, days: opts.days });
  await produceParts(env, run, records, ['context', 'transactions', 'labels']);
  const N = records.transactions.length;
  const watcher = new DecisionWatcher(env, run.catalogue.decisions.name, { thresholds: [opts.warmup, N] });
  await watcher.start();
  const loop = new LoopProcess(run.appEnv, { nodeArgs: opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : [] });
  const cpu = new CpuSampler(loop.pid!);
  try {
    await loop.waitRunning();
    await watcher.until(N, 900_000);
    cpu.sample();
  } finally {
    cpu.stop();
    await loop.stop();
    await watcher.stop();
  }
  const tWarm = watcher.mark(opts.warmup)!;
  const tEnd = watcher.mark(N)!;
  const seconds = (tEnd - tWarm) / 1000;
  const result: LoopThroughputResult = {
    guarantee,
    commitIntervalMs: run.config.commitIntervalMs ?? defaultCommitIntervalMs(guarantee),
    records: N,
    warmupRecords: opts.warmup,
    measuredRecords: N - opts.warmup,
    seconds,
    recordsPerSec: (N - opts.warmup) / seconds,
    startToRunningMs: loop.runningMs,
    peakRssMiB: Math.max(0, ...loop.samples.map((s) => s.rss)) / 2 ** 20,
    cpuMsPer1000: cpu.perThousand(tWarm, tEnd, N - opts.warmup),
  };
  if (opts.passthroughRecordsPerSec) {
    result.passthroughRecordsPerSec = opts.passthroughRecordsPerSec;
    result.ratioToPassthrough = result.recordsPerSec / opts.passthroughRecordsPerSec;
  }
  await dropRun(env, run);
  const { cpuProfileDir: _profile, passthroughRecordsPerSec: _base, ...config } = opts;
  writeResult(env, name, { ...config, transactions: N, partitions: env.partitions, guarantee, commitIntervalMs: result.commitIntervalMs, target: guarantee === 'exactly_once' ? '>= 0.4 x passthrough' : '>= 0.6 x passthrough' }, result);
  return result;
}
