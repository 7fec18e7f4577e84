/**
 * StreamTask driven directly, the way the Kafka runtime drives it: timestamp-ordered processing
 * across the partitions feeding one task, commit offsets, restoring a store from its changelog,
 * asynchronous processors, idling for an empty input, and the murmur2 partitioner.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Stores } from '../../../state/stores.js';
import type { ChangeRecord, KeyValueStore } from '../../../state/types.js';
import {
  type OutgoingRecord,
  type Processor,
  type ProcessorContext,
  type RawRecord,
  type Record,
  Serdes,
  StreamTask,
  Topology,
  murmur2,
} from '../../../topology/index.js';

const logger = pino({ level: 'silent' });
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-task-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const raw = (topic: string, offset: number, timestamp: number, value: string, key = 'k'): RawRecord => ({
  topic,
  partition: 0,
  offset,
  timestamp,
  key: Buffer.from(key),
  value: Buffer.from(value),
  headers: {},
});

/** Two topics merged into one sink: one task reads partition 0 of both. */
function mergeTopology(options: { extractEventTimeFromB?: boolean } = {}): Topology {
  const passThrough = (): Processor<string, string, string, string> => {
    let ctx: ProcessorContext<string, string>;
    return { init: (c) => void (ctx = c), process: (r) => ctx.forward(r) };
  };
  return new Topology({ applicationId: 'order' })
    .addSource('a', 'topic-a', { keySerde: Serdes.String, valueSerde: Serdes.String })
    .addSource('b', 'topic-b', {
      keySerde: Serdes.String,
      valueSerde: Serdes.String,
      // "value@eventTime": event time comes from the payload, not the producer timestamp.
      ...(options.extractEventTimeFromB ? { timestampExtractor: (r) => Number(String(r.value).split('@')[1]) } : {}),
    })
    .addProcessor('merge', passThrough, 'a', 'b')
    .addSink('out', 'merged', { keySerde: Serdes.String, valueSerde: Serdes.String }, 'merge');
}

function newTask(topology: Topology, sent: OutgoingRecord[], extra: Partial<ConstructorParameters<typeof StreamTask>[0]> = {}) {
  return new StreamTask({
    topology,
    subtopology: 0,
    partition: 0,
    collector: { send: (r) => void sent.push(r) },
    changelog: { send: () => undefined },
    stateDir: tempDir(),
    logger,
    ...extra,
  });
}

describe('StreamTask', () => {
  it('takes records from the partitions feeding it in timestamp order (lowest head first)', async () => {
    const sent: OutgoingRecord[] = [];
    const task = newTask(mergeTopology(), sent);
    expect(task.id).toBe('0_0');
    expect(task.inputPartitions()).toEqual([
      { topic: 'topic-a', partition: 0 },
      { topic: 'topic-b', partition: 0 },
    ]);
    await task.initialize();
    task.addRecords([raw('topic-a', 0, 1, 'a1'), raw('topic-a', 1, 5, 'a5'), raw('topic-a', 2, 9, 'a9')]);
    task.addRecords([raw('topic-b', 0, 2, 'b2'), raw('topic-b', 1, 3, 'b3'), raw('topic-b', 2, 10, 'b10')]);
    expect(task.bufferedRecords()).toBe(6);
    expect(await task.process()).toBe(6);
    expect(sent.map((r) => `${r.value}@${r.timestamp}`)).toEqual(['a1@1', 'b2@2', 'b3@3', 'a5@5', 'a9@9', 'b10@10']);
    expect(task.streamTime()).toBe(10);
    // Within one partition, order is offset order even when timestamps go back.
    task.addRecords([raw('topic-a', 3, 20, 'a20'), raw('topic-a', 4, 15, 'a15')]);
    task.addRecords([raw('topic-b', 3, 16, 'b16')]);
    await task.process();
    expect(sent.slice(6).map((r) => r.value!.toString())).toEqual(['b16', 'a20', 'a15']);
    expect(task.streamTime()).toBe(20);
    await task.close();
  });

  it('orders by the extracted event time, not the producer timestamp', async () => {
    const sent: OutgoingRecord[] = [];
    const task = newTask(mergeTopology({ extractEventTimeFromB: true }), sent);
    await task.initialize();
    task.addRecords([raw('topic-a', 0, 100, 'a')]);
    task.addRecords([raw('topic-b', 0, 500, 'b@50')]);
    await task.process();
    expect(sent.map((r) => `${r.value}@${r.timestamp}`)).toEqual(['b@50@50', 'a@100']);
    await task.close();
  });

  it('with maxTaskIdleMs, waits for an empty input before processing the other one', async () => {
    const sent: OutgoingRecord[] = [];
    let now = 1_000;
    const task = newTask(mergeTopology(), sent, { maxTaskIdleMs: 100, clock: () => now });
    await task.initialize();
    task.addRecords([raw('topic-a', 0, 50, 'a50')]);
    expect(await task.process()).toBe(0);
    now += 99;
    expect(await task.process()).toBe(0);
    // A b record arriving in time is taken first: it is older. Then b is empty again, and the
    // wait starts over.
    task.addRecords([raw('topic-b', 0, 40, 'b40')]);
    expect(await task.process()).toBe(1);
    expect(sent.map((r) => r.value!.toString())).toEqual(['b40']);
    now += 100;
    expect(await task.process()).toBe(1);
    expect(sent.map((r) => r.value!.toString())).toEqual(['b40', 'a50']);
    // With everything processed the wait resets: a new a record waits the full time again.
    task.addRecords([raw('topic-a', 1, 60, 'a60')]);
    expect(await task.process()).toBe(0);
    now += 99;
    expect(await task.process()).toBe(0);
    now += 1;
    expect(await task.process()).toBe(1);
    await task.close();
  });

  it('commit flushes stores to the changelog sink and returns the next offsets of partitions that advanced', async () => {
    const changes: { store: string; change: ChangeRecord }[] = [];
    const counting = (): Processor<string, string, string, string> => {
      let store: KeyValueStore<string, number>;
      return {
        init: (c) => void (store = c.getStateStore('counts')),
        process: (r) => store.put(r.key, (store.get(r.key) ?? 0) + 1),
      };
    };
    const topology = new Topology({ applicationId: 'commit' })
      .addSource('in', ['topic-a', 'topic-b'], { keySerde: Serdes.String, valueSerde: Serdes.String })
      .addProcessor('count', counting, 'in')
      .addStateStore(Stores.keyValue('counts', Serdes.String, Serdes.Long, { persistent: false }), ['count']);
    const task = newTask(topology, [], { changelog: { send: (store, change) => void changes.push({ store, change }) } });
    expect(task.changelogPartitions()).toEqual([{ storeName: 'counts', topic: 'commit-counts-changelog', partition: 0 }]);
    await task.initialize();
    task.addRecords([raw('topic-a', 7, 1, 'x', 'k1'), raw('topic-a', 8, 2, 'x', 'k1')]);
    task.addRecords([raw('topic-b', 41, 3, 'x', 'k2')]);
    await task.process();
    // Writes reach the changelog at commit, not per record.
    expect(changes).toEqual([]);
    expect(task.commitNeeded()).toBe(true);
    expect(await task.commit()).toEqual([
      { topic: 'topic-a', partition: 0, offset: 9 },
      { topic: 'topic-b', partition: 0, offset: 42 },
    ]);
    expect(changes.map((c) => [c.store, c.change.key.toString(), Serdes.Long.deserialize(c.change.value!)])).toEqual([
      ['counts', 'k1', 2],
      ['counts', 'k2', 1],
    ]);
    expect(task.commitNeeded()).toBe(false);
    expect(await task.commit()).toEqual([]);
    task.addRecords([raw('topic-b', 42, 4, 'x', 'k2')]);
    await task.process();
    expect(await task.commit()).toEqual([{ topic: 'topic-b', partition: 0, offset: 43 }]);
    await task.close();
  });

  it('a new task restores its store from changelog records before its processors start', async () => {
    const topology = () =>
      new Topology({ applicationId: 'restore' })
        .addSource('in', 'topic-a', { keySerde: Serdes.String, valueSerde: Serdes.String })
        .addProcessor(
          'count',
          (): Processor<string, string, string, number> => {
            let ctx: ProcessorContext<string, number>;
            let store: KeyValueStore<string, number>;
            return {
              init: (c) => {
                ctx = c;
                store = c.getStateStore('counts');
              },
              process: (r: Record<string, string>) => {
                const n = (store.get(r.key) ?? 0) + 1;
                store.put(r.key, n);
                ctx.forward({ ...r, value: n });
              },
            };
          },
          'in',
        )
        .addStateStore(Stores.keyValue('counts', Serdes.String, Serdes.Long), ['count'])
        .addSink('out', 'counts', { keySerde: Serdes.String, valueSerde: Serdes.Long }, 'count');
    const changelog: ChangeRecord[] = [];
    const first = newTask(topology(), [], { changelog: { send: (_s, c) => void changelog.push(c) } });
    await first.initialize();
    first.addRecords([raw('topic-a', 0, 1, 'x'), raw('topic-a', 1, 2, 'x')]);
    await first.process();
    await first.commit();
    await first.close({ wipe: true });

    // Elsewhere (a fresh state folder): open, restore from the changelog, then start processing.
    const sent: OutgoingRecord[] = [];
    const second = newTask(topology(), sent);
    await second.initializeStores();
    for (const [name, store] of second.stores()) {
      expect(name).toBe('counts');
      await store.restore(changelog);
    }
    second.initializeTopology();
    second.addRecords([raw('topic-a', 2, 3, 'x')]);
    await second.process();
    expect(sent.map((r) => Serdes.Long.deserialize(r.value!))).toEqual([3]);
    await second.close();
  });

  it('awaits a processor that returns a promise before the next record, keeping order', async () => {
    const slowUpper = (): Processor<string, string, string, string> => {
      let ctx: ProcessorContext<string, string>;
      return {
        init: (c) => void (ctx = c),
        process: async (r) => {
          await new Promise((resolve) => setTimeout(resolve, r.value === 'first' ? 20 : 0));
          ctx.forward({ ...r, value: r.value.toUpperCase() });
        },
      };
    };
    const topology = new Topology({ applicationId: 'async' })
      .addSource('in', 'topic-a', { keySerde: Serdes.String, valueSerde: Serdes.String })
      .addProcessor('upper', slowUpper, 'in')
      .addSink('out', 'out', { keySerde: Serdes.String, valueSerde: Serdes.String }, 'upper');
    const sent: OutgoingRecord[] = [];
    const task = newTask(topology, sent);
    await task.initialize();
    task.addRecords([raw('topic-a', 0, 1, 'first'), raw('topic-a', 1, 2, 'second')]);
    expect(await task.process()).toBe(2);
    expect(sent.map((r) => r.value!.toString())).toEqual(['FIRST', 'SECOND']);
    await task.close();
  });

  it('awaits a serde prefetch once per batch before decoding', async () => {
    const calls: string[][] = [];
    const known = new Set<string>();
    const registrySerde = {
      prefetch: async (payloads: readonly Buffer[]) => {
        calls.push(payloads.map((p) => p.toString()));
        await Promise.resolve();
        for (const p of payloads) known.add(p.toString());
      },
      serialize: (v: string) => Buffer.from(v),
      deserialize: (b: Buffer) => {
        if (!known.has(b.toString())) throw new Error('deserialize before prefetch');
        return b.toString();
      },
    };
    const topology = new Topology({ applicationId: 'prefetch' })
      .addSource('in', 'topic-a', { keySerde: Serdes.String, valueSerde: registrySerde })
      .addSink('out', 'out', { keySerde: Serdes.String, valueSerde: Serdes.String }, 'in');
    const sent: OutgoingRecord[] = [];
    const task = newTask(topology, sent);
    await task.initialize();
    task.addRecords([raw('topic-a', 0, 1, 'v1'), raw('topic-a', 1, 2, 'v2')]);
    await task.process();
    expect(calls).toEqual([['v1', 'v2']]);
    expect(sent).toHaveLength(2);
    await task.close();
  });
});

describe('murmur2', () => {
  it("matches Kafka's test vectors and kafkajs' DefaultPartitioner hash", () => {
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
    expect(murmur2(Buffer.from('foobar'))).toBe(-790332482);
    expect(murmur2(Buffer.from('a-little-bit-long-string'))).toBe(-985981536);
    expect(murmur2(Buffer.from('a-little-bit-longer-string'))).toBe(-1486304829);
    expect(murmur2(Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'))).toBe(-58897971);
    expect(murmur2(Buffer.from('abc'))).toBe(479470107);
    const require = createRequire(import.meta.url);
    const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;
    for (let i = 0; i < 200; i++) {
      const key = Buffer.from(`card-${i * 7919}-${'x'.repeat(i % 7)}`);
      expect(murmur2(key)).toBe(kafkajsMurmur2(key));
    }
  });
});
