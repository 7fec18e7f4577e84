/**
 * `npm run bench decide`: the synchronous decision path at fixed offered rates, beside the
 * topic-to-topic latency of the same loop in the same run.
 *
 * One loop process (bench/loop/loopWorker.ts, its own pid, CPU read from /proc/<pid>/stat) and,
 * in this process, the SDK client and the decision API server. At each offered rate, three
 * modes run one after the other, each on fresh transactions (so none is a retry):
 *   topic   paced produce → decision arrival at a read_committed consumer (bench/loop/latency.ts's measure)
 *   decide  RiskloopClient.decide() call → promise resolved
 *   http    POST /v1/decisions (node:http, keep-alive, <= 64 connections, bearer key) → response body parsed
 * Calls are open-loop (launched on a 10 ms schedule, not after the previous answer), as a gateway's
 * traffic is. The first `warmupSeconds` of each mode are left out. Deadlines are long (30 s): the
 * figures are the loop's real latency, not the fallback's.
 *
 * Guarantees: the main pass runs the loop at_least_once (a decision is visible as soon as it is
 * written); a second pass runs decide() under exactly_once with the default commit interval and
 * with a shorter one, because a read_committed reply only arrives after the loop's commit.
 */
import http from 'node:http';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseApiConfig } from '../api/config.js';
import { startDecisionApi } from '../api/server.js';
import { defaultCommitIntervalMs } from '../topology/kafka/config.js';
import type { Transaction } from '../schemas/types.js';
import { RiskloopClient } from '../sdk/client.js';
import { type BenchEnv, createLoopTopics, dropRun, loopRun, percentile, produceParts, simulateFor, sleep, writeResult } from './loop/common.js';
import { DecisionWatcher } from './loop/decisionWatcher.js';
import { LoopProcess } from './loop/loopProcess.js';
import { PacedProducer } from './loop/pacedProducer.js';
import { CpuSampler } from './loop/procCpu.js';
import pino from 'pino';

type Mode = 'topic' | 'decide' | 'http';

export interface DecideRow {
  mode: Mode;
  guarantee: 'at_least_once' | 'exactly_once';
  commitIntervalMs: number;
  offeredRate: number;
  achievedRate: number;
  calls: number;
  measured: number;
  failed: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  loopCpuMsPer1000: number;
  /**
   * For decide/http: call start → the same decision's arrival at the bench's own topic consumer
   * (p50/p99). Tells time spent before the decisions topic (publish, loop) from time after it
   * (the client's reply consumer, the HTTP hop).
   */
  topicArrivalP50: number | null;
  topicArrivalP99: number | null;
  /**
   * Per call: answer time − the same decision's arrival at the bench's topic consumer (ms, p50/p99).
   * What the client's reply path (and, for http, the HTTP hop) adds after the decision is on the
   * topic, measured call by call so that load swings do not enter it.
   */
  afterTopicP50: number | null;
  afterTopicP99: number | null;
  /** 1-minute load average of the machine at the end of the interval (2 cores). */
  loadAverage1m: number;
}

const TOKEN = 'bench-token-0123456789abcdef0123456789';

/**
 * A gateway's HTTP client: keep-alive, at most 64 connections (Node's global fetch opens a new
 * connection for every request beyond its pool's idle ones, which at 2 000/s measures connection
 * set-up, not the API).
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function postDecision(base: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/v1/decisions`,
      // The client gives up at the API's deadline plus a margin, counted from the call: in overload
      // requests wait for a free connection, and that wait is part of the caller's latency.
      { method: 'POST', agent, signal: AbortSignal.timeout(35_000), headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${TOKEN}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          JSON.parse(Buffer.concat(chunks).toString('utf8'));
          resolve(res.statusCode ?? 0);
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Launches `fn` for each item at `rate` per second on a 10 ms schedule; resolves when all settled. */
async function paced<T>(items: readonly T[], rate: number, fn: (item: T) => Promise<void>): Promise<{ seconds: number; achievedRate: number }> {
  const all: Promise<void>[] = [];
  const t0 = performance.now();
  let next = 0;
  while (next < items.length) {
    const due = Math.min(items.length, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    for (; next < due; next++) all.push(fn(items[next]!));
    await sleep(10);
  }
  const launchSeconds = (performance.now() - t0) / 1000;
  await Promise.all(all);
  return { seconds: launchSeconds, achievedRate: items.length / launchSeconds };
}

async function pass(
  env: BenchEnv,
  guarantee: 'at_least_once' | 'exactly_once',
  rates: number[],
  modes: Mode[],
  opts: { customers: number; seconds: number; warmupSeconds: number; commitIntervalMs?: number },
): Promise<DecideRow[]> {
  const run = loopRun(env, guarantee === 'exactly_once' ? 'decide-eos' : 'decide-alo', guarantee, opts.commitIntervalMs);
  const serdes = await createLoopTopics(env, run);
  const warmCount = Math.min(2000, Math.round(rates[0]! * opts.seconds));
  const needed = (warmCount + rates.reduce((n, r) => n + r * opts.seconds * modes.length, 0)) * 1.1;
  const days = Math.max(7, Math.ceil(needed / (opts.customers * 2.3)));
  const records = simulateFor(run, { customers: opts.customers, days });
  await produceParts(env, run, records, ['context']);
  const loop = new LoopProcess(run.appEnv);
  const clientConfig = { connection: env.kafka, schemaRegistryUrl: env.registryUrl, topicPrefix: run.config.topicPrefix, accountTokenKey: run.appEnv.RISKLOOP_ACCOUNT_TOKEN_KEY!, clientId: 'bench-decide' };
  const client = new RiskloopClient(clientConfig);
  const api = await startDecisionApi(parseApiConfig({ port: 0, keys: JSON.stringify([{ id: 'bench', token: TOKEN }]), maxDeadlineMs: '60000', cacheMax: '0' }), { ...clientConfig, clientId: 'bench-api' }, { logger: pino({ level: 'silent' }) });
  const arrivedAt = new Map<string, number>();
  const watcher = new DecisionWatcher(env, run.catalogue.decisions.name, { serdes, onDecision: (id, at) => void arrivedAt.set(id, at) });
  const producer = new PacedProducer(env, run.catalogue.transactions.name, env.partitions, serdes);
  const rows: DecideRow[] = [];
  try {
    await Promise.all([loop.waitRunning(), client.connect(), watcher.start(), producer.connect()]);
    const cpu = new CpuSampler(loop.pid!);
    let from = 0;
    // Warm the loop (JIT, stores, model) so the first mode measured is not also the first traffic.
    const warm = records.transactions.slice(from, (from += warmCount)).map((r) => r.value);
    await paced(warm, 500, async (t) => void (await client.decide(t, { deadlineMs: 60_000 }).catch(() => undefined)));
    for (const rate of rates) {
      for (const mode of modes) {
        const slice = records.transactions.slice(from, from + Math.round(rate * opts.seconds));
        from += slice.length;
        if (slice.length < rate * opts.seconds * 0.9) throw new Error(`decide bench: simulation too short for ${rate} tx/s`);
        // Filled, not sparse: a hole would be skipped by filter() and a failed call would go uncounted.
        const lat: (number | undefined)[] = new Array<number | undefined>(slice.length).fill(undefined);
        const startedAt = new Map<string, number>();
        const t0 = performance.now();
        let sent: { achievedRate: number };
        if (mode === 'topic') {
          sent = await producer.run(slice, rate);
          const deadline = Date.now() + 60_000;
          while (Date.now() < deadline && slice.some((r) => !arrivedAt.has(r.value.transactionId))) await sleep(50);
          slice.forEach((r, i) => {
            const a = arrivedAt.get(r.value.transactionId);
            lat[i] = a === undefined ? undefined : a - producer.sentAt.get(r.value.transactionId)!;
          });
        } else {
          const index = new Map(slice.map((r, i) => [r.value.transactionId, i]));
          const call =
            mode === 'decide'
              ? async (t: Transaction) => {
                  const s = performance.now();
                  startedAt.set(t.transactionId, Date.now());
                  await client.decide(t, { deadlineMs: 30_000 });
                  lat[index.get(t.transactionId)!] = performance.now() - s;
                }
              : async (t: Transaction) => {
                  const s = performance.now();
                  startedAt.set(t.transactionId, Date.now());
                  const status = await postDecision(api.url, JSON.stringify({ transaction: t, deadlineMs: 30_000 }));
                  if (status === 200) lat[index.get(t.transactionId)!] = performance.now() - s;
                };
          sent = await paced(
            slice.map((r) => r.value),
            rate,
            (t) => call(t).catch(() => undefined),
          );
        }
        const t1 = performance.now();
        const skip = Math.round(rate * opts.warmupSeconds);
        const measured = lat.slice(skip).filter((v): v is number => v !== undefined).sort((a, b) => a - b);
        const failed = lat.slice(skip).filter((v) => v === undefined).length;
        const r1 = (v: number) => Math.round(v * 10) / 10;
        const after = slice
          .slice(skip)
          .map((r, i) => {
            const a = arrivedAt.get(r.value.transactionId);
            const st = startedAt.get(r.value.transactionId);
            const l = lat[skip + i];
            return a === undefined || st === undefined || l === undefined ? undefined : st + l - a;
          })
          .filter((v): v is number => v !== undefined)
          .sort((a, b) => a - b);
        const arrival = slice
          .slice(skip)
          .map((r) => {
            const a = arrivedAt.get(r.value.transactionId);
            const st = startedAt.get(r.value.transactionId);
            return a === undefined || st === undefined ? undefined : a - st;
          })
          .filter((v): v is number => v !== undefined)
          .sort((a, b) => a - b);
        const row: DecideRow = {
          mode,
          guarantee,
          commitIntervalMs: run.config.commitIntervalMs ?? defaultCommitIntervalMs(guarantee),
          offeredRate: rate,
          achievedRate: Math.round(sent.achievedRate),
          calls: slice.length,
          measured: measured.length,
          failed,
          p50: r1(percentile(measured, 0.5)),
          p95: r1(percentile(measured, 0.95)),
          p99: r1(percentile(measured, 0.99)),
          max: r1(measured[measured.length - 1] ?? Number.NaN),
          loopCpuMsPer1000: Math.round(cpu.perThousand(t0, t1, slice.length)),
          topicArrivalP50: arrival.length ? percentile(arrival, 0.5) : null,
          topicArrivalP99: arrival.length ? percentile(arrival, 0.99) : null,
          afterTopicP50: after.length ? r1(percentile(after, 0.5)) : null,
          afterTopicP99: after.length ? r1(percentile(after, 0.99)) : null,
          loadAverage1m: Number(os.loadavg()[0]!.toFixed(1)),
        };
        rows.push(row);
        console.log(
          `decide ${guarantee}/${row.commitIntervalMs} ms ${mode.padEnd(6)} ${rate} tx/s (achieved ${row.achievedRate}): p50 ${row.p50} p95 ${row.p95} p99 ${row.p99} max ${row.max} ms, ${failed} failed, loop ${row.loopCpuMsPer1000} CPU-ms/1000${row.topicArrivalP50 !== null ? `, on topic p50 ${row.topicArrivalP50} p99 ${row.topicArrivalP99} ms, answer after topic p50 ${row.afterTopicP50} p99 ${row.afterTopicP99} ms` : ''}, load ${row.loadAverage1m}`,
        );
        await sleep(1000);
      }
    }
  } finally {
    await Promise.all([api.close(), client.close(), watcher.stop(), producer.disconnect()]).catch(() => undefined);
    await loop.stop();
    await dropRun(env, run);
  }
  return rows;
}

export async function decideBench(
  env: BenchEnv,
  opts: { customers: number; rates: number[]; seconds: number; warmupSeconds?: number; eosRate?: number; eosCommitIntervals?: number[] },
): Promise<DecideRow[]> {
  const common = { customers: opts.customers, seconds: opts.seconds, warmupSeconds: opts.warmupSeconds ?? 2 };
  const rows = await pass(env, 'at_least_once', opts.rates, ['topic', 'decide', 'http'], common);
  const eosRate = opts.eosRate ?? Math.min(1000, Math.max(...opts.rates));
  for (const interval of opts.eosCommitIntervals ?? [defaultCommitIntervalMs('exactly_once'), 20]) {
    rows.push(...(await pass(env, 'exactly_once', [eosRate], ['topic', 'decide'], { ...common, commitIntervalMs: interval })));
  }
  writeResult(
    env,
    'decide',
    {
      ...common,
      rates: opts.rates,
      eosRate,
      measure: {
        topic: 'paced producer send() → decision batch at a read_committed kafkajs consumer (same process clock)',
        decide: 'RiskloopClient.decide() call → resolved (publish, loop, read_committed reply consumer)',
        http: 'POST /v1/decisions with node:http (keep-alive, <= 64 connections; in-process server over its own SDK client) → JSON body read',
      },
      loopCpu: 'user+system CPU of the loop process from /proc/<pid>/stat over the mode interval, per 1 000 calls',
      target: 'decide() p99 <= 50 ms at 1000 tx/s',
      shared: 'the machine (2 cores) is shared with the broker, the registry, this process and four other engineers running tests',
    },
    rows,
  );
  return rows;
}
