/**
 * The stateful operators of issue 19 through a rebalance on the real broker, under exactly_once:
 * session windows (session store), suppress(untilWindowCloses) (suppress buffer), a table–table
 * join (both tables' stores and the join's store) and a foreign-key join (subscription store,
 * result store), on topics of 4 partitions. Instance A builds state alone; instance B (empty state
 * folder) joins the group while new input arrives, takes half of every sub-topology's tasks (the
 * assignor balances per sub-topology) and restores their state from the changelogs; the outputs of
 * both phases are exactly the expected records per key (value and timestamp), none lost, none
 * twice (read_committed). streamsOperatorsRestore.test.ts covers the loss of the machine and SIGKILL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { Consumed, KafkaStreams, Materialized, Named, Produced, Serdes, SessionWindows, StreamsBuilder, Suppressed, TimeWindows, type Topology, type Windowed } from '../../topology/streams.js';
import { brokers, uniq } from '../support/env.js';
import { createTopics, produce as produceOnce, readTopic } from '../support/kafkaIo.js';

const Str = Serdes.String;
const PARTITIONS = 4;
const KEYS = 8;
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** Event times near now, aligned to the 10 s click windows (window-store changelogs are time-limited). */
const BASE = Math.floor((Date.now() - 120_000) / 10_000) * 10_000;
const at = (ms: number) => BASE + ms;
const msg = (key: string, value: string, timestamp: number) => ({ key, value, timestamp: String(at(timestamp)) });
const keys = (prefix: string) => Array.from({ length: KEYS }, (_, i) => `${prefix}${i}`);

function topology(app: string): Topology {
  const t = (n: string) => `${app}-${n}`;
  const b = new StreamsBuilder();
  b.stream(t('visits'), Consumed.with(Str, Str))
    .groupByKey()
    .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(5_000))
    .count(Materialized.as('visit-sessions'))
    .toStream()
    .map((k: Windowed<string>, v) => ({ key: `${k.key}@${k.window.start - BASE}..${k.window.end - BASE}`, value: v === null ? null : String(v) }))
    .to(t('sessions'), Produced.with(Str, Str));
  b.stream(t('clicks'), Consumed.with(Str, Str))
    .groupByKey()
    .windowedBy(TimeWindows.ofSizeWithGrace(10_000, 0))
    .count(Materialized.as('click-counts'))
    .suppress(Suppressed.untilWindowCloses({ name: 'final' }))
    .toStream()
    .map((k: Windowed<string>, v) => ({ key: `${k.key}@${k.window.start - BASE}`, value: String(v) }))
    .to(t('final-clicks'), Produced.with(Str, Str));
  const a = b.table(t('a'), Consumed.with(Str, Str), Materialized.as('a-rows'));
  const bt = b.table(t('b'), Consumed.with(Str, Str), Materialized.as('b-rows'));
  a.join(bt, (x, y) => `${x}+${y}`, Materialized.as<string, string>('ab').withKeySerde(Str).withValueSerde(Str)).toStream().to(t('ab-out'), Produced.with(Str, Str));
  const customers = b.table(t('customers'), Consumed.with(Str, Str), Materialized.as('customer-rows'));
  const orders = b.table(t('orders'), Consumed.with(Str, Str), Materialized.as('order-rows'));
  orders
    .join(customers, (customerId) => customerId, (customerId, name) => `${customerId}/${name}`, Materialized.as<string, string>('order-customers').withValueSerde(Str), Named.as('order-customer'))
    .toStream()
    .to(t('fk-out'), Produced.with(Str, Str));
  return b.build({ applicationId: app });
}

async function instance(app: string, name: string): Promise<KafkaStreams> {
  const stateDir = mkdtempSync(path.join(os.tmpdir(), `riskloop-ops-rebalance-${name}-`));
  roots.push(stateDir);
  const logger = pino({ level: process.env.OPS_REBALANCE_LOG ?? 'warn', base: { instance: name } });
  const streams = new KafkaStreams(topology(app), { applicationId: app, brokers: brokers(), processingGuarantee: 'exactly_once', stateDir }, { logger });
  await streams.start();
  return streams;
}

/**
 * Produces, retrying while a loaded broker still answers "does not host this topic-partition" for
 * topics created a moment ago (a run at load ~35 failed its first produce that way).
 */
async function produce(...args: Parameters<typeof produceOnce>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await produceOnce(...args);
    } catch (err) {
      if (attempt >= 10 || !/does not host this topic-partition/.test(String((err as Error).message))) throw err;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

type Out = [string | null, string | null, number];

/** The topic's records once there are `n`, grouped by key in offset order; then 3 s more to see any duplicate. */
async function readByKey(topic: string, n: number): Promise<{ byKey: Map<string | null, Out[]>; count: number }> {
  await readTopic(brokers(), topic, { done: (r) => r.length >= n, timeoutMs: 90_000 });
  const records = await readTopic(brokers(), topic, { done: (r) => r.length > n, timeoutMs: 3_000 });
  const byKey = new Map<string | null, Out[]>();
  const sorted = [...records].sort((x, y) => x.partition - y.partition || x.offset - y.offset);
  for (const r of sorted) {
    const list = byKey.get(r.key) ?? [];
    list.push([r.key, r.value === null ? null : r.value.toString(), r.timestamp]);
    byKey.set(r.key, list);
  }
  return { byKey, count: records.length };
}

function expectExactly(got: { byKey: Map<string | null, Out[]>; count: number }, expected: Out[]): void {
  const want = new Map<string | null, Out[]>();
  for (const o of expected) want.set(o[0], [...(want.get(o[0]) ?? []), o]);
  expect(new Map([...got.byKey].sort())).toEqual(new Map([...want].sort()));
  expect(got.count).toBe(expected.length);
}

describe('new stateful operators through a rebalance (exactly_once, 4 partitions)', () => {
  it('session store, suppress buffer, table–table and foreign-key join stores move to a joining instance, which restores them and continues exactly', async () => {
    const app = uniq('ops-rebalance');
    const t = (n: string) => `${app}-${n}`;
    await createTopics(
      brokers(),
      ['visits', 'sessions', 'clicks', 'final-clicks', 'a', 'b', 'ab-out', 'customers', 'orders', 'fk-out'].map((n) => ({ topic: t(n), partitions: PARTITIONS })),
    );
    const visitors = keys('v');
    const clickers = keys('c');
    const rows = keys('r');
    const orderIds = keys('o');
    const customerOf = (i: number) => `cust${i % 4}`;

    // Phase 1: instance A alone.
    // Stamped like the orders: the first results carry 2000 whichever the task reads first (see the restore test).
    await produce(brokers(), t('customers'), [0, 1, 2, 3].map((j) => msg(`cust${j}`, `name${j}`, 2000)));
    const A = await instance(app, 'A');
    let B: KafkaStreams | undefined;
    try {
      await A.waitForRunning(90_000);
      await produce(brokers(), t('visits'), visitors.flatMap((k) => [msg(k, 'x', 1000), msg(k, 'x', 3000)]));
      await produce(brokers(), t('clicks'), clickers.flatMap((k) => [msg(k, 'x', 1000), msg(k, 'x', 2000)]));
      await produce(brokers(), t('a'), rows.map((k) => msg(k, 'g', 1000)));
      await produce(brokers(), t('b'), rows.slice(0, 4).map((k) => msg(k, `b-${k}`, 1000)));
      await produce(brokers(), t('orders'), orderIds.map((k, i) => msg(k, customerOf(i), 2000)));

      const sessions1: Out[] = visitors.flatMap((k): Out[] => [[`${k}@1000..1000`, '1', at(1000)], [`${k}@1000..1000`, null, at(1000)], [`${k}@1000..3000`, '2', at(3000)]]);
      const ab1: Out[] = rows.slice(0, 4).map((k): Out => [k, `g+b-${k}`, at(1000)]);
      const fk1: Out[] = orderIds.map((k, i): Out => [k, `${customerOf(i)}/name${i % 4}`, at(2000)]);
      expectExactly(await readByKey(t('sessions'), sessions1.length), sessions1);
      expectExactly(await readByKey(t('ab-out'), ab1.length), ab1);
      expectExactly(await readByKey(t('fk-out'), fk1.length), fk1);
      const tasksOfA = A.taskStates().map((s) => s.id);

      // Phase 2: B joins the group while new input arrives for every key.
      B = await instance(app, 'B');
      await produce(brokers(), t('visits'), visitors.map((k) => msg(k, 'x', 6000)));
      await produce(brokers(), t('clicks'), clickers.map((k) => msg(k, 'x', 15_000)));
      await produce(brokers(), t('b'), rows.slice(4).map((k) => msg(k, `b-${k}`, 3000)));
      await produce(brokers(), t('a'), rows.slice(0, 4).map((k) => msg(k, 'h', 3000)));
      // cust1 renamed: its subscribers o1 and o5 follow. o2 moves from cust2 to cust3.
      await produce(brokers(), t('customers'), [msg('cust1', 'NAME1', 4000)]);
      await produce(brokers(), t('orders'), [msg('o2', 'cust3', 4000)]);
      await Promise.all([A.waitForRunning(90_000), B.waitForRunning(90_000)]);

      const sessions2: Out[] = [
        ...sessions1,
        ...visitors.flatMap((k): Out[] => [[`${k}@1000..3000`, null, at(3000)], [`${k}@1000..6000`, '3', at(6000)]]),
      ];
      const finals: Out[] = clickers.map((k): Out => [`${k}@0`, '2', at(2000)]);
      const ab2: Out[] = [...ab1, ...rows.slice(4).map((k): Out => [k, `g+b-${k}`, at(3000)]), ...rows.slice(0, 4).map((k): Out => [k, `h+b-${k}`, at(3000)])];
      const fk2: Out[] = [...fk1, ['o1', 'cust1/NAME1', at(4000)], ['o5', 'cust1/NAME1', at(4000)], ['o2', 'cust3/name3', at(4000)]];
      expectExactly(await readByKey(t('sessions'), sessions2.length), sessions2);
      expectExactly(await readByKey(t('final-clicks'), finals.length), finals);
      expectExactly(await readByKey(t('ab-out'), ab2.length), ab2);
      expectExactly(await readByKey(t('fk-out'), fk2.length), fk2);

      // o2 unsubscribed from cust2 (the subscription store wherever cust2's task now runs): only o6 follows cust2.
      await produce(brokers(), t('customers'), [msg('cust2', 'NAME2', 5000)]);
      const fk3: Out[] = [...fk2, ['o6', 'cust2/NAME2', at(5000)]];
      expectExactly(await readByKey(t('fk-out'), fk3.length), fk3);

      // The tasks really moved: B runs half of every sub-topology's tasks, A the other half.
      const tasksOfB = B.taskStates().map((s) => s.id);
      const now = A.taskStates().map((s) => s.id);
      const subtopologies = topology(app).subtopologies();
      expect(tasksOfA).toHaveLength(subtopologies.length * PARTITIONS);
      for (const sub of subtopologies) {
        expect(tasksOfB.filter((id) => id.startsWith(`${sub.id}_`)), `sub-topology ${sub.id} on B`).toHaveLength(PARTITIONS / 2);
        expect(now.filter((id) => id.startsWith(`${sub.id}_`)), `sub-topology ${sub.id} on A`).toHaveLength(PARTITIONS / 2);
      }
    } finally {
      await Promise.allSettled([A.close(), B?.close()]);
    }
  });
});
