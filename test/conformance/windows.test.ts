/** Windowed aggregations: Kafka Streams' KStreamWindowAggregateTest and KStreamSlidingWindowAggregateTest (eager emit). */
import { afterEach, describe, expect, it } from 'vitest';
import { Consumed, Grouped, Materialized, Produced, SlidingWindows, StreamsBuilder, TimeWindows, TopologyTestDriver, timeWindowedSerde, type KTable, type Windowed } from '../../topology/index.js';
import { Str, expectWindowed, pipeAll, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const STRING_INIT = () => '0';
const TOSTRING_ADDER = (_k: string, v: string, agg: string) => `${agg}+${v}`;

async function runWindowed(build: (b: StreamsBuilder) => KTable<Windowed<string>, string>, sizeMs: number, records: KVT<string, string>[]) {
  const builder = new StreamsBuilder();
  build(builder)
    .toStream()
    .to('output', Produced.with(timeWindowedSerde(Str, sizeMs), Str));
  driver = await TopologyTestDriver.create(builder.build({ applicationId: 'win' }));
  await pipeAll(driver.createInputTopic('topic', Str, Str), records);
  return driver.createOutputTopic('output', timeWindowedSerde(Str, sizeMs), Str);
}

/** KStreamSlidingWindowAggregateTest.gatherOutput: window start → the set of (value, timestamp) emitted for it. */
function gather(records: { key: Windowed<string> | null; value: string | null; timestamp: number }[]): Map<number, string[]> {
  const out = new Map<number, Set<string>>();
  for (const r of records) {
    const set = out.get(r.key!.window.start) ?? new Set<string>();
    set.add(`${r.value}@${r.timestamp}`);
    out.set(r.key!.window.start, set);
  }
  return new Map([...out].map(([k, s]) => [k, [...s].sort()]));
}
const expected = (e: [number, [string, number][]][]) => new Map(e.map(([start, vts]) => [start, vts.map(([v, t]) => `${v}@${t}`).sort()]));

describe('Time windows (Kafka Streams conformance)', () => {
  it('KStreamWindowAggregateTest.testAggBasic (eager emit)', async () => {
    const out = await runWindowed(
      (b) =>
        b
          .stream('topic', Consumed.with(Str, Str))
          .groupByKey(Grouped.with(Str, Str))
          .windowedBy(TimeWindows.ofSizeWithGrace(10, 100).advanceBy(5))
          .aggregate(STRING_INIT, TOSTRING_ADDER, Materialized.as<string, string>('topic1-Canonized').withValueSerde(Str)),
      10,
      [
        ['A', '1', 0], ['B', '2', 1], ['C', '3', 2], ['D', '4', 3], ['A', '1', 4], ['A', '1', 5], ['B', '2', 6], ['D', '4', 7], ['B', '2', 8], ['C', '3', 9],
        ['A', '1', 10], ['B', '2', 11], ['D', '4', 12], ['B', '2', 13], ['C', '3', 14], ['B', '1', 3], ['B', '2', 2], ['B', '3', 9],
      ],
    );
    expectWindowed(out, [
      ['A', 0, 10, '0+1', 0],
      ['B', 0, 10, '0+2', 1],
      ['C', 0, 10, '0+3', 2],
      ['D', 0, 10, '0+4', 3],
      ['A', 0, 10, '0+1+1', 4],
      ['A', 0, 10, '0+1+1+1', 5],
      ['A', 5, 15, '0+1', 5],
      ['B', 0, 10, '0+2+2', 6],
      ['B', 5, 15, '0+2', 6],
      ['D', 0, 10, '0+4+4', 7],
      ['D', 5, 15, '0+4', 7],
      ['B', 0, 10, '0+2+2+2', 8],
      ['B', 5, 15, '0+2+2', 8],
      ['C', 0, 10, '0+3+3', 9],
      ['C', 5, 15, '0+3', 9],
      ['A', 5, 15, '0+1+1', 10],
      ['A', 10, 20, '0+1', 10],
      ['B', 5, 15, '0+2+2+2', 11],
      ['B', 10, 20, '0+2', 11],
      ['D', 5, 15, '0+4+4', 12],
      ['D', 10, 20, '0+4', 12],
      ['B', 5, 15, '0+2+2+2+2', 13],
      ['B', 10, 20, '0+2+2', 13],
      ['C', 5, 15, '0+3+3', 14],
      ['C', 10, 20, '0+3', 14],
      ['B', 0, 10, '0+2+2+2+1', 8],
      ['B', 0, 10, '0+2+2+2+1+2', 8],
      ['B', 0, 10, '0+2+2+2+1+2+3', 9],
      ['B', 5, 15, '0+2+2+2+2+3', 13],
    ]);
  });

  it('KStreamWindowAggregateTest.shouldLogAndMeterWhenSkippingExpiredWindowByGrace', async () => {
    const out = await runWindowed(
      (b) =>
        b
          .stream('topic', Consumed.with(Str, Str))
          .groupByKey(Grouped.with(Str, Str))
          .windowedBy(TimeWindows.ofSizeWithGrace(10, 90).advanceBy(10))
          .aggregate(() => '', TOSTRING_ADDER, Materialized.as<string, string>('topic1-Canonicalized').withValueSerde(Str).withLoggingDisabled()),
      10,
      [['k', '100', 200], ['k', '0', 100], ['k', '1', 101], ['k', '2', 102], ['k', '3', 103], ['k', '4', 104], ['k', '5', 105], ['k', '6', 6]],
    );
    expectWindowed(out, [['k', 200, 210, '+100', 200]]);
    // Seven records, each for one expired window: seven drops (Kafka Streams' dropped-records sensor).
    expect(driver!.metrics().dropped.late).toBe(7);
  });
});

describe('Sliding windows (Kafka Streams conformance)', () => {
  const sliding = (b: StreamsBuilder, windows: SlidingWindows) => b.stream('topic', Consumed.with(Str, Str)).groupByKey(Grouped.with(Str, Str)).windowedBy(windows);

  it('KStreamSlidingWindowAggregateTest.testAggregateSmallInput', async () => {
    const out = await runWindowed(
      (b) => sliding(b, SlidingWindows.ofTimeDifferenceAndGrace(10, 5)).aggregate(STRING_INIT, TOSTRING_ADDER, Materialized.as<string, string>('store-name').withValueSerde(Str)),
      10,
      [['A', '1', 10], ['A', '2', 10], ['A', '3', 14], ['A', '4', 15], ['A', '5', 20], ['A', '6', 22], ['A', '7', 30]],
    );
    expect(gather(out.readRecordsToList())).toEqual(
      expected([
        [0, [['0+1', 10], ['0+1+2', 10]]],
        [4, [['0+1+2+3', 14]]],
        [5, [['0+1+2+3+4', 15]]],
        [10, [['0+1+2+3+4+5', 20]]],
        [11, [['0+3', 14], ['0+3+4', 15], ['0+3+4+5', 20]]],
        [12, [['0+3+4+5+6', 22]]],
        [15, [['0+4', 15], ['0+4+5', 20], ['0+4+5+6', 22]]],
        [16, [['0+5', 20], ['0+5+6', 22]]],
        [20, [['0+5+6+7', 30]]],
        [21, [['0+6', 22], ['0+6+7', 30]]],
        [23, [['0+7', 30]]],
      ]),
    );
  });

  it('KStreamSlidingWindowAggregateTest.testReduceSmallInput', async () => {
    const out = await runWindowed(
      (b) => sliding(b, SlidingWindows.ofTimeDifferenceAndGrace(10, 5)).reduce((a, v) => `${a}+${v}`, Materialized.as<string, string>('store-name').withValueSerde(Str)),
      10,
      [['A', '1', 10], ['A', '2', 14], ['A', '3', 15], ['A', '4', 22], ['A', '5', 26], ['A', '6', 30]],
    );
    expect(gather(out.readRecordsToList())).toEqual(
      expected([
        [0, [['1', 10]]],
        [4, [['1+2', 14]]],
        [5, [['1+2+3', 15]]],
        [11, [['2', 14], ['2+3', 15]]],
        [12, [['2+3+4', 22]]],
        [15, [['3', 15], ['3+4', 22]]],
        [16, [['4', 22], ['4+5', 26]]],
        [20, [['4+5+6', 30]]],
        [23, [['5', 26], ['5+6', 30]]],
        [27, [['6', 30]]],
      ]),
    );
  });

  it('KStreamSlidingWindowAggregateTest.testEarlyRecordsSmallInput', async () => {
    const out = await runWindowed(
      (b) => sliding(b, SlidingWindows.ofTimeDifferenceAndGrace(50, 0)).aggregate(STRING_INIT, TOSTRING_ADDER, Materialized.as<string, string>('topic-Canonized').withValueSerde(Str)),
      50,
      [['A', '1', 0], ['A', '2', 5], ['A', '3', 6], ['A', '4', 3], ['A', '5', 13], ['A', '6', 10], ['A', '7', 70]],
    );
    expect(gather(out.readRecordsToList())).toEqual(
      expected([
        [0, [['0+1', 0], ['0+1+2', 5], ['0+1+2+3', 6], ['0+1+2+3+4', 6], ['0+1+2+3+4+5', 13], ['0+1+2+3+4+5+6', 13]]],
        [1, [['0+2', 5], ['0+2+3', 6], ['0+2+3+4', 6], ['0+2+3+4+5', 13], ['0+2+3+4+5+6', 13]]],
        [4, [['0+2+3', 6], ['0+2+3+5', 13], ['0+2+3+5+6', 13]]],
        [6, [['0+3', 6], ['0+3+5', 13], ['0+3+5+6', 13]]],
        [7, [['0+5', 13], ['0+5+6', 13]]],
        [11, [['0+5', 13]]],
        [20, [['0+7', 70]]],
      ]),
    );
  });
});
