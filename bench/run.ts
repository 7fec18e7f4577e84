/**
 * `npm run bench [names...] [--minutes M]`: the risk loop's benchmarks on the real broker.
 *   passthrough  raw kafkajs consume → produce (the yardstick)
 *   loop-alo     the whole loop, at_least_once, maximum rate
 *   loop-eos     the whole loop, exactly_once, maximum rate
 *   loop-hot     the hot path alone (parts 'hot'), at_least_once, maximum rate
 *   loop-side    the side sub-topologies alone (parts 'side'), at_least_once, maximum rate
 *   latency      the whole loop at fixed offered rates: transaction produce → decision arrival
 *   score        ONNX inference cost per transaction at batch sizes 1, 16, 64, 256
 *   restore      restore of a store holding >= 1M keys from its changelog
 *   soak         the loop at a steady rate for >= 10 minutes, RSS and heap sampled (only when named or BENCH_SOAK=1)
 *   decide       decide() and POST /v1/decisions latency at 250-2000 tx/s beside topic-to-topic, loop CPU-ms/1000 (bench/decide.ts)
 *   recovery     two `riskloop run` instances, one SIGKILLed and restarted: time to decisions flowing again, latency after (bench/recovery.ts)
 * --threads N: the loop process runs N stream threads (RISKLOOP_STREAM_THREADS, topology/threads/).
 * Default: all but soak. Starts the local stack (stack/stack.sh up) when KAFKA_BROKERS is unset.
 * Each writes bench/results/<name>.json; then the charts (latency.png, throughput.png) and a table.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { benchEnv, type BenchEnv } from './loop/common.js';

const NAMES = ['passthrough', 'loop-alo', 'loop-eos', 'loop-hot', 'loop-side', 'latency', 'score', 'restore', 'soak', 'recovery', 'decide'] as const;
type Name = (typeof NAMES)[number];

const Args = z.object({
  names: z.array(z.enum(NAMES)),
  minutes: z.coerce.number().positive().default(10),
  customers: z.coerce.number().int().positive().default(3000),
  days: z.coerce.number().int().positive().default(14),
  warmup: z.coerce.number().int().min(0).default(10_000),
  rates: z.string().default('250,500,1000,2000,5000').transform((s) => s.split(',').map(Number)),
  rateSeconds: z.coerce.number().positive().default(15),
  restoreKeys: z.coerce.number().int().positive().default(1_000_000),
  soakRate: z.coerce.number().positive().default(300),
  cpuProfile: z.boolean().default(false),
  /** Stream threads of the loop process (RISKLOOP_STREAM_THREADS): worker threads above 1. */
  threads: z.coerce.number().int().min(1).max(64).default(1),
});

function readJson(env: BenchEnv, name: string): { results: Record<string, unknown> } | null {
  const file = path.join(env.resultsDir, `${name}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { results: Record<string, unknown> }) : null;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      minutes: { type: 'string' },
      customers: { type: 'string' },
      days: { type: 'string' },
      warmup: { type: 'string' },
      rates: { type: 'string' },
      'rate-seconds': { type: 'string' },
      'restore-keys': { type: 'string' },
      'soak-rate': { type: 'string' },
      'cpu-profile': { type: 'boolean' },
      threads: { type: 'string' },
    },
  });
  const soakAsked = process.env.BENCH_SOAK === '1';
  const names: Name[] = positionals.length ? (positionals as Name[]) : NAMES.filter((n) => n !== 'soak' || soakAsked);
  const args = Args.parse({
    names,
    minutes: values.minutes,
    customers: values.customers,
    days: values.days,
    warmup: values.warmup,
    rates: values.rates,
    rateSeconds: values['rate-seconds'],
    restoreKeys: values['restore-keys'],
    soakRate: values['soak-rate'],
    cpuProfile: values['cpu-profile'],
    threads: values.threads,
  });
  if (!process.env.KAFKA_BROKERS && args.names.some((n) => n !== 'score')) {
    console.log('KAFKA_BROKERS unset: bringing up the local stack (stack/stack.sh up)');
    execFileSync('bash', ['stack/stack.sh', 'up'], { stdio: 'inherit', timeout: 300_000 });
  }
  // The loop processes (loop/loopProcess.ts, decide, recovery, soak) read their config from this environment.
  if (args.threads > 1) process.env.RISKLOOP_STREAM_THREADS = String(args.threads);
  console.log(`stream threads per loop process: ${process.env.RISKLOOP_STREAM_THREADS ?? '1'}`);
  const env = benchEnv(process.env);
  const shape = { customers: args.customers, days: args.days, warmup: args.warmup };
  for (const name of args.names) {
    console.log(`\n== ${name}`);
    const t0 = Date.now();
    if (name === 'passthrough') {
      const { passthrough } = await import('./loop/passthrough.js');
      const r = await passthrough(env, shape);
      console.log(`passthrough: ${Math.round(r.recordsPerSec)} records/s`);
    } else if (name === 'loop-alo' || name === 'loop-eos' || name === 'loop-hot' || name === 'loop-side') {
      const { loopThroughput } = await import('./loop/loopThroughput.js');
      const base = readJson(env, 'passthrough')?.results.recordsPerSec as number | undefined;
      const r = await loopThroughput(env, name, {
        ...shape,
        ...(base && (name === 'loop-alo' || name === 'loop-eos') ? { passthroughRecordsPerSec: base } : {}),
        ...(args.cpuProfile ? { cpuProfileDir: path.join(env.resultsDir, 'profile', name) } : {}),
      });
      console.log(
        `${name}: ${Math.round(r.recordsPerSec)} records/s, ${r.cpuMsPer1000.toFixed(0)} CPU-ms per 1000 records (loop process), ` +
          `${r.brokerCpuMsPer1000 === null ? 'broker not measured' : `${r.brokerCpuMsPer1000.toFixed(0)} (broker)`}, load ${r.loadAverage.join(' → ')}` +
          `${r.ratioToPassthrough ? ` (${r.ratioToPassthrough.toFixed(2)} x passthrough)` : ''}`,
      );
      if (r.profile) {
        console.log(`profile ${r.profile.file}: self time by area`);
        console.table(r.profile.byArea.slice(0, 15));
        console.table(r.profile.top.slice(0, 20));
      }
    } else if (name === 'latency') {
      const { latency } = await import('./loop/latency.js');
      await latency(env, { customers: args.customers, rates: args.rates, seconds: args.rateSeconds });
    } else if (name === 'score') {
      const { scoreBench } = await import('./loop/score.js');
      await scoreBench(env);
    } else if (name === 'restore') {
      const { restoreBench } = await import('./loop/restore.js');
      await restoreBench(env, { keys: args.restoreKeys });
    } else if (name === 'decide') {
      const { decideBench } = await import('./decide.js');
      await decideBench(env, { customers: args.customers, rates: args.rates.filter((r) => r <= 2000), seconds: args.rateSeconds });
    } else if (name === 'recovery') {
      const { recoveryBench } = await import('./recovery.js');
      for (const guarantee of ['exactly_once', 'at_least_once'] as const) await recoveryBench(env, { guarantee, customers: args.customers });
    } else if (name === 'soak') {
      const { soak } = await import('./loop/soak.js');
      await soak(env, { minutes: args.minutes, rate: args.soakRate, customers: args.customers });
    }
    console.log(`(${name} took ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
  rmSync(env.stateRoot, { recursive: true, force: true });
  const { renderCharts } = await import('./loop/charts.js');
  renderCharts(env);
  const { printTable } = await import('./loop/table.js');
  printTable(env);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
