/**
 * Aggregations: Kafka Streams' KTableAggregateTest, KTableReduceTest (table aggregations with a
 * subtractor) and KGroupedStreamImplTest (stream count/reduce/aggregate with timestamped stores).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Consumed, Grouped, Materialized, Produced, Serdes, StreamsBuilder, TopologyTestDriver, type KTable, type KeyValue } from '../../topology/index.js';
import { Str, expectOutput, pipeAll, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

// MockInitializer.STRING_INIT, MockAggregator.TOSTRING_ADDER / TOSTRING_REMOVER, MockReducer.STRING_ADDER.
const STRING_INIT = () => '0';
const TOSTRING_ADDER = (_k: string, v: string, agg: string) => `${agg}+${v}`;
const TOSTRING_REMOVER = (_k: string, v: string, agg: string) => `${agg}-${v}`;

async function run<V>(table: KTable<string, V>, builder: StreamsBuilder, valueSerde: typeof Str | typeof Serdes.Long, input: string, records: KVT<string, string>[]) {
  table.toStream().to('output', Produced.with(Str, valueSerde as never));
  driver = await TopologyTestDriver.create(builder.build({ applicationId: 'agg' }));
  await pipeAll(driver.createInputTopic(input, Str, Str), records);
  return driver.createOutputTopic('output', Str, valueSerde as typeof Str);
}

describe('KTable aggregations with a subtractor (Kafka Streams conformance)', () => {
  it('KTableAggregateTest.testAggBasic', async () => {
    const builder = new StreamsBuilder();
    const t2 = builder
      .table('topic1', Consumed.with(Str, Str))
      .groupBy((k, v): KeyValue<string, string> => ({ key: k, value: v }), Grouped.with(Str, Str))
      .aggregate(STRING_INIT, TOSTRING_ADDER, TOSTRING_REMOVER, Materialized.as<string, string>('topic1-Canonized').withValueSerde(Str));
    const out = await run(t2, builder, Str, 'topic1', [['A', '1', 10], ['B', '2', 15], ['A', '3', 20], ['B', '4', 18], ['C', '5', 5], ['D', '6', 25], ['B', '7', 15], ['C', '8', 10]]);
    expectOutput(out, [
      ['A', '0+1', 10],
      ['B', '0+2', 15],
      ['A', '0+1-1+3', 20],
      ['B', '0+2-2+4', 18],
      ['C', '0+5', 5],
      ['D', '0+6', 25],
      ['B', '0+2-2+4-4+7', 18],
      ['C', '0+5-5+8', 10],
    ]);
  });

  it('KTableAggregateTest.testAggRepartition', async () => {
    const builder = new StreamsBuilder();
    const t2 = builder
      .table('topic1', Consumed.with(Str, Str))
      .groupBy((k, v) => (k === 'null' ? ({ key: null, value: v } as unknown as KeyValue<string, string>) : k === 'NULL' ? (null as unknown as KeyValue<string, string>) : { key: v, value: v }), Grouped.with(Str, Str))
      .aggregate(STRING_INIT, TOSTRING_ADDER, TOSTRING_REMOVER, Materialized.as<string, string>('topic1-Canonized').withValueSerde(Str));
    const out = await run(t2, builder, Str, 'topic1', [['A', '1', 10], ['A', null, 15], ['A', '1', 12], ['B', '2', 20], ['null', '3', 25], ['B', '4', 23], ['NULL', '5', 24], ['B', '7', 22]]);
    expectOutput(out, [
      ['1', '0+1', 10],
      ['1', '0+1-1', 15],
      ['1', '0+1-1+1', 15],
      ['2', '0+2', 20],
      ['2', '0+2-2', 23],
      ['4', '0+4', 23],
      ['4', '0+4-4', 23],
      ['7', '0+7', 22],
    ]);
  });

  it('KTableAggregateTest.testCount', async () => {
    const builder = new StreamsBuilder();
    const counts = builder
      .table('count-test-input', Consumed.with(Str, Str))
      .groupBy((_k, v): KeyValue<string, string> => ({ key: v, value: v }), Grouped.with(Str, Str))
      .count(Materialized.as('count'));
    const out = await run(counts, builder, Serdes.Long, 'count-test-input', [['A', 'green', 10], ['B', 'green', 9], ['A', 'blue', 12], ['C', 'yellow', 15], ['D', 'green', 11]]);
    expectOutput(out as never, [
      ['green', 1, 10],
      ['green', 2, 10],
      ['green', 1, 12],
      ['blue', 1, 12],
      ['yellow', 1, 15],
      ['green', 2, 12],
    ]);
  });

  it('KTableAggregateTest.testRemoveOldBeforeAddNew', async () => {
    const builder = new StreamsBuilder();
    const agg = builder
      .table('count-test-input', Consumed.with(Str, Str))
      .groupBy((k): KeyValue<string, string> => ({ key: k.charAt(0), value: k.charAt(1) }), Grouped.with(Str, Str))
      .aggregate(
        () => '',
        (_k, v, a) => a + v,
        (_k, v, a) => a.replaceAll(v, ''),
        Materialized.as<string, string>('someStore').withValueSerde(Str),
      );
    const out = await run(agg, builder, Str, 'count-test-input', [['11', 'A', 10], ['12', 'B', 8], ['11', null, 12], ['12', 'C', 6]]);
    expectOutput(out, [
      ['1', '1', 10],
      ['1', '12', 10],
      ['1', '2', 12],
      ['1', '2', 12],
    ]);
  });

  it('KTableReduceTest.shouldAddAndSubtract', async () => {
    const builder = new StreamsBuilder();
    const sets = Serdes.Json<string[]>();
    builder
      .table('sets', Consumed.with(Str, sets))
      .groupBy((k, v): KeyValue<string, string[]> => ({ key: k, value: v }), Grouped.with(Str, sets))
      .reduce(
        (agg, v) => [...new Set([...agg, ...v])].sort(),
        (agg, v) => agg.filter((x) => !v.includes(x)),
        Materialized.as<string, string[]>('myStore').withValueSerde(sets),
      );
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'reduce' }));
    const input = driver.createInputTopic('sets', Str, sets);
    const store = () => driver!.getTimestampedKeyValueStore<string, string[]>('myStore');
    await input.pipeInput('A', ['a'], 10);
    expect(store().get('A')).toEqual({ value: ['a'], timestamp: 10 });
    await input.pipeInput('A', ['b'], 15);
    expect(store().get('A')).toEqual({ value: ['b'], timestamp: 15 });
    await input.pipeInput('A', null, 12);
    expect(store().get('A')).toEqual({ value: [], timestamp: 15 });
  });
});

describe('KStream aggregations into timestamped stores (Kafka Streams conformance)', () => {
  async function grouped(build: (b: StreamsBuilder) => void) {
    const builder = new StreamsBuilder();
    build(builder);
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'grouped' }));
    // KGroupedStreamImplTest.processData; the last record (null value) is skipped by every aggregation.
    const input = driver.createInputTopic('topic', Str, Str);
    await pipeAll(input, [['1', 'A', 5], ['2', 'B', 1], ['1', 'C', 3], ['1', 'D', 10], ['3', 'E', 8], ['3', 'F', 9], ['3', null, 9]]);
  }
  const stream = (b: StreamsBuilder) => b.stream('topic', Consumed.with(Str, Str)).groupByKey();

  it('KGroupedStreamImplTest.shouldCountAndMaterializeResults', async () => {
    await grouped((b) => stream(b).count(Materialized.as<string, number>('count').withKeySerde(Str)));
    const count = driver!.getKeyValueStore<string, number>('count');
    expect([count.get('1'), count.get('2'), count.get('3')]).toEqual([3, 1, 2]);
    const ts = driver!.getTimestampedKeyValueStore<string, number>('count');
    expect([ts.get('1'), ts.get('2'), ts.get('3')]).toEqual([{ value: 3, timestamp: 10 }, { value: 1, timestamp: 1 }, { value: 2, timestamp: 9 }]);
  });

  it('KGroupedStreamImplTest.shouldReduceAndMaterializeResults', async () => {
    await grouped((b) => stream(b).reduce((a, v) => `${a}+${v}`, Materialized.as<string, string>('reduce').withKeySerde(Str).withValueSerde(Str)));
    const ts = driver!.getTimestampedKeyValueStore<string, string>('reduce');
    expect([ts.get('1'), ts.get('2'), ts.get('3')]).toEqual([{ value: 'A+C+D', timestamp: 10 }, { value: 'B', timestamp: 1 }, { value: 'E+F', timestamp: 9 }]);
    expect(driver!.getKeyValueStore<string, string>('reduce').get('1')).toBe('A+C+D');
  });

  it('KGroupedStreamImplTest.shouldAggregateAndMaterializeResults', async () => {
    await grouped((b) => stream(b).aggregate(STRING_INIT, TOSTRING_ADDER, Materialized.as<string, string>('aggregate').withKeySerde(Str).withValueSerde(Str)));
    const ts = driver!.getTimestampedKeyValueStore<string, string>('aggregate');
    expect([ts.get('1'), ts.get('2'), ts.get('3')]).toEqual([{ value: '0+A+C+D', timestamp: 10 }, { value: '0+B', timestamp: 1 }, { value: '0+E+F', timestamp: 9 }]);
    expect(driver!.getKeyValueStore<string, string>('aggregate').get('3')).toBe('0+E+F');
  });
});
