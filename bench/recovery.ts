/**
 * `recovery`: how long decisions stop when one of two `riskloop run` instances crashes, and what
 * latency looks like while the group recovers.
 *
 * Two instances of one application (`riskloop run` child processes, stable RISKLOOP_INSTANCE_ID a
 * and b, as pods would have) share the loop's 6 partitions; a paced producer offers simulated
 * transactions at a steady rate (200/s by default). After `warmSeconds`, the instance holding more
 * of the hot path's tasks is SIGKILLed and, `restartAfterSeconds` later, started again (a
 * supervisor's restart). Measured, all on this process's clock:
 *  - recovery per partition: from the kill to the arrival of the first decision of a transaction
 *    produced after the kill on that partition (partitions the survivor kept show ~ latency; the
 *    crashed instance's partitions show the stall). `recoveryMs` is the slowest partition;
 *  - the survivor staying up (its runtime states; an ERROR or an exit is reported);
 *  - time until both instances' /readyz answer 200 again;
 *  - latency (paced send → decision at a read_committed consumer) of transactions produced in the
 *    `windowSeconds` after the kill: p50, p99, max;
 *  - CPU-ms per 1 000 decisions in that window: both instances' utime + stime from /proc/<pid>/stat
 *    over the window (the restarted instance's from its start, so its restore counts).
 * Writes bench/results/recovery-<guarantee>.json. `npx tsx bench/recovery.ts [--guarantee G] [--rate R]
 * [--warm-seconds S] [--window-seconds S] [--restart-after-seconds S]`, or `npm run bench recovery`.
 */
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import { partitionForKey } from '../topology/murmur2.js';
import { RunInstance } from '../test/support/runInstance.js';
import { benchEnv, type BenchEnv, createLoopTopics, dropRun, loopRun, percentile, produceParts, simulateFor, sleep, writeResult } from './loop/common.js';
import { DecisionWatcher } from './loop/decisionWatcher.js';
import { PacedProducer } from './loop/pacedProducer.js';

export const RecoveryOptions = z.object({
  guarantee: z.enum(['exactly_once', 'at_least_once']).default('exactly_once'),
  rate: z.coerce.number().positive().default(200),
  warmSeconds: z.coerce.number().positive().default(30),
  windowSeconds: z.coerce.number().positive().default(90),
  restartAfterSeconds: z.coerce.number().min(0).default(5),
  customers: z.coerce.number().int().positive().default(3000),
});
export type RecoveryOptions = z.input<typeof RecoveryOptions>;

/** utime + stime of a process in ms (Linux /proc; clock ticks at the usual 100 Hz). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The loop's task ids on an instance, from its /readyz body. */
async function loopTasks(i: RunInstance): Promise<string[]> {
  try {
    const body = (await (await fetch(`http://127.0.0.1:${i.port}/readyz`)).json()) as { runtimes: { loop?: { tasks: { id: string }[] } } };
    return (body.runtimes.loop?.tasks ?? []).map((t) => t.id).sort();
  } catch {
    return [];
  }
}

export async function recoveryBench(env: BenchEnv, input: RecoveryOptions = {}) {
  const o = RecoveryOptions.parse(input);
  const run = loopRun(env, o.guarantee === 'exactly_once' ? 'rec-eos' : 'rec-alo', o.guarantee);
  const serdes: TopicSerdes = await createLoopTopics(env, run);
  const needed = Math.ceil(o.rate * (o.warmSeconds + o.windowSeconds + 5));
  const days = Math.max(7, Math.ceil((needed * 1.2) / (o.customers * 2.3)));
  const records = simulateFor(run, { customers: o.customers, days });
  if (records.transactions.length < needed) throw new Error(`simulation gave ${records.transactions.length} transactions, ${needed} needed`);
  const txns = records.transactions.slice(0, needed);
  await produceParts(env, run, records, ['context']);
  const partitionOf = new Map(txns.map((r) => [r.value.transactionId, partitionForKey(Buffer.from(r.key, 'utf8'), env.partitions)]));

  const instances = ['a', 'b'].map((id) => new RunInstance(`instance ${id}`, { ...run.appEnv, RISKLOOP_INSTANCE_ID: id, LOG_LEVEL: 'info' }));
  const [a, b] = instances as [RunInstance, RunInstance];
  const arrivals = new Map<string, number>();
  const watcher = new DecisionWatcher(env, run.catalogue.decisions.name, { serdes, onDecision: (id, at) => (arrivals.has(id) ? undefined : arrivals.set(id, at)) });
  const producer = new PacedProducer(env, run.catalogue.transactions.name, env.partitions, serdes);
  try {
    // One after the other, as a rollout would: the figures are about the kill, not the first join.
    await a.start();
    await a.waitReady(240_000);
    await b.start();
    await Promise.all(instances.map((i) => i.waitReady(240_000)));
    await watcher.start();
    await producer.connect();
    const sending = producer.run(txns, o.rate);
    await sleep(o.warmSeconds * 1000);

    // The victim is the instance holding more of the hot path (sub-topology 0: transactions →
    // decisions), so that the kill stops decisions: with a sticky assignment one instance can hold
    // all of it, and killing the other would measure nothing.
    const tasksBefore: Record<string, string[]> = {};
    for (const i of instances) tasksBefore[i.name] = await loopTasks(i);
    const hot = (i: RunInstance) => tasksBefore[i.name]!.filter((t) => t.startsWith('0_')).length;
    const [victim, survivor] = hot(b) >= hot(a) ? [b, a] : [a, b];
    const killedAt = Date.now();
    const cpuA0 = cpuMs(survivor.pid);
    await victim.kill();
    await sleep(o.restartAfterSeconds * 1000);
    await victim.start();
    let bothReadyMs: number | null = null;
    void (async () => {
      while (Date.now() - killedAt < (o.windowSeconds + 60) * 1000) {
        if (a.running && b.running && (await a.readyz()) === 200 && (await b.readyz()) === 200) {
          bothReadyMs = Date.now() - killedAt;
          return;
        }
        await sleep(250);
      }
    })();
    await sleep(Math.max(0, killedAt + o.windowSeconds * 1000 - Date.now()));
    const windowEnd = Date.now();
    const cpuWindow = cpuMs(survivor.pid) - cpuA0 + cpuMs(victim.pid);
    const sendResult = await sending;

    // Everything decided (or 3 minutes): then the figures.
    const deadline = Date.now() + 180_000;
    while (arrivals.size < txns.length && Date.now() < deadline) await sleep(500);
    const firstAfter = new Map<number, number>();
    const latencies: number[] = [];
    for (const r of txns) {
      const id = r.value.transactionId;
      const sent = producer.sentAt.get(id);
      const arrived = arrivals.get(id);
      if (sent === undefined || sent < killedAt) continue;
      if (arrived !== undefined) {
        const p = partitionOf.get(id)!;
        if (!firstAfter.has(p) || arrived < firstAfter.get(p)!) firstAfter.set(p, arrived);
        if (sent <= windowEnd) latencies.push(arrived - sent);
      }
    }
    latencies.sort((x, y) => x - y);
    const perPartition = Object.fromEntries([...Array(env.partitions).keys()].map((p) => [p, firstAfter.has(p) ? firstAfter.get(p)! - killedAt : null]));
    const recoveries = Object.values(perPartition).filter((v): v is number => v !== null);
    const decidedInWindow = [...arrivals.values()].filter((t) => t >= killedAt && t <= windowEnd).length;
    const results = {
      recoveryMs: recoveries.length === env.partitions ? Math.max(...recoveries) : null,
      recoveryMsPerPartition: perPartition,
      bothReadyAfterKillMs: bothReadyMs,
      killed: victim.name,
      loopTasksBeforeKill: tasksBefore,
      loopTasksAfter: Object.fromEntries(await Promise.all(instances.map(async (i) => [i.name, await loopTasks(i)] as const))),
      survivorStates: [...new Set(survivor.states.filter((s) => s.at >= killedAt).map((s) => `${s.app.endsWith('-drift') ? 'drift' : 'loop'}:${s.to}`))],
      survivorExited: survivor.exit ?? null,
      survivorReachedError: survivor.reached('ERROR'),
      transactions: txns.length,
      undecided: txns.length - arrivals.size,
      achievedRate: Math.round(sendResult.achievedRate),
      windowLatencyMs: { count: latencies.length, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1] ?? null },
      cpuMsPer1000Decisions: decidedInWindow ? Math.round((cpuWindow / decidedInWindow) * 1000) : null,
      decisionsInWindow: decidedInWindow,
    };
    const out = writeResult(env, `recovery-${o.guarantee}`, { ...o, partitions: env.partitions, instances: 2, measure: 'kill → first decision of a post-kill transaction on each partition; latency = paced send → read_committed arrival, transactions sent in the window after the kill' }, results);
    console.log(JSON.stringify(out.results, null, 2));
    return out;
  } finally {
    await producer.disconnect().catch(() => undefined);
    await watcher.stop().catch(() => undefined);
    await Promise.all(instances.map((i) => i.term(30_000).catch(() => undefined)));
    await dropRun(env, run);
    rmSync(run.config.stateDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      guarantee: { type: 'string' },
      rate: { type: 'string' },
      'warm-seconds': { type: 'string' },
      'window-seconds': { type: 'string' },
      'restart-after-seconds': { type: 'string' },
      customers: { type: 'string' },
    },
  });
  const opts: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (v !== undefined) opts[k.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = v;
  recoveryBench(benchEnv(process.env), opts as RecoveryOptions).then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err);
      process.exit(1);
    },
  );
}
