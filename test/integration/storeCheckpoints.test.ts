/**
 * Checkpoints of state stores on the real broker, as Kafka Streams keeps them:
 *  - an in-memory store is never resumed from a checkpoint: after a clean close and a restart on the
 *    same state folder it restores its whole changelog (a checkpoint written at close used to make
 *    the new, empty store skip everything before it: counts started again from zero);
 *  - global stores are flushed and checkpointed while the instance runs (every 10 s at most), not
 *    only at close: their write caches stay bounded by time, and a crash resumes from the checkpoint.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../state/checkpoint.js';
import { Consumed, KafkaStreams, Materialized, Produced, Serdes, StreamsBuilder } from '../../topology/streams.js';
import { brokers, uniq } from '../support/env.js';
import { createTopics, produce, readTopic } from '../support/kafkaIo.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
const logger = pino({ level: 'warn' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('store checkpoints', () => {
  it.each(['at_least_once', 'exactly_once'] as const)('an in-memory store restores its whole changelog after a clean restart (%s)', async (processingGuarantee) => {
    const app = uniq('mem-restore');
    const input = `${app}-in`;
    const output = `${app}-out`;
    await createTopics(brokers(), [{ topic: input, partitions: 1 }, { topic: output, partitions: 1 }]);
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-mem-restore-'));
    roots.push(stateDir);
    const start = async (): Promise<KafkaStreams> => {
      const builder = new StreamsBuilder();
      builder
        .stream(input, Consumed.with(Serdes.String, Serdes.String))
        .groupByKey()
        .count(Materialized.as<string, number>('counts').withInMemory())
        .toStream()
        .to(output, Produced.with(Serdes.String, Serdes.Long));
      const streams = new KafkaStreams(builder.build({ applicationId: app }), { applicationId: app, brokers: brokers(), processingGuarantee, stateDir, commitIntervalMs: 200 }, { logger });
      await streams.start();
      await streams.waitForRunning(60_000);
      return streams;
    };
    const counts = async (n: number): Promise<number[]> =>
      (await readTopic(brokers(), output, { done: (r) => r.length >= n, timeoutMs: 60_000, idleMs: 1000 })).map((r) => Number(Serdes.Long.deserialize(r.value!)));

    const first = await start();
    await produce(brokers(), input, Array.from({ length: 10 }, () => ({ key: 'card-1', value: 'x' })));
    expect((await counts(10)).at(-1)).toBe(10);
    await first.close();

    const second = await start();
    try {
      await produce(brokers(), input, [{ key: 'card-1', value: 'x' }]);
      expect((await counts(11)).at(-1)).toBe(11);
    } finally {
      await second.close();
    }
  });

  it('flushes and checkpoints global stores while running', async () => {
    const app = uniq('global-ckpt');
    const table = `${app}-merchants`;
    await createTopics(brokers(), [{ topic: table, partitions: 2 }]);
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-global-ckpt-'));
    roots.push(stateDir);
    const builder = new StreamsBuilder();
    builder.globalTable(table, Consumed.with(Serdes.String, Serdes.String), Materialized.as('merchant-risk'));
    // A stream task too, so that the instance commits (the global checkpoint rides on the commit cycle).
    builder.stream(`${app}-tx`, Consumed.with(Serdes.String, Serdes.String)).to(`${app}-out`, Produced.with(Serdes.String, Serdes.String));
    await createTopics(brokers(), [{ topic: `${app}-tx`, partitions: 1 }, { topic: `${app}-out`, partitions: 1 }]);
    const streams = new KafkaStreams(builder.build({ applicationId: app }), { applicationId: app, brokers: brokers(), processingGuarantee: 'at_least_once', stateDir, commitIntervalMs: 500 }, { logger });
    await streams.start();
    try {
      await streams.waitForRunning(60_000);
      await produce(brokers(), table, Array.from({ length: 400 }, (_, i) => ({ key: `m${i % 100}`, value: `risk-${i}`, partition: i % 2 })));
      const dir = path.join(stateDir, app, 'global');
      let checkpoint: Map<string, number> | undefined;
      for (let i = 0; i < 60; i++) {
        checkpoint = existsSync(path.join(dir, '.checkpoint')) ? await readCheckpoint(dir) : undefined;
        if (checkpoint && [...checkpoint.values()].reduce((a, b) => a + b, 0) === 400) break;
        await sleep(500);
      }
      // Both partitions up to their ends, written while the instance is still running.
      expect(streams.state).toBe('RUNNING');
      expect([...checkpoint!.values()].sort()).toEqual([200, 200]);
    } finally {
      await streams.close();
    }
  });
});
