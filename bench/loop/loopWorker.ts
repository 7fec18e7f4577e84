/**
 * The risk loop in its own process, as `riskloop run` would run it (config from the environment),
 * so that the benchmark's producer and decision consumer do not share its event loop or its heap.
 * Reports to the parent over IPC: 'running', then a sample every BENCH_SAMPLE_MS (memory and the
 * runtime's counters); on 'stop' it closes cleanly (commit, checkpoints) and exits. The side-only
 * run also samples just before start (every counter still 0), every 20 ms until RUNNING and at
 * RUNNING: those bound when processing began, so that an input processed within one sampling
 * period still shows a change to measure (sideProgress.ts).
 */
import pino from 'pino';
import { z } from 'zod';
import { readAppConfig } from '../../bin/config.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { startMallocTrim } from '../../ops/mallocTrim.js';
import { type RocksDbMemory, rocksdbMemory } from '../../state/rocksdbSync.js';
import { type ProcMemory, procMemory } from './procMemory.js';

export type WorkerMessage =
  /** inputTopics: the topics the transactions' sub-topology reads (what it must process in all). */
  | { type: 'running'; ms: number; t: number; inputTopics: string[] }
  | { type: 'sample'; t: number; rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number; proc: ProcMemory | null; rocksdb: RocksDbMemory; processed: number; out: number; transactionsSubtopologyProcessed: number }
  | { type: 'restore'; restored: number }
  | { type: 'closed' }
  | { type: 'error'; message: string };

const send = (m: WorkerMessage): void => void process.send?.(m);

/** BENCH_LOOP_PARTS: the whole loop (default), the hot path alone or the side sub-topologies alone (processors/riskLoop.ts `parts`). */
const Parts = z.enum(['all', 'hot', 'side']).default('all');

async function main(): Promise<void> {
  const config = readAppConfig(process.env);
  const logger = pino({ level: config.logLevel });
  const parts = Parts.parse(process.env.BENCH_LOOP_PARTS || undefined);
  const app = await buildRiskLoopApp(config, logger, parts === 'all' ? {} : { loop: { parts } });
  // The side-only build writes no decisions: its progress is the records of the sub-topology that
  // reads the transactions (transactions and the few labels it also reads).
  const txSub = app.topology.subtopologyForTopic(app.catalogue.transactions.name);
  const txTasks = txSub === undefined ? [] : Array.from({ length: config.partitions }, (_, p) => `${txSub}_${p}`);
  const inputTopics = txSub === undefined ? [] : [...app.topology.subtopology(txSub).sourceTopics];
  const every = Number(process.env.BENCH_SAMPLE_MS ?? 1000);
  const sample = (): void => {
    const m = process.memoryUsage();
    send({
      type: 'sample',
      t: Date.now(),
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      // Reading smaps costs a few ms: only the soak (samples every 5 s) asks for it.
      proc: process.env.BENCH_SAMPLE_PROC === '1' ? procMemory() : null,
      rocksdb: rocksdbMemory(),
      processed: app.streams.metrics.total('riskloop_records_processed_total'),
      out: app.streams.metrics.total('riskloop_records_out_total'),
      transactionsSubtopologyProcessed: txTasks.reduce((n, task) => n + app.streams.metrics.total('riskloop_records_processed_total', { task }), 0),
    });
  };
  const started = performance.now();
  app.streams.on('error', (err: Error) => send({ type: 'error', message: err.message }));
  // The side-only run's interval comes from these samples (sideProgress.ts), and its tasks process
  // records before RUNNING is reported (a tiny input can be done by then): sample before start and
  // every 20 ms until RUNNING, so that the start of processing is known to 20 ms. The other runs'
  // samples (soak's warm-up among them) start at RUNNING as before.
  if (parts === 'side') sample();
  const startup = parts === 'side' ? setInterval(sample, Math.min(every, 20)) : undefined;
  try {
    await app.streams.start();
    await app.streams.waitForRunning(300_000);
  } finally {
    clearInterval(startup);
  }
  // As `riskloop run` does (RISKLOOP_MALLOC_TRIM_SECONDS; 0 for a run without it).
  const trimmer = startMallocTrim({ everyMs: config.mallocTrimSeconds * 1000, logger });
  send({ type: 'running', ms: performance.now() - started, t: Date.now(), inputTopics });
  if (parts === 'side') sample();
  const timer = setInterval(sample, every);
  process.on('message', (msg: { type: string }) => {
    if (msg.type !== 'stop') return;
    clearInterval(timer);
    Promise.all([trimmer.stop(), app.close()]).then(
      () => {
        send({ type: 'closed' });
        // Exit after the IPC message is flushed; a CPU profile (--cpu-prof) is written on exit.
        setTimeout(() => process.exit(0), 100);
      },
      (err: Error) => {
        send({ type: 'error', message: err.message });
        process.exit(1);
      },
    );
  });
}

main().catch((err: Error) => {
  send({ type: 'error', message: err.message });
  process.exit(1);
});
