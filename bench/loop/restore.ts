/**
 * `restore`: how long a fresh instance takes to rebuild a store of >= 1M keys from its changelog.
 * A tiny topology (one logged, persistent key-value store; one put per record) runs over K distinct
 * keys until every record is processed and closes cleanly, so the changelog topic holds K keys.
 * Then a new instance with the same application id and an empty state dir starts: the time from
 * start() to every task running is the restore (start-up and the group join included, stated apart).
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { Stores } from '../../state/stores.js';
import type { KeyValueStore } from '../../state/types.js';
import { KafkaStreams } from '../../topology/kafka/kafkaStreams.js';
import type { Processor, ProcessorContext } from '../../topology/processor.js';
import type { Record } from '../../topology/records.js';
import { Serdes } from '../../topology/serde.js';
import { Topology } from '../../topology/topology.js';
import { type BenchEnv, kafkaClient, sleep, writeResult } from './common.js';

const STORE = 'last-amount';

/** Keeps the latest amount per key: one store write per record, so K keys give K changelog keys. */
class LastAmount implements Processor<string, number, never, never> {
  private store!: KeyValueStore<string, number>;
  init(ctx: ProcessorContext<never, never>): void {
    this.store = ctx.getStateStore(STORE);
  }
  process(r: Record<string, number>): void {
    this.store.put(r.key, r.value);
  }
}

function topology(appId: string, input: string): Topology {
  return new Topology({ applicationId: appId })
    .addSource('src', input, { keySerde: Serdes.String, valueSerde: Serdes.Long })
    .addProcessor('last', () => new LastAmount(), 'src')
    .addStateStore(Stores.keyValue(STORE, Serdes.String, Serdes.Long, { persistent: true, logged: true }), ['last']);
}

export interface RestoreResult {
  keys: number;
  changelogRecords: number;
  restoredRecords: number;
  loadSeconds: number;
  startToRunningSeconds: number;
  firstRestoreProgressSeconds: number | null;
  restoreRecordsPerSec: number;
}

export async function restoreBench(env: BenchEnv, opts: { keys: number }): Promise<RestoreResult> {
  const K = opts.keys;
  const appId = `bench-restore-${Date.now().toString(36)}`;
  const input = `${appId}-input`;
  const changelog = `${appId}-${STORE}-changelog`;
  const kafka = kafkaClient(env, 'riskloop-bench-restore');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input, numPartitions: env.partitions, replicationFactor: 1 }] });
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const t0 = Date.now();
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < K; i += 10_000) {
    const messages = [];
    for (let j = i; j < Math.min(K, i + 10_000); j++) messages.push({ key: `acct-${j.toString(36).padStart(5, '0')}`, value: Serdes.Long.serialize(j % 100_000), timestamp: String(t0 + j) });
    inflight.push(producer.send({ topic: input, messages, acks: -1 }));
    if (inflight.length >= 4) await inflight.shift();
  }
  await Promise.all(inflight);
  await producer.disconnect();
  console.log(`restore: ${K} keys produced in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const logger = pino({ level: process.env.BENCH_DEBUG ? 'info' : 'warn' });
  const load = new KafkaStreams(topology(appId, input), { applicationId: appId, brokers: env.brokers, processingGuarantee: 'at_least_once', stateDir: path.join(env.stateRoot, `${appId}-load`) }, { logger });
  const tLoad = performance.now();
  await load.start();
  while (load.metrics.total('riskloop_records_processed_total') < K) await sleep(50);
  await load.close();
  const loadSeconds = (performance.now() - tLoad) / 1000;
  const offsets = await admin.fetchTopicOffsets(changelog);
  const changelogRecords = offsets.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  console.log(`restore: loaded in ${loadSeconds.toFixed(1)} s; changelog ${changelog} holds ${changelogRecords} records`);

  const freshDir = path.join(env.stateRoot, `${appId}-fresh`);
  rmSync(freshDir, { recursive: true, force: true });
  mkdirSync(freshDir, { recursive: true });
  const fresh = new KafkaStreams(topology(appId, input), { applicationId: appId, brokers: env.brokers, processingGuarantee: 'at_least_once', stateDir: freshDir }, { logger });
  let firstProgress: number | null = null;
  const tStart = performance.now();
  // The runtime's riskloop_restore_records is a gauge (total() sums counters): count from the events.
  const restoredByTask = new Map<string, number>();
  fresh.on('restoreProgress', (p: { task: string; restored: number }) => {
    firstProgress ??= performance.now();
    restoredByTask.set(p.task, p.restored);
  });
  // RUNNING is also the state before the first assignment (no tasks yet): wait for every task instead.
  const running = new Set<string>();
  fresh.on('taskRunning', (id: string) => running.add(id));
  await fresh.start();
  const deadline = Date.now() + 600_000;
  while (running.size < env.partitions) {
    if (Date.now() > deadline) throw new Error(`restore: only ${running.size} of ${env.partitions} tasks running after 600 s`);
    await sleep(10);
  }
  const startToRunning = (performance.now() - tStart) / 1000;
  const restored = [...restoredByTask.values()].reduce((a, b) => a + b, 0);
  await fresh.close();
  await admin.deleteTopics({ topics: [input, changelog] }).catch(() => undefined);
  await admin.disconnect();
  const result: RestoreResult = {
    keys: K,
    changelogRecords,
    restoredRecords: restored,
    loadSeconds,
    startToRunningSeconds: startToRunning,
    firstRestoreProgressSeconds: firstProgress === null ? null : (firstProgress - tStart) / 1000,
    restoreRecordsPerSec: restored / startToRunning,
  };
  console.log(`restore: ${restored} records restored, RUNNING after ${startToRunning.toFixed(1)} s`);
  writeResult(env, 'restore', { keys: K, partitions: env.partitions, store: 'keyValue, persistent (RocksDB), logged', guarantee: 'at_least_once', target: 'restore of 1M keys <= 30 s', measured: 'fresh instance, empty state dir: start() → all tasks restored and running (includes the group join)' }, result);
  return result;
}
