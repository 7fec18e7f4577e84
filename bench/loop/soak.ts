/**
 * `soak`: the whole loop (own process) at a steady offered rate for M minutes, with the loop
 * process's RSS and heap sampled every 5 s. Memory must be flat after warm-up: growth is the mean
 * of the last 6 samples against the mean of the first 6 after warm-up (the first max(2 min, 20 %)
 * of the run), and the least-squares slope over the post-warm-up samples is given too.
 * `minutes` in the result is the time actually run.
 */
import os from 'node:os';
import type { TopicSerdes } from '../../schemas/createSerdes.js';
import { type BenchEnv, createLoopTopics, dropRun, loopRun, produceParts, simulateFor, writeResult } from './common.js';
import { DecisionWatcher } from './decisionWatcher.js';
import { LoopProcess, type Sample } from './loopProcess.js';
import { PacedProducer } from './pacedProducer.js';

const MiB = 2 ** 20;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean over the samples of each RocksDB figure, MiB. */
function rocksdbMiB(samples: Sample[]): { memtables: number; tableReaders: number; blockCache: number } {
  const m = (f: (s: Sample) => number): number => +(mean(samples.map(f)) / MiB).toFixed(1);
  return { memtables: m((s) => s.rocksdb.memtables), tableReaders: m((s) => s.rocksdb.tableReaders), blockCache: m((s) => s.rocksdb.blockCache) };
}

/**
 * Every part of the process's memory the soak samples, so that RSS growth can be attributed: the
 * V8 heap, Buffers outside it (external, of which arrayBuffers), glibc's arenas and brk heap and the
 * other anonymous mappings (/proc smaps, procMemory.ts), and RocksDB's own accounting.
 */
const PARTS = {
  rss: (s: Sample) => s.rss,
  heapUsed: (s: Sample) => s.heapUsed,
  heapTotal: (s: Sample) => s.heapTotal,
  external: (s: Sample) => s.external,
  arrayBuffers: (s: Sample) => s.arrayBuffers,
  mallocArenas: (s: Sample) => s.proc?.arenas ?? NaN,
  brkHeap: (s: Sample) => s.proc?.brkHeap ?? NaN,
  otherAnon: (s: Sample) => s.proc?.otherAnon ?? NaN,
  fileMapped: (s: Sample) => s.proc?.file ?? NaN,
  rocksdbMemtables: (s: Sample) => s.rocksdb.memtables,
  rocksdbTableReaders: (s: Sample) => s.rocksdb.tableReaders,
  rocksdbBlockCache: (s: Sample) => s.rocksdb.blockCache,
} satisfies Record<string, (s: Sample) => number>;

/** Per part: mean of the first 6 post-warm-up samples, of the last 6, and the slope, MiB and MiB/min. */
function byPart(after: Sample[]): Record<keyof typeof PARTS, { startMiB: number; endMiB: number; slopeMiBPerMin: number }> {
  const head = after.slice(0, 6);
  const tail = after.slice(-6);
  const r = (x: number): number => +x.toFixed(1);
  return Object.fromEntries(
    Object.entries(PARTS).map(([name, f]) => [
      name,
      { startMiB: r(mean(head.map(f)) / MiB), endMiB: r(mean(tail.map(f)) / MiB), slopeMiBPerMin: r(slopePerMinute(after, f)) },
    ]),
  ) as ReturnType<typeof byPart>;
}

function slopePerMinute(samples: Sample[], field: 'rss' | 'heapUsed' | ((s: Sample) => number)): number {
  const value = typeof field === 'function' ? field : (s: Sample) => s[field];
  const t0 = samples[0]!.t;
  const xs = samples.map((s) => (s.t - t0) / 60_000);
  const ys = samples.map((s) => value(s) / MiB);
  const mx = mean(xs);
  const my = mean(ys);
  const num = xs.reduce((n, x, i) => n + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((n, x) => n + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

export async function soak(env: BenchEnv, opts: { minutes: number; rate: number; customers: number }) {
  const run = loopRun(env, 'soak', 'at_least_once');
  const serdes: TopicSerdes = await createLoopTopics(env, run);
  const needed = opts.rate * opts.minutes * 60 * 1.1;
  const days = Math.max(7, Math.ceil(needed / (opts.customers * 2.3)));
  const records = simulateFor(run, { customers: opts.customers, days });
  const transactions = records.transactions.slice(0, Math.round(opts.rate * opts.minutes * 60));
  if (transactions.length < opts.rate * opts.minutes * 60 * 0.99) throw new Error('soak: simulation too short');
  await produceParts(env, run, records, ['context']);
  const watcher = new DecisionWatcher(env, run.catalogue.decisions.name);
  const producer = new PacedProducer(env, run.catalogue.transactions.name, env.partitions, serdes);
  const loop = new LoopProcess({ ...run.appEnv, BENCH_SAMPLE_PROC: '1' }, { sampleMs: 5000 });
  // The pid, so that a heap snapshot can be asked of this loop process (--heapsnapshot-signal).
  console.log(`soak: loop process pid ${loop.pid}${process.env.MALLOC_ARENA_MAX ? `, MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX}` : ''}`);
  const loadAtStart = os.loadavg().map((l) => +l.toFixed(2));
  const started = Date.now();
  let sent;
  try {
    await Promise.all([watcher.start(), producer.connect(), loop.waitRunning()]);
    console.log(`soak: ${transactions.length} transactions at ${opts.rate} tx/s (${opts.minutes} min)`);
    sent = await producer.run(transactions, opts.rate);
    // A worker that died mid-run would leave too few samples: say why instead.
    loop.assertAlive();
  } finally {
    await loop.stop();
    await Promise.all([watcher.stop(), producer.disconnect()]);
    await dropRun(env, run);
  }
  const minutes = (Date.now() - started) / 60_000;
  const samples = loop.samples;
  const warmupMs = Math.max(120_000, 0.2 * minutes * 60_000);
  const after = samples.filter((s) => s.t - samples[0]!.t >= warmupMs);
  if (after.length < 12) throw new Error(`soak: only ${after.length} samples after warm-up; run longer`);
  const head = after.slice(0, 6);
  const tail = after.slice(-6);
  const rssStart = mean(head.map((s) => s.rss)) / MiB;
  const rssEnd = mean(tail.map((s) => s.rss)) / MiB;
  const heapStart = mean(head.map((s) => s.heapUsed)) / MiB;
  const heapEnd = mean(tail.map((s) => s.heapUsed)) / MiB;
  const results = {
    minutes,
    offeredRate: opts.rate,
    achievedRate: sent.achievedRate,
    transactions: transactions.length,
    decisionsSeen: watcher.count,
    warmupSeconds: warmupMs / 1000,
    rssAfterWarmupMiB: rssStart,
    rssEndMiB: rssEnd,
    rssGrowthPct: ((rssEnd - rssStart) / rssStart) * 100,
    rssSlopeMiBPerMin: slopePerMinute(after, 'rss'),
    heapUsedAfterWarmupMiB: heapStart,
    heapUsedEndMiB: heapEnd,
    heapGrowthPct: ((heapEnd - heapStart) / heapStart) * 100,
    heapSlopeMiBPerMin: slopePerMinute(after, 'heapUsed'),
    // RocksDB's own accounting of its native memory, so that RSS growth can be told apart: state
    // that grows by design (snapshots kept for the maturity window) vs. a leak elsewhere.
    rocksdbAfterWarmupMiB: rocksdbMiB(head),
    rocksdbEndMiB: rocksdbMiB(tail),
    byPart: byPart(after),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: os.loadavg().map((l) => +l.toFixed(2)),
    mallocArenaMax: process.env.MALLOC_ARENA_MAX ?? null,
    samples: samples.map((s) => ({
      t: s.t - samples[0]!.t,
      rssMiB: +(s.rss / MiB).toFixed(1),
      heapUsedMiB: +(s.heapUsed / MiB).toFixed(1),
      externalMiB: +(s.external / MiB).toFixed(1),
      arrayBuffersMiB: +(s.arrayBuffers / MiB).toFixed(1),
      mallocArenasMiB: s.proc ? +(s.proc.arenas / MiB).toFixed(1) : null,
      mallocArenaCount: s.proc?.arenaCount ?? null,
      brkHeapMiB: s.proc ? +(s.proc.brkHeap / MiB).toFixed(1) : null,
      otherAnonMiB: s.proc ? +(s.proc.otherAnon / MiB).toFixed(1) : null,
      threads: s.proc?.threads ?? null,
      rocksdbMemtablesMiB: +(s.rocksdb.memtables / MiB).toFixed(1),
      rocksdbTableReadersMiB: +(s.rocksdb.tableReaders / MiB).toFixed(1),
      rocksdbBlockCacheMiB: +(s.rocksdb.blockCache / MiB).toFixed(1),
      rocksdbDatabases: s.rocksdb.databases,
      processed: s.processed,
    })),
  };
  console.table(results.byPart);
  console.log(`soak: ${minutes.toFixed(1)} min, RSS ${rssStart.toFixed(0)} → ${rssEnd.toFixed(0)} MiB (${results.rssGrowthPct.toFixed(1)} %), heap ${heapStart.toFixed(0)} → ${heapEnd.toFixed(0)} MiB`);
  writeResult(env, 'soak', { ...opts, guarantee: 'at_least_once', sampleEverySeconds: 5, target: 'RSS growth <= 5 % after warm-up' }, results);
  return results;
}
