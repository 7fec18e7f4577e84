/**
 * Runtime benchmark on the real broker (npm run bench:runtime): records/s of
 *   passthrough      raw KafkaJS consume → produce (the client's own limit here: the yardstick)
 *   map-alo/eos      a stateless mapValues topology under at_least_once / exactly_once
 *   window-alo/eos   a windowed count (1-minute tumbling windows, logged window store)
 * all on the same input topic (N records, P partitions). Throughput is measured from the first
 * processed record to the last, so start-up and the first rebalance are not counted.
 * Writes bench/results/runtime.json and prints a table.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import pino from 'pino';
import { kafkaConnectionFromEnv } from '../bin/kafkaConnection.js';
import { kafkajsConnectionOptions } from '../topology/kafka/connection.js';
import { Stores } from '../state/stores.js';
import type { WindowStore } from '../state/types.js';
import { KafkaStreams } from '../topology/kafka/kafkaStreams.js';
import { chunkBySize } from '../topology/kafka/kafkajsClient.js';
import type { Processor, ProcessorContext } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes } from '../topology/serde.js';
import { Topology } from '../topology/topology.js';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
// KAFKA_BROKERS and the TLS/SASL settings (bin/kafkaConnection.ts), as every riskloop process reads them.
const connection = kafkaConnectionFromEnv(process.env);
const N = Number(process.env.BENCH_RECORDS ?? 200_000);
const P = Number(process.env.BENCH_PARTITIONS ?? 6);
const kafka = new Kafka({ clientId: 'bench', ...kafkajsConnectionOptions(connection), logLevel: process.env.BENCH_DEBUG ? logLevel.WARN : logLevel.NOTHING });
const run = Date.now().toString(36);
const input = `bench-rt-in-${run}`;
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-bench-'));

async function createTopics(topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: topics.map((topic) => ({ topic, numPartitions: P, replicationFactor: 1 })) });
  await admin.disconnect();
}

async function fill(): Promise<void> {
  await createTopics([input]);
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const t0 = Date.now();
  for (let i = 0; i < N; i += 5000) {
    const messages = [];
    for (let j = i; j < Math.min(N, i + 5000); j++) {
      messages.push({
        key: `card-${j % 5000}`,
        value: JSON.stringify({ id: j, amountMinor: (j % 997) + 1, merchant: `m-${j % 300}` }),
        timestamp: String(t0 + j * 10),
      });
    }
    await producer.send({ topic: input, messages });
  }
  await producer.disconnect();
}

interface Result {
  name: string;
  records: number;
  seconds: number;
  recordsPerSec: number;
  ratioToPassthrough?: number;
}

async function passthrough(): Promise<Result> {
  const output = `bench-rt-pass-${run}`;
  await createTopics([output]);
  const consumer = kafka.consumer({ groupId: `bench-pass-${run}`, maxWaitTimeInMs: 50 });
  const producer = kafka.producer({ idempotent: true });
  await Promise.all([consumer.connect(), producer.connect()]);
  await consumer.subscribe({ topic: input, fromBeginning: true });
  let count = 0;
  let t0 = 0;
  let t1 = 0;
  await new Promise<void>((resolve) => {
    void consumer.run({
      autoCommit: true,
      eachBatch: async ({ batch }) => {
        if (t0 === 0) t0 = performance.now();
        // The same request-size cut the runtime makes: a whole fetched batch can exceed message.max.bytes.
        for (const chunk of chunkBySize(batch.messages)) {
          await producer.send({ topic: output, messages: chunk.map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp })) });
        }
        count += batch.messages.length;
        if (count >= N) {
          t1 = performance.now();
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  await producer.disconnect();
  const seconds = (t1 - t0) / 1000;
  return { name: 'passthrough', records: count, seconds, recordsPerSec: count / seconds };
}

class MapAmount implements Processor<string, { id: number; amountMinor: number }, string, string> {
  private ctx!: ProcessorContext<string, string>;
  init(ctx: ProcessorContext<string, string>): void {
    this.ctx = ctx;
  }
  process(r: Record<string, { id: number; amountMinor: number }>): void {
    this.ctx.forward({ ...r, value: `${r.value.id}:${r.value.amountMinor * 2}` });
  }
}

const MINUTE = 60_000;
class WindowCount implements Processor<string, unknown, string, string> {
  private ctx!: ProcessorContext<string, string>;
  private store!: WindowStore<string, number>;
  init(ctx: ProcessorContext<string, string>): void {
    this.ctx = ctx;
    this.store = ctx.getStateStore('counts');
  }
  process(r: Record<string, unknown>): void {
    const start = r.timestamp - (r.timestamp % MINUTE);
    const n = (this.store.fetch(r.key, start) ?? 0) + 1;
    this.store.put(r.key, n, start);
    this.ctx.forward({ key: r.key, value: `${start}:${n}`, timestamp: r.timestamp, headers: {} });
  }
}

function topologyFor(kind: 'map' | 'window', appId: string, output: string): Topology {
  const t = new Topology({ applicationId: appId }).addSource('src', input, { keySerde: Serdes.String, valueSerde: Serdes.Json<{ id: number; amountMinor: number }>() });
  if (kind === 'map') t.addProcessor('map', () => new MapAmount(), 'src');
  else {
    t.addProcessor('map', () => new WindowCount(), 'src');
    t.addStateStore(Stores.window('counts', Serdes.String, Serdes.Long, { retentionMs: 10 * MINUTE }), ['map']);
  }
  return t.addSink('sink', output, { keySerde: Serdes.String, valueSerde: Serdes.String }, 'map');
}

async function streams(kind: 'map' | 'window', guarantee: 'at_least_once' | 'exactly_once'): Promise<Result> {
  const name = `${kind}-${guarantee === 'exactly_once' ? 'eos' : 'alo'}`;
  const appId = `bench-${name}-${run}`;
  const output = `${appId}-out`;
  await createTopics([output]);
  const app = new KafkaStreams(
    topologyFor(kind, appId, output),
    { applicationId: appId, connection, processingGuarantee: guarantee, stateDir: path.join(stateRoot, appId) },
    { logger: pino({ level: 'warn' }) },
  );
  await app.start();
  let t0 = 0;
  for (;;) {
    const n = app.metrics.total('riskloop_records_processed_total');
    if (n > 0 && t0 === 0) t0 = performance.now();
    if (n >= N) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const t1 = performance.now();
  await app.close();
  const seconds = (t1 - t0) / 1000;
  return { name, records: N, seconds, recordsPerSec: N / seconds };
}

async function main(): Promise<void> {
  console.log(`filling ${input}: ${N} records on ${P} partitions`);
  await fill();
  const results: Result[] = [];
  const report = (r: Result): void => {
    results.push(r);
    console.log(`${r.name}: ${Math.round(r.recordsPerSec)} records/s (${r.seconds.toFixed(2)} s)`);
  };
  report(await passthrough());
  for (const kind of ['map', 'window'] as const) {
    for (const g of ['at_least_once', 'exactly_once'] as const) report(await streams(kind, g));
  }
  const base = results[0]!.recordsPerSec;
  for (const r of results) r.ratioToPassthrough = r.recordsPerSec / base;
  const commit = execSync('git rev-parse --short HEAD').toString().trim();
  const out = {
    benchmark: 'runtime',
    date: new Date().toISOString(),
    commit,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    records: N,
    partitions: P,
    note: 'broker and benchmark share the same machine; throughput measured from first to last processed record',
    results,
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/runtime.json', JSON.stringify(out, null, 2));
  console.table(results.map((r) => ({ name: r.name, 'records/s': Math.round(r.recordsPerSec), seconds: r.seconds.toFixed(2), 'x passthrough': r.ratioToPassthrough!.toFixed(2) })));
  rmSync(stateRoot, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
