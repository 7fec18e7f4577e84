/**
 * The risk loop with two stream threads in one process (RISKLOOP_STREAM_THREADS=2, worker threads,
 * topology/threads/) on the real broker and registry, under exactly_once: the tasks are spread over
 * both threads, each thread has its own state folder, one thread is killed mid-stream by an uncaught
 * error (as a bug would) and replaced (Kafka Streams' REPLACE_THREAD), and every valid transaction
 * is still decided exactly once (read_committed), invalid ones dead-lettered. The ops server's
 * /readyz and /metrics report the threads' aggregate.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { testAppConfig } from '../support/appConfig.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { startOps } from '../../ops/opsRuntime.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import type { Decision } from '../../schemas/types.js';
import { StreamThreads } from '../../topology/threads/streamThreads.js';
import { brokers, uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { loopData } from '../support/loopData.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-threads-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };
const logger = pino({ level: 'error' });

function threadsOf(streams: StreamThreads): Set<number> {
  return new Set(streams.taskStates().map((t) => t.thread));
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('risk loop with two stream threads', () => {
  it('spreads tasks over both threads, replaces a thread that dies, and decides every transaction exactly once (exactly_once)', async () => {
    const id = uniq('threads');
    const c = testAppConfig(id, stateRoot, { RISKLOOP_STREAM_THREADS: '2', RISKLOOP_METRICS_PORT: '0', LOG_LEVEL: 'error' });
    expect(c.numStreamThreads).toBe(2);
    await ensureTopics(c, io, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const data = loopData(new Tokenizer(c.tokenizer), { accounts: 600, transactions: 5000, invalidEvery: 100, chargebacks: 0, unknownChargebacks: 0 });
    const enc = <T>(serde: { serialize(v: T, topic?: string): Buffer }, topic: string, rows: { key: string; value: T }[], ts: (v: T) => number) =>
      rows.map((r) => ({ key: r.key, value: serde.serialize(r.value, topic), timestamp: String(ts(r.value)) }));
    await produce(brokers(), catalogue.kyc.name, enc(serdes.kyc, catalogue.kyc.name, data.kyc, (v) => v.updatedAt));
    await produce(brokers(), catalogue.deviceSignals.name, enc(serdes.deviceSignals, catalogue.deviceSignals.name, data.devices, (v) => v.eventTime));

    const app = await buildRiskLoopApp(c, logger);
    const streams = app.streams;
    expect(streams).toBeInstanceOf(StreamThreads);
    if (!(streams instanceof StreamThreads)) return;
    const replaced: number[] = [];
    streams.on('threadReplaced', (index: number) => replaced.push(index));
    await streams.start();
    const ops = await startOps(
      { port: 0, host: '127.0.0.1' },
      { connection: c.kafka, applicationId: c.applicationId, catalogue, serdes: app.serdes, streams: { loop: streams }, models: app.models, logger, loopCounters: app.counters, releases: app.releases },
    );
    try {
      await streams.waitForRunning(150_000);
      // Both threads own tasks (the group's assignor sees two members), each in its own folder.
      await until('tasks on both threads', () => threadsOf(streams).size === 2, 30_000);
      const tasks = streams.taskStates();
      expect(new Set(tasks.map((t) => t.id)).size).toBe(tasks.length);
      expect(existsSync(path.join(c.stateDir, 'thread-0', c.applicationId))).toBe(true);
      expect(existsSync(path.join(c.stateDir, 'thread-1', c.applicationId))).toBe(true);
      // /readyz reads the threads' task lists, posted with each state change and every second.
      const readyz = async (): Promise<number> => (await fetch(`http://127.0.0.1:${ops.address.port}/readyz`)).status;
      expect(await readyz()).toBe(200);

      const half = Math.floor(data.transactions.length / 2);
      const txs = enc(serdes.transactions, catalogue.transactions.name, data.transactions, (v) => v.eventTime);
      await produce(brokers(), catalogue.transactions.name, txs.slice(0, half), 1000);
      // Decisions are flowing from the threads' transactions; now thread 1 dies mid-stream.
      await until('decisions processed', () => streams.metrics.total('riskloop_records_processed_total') > 1000, 120_000);
      streams.injectCrash(1);
      await produce(brokers(), catalogue.transactions.name, txs.slice(half), 1000);
      await until('thread 1 replaced', () => replaced.length === 1, 60_000);
      expect(replaced).toEqual([1]);

      const decisionRecords = await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= data.validIds.size, timeoutMs: 170_000 });
      // Let anything extra (a duplicate would be a bug) arrive before counting.
      const settled = await readTopic(brokers(), catalogue.decisions.name, { idleMs: 3000, timeoutMs: 30_000 });
      const records = settled.length >= decisionRecords.length ? settled : decisionRecords;
      const values = records.map((r) => r.value!);
      await serdes.decisions.prefetch?.(values);
      const ids = values.map((v) => (serdes.decisions.deserialize(v) as Decision).transactionId);
      expect(ids.length).toBe(data.validIds.size);
      expect(new Set(ids)).toEqual(data.validIds);

      const letters = await readTopic(brokers(), catalogue.deadLetters.name, { done: (r) => r.length >= data.invalid.size, timeoutMs: 60_000 });
      expect(letters.length).toBe(data.invalid.size);

      // The replacement took its share of the tasks again, and the client is RUNNING.
      await streams.waitForRunning(120_000);
      await until('tasks on both threads after the replacement', () => threadsOf(streams).size === 2, 60_000);
      expect(streams.threadStates().map((t) => t.incarnation)).toEqual([1, 2]);
      const metrics = await (await fetch(`http://127.0.0.1:${ops.address.port}/metrics`)).text();
      expect(metrics).toMatch(/riskloop_stream_thread_replacements_total 1\b/);
      expect(metrics).toMatch(/riskloop_runtime_state\{runtime="loop",state="RUNNING"\} 1/);
      expect(metrics).toMatch(/riskloop_model_info\{[^}]*version="bootstrap-v1"[^}]*\} 1/);
      // The threads' processed counts reach /metrics, summed (the dead thread's tasks counted anew by their new owner).
      const processed = [...metrics.matchAll(/^riskloop_records_processed_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
      expect(processed).toBeGreaterThan(0);
    } finally {
      await ops.close();
      await app.close();
    }
    expect(streams.state).toBe('NOT_RUNNING');
  });
});
