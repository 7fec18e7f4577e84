/**
 * The stateful operators added for issue 19 survive the loss of their machine under exactly_once:
 * an instance builds state (stream–stream outer-join buffers and its outer-join store, table–table
 * join stores, a table aggregation with a subtractor, a suppress buffer, a session store, a
 * foreign-key join's subscription and result stores), is closed and its state folder deleted, and a
 * new instance with an empty folder restores everything from the changelogs and carries on as if
 * nothing happened — exact outputs, no duplicates (read_committed); the same under at_least_once
 * (a clean close commits, so its outputs are exact too). The same again with the instance in a
 * child process that is SIGKILLed (a crash without commit or close) and restarted on its own state
 * folder. A rebalance between two instances: streamsOperatorsRebalance.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { KafkaStreams, Serdes } from '../../topology/streams.js';
import { AppProcess } from '../support/appProcess.js';
import { operatorsTopology } from './apps/operators.js';
import { brokers, uniq } from '../support/env.js';
import { createTopics, produce, readTopic } from '../support/kafkaIo.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});
const Str = Serdes.String;

async function start(app: string, processingGuarantee: 'exactly_once' | 'at_least_once'): Promise<KafkaStreams> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-ops-restore-'));
  roots.push(stateDir);
  const streams = new KafkaStreams(operatorsTopology(app, BASE), { applicationId: app, brokers: brokers(), processingGuarantee, stateDir }, { logger: pino({ level: process.env.OPS_RESTORE_LOG ?? 'warn' }, pino.destination(process.env.OPS_RESTORE_LOG_FILE ?? 2)) });
  await streams.start();
  return streams;
}

type Out = [string | null, string | number | null, number];
async function read(topic: string, n: number, long = false): Promise<Out[]> {
  const records = await readTopic(brokers(), topic, { done: (r) => r.length >= n, timeoutMs: Number(process.env.OPS_RESTORE_READ_MS ?? 60_000), idleMs: 1500 });
  return records.map((r) => [r.key, r.value === null ? null : long ? Serdes.Long.deserialize(r.value) : r.value.toString(), r.timestamp]);
}

/**
 * Event times relative to a recent base: changelogs of window stores are also time-limited
 * (retention + 1 day, as in Kafka Streams), so records stamped near 1970 would be deleted by the
 * broker at once and never restored. The base is aligned to the 10 s click windows.
 */
const BASE = Math.floor((Date.now() - 120_000) / 10_000) * 10_000;
const msg = (key: string, value: string, timestamp: number) => ({ key, value, timestamp: String(BASE + timestamp) });
const at = (ms: number) => BASE + ms;

/** A running instance and how it goes away at the end of phase 1. */
interface Instance {
  end(): Promise<void>;
}

/** In-process instance with a fresh state folder: ending it is a clean close, then the folder is gone for good. */
async function inProcess(app: string, processingGuarantee: 'exactly_once' | 'at_least_once' = 'exactly_once'): Promise<Instance> {
  const streams = await start(app, processingGuarantee);
  return { end: () => streams.close() };
}

/** Child-process instance on a fixed state folder: ending it is SIGKILL (no commit, no close). */
function childProcess(app: string, stateDir: string): () => Promise<Instance> {
  return async () => {
    const proc = new AppProcess('test/integration/apps/operators.ts', { APP_ID: app, KAFKA_BROKERS: brokers().join(','), STATE_DIR: stateDir, BASE: String(BASE) });
    await proc.start();
    return { end: () => proc.kill() };
  };
}

async function scenario(app: string, launch: () => Promise<Instance>): Promise<void> {
  const t = (n: string) => `${app}-${n}`;
  await createTopics(
    brokers(),
    ['left', 'right', 'joined', 'a', 'b', 'ab-out', 'group-counts', 'clicks', 'final-clicks', 'visits', 'sessions', 'customers', 'orders', 'fk-out'].map((n) => ({ topic: t(n), partitions: 1 })),
  );

  // Phase 1, first instance.
  await produce(brokers(), t('left'), [msg('k1', 'L1', 1000), msg('k2', 'L2', 1000), msg('k4', 'L4', 1000)]);
  await produce(brokers(), t('a'), [msg('a1', 'g1', 1000), msg('a2', 'g1', 1000)]);
  await produce(brokers(), t('b'), [msg('a1', 'b1', 1000)]);
  await produce(brokers(), t('clicks'), [msg('c1', 'x', 1000), msg('c1', 'x', 2000)]);
  await produce(brokers(), t('visits'), [msg('v1', 'x', 1000), msg('v1', 'x', 3000)]);
  // Customers stamped as late as the orders: whichever the task reads first (the subscription or the
  // customer row), the first results carry timestamp 2000 (the FK join stamps max of both rows, or the
  // right row's when the right row comes last, as Kafka Streams does).
  await produce(brokers(), t('customers'), [msg('cust1', 'name1', 2000), msg('cust2', 'name2', 2000), msg('cust3', 'name3', 2000)]);
  let instance = await launch();
  try {
    await produce(brokers(), t('orders'), [msg('o1', 'cust1', 2000), msg('o2', 'cust2', 2000), msg('o3', 'cust2', 2000)]);
    expect(await read(t('fk-out'), 3)).toEqual([['o1', 'cust1/name1', at(2000)], ['o2', 'cust2/name2', at(2000)], ['o3', 'cust2/name2', at(2000)]]);
    await produce(brokers(), t('right'), [msg('k2', 'R2', 1500)]);
    expect(await read(t('joined'), 1)).toEqual([['k2', 'L2+R2', at(1500)]]);
    expect(await read(t('ab-out'), 1)).toEqual([['a1', 'g1+b1', at(1000)]]);
    expect(await read(t('group-counts'), 2, true)).toEqual([['g1', 1, at(1000)], ['g1', 2, at(1000)]]);
    expect(await read(t('sessions'), 3)).toEqual([['v1@1000..1000', '1', at(1000)], ['v1@1000..1000', null, at(1000)], ['v1@1000..3000', '2', at(3000)]]);
  } finally {
    await instance.end();
  }
  // Nothing final yet: the clicks window [0, 10 s) is still open, held in the suppress buffer.
  expect(await read(t('final-clicks'), 1)).toEqual([]);

  // Phase 2: a new instance restores from the changelogs.
  instance = await launch();
  try {
    // k1's left record is in the restored left buffer (and waits in the restored outer store).
    await produce(brokers(), t('right'), [msg('k1', 'R1', 1800)]);
    expect(await read(t('joined'), 2)).toEqual([['k2', 'L2+R2', at(1500)], ['k1', 'L1+R1', at(1800)]]);
    // Stream time jumps: k4 (never joined, restored from the outer store) is emitted with null, once.
    await produce(brokers(), t('left'), [msg('k3', 'L3', 20_000)]);
    expect(await read(t('joined'), 3)).toEqual([['k2', 'L2+R2', at(1500)], ['k1', 'L1+R1', at(1800)], ['k4', 'L4+null', at(1000)]]);

    // The restored row a2 of table a joins b's new row; a1 moves from group g1 to g2.
    await produce(brokers(), t('b'), [msg('a2', 'b2', 3000)]);
    await produce(brokers(), t('a'), [msg('a1', 'g2', 3000)]);
    expect(await read(t('ab-out'), 3)).toEqual([['a1', 'g1+b1', at(1000)], ['a2', 'g1+b2', at(3000)], ['a1', 'g2+b1', at(3000)]]);
    expect(await read(t('group-counts'), 4, true)).toEqual([['g1', 1, at(1000)], ['g1', 2, at(1000)], ['g1', 1, at(3000)], ['g2', 1, at(3000)]]);

    // A click in the next window closes [0, 10 s): its final count comes from the restored buffer.
    await produce(brokers(), t('clicks'), [msg('c1', 'x', 15_000)]);
    expect(await read(t('final-clicks'), 1, true)).toEqual([[`c1@${BASE}`, 2, at(2000)]]);

    // The restored session [1 s, 3 s] absorbs a visit at 6 s (gap 5 s): its tombstone, then [1 s, 6 s] = 3.
    await produce(brokers(), t('visits'), [msg('v1', 'x', 6000)]);
    expect((await read(t('sessions'), 5)).slice(3)).toEqual([['v1@1000..3000', null, at(3000)], ['v1@1000..6000', '3', at(6000)]]);

    // Foreign-key join from restored stores: o3 moves from cust2 to cust1 (the restored left row and
    // subscription store), then cust2's rename reaches only o2 and cust1's reaches o1 and o3.
    await produce(brokers(), t('orders'), [msg('o3', 'cust1', 3000)]);
    expect((await read(t('fk-out'), 4)).slice(3)).toEqual([['o3', 'cust1/name1', at(3000)]]);
    await produce(brokers(), t('customers'), [msg('cust2', 'NAME2', 4000), msg('cust1', 'NAME1', 5000)]);
    expect((await read(t('fk-out'), 7)).slice(4)).toEqual([['o2', 'cust2/NAME2', at(4000)], ['o1', 'cust1/NAME1', at(5000)], ['o3', 'cust1/NAME1', at(5000)]]);
  } finally {
    await instance.end();
  }
}

describe('new stateful operators: restore from changelogs (exactly_once)', () => {
  it('outer join buffers and outer store, table–table join, table aggregation with subtractor, suppress buffer and session store: machine lost, a fresh instance restores', async () => {
    const app = uniq('ops-restore');
    await scenario(app, () => inProcess(app));
  });

  it('the same under at_least_once (clean close, machine lost, a fresh instance restores): exact outputs', async () => {
    const app = uniq('ops-restore-alo');
    await scenario(app, () => inProcess(app, 'at_least_once'));
  });

  it('the same with a SIGKILLed child process restarted on its own state folder (no commit, no clean close): continues exactly, no duplicates', async () => {
    const app = uniq('ops-kill');
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-ops-kill-'));
    roots.push(stateDir);
    await scenario(app, childProcess(app, stateDir));
  });
});
