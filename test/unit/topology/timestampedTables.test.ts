/**
 * KTable stores keep each row's timestamp: non-windowed aggregates emit max(previous aggregate's
 * timestamp, record's timestamp), as Kafka Streams' KStreamAggregate / KStreamReduce do, and the
 * timestamp survives the changelog and a restore.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyValueStore } from '../../../state/index.js';
import { Consumed, Materialized, Produced, Serdes, StreamsBuilder, TopologyTestDriver, type ValueAndTimestamp } from '../../../topology/index.js';

let driver: TopologyTestDriver | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await driver?.close();
  driver = undefined;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

function topology() {
  const builder = new StreamsBuilder();
  const grouped = builder.stream('in', Consumed.with(Serdes.String, Serdes.Long)).groupByKey();
  grouped.count(Materialized.as('n')).toStream().to('counts', Produced.with(Serdes.String, Serdes.Long));
  grouped.reduce((a, b) => a + b, Materialized.as('sum')).toStream().to('sums', Produced.with(Serdes.String, Serdes.Long));
  return builder.build({ applicationId: 'ts' });
}

describe('timestamped KTable stores', () => {
  it('count and reduce emit the largest timestamp so far, not the out-of-order record’s', async () => {
    driver = await TopologyTestDriver.create(topology());
    const input = driver.createInputTopic('in', Serdes.String, Serdes.Long);
    await input.pipeInput('a', 1, 100);
    await input.pipeInput('a', 2, 50); // out of order
    await input.pipeInput('b', 3, 10);
    await input.pipeInput('a', 4, 120);
    const counts = driver.createOutputTopic('counts', Serdes.String, Serdes.Long).readRecordsToList();
    expect(counts.map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ['a', 1, 100],
      ['a', 2, 100],
      ['b', 1, 10],
      ['a', 3, 120],
    ]);
    const sums = driver.createOutputTopic('sums', Serdes.String, Serdes.Long).readRecordsToList();
    expect(sums.map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ['a', 1, 100],
      ['a', 3, 100],
      ['b', 3, 10],
      ['a', 7, 120],
    ]);
    // Plain values through getKeyValueStore, value and timestamp through getTimestampedKeyValueStore.
    expect(driver.getKeyValueStore<string, number>('n').get('a')).toBe(3);
    expect(driver.getTimestampedKeyValueStore<string, number>('sum').get('a')).toEqual({ value: 7, timestamp: 120 });
    expect([...driver.getKeyValueStore<string, number>('sum').all()]).toEqual([
      { key: 'a', value: 7 },
      { key: 'b', value: 3 },
    ]);
    expect(() => driver!.getKeyValueStore<string, number>('sum').put('a', 1)).toThrow(/read-only/);
  });

  it('logs the timestamp with the value, so a store restored from its changelog has both', async () => {
    const t = topology();
    driver = await TopologyTestDriver.create(t);
    const input = driver.createInputTopic('in', Serdes.String, Serdes.Long);
    await input.pipeInput('a', 5, 300);
    await input.pipeInput('a', 6, 200);
    const changelog = driver.readRaw('ts-sum-changelog');
    expect(changelog.length).toBeGreaterThan(0);

    const builder = t.storeBuilder('sum');
    const dir = await mkdtemp(join(tmpdir(), 'riskloop-ts-'));
    dirs.push(dir);
    const restored = builder.build() as KeyValueStore<string, ValueAndTimestamp<number>>;
    await restored.open({ taskDir: dir, taskId: '0_0', changelog: { send: () => undefined } });
    await restored.restore(changelog.map((r) => ({ key: r.key!, value: r.value, timestamp: r.timestamp })));
    expect(restored.get('a')).toEqual({ value: 11, timestamp: 300 });
    await restored.close();
  });

  it('table() rows keep their record timestamps; a stream–table join still sees plain values', async () => {
    const builder = new StreamsBuilder();
    const table = builder.table('rows', Consumed.with(Serdes.String, Serdes.String), Materialized.as('rows-store'));
    builder
      .stream('s', Consumed.with(Serdes.String, Serdes.String))
      .join(table, (v, row) => `${v}+${row}`)
      .to('joined', Produced.with(Serdes.String, Serdes.String));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'ts' }));
    await driver.createInputTopic('rows', Serdes.String, Serdes.String).pipeInput('k', 'r1', 42);
    await driver.createInputTopic('s', Serdes.String, Serdes.String).pipeInput('k', 'x', 50);
    expect(driver.getTimestampedKeyValueStore<string, string>('rows-store').get('k')).toEqual({ value: 'r1', timestamp: 42 });
    expect(driver.createOutputTopic('joined', Serdes.String, Serdes.String).readValuesToList()).toEqual(['x+r1']);
  });
});
