/**
 * `latency`: the whole loop (own process) at fixed offered rates. A paced producer sends simulated
 * transactions at each rate for S seconds; a read_committed consumer on the decisions topic takes
 * arrival − produce time per transaction (both wall clocks of this process, so no clock skew).
 * The first `warmupSeconds` of each rate are left out of the figures. Rates go up in order; after
 * each, the backlog must drain within `drainSeconds`, else the rate is marked saturated (its
 * undecided transactions are counted, its percentiles are a lower bound) and higher rates are
 * skipped: their figures would only measure the queue.
 * Main phase under at_least_once (the decision is visible as soon as it is sent); then one rate
 * under exactly_once, where a decision only becomes visible when its transaction commits, so the
 * commit interval adds to the latency (stated in the result). Each rate also reports the loop
 * process's CPU (from /proc/<pid>/stat) from its first send to its last decision, per 1 000
 * transactions: at a rate the loop keeps up with, what that rate costs it.
 */
import { defaultCommitIntervalMs } from '../../topology/kafka/config.js';
import type { TopicSerdes } from '../../schemas/createSerdes.js';
import type { Transaction } from '../../schemas/types.js';
import type { KeyedRecord } from '../../simulator/index.js';
import { type BenchEnv, createLoopTopics, dropRun, loopRun, percentile, produceParts, simulateFor, sleep, writeResult } from './common.js';
import { DecisionWatcher } from './decisionWatcher.js';
import { LoopProcess } from './loopProcess.js';
import { PacedProducer } from './pacedProducer.js';
import { CpuSampler } from './procCpu.js';

export interface LatencyRow {
  guarantee: 'at_least_once' | 'exactly_once';
  commitIntervalMs: number;
  offeredRate: number;
  achievedRate: number;
  transactions: number;
  measured: number;
  undecided: number;
  saturated: boolean;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** CPU ms (user + system) of the loop process per 1 000 transactions, first send → last decision (or drain deadline). */
  cpuMsPer1000: number;
  /** Latency histogram (ms bucket upper bounds → count), for the chart. */
  histogram: [number, number][];
}

const BUCKETS = [1, 2, 3, 5, 7, 10, 15, 20, 25, 35, 50, 75, 100, 150, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, Number.POSITIVE_INFINITY];

function histogram(sorted: number[]): [number, number][] {
  const out: [number, number][] = BUCKETS.map((b) => [b, 0]);
  let i = 0;
  for (const v of sorted) {
    while (v > BUCKETS[i]!) i++;
    out[i]![1]++;
  }
  return out.filter(([, n], k) => n > 0 || k < out.length - 1).map(([b, n]) => [Number.isFinite(b) ? b : -1, n]);
}

async function phase(
  env: BenchEnv,
  guarantee: 'at_least_once' | 'exactly_once',
  rates: number[],
  opts: { customers: number; seconds: number; warmupSeconds: number; drainSeconds: number; commitIntervalMs?: number },
): Promise<LatencyRow[]> {
  const run = loopRun(env, guarantee === 'exactly_once' ? 'lat-eos' : 'lat-alo', guarantee, opts.commitIntervalMs);
  const serdes: TopicSerdes = await createLoopTopics(env, run);
  const needed = rates.reduce((n, r) => n + r * opts.seconds, 0) * 1.1;
  const days = Math.max(7, Math.ceil(needed / (opts.customers * 2.3)));
  const records = simulateFor(run, { customers: opts.customers, days });
  await produceParts(env, run, records, ['context']);
  const arrivedAt = new Map<string, number>();
  const watcher = new DecisionWatcher(env, run.catalogue.decisions.name, { serdes, onDecision: (id, at) => void arrivedAt.set(id, at) });
  const producer = new PacedProducer(env, run.catalogue.transactions.name, env.partitions, serdes);
  const loop = new LoopProcess(run.appEnv);
  const cpu = new CpuSampler(loop.pid!);
  const rows: LatencyRow[] = [];
  try {
    await Promise.all([watcher.start(), producer.connect(), loop.waitRunning()]);
    let from = 0;
    for (const rate of rates) {
      const slice: KeyedRecord<Transaction>[] = records.transactions.slice(from, from + Math.round(rate * opts.seconds));
      if (slice.length < rate * opts.seconds * 0.9) throw new Error(`latency: simulation too short for ${rate} tx/s`);
      from += slice.length;
      cpu.sample();
      const t0 = performance.now();
      const sent = await producer.run(slice, rate);
      const deadline = Date.now() + opts.drainSeconds * 1000;
      const ids = slice.map((r) => r.value.transactionId);
      while (Date.now() < deadline && ids.some((id) => !arrivedAt.has(id))) await sleep(100);
      cpu.sample();
      const cpuMsPer1000 = cpu.perThousand(t0, performance.now(), slice.length);
      const skip = Math.round(rate * opts.warmupSeconds);
      const lat: number[] = [];
      let undecided = 0;
      for (const id of ids.slice(skip)) {
        const a = arrivedAt.get(id);
        if (a === undefined) undecided++;
        else lat.push(a - producer.sentAt.get(id)!);
      }
      lat.sort((a, b) => a - b);
      const row: LatencyRow = {
        guarantee,
        commitIntervalMs: run.config.commitIntervalMs ?? defaultCommitIntervalMs(guarantee),
        offeredRate: rate,
        achievedRate: sent.achievedRate,
        transactions: slice.length,
        measured: lat.length,
        undecided,
        saturated: undecided > 0,
        p50: percentile(lat, 0.5),
        p95: percentile(lat, 0.95),
        p99: percentile(lat, 0.99),
        max: lat[lat.length - 1] ?? Number.NaN,
        cpuMsPer1000,
        histogram: histogram(lat),
      };
      rows.push(row);
      console.log(
        `latency ${guarantee} ${rate} tx/s (achieved ${sent.achievedRate.toFixed(0)}): p50 ${row.p50} p95 ${row.p95} p99 ${row.p99} max ${row.max} ms, ${row.cpuMsPer1000.toFixed(0)} CPU-ms/1000 tx${row.saturated ? ` — SATURATED, ${undecided} undecided after ${opts.drainSeconds} s drain` : ''}`,
      );
      if (row.saturated) break;
    }
  } finally {
    cpu.stop();
    await loop.stop();
    await Promise.all([watcher.stop(), producer.disconnect()]);
    await dropRun(env, run);
  }
  return rows;
}

export async function latency(
  env: BenchEnv,
  opts: { customers: number; rates: number[]; seconds: number; warmupSeconds?: number; drainSeconds?: number; eosRate?: number; eosCommitIntervalMs?: number },
): Promise<LatencyRow[]> {
  const common = { customers: opts.customers, seconds: opts.seconds, warmupSeconds: opts.warmupSeconds ?? 3, drainSeconds: opts.drainSeconds ?? 30 };
  const alo = await phase(env, 'at_least_once', opts.rates, common);
  const eosRate = opts.eosRate ?? opts.rates[0]!;
  const eos = await phase(env, 'exactly_once', [eosRate], { ...common, ...(opts.eosCommitIntervalMs ? { commitIntervalMs: opts.eosCommitIntervalMs } : {}) });
  const rows = [...alo, ...eos];
  const skipped = opts.rates.filter((r) => !alo.some((row) => row.offeredRate === r));
  writeResult(
    env,
    'latency',
    {
      ...common,
      rates: opts.rates,
      skippedRatesAfterSaturation: skipped,
      eosRate,
      measure: 'wall time at the paced producer send() → wall time the decision batch reached a read_committed kafkajs consumer (same process, same clock)',
      producer: 'paced, 10 ms ticks, no linger, acks=1, up to 64 sends in flight',
      targets: { '2000': 'p99 <= 25 ms', '5000': 'p99 <= 100 ms' },
    },
    rows,
  );
  return rows;
}
