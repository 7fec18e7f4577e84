/**
 * The runtime through a broker restart, at library level. This file starts a broker of its own
 * (stack/stack.sh on free ports, in a temporary folder) because stopping the suite's shared broker
 * would break every other test running beside it.
 *
 * Two instances (at_least_once and exactly_once ledgers) run through a clean broker stop and start
 * (down about 30 s): neither may reach ERROR, both must be RUNNING again by themselves, at_least_once
 * loses nothing and exactly_once neither loses nor doubles anything. Beside them, a side consumer
 * of the ops layer (ops/supervisedConsumer.ts: the audit sink's and review queue's base) must be
 * consuming again by itself too, without emitting 'error' and without skipping a record.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaStreams, type StreamsState } from '../../topology/kafka/kafkaStreams.js';
import { SupervisedConsumer } from '../../ops/supervisedConsumer.js';
import { createTopics, produce, readTopic } from '../support/kafkaIo.js';
import { ledgerTopology, type LedgerIn, type LedgerOut } from './apps/ledger.js';

const run = promisify(execFile);
const stackDir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-own-broker-'));
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-broker-restart-'));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let env: NodeJS.ProcessEnv = {};
let brokers: string[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function stack(verb: 'kafka-start' | 'kafka-stop'): Promise<void> {
  await run('bash', ['stack/stack.sh', verb], { env, timeout: 150_000 });
}

beforeAll(async () => {
  const [kafka, controller] = [await freePort(), await freePort()];
  env = { ...process.env, RISKLOOP_STACK_DIR: stackDir, RISKLOOP_NO_DOCKER: '1', KAFKA_PORT: String(kafka), KAFKA_CONTROLLER_PORT: String(controller) };
  brokers = [`127.0.0.1:${kafka}`];
  await stack('kafka-start');
}, 180_000);

afterAll(async () => {
  // Our own broker, by its pid file: killed rather than shut down cleanly, nothing here is kept.
  try {
    process.kill(Number(readFileSync(path.join(stackDir, 'kafka.pid'), 'utf8').trim()), 'SIGKILL');
  } catch {
    // already gone
  }
  rmSync(stackDir, { recursive: true, force: true });
  rmSync(stateRoot, { recursive: true, force: true });
}, 60_000);

const ACCOUNTS = 40;
function ledgerInputs(from: number, to: number): { key: string; value: string }[] {
  const out: { key: string; value: string }[] = [];
  for (let id = from; id < to; id++) out.push({ key: `acct-${id % ACCOUNTS}`, value: JSON.stringify({ id, amount: (id % 7) + 1 } satisfies LedgerIn) });
  return out;
}

function analyse(records: { value: Buffer | null }[]): { ids: Map<number, number>; last: Map<string, LedgerOut> } {
  const ids = new Map<number, number>();
  const last = new Map<string, LedgerOut>();
  for (const r of records) {
    const v = JSON.parse(r.value!.toString()) as LedgerOut;
    ids.set(v.id, (ids.get(v.id) ?? 0) + 1);
    const prev = last.get(v.account);
    if (!prev || v.count >= prev.count) last.set(v.account, v);
  }
  return { ids, last };
}

/** The smallest side consumer: collects the values of one topic, committing after each batch. */
class Collector extends SupervisedConsumer {
  readonly values = new Set<string>();
  constructor(
    private readonly topic: string,
    private readonly groupId: string,
  ) {
    super('test-side', pino({ level: 'warn' }));
  }
  protected createConsumer(): Consumer {
    return new Kafka({ clientId: this.groupId, brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: this.groupId, maxWaitTimeInMs: 250 });
  }
  protected async run(consumer: Consumer): Promise<void> {
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void this.values.add(message.value!.toString()) });
  }
}

describe('runtime through a broker restart (own broker)', () => {
  it('at_least_once and exactly_once instances ride out a broker stop and start (~30 s down) and resume by themselves', async () => {
    const logger = pino({ level: 'warn' });
    const apps = (['at_least_once', 'exactly_once'] as const).map((guarantee) => {
      const appId = `brk-${guarantee === 'exactly_once' ? 'eos' : 'alo'}-${Date.now().toString(36)}`;
      return { guarantee, appId, input: `${appId}-in`, output: `${appId}-out` };
    });
    await createTopics(
      brokers,
      apps.flatMap((a) => [
        { topic: a.input, partitions: 3 },
        { topic: a.output, partitions: 3 },
      ]),
    );
    const N = 4000;
    const half = N / 2;
    for (const a of apps) await produce(brokers, a.input, ledgerInputs(0, half));
    const sideTopic = `brk-side-${Date.now().toString(36)}`;
    await createTopics(brokers, [{ topic: sideTopic, partitions: 2 }]);
    const sideValues = (from: number, to: number): { key: string; value: string }[] => Array.from({ length: to - from }, (_, i) => ({ key: `k${(from + i) % 5}`, value: String(from + i) }));
    await produce(brokers, sideTopic, sideValues(0, 500));
    const side = new Collector(sideTopic, `${sideTopic}-group`);
    const sideErrors: unknown[] = [];
    side.on('error', (e: unknown) => sideErrors.push(e));
    await side.start();
    const instances = apps.map((a) => {
      const streams = new KafkaStreams(
        ledgerTopology(a.appId, a.input, a.output),
        { applicationId: a.appId, brokers, processingGuarantee: a.guarantee, stateDir: path.join(stateRoot, a.appId) },
        { logger },
      );
      const states: StreamsState[] = [];
      streams.on('stateChange', (s: StreamsState) => states.push(s));
      streams.on('error', () => undefined);
      return { ...a, streams, states };
    });
    await Promise.all(instances.map((i) => i.streams.start()));
    try {
      for (const i of instances) await readTopic(brokers, i.output, { done: (r) => r.length >= half, timeoutMs: 60_000 });
      for (const t0 = Date.now(); side.values.size < 500 && Date.now() - t0 < 60_000; ) await sleep(200);
      expect(side.values.size, 'side consumer before the stop').toBe(500);

      await stack('kafka-stop');
      const stoppedAt = Date.now();
      // Down for the stop's remainder, these 5 s and the start (~25 s here): about half a minute.
      await sleep(5_000);
      for (const i of instances) expect(i.streams.state, `${i.guarantee} while the broker is down`).not.toBe('ERROR');
      await stack('kafka-start');
      const startedAt = Date.now();
      for (const a of apps) await produce(brokers, a.input, ledgerInputs(half, N));
      await produce(brokers, sideTopic, sideValues(500, 1000));

      for (const i of instances) {
        const out = await readTopic(brokers, i.output, { done: (r) => analyse(r).ids.size >= N, timeoutMs: 120_000 });
        const flowingAt = Date.now();
        await i.streams.waitForRunning(60_000);
        const settled = i.guarantee === 'exactly_once' ? await readTopic(brokers, i.output, { idleMs: 2000, timeoutMs: 30_000 }) : out;
        const { ids, last } = analyse(settled);
        const duplicates = [...ids.values()].reduce((n, c) => n + c - 1, 0);
        console.log(
          `broker restart, ${i.guarantee}: down ${Math.round((startedAt - stoppedAt) / 1000)} s, all ${N} ids out ${((flowingAt - startedAt) / 1000).toFixed(1)} s after the broker was back, ` +
            `${duplicates} duplicates, ${i.streams.metrics.total('riskloop_runtime_errors_total')} recoverable errors; states ${i.states.join(' → ')}`,
        );
        expect(ids.size).toBe(N);
        expect(i.states).not.toContain('ERROR');
        expect(i.streams.state).toBe('RUNNING');
        if (i.guarantee === 'exactly_once') {
          expect(duplicates).toBe(0);
          const totals = new Map<string, { sum: number; count: number }>();
          for (let id = 0; id < N; id++) {
            const t = totals.get(`acct-${id % ACCOUNTS}`) ?? { sum: 0, count: 0 };
            totals.set(`acct-${id % ACCOUNTS}`, { sum: t.sum + (id % 7) + 1, count: t.count + 1 });
          }
          for (const [k, t] of totals) expect(last.get(k), k).toMatchObject(t);
        }
      }
      for (const t0 = Date.now(); side.values.size < 1000 && Date.now() - t0 < 120_000; ) await sleep(250);
      console.log(`broker restart, side consumer: ${side.values.size} of 1000 values, ${sideErrors.length} errors emitted`);
      expect(sideErrors).toEqual([]);
      expect(side.values.size).toBe(1000);
    } finally {
      await side.stop().catch(() => undefined);
      await Promise.all(instances.map((i) => i.streams.close().catch(() => undefined)));
    }
  }, 300_000);
});
