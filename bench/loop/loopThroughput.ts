/**
 * `loop-alo` / `loop-eos`: the whole risk loop (ingress, velocity features, enrichment, rules,
 * ONNX scoring, decision, snapshot store, label join) in its own process at maximum rate, on a
 * simulation pre-produced to a fresh prefix (KYC and device signals, then transactions, then the
 * labels that are not in the future). Throughput is decisions arriving at a read_committed consumer,
 * after a warm-up of W decisions up to the last: (N − W) / (t(N) − t(W)). CPU of the loop process
 * and of the broker over the same interval, from /proc/<pid>/stat, per 1 000 decisions.
 * `loop-hot`: the hot path alone (`parts: 'hot'`, at_least_once), measured the same way.
 * `loop-side`: the side sub-topologies alone (`parts: 'side'`, at_least_once). They write no
 * decisions: progress is the count of records the sub-topology reading the transactions has
 * processed (the loop worker's counter); the interval starts when it passes W and ends once it has
 * processed every record of its input topics and every task of the process has been idle 5 s
 * (repartitioned records drained), so the downstream aggregates of the last transactions count
 * too (sideProgress.ts). Throughput is still (N − W) transactions over that interval.
 * With a CPU profile (`--cpu-profile`), the result keeps its summary: top self-time functions and
 * self time by area (library or folder), over the loop process's whole life.
 */
import os from 'node:os';
import { defaultCommitIntervalMs } from '../../topology/kafka/config.js';
import { type BenchEnv, createLoopTopics, dropRun, kafkaClient, loopRun, produceParts, simulateFor, sleep, writeResult } from './common.js';
import { DecisionWatcher } from './decisionWatcher.js';
import { LoopProcess } from './loopProcess.js';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { brokerPid, CpuSampler } from './procCpu.js';
import type { ThroughputResult } from './passthrough.js';
import { byArea, readProfile, summarize } from './profileSummary.js';
import { sideInterval, sideStatus, stalled } from './sideProgress.js';

export type LoopBenchName = 'loop-alo' | 'loop-eos' | 'loop-hot' | 'loop-side';

export interface LoopThroughputResult extends ThroughputResult {
  guarantee: 'at_least_once' | 'exactly_once';
  commitIntervalMs: number;
  startToRunningMs: number | null;
  peakRssMiB: number;
  parts: 'all' | 'hot' | 'side';
  /** CPU ms (user + system) of the loop process per 1 000 decisions, over the measured interval. */
  cpuMsPer1000: number;
  /** The same for the broker (null when its pid is not known: not the local stack). */
  brokerCpuMsPer1000: number | null;
  brokerPid: number | null;
  /** 1-minute load average at the start and at the end of the measured interval. */
  loadAverage: [number, number];
  /** loop-side: the records of the transactions' sub-topology's input topics (transactions and labels), all processed by the interval's end. */
  sideInputRecords?: number;
  profile?: { file: string; top: ReturnType<typeof summarize>; byArea: ReturnType<typeof byArea> };
  passthroughRecordsPerSec?: number;
  ratioToPassthrough?: number;
}

export async function loopThroughput(
  env: BenchEnv,
  name: LoopBenchName,
  opts: { customers: number; days: number; warmup: number; commitIntervalMs?: number; cpuProfileDir?: string; passthroughRecordsPerSec?: number },
): Promise<LoopThroughputResult> {
  const guarantee = name === 'loop-eos' ? 'exactly_once' : 'at_least_once';
  const parts = name === 'loop-hot' ? 'hot' : name === 'loop-side' ? 'side' : 'all';
  const run = loopRun(env, name, guarantee, opts.commitIntervalMs);
  await createLoopTopics(env, run);
  const records = simulateFor(run, { customers: opts.customers, days: opts.days });
  await produceParts(env, run, records, ['context', 'transactions', 'labels']);
  const N = records.transactions.length;
  const watcher = parts === 'side' ? null : new DecisionWatcher(env, run.catalogue.decisions.name, { thresholds: [opts.warmup, N] });
  await watcher?.start();
  const profileStart = Date.now();
  const loop = new LoopProcess({ ...run.appEnv, BENCH_LOOP_PARTS: parts }, {
    // The side-only run's interval comes from the worker's samples: take them often.
    sampleMs: parts === 'side' ? 200 : 1000,
    nodeArgs: opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfileDir}`] : [],
  });
  const cpu = new CpuSampler(loop.pid!);
  const bPid = brokerPid(process.env);
  const brokerCpu = bPid === null ? null : new CpuSampler(bPid);
  const load0 = os.loadavg()[0]!;
  let tWarm: number;
  let tEnd: number;
  let sideInputRecords: number | undefined;
  try {
    await loop.waitRunning();
    if (watcher) {
      await watcher.until(N, 900_000);
      tWarm = watcher.mark(opts.warmup)!;
      tEnd = watcher.mark(N)!;
    } else {
      ({ tWarm, tEnd, inputRecords: sideInputRecords } = await sideProgress(env, loop, run.config.topicPrefix, opts.warmup));
    }
    cpu.sample();
    brokerCpu?.sample();
  } finally {
    cpu.stop();
    brokerCpu?.stop();
    await loop.stop();
    await watcher?.stop();
  }
  const load1 = os.loadavg()[0]!;
  const seconds = (tEnd - tWarm) / 1000;
  const result: LoopThroughputResult = {
    guarantee,
    parts,
    commitIntervalMs: run.config.commitIntervalMs ?? defaultCommitIntervalMs(guarantee),
    records: N,
    warmupRecords: opts.warmup,
    measuredRecords: N - opts.warmup,
    seconds,
    recordsPerSec: (N - opts.warmup) / seconds,
    startToRunningMs: loop.runningMs,
    peakRssMiB: Math.max(0, ...loop.samples.map((s) => s.rss)) / 2 ** 20,
    cpuMsPer1000: cpu.perThousand(tWarm, tEnd, N - opts.warmup),
    brokerCpuMsPer1000: brokerCpu ? brokerCpu.perThousand(tWarm, tEnd, N - opts.warmup) : null,
    brokerPid: bPid,
    loadAverage: [+load0.toFixed(2), +load1.toFixed(2)],
    ...(sideInputRecords === undefined ? {} : { sideInputRecords }),
  };
  if (opts.cpuProfileDir) {
    const file = newestProfile(opts.cpuProfileDir, profileStart);
    if (file) {
      const profile = readProfile(file);
      result.profile = { file, top: summarize(profile, 30), byArea: byArea(profile).slice(0, 30) };
    }
  }
  if (opts.passthroughRecordsPerSec) {
    result.passthroughRecordsPerSec = opts.passthroughRecordsPerSec;
    result.ratioToPassthrough = result.recordsPerSec / opts.passthroughRecordsPerSec;
  }
  await dropRun(env, run);
  const { cpuProfileDir: _profile, passthroughRecordsPerSec: _base, ...config } = opts;
  const target = { 'loop-alo': '>= 0.6 x passthrough', 'loop-eos': '>= 0.4 x passthrough', 'loop-hot': '<= 200 CPU-ms per 1000 decisions (loop process)', 'loop-side': '' }[name];
  writeResult(env, name, { ...config, transactions: N, partitions: env.partitions, guarantee, parts, commitIntervalMs: result.commitIntervalMs, target }, result);
  return result;
}

/**
 * The side-only loop's measured interval (sideProgress.ts): it ends once the transactions'
 * sub-topology has processed every record of its input topics and every task has been idle for
 * 5 s. Fails, instead of waiting on, when the worker fails, when nothing is processed for
 * `stallMs` while records are still due, or after `timeoutMs` in all.
 */
async function sideProgress(
  env: BenchEnv,
  loop: LoopProcess,
  topicPrefix: string,
  warmup: number,
  opts: { timeoutMs?: number; stallMs?: number } = {},
): Promise<{ tWarm: number; tEnd: number; inputRecords: number }> {
  // Only the run's own topics were produced before the loop started, so their end offsets are the
  // whole input; an internal topic the sub-topology might also read is left out (its records then
  // only make the count pass `expected` sooner, and the idle wait covers them).
  const topics = loop.inputTopics.filter((t) => t.startsWith(topicPrefix));
  if (topics.length === 0) throw new Error(`side loop: the worker reported no input topic of the transactions' sub-topology (${loop.inputTopics.join(', ')})`);
  const expected = await endOffsetsSum(env, topics);
  const progress = { warmup, expected, quietMs: 5000 };
  // Sample times are the worker's Date.now(); the CPU samplers use the parent's performance.now().
  const toPerf = (t: number): number => t - Date.now() + performance.now();
  const timeoutMs = opts.timeoutMs ?? 900_000;
  const stallMs = opts.stallMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    loop.assertAlive();
    const s = loop.samples;
    const interval = sideInterval(s, progress);
    if (interval) return { tWarm: toPerf(interval.tWarm), tEnd: toPerf(interval.tEnd), inputRecords: expected };
    if (stalled(s, expected, stallMs, loop.runningAt ?? 0)) {
      throw new Error(`side loop: no progress for ${stallMs / 1000} s: ${sideStatus(s, progress, topics)}`);
    }
    if (Date.now() > deadline) throw new Error(`side loop: not complete after ${timeoutMs / 1000} s: ${sideStatus(s, progress, topics)}`);
    await sleep(200);
  }
}

/** Records in the topics (fresh topics: the sum of their partitions' end offsets). */
async function endOffsetsSum(env: BenchEnv, topics: readonly string[]): Promise<number> {
  const admin = kafkaClient(env, 'riskloop-bench-offsets').admin();
  await admin.connect();
  try {
    let n = 0;
    for (const topic of topics) for (const p of await admin.fetchTopicOffsets(topic)) n += Number(p.high) - Number(p.low);
    return n;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function newestProfile(dir: string, since: number): string | null {
  try {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(dir, f))
      .filter((f) => statSync(f).mtimeMs >= since)
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    return files[0] ?? null;
  } catch {
    return null;
  }
}
