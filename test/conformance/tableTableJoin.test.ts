/** KTable–KTable joins: Kafka Streams' KTableKTable{Inner,Left,Outer}JoinTest. */
import { afterEach, describe, expect, it } from 'vitest';
import { Consumed, Materialized, StreamsBuilder, TopologyTestDriver, Produced, type KTable } from '../../topology/index.js';
import { IntSerde, Str, expectOutput, pipeAll, toStringJoiner, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const keys = [0, 1, 2, 3];
type Mode = 'join' | 'leftJoin' | 'outerJoin';

async function setup(mode: Mode, queryable = false) {
  const builder = new StreamsBuilder();
  const t1 = builder.table('topic1', Consumed.with(IntSerde, Str));
  const t2 = builder.table('topic2', Consumed.with(IntSerde, Str));
  const materialized = (queryable ? Materialized.as<number, string>('anyQueryableName') : Materialized.with<number, string>(IntSerde, Str)).withKeySerde(IntSerde).withValueSerde(Str);
  const joined: KTable<number, string> =
    mode === 'join' ? t1.join(t2, toStringJoiner, materialized) : mode === 'leftJoin' ? t1.leftJoin(t2, toStringJoiner, materialized) : t1.outerJoin(t2, toStringJoiner, materialized);
  joined.toStream().to('output', Produced.with(IntSerde, Str));
  const topology = builder.build({ applicationId: 'ktable-join' });
  // Both tables in one co-partitioned sub-topology (Kafka's copartitionGroups: [topic1, topic2]).
  expect(topology.subtopologies()).toHaveLength(1);
  driver = await TopologyTestDriver.create(topology);
  return {
    in1: driver.createInputTopic('topic1', IntSerde, Str),
    in2: driver.createInputTopic('topic2', IntSerde, Str),
    out: driver.createOutputTopic('output', IntSerde, Str),
  };
}

/** The shared input script of the three testJoin methods, with each mode's expected output per step. */
async function runScript(mode: Mode, expected: KVT<number, string>[][]) {
  const { in1, in2, out } = await setup(mode);
  const steps: (() => Promise<void>)[] = [
    () => pipeAll(in1, [[0, 'X0', 5], [1, 'X1', 6], [null, 'SomeVal', 42]]),
    () => pipeAll(in2, [[0, 'Y0', 0], [1, 'Y1', 10], [null, 'AnotherVal', 73]]),
    () => pipeAll(in1, keys.map((k): KVT<number, string> => [k, `XX${k}`, 7])),
    () => pipeAll(in2, keys.map((k): KVT<number, string> => [k, `YY${k}`, k * 5])),
    () => pipeAll(in1, keys.map((k): KVT<number, string> => [k, `XXX${k}`, 6])),
    () => pipeAll(in2, [[0, null, 5], [1, null, 7]]),
    () => pipeAll(in1, keys.map((k): KVT<number, string> => [k, `XXXX${k}`, 13])),
    () => pipeAll(in1, [[0, null, 0], [1, null, 42], [2, null, 5], [3, null, 20]]),
  ];
  for (let i = 0; i < steps.length; i++) {
    await steps[i]!();
    expectOutput(out, expected[i]!);
  }
}

describe('KTable–KTable joins (Kafka Streams conformance)', () => {
  it('KTableKTableInnerJoinTest.testJoin', async () => {
    await runScript('join', [
      [],
      [[0, 'X0+Y0', 5], [1, 'X1+Y1', 10]],
      [[0, 'XX0+Y0', 7], [1, 'XX1+Y1', 10]],
      [[0, 'XX0+YY0', 7], [1, 'XX1+YY1', 7], [2, 'XX2+YY2', 10], [3, 'XX3+YY3', 15]],
      [[0, 'XXX0+YY0', 6], [1, 'XXX1+YY1', 6], [2, 'XXX2+YY2', 10], [3, 'XXX3+YY3', 15]],
      [[0, null, 6], [1, null, 7]],
      [[2, 'XXXX2+YY2', 13], [3, 'XXXX3+YY3', 15]],
      [[2, null, 10], [3, null, 20]],
    ]);
  });

  it('KTableKTableLeftJoinTest.testJoin', async () => {
    await runScript('leftJoin', [
      [[0, 'X0+null', 5], [1, 'X1+null', 6]],
      [[0, 'X0+Y0', 5], [1, 'X1+Y1', 10]],
      [[0, 'XX0+Y0', 7], [1, 'XX1+Y1', 10], [2, 'XX2+null', 7], [3, 'XX3+null', 7]],
      [[0, 'XX0+YY0', 7], [1, 'XX1+YY1', 7], [2, 'XX2+YY2', 10], [3, 'XX3+YY3', 15]],
      [[0, 'XXX0+YY0', 6], [1, 'XXX1+YY1', 6], [2, 'XXX2+YY2', 10], [3, 'XXX3+YY3', 15]],
      [[0, 'XXX0+null', 6], [1, 'XXX1+null', 7]],
      [[0, 'XXXX0+null', 13], [1, 'XXXX1+null', 13], [2, 'XXXX2+YY2', 13], [3, 'XXXX3+YY3', 15]],
      [[0, null, 0], [1, null, 42], [2, null, 10], [3, null, 20]],
    ]);
  });

  it('KTableKTableOuterJoinTest.testJoin', async () => {
    await runScript('outerJoin', [
      [[0, 'X0+null', 5], [1, 'X1+null', 6]],
      [[0, 'X0+Y0', 5], [1, 'X1+Y1', 10]],
      [[0, 'XX0+Y0', 7], [1, 'XX1+Y1', 10], [2, 'XX2+null', 7], [3, 'XX3+null', 7]],
      [[0, 'XX0+YY0', 7], [1, 'XX1+YY1', 7], [2, 'XX2+YY2', 10], [3, 'XX3+YY3', 15]],
      [[0, 'XXX0+YY0', 6], [1, 'XXX1+YY1', 6], [2, 'XXX2+YY2', 10], [3, 'XXX3+YY3', 15]],
      [[0, 'XXX0+null', 6], [1, 'XXX1+null', 7]],
      [[0, 'XXXX0+null', 13], [1, 'XXXX1+null', 13], [2, 'XXXX2+YY2', 13], [3, 'XXXX3+YY3', 15]],
      [[0, null, 0], [1, null, 42], [2, 'null+YY2', 10], [3, 'null+YY3', 20]],
    ]);
  });

  it('KTableKTableInnerJoinTest.testQueryableJoin: the joined table is readable from its store, with the rows’ timestamps', async () => {
    const { in1, in2 } = await setup('join', true);
    await pipeAll(in1, [[0, 'X0', 5], [1, 'X1', 6]]);
    await pipeAll(in2, [[0, 'Y0', 0], [1, 'Y1', 10]]);
    const store = driver!.getTimestampedKeyValueStore<number, string>('anyQueryableName');
    expect(store.get(0)).toEqual({ value: 'X0+Y0', timestamp: 5 });
    expect(store.get(1)).toEqual({ value: 'X1+Y1', timestamp: 10 });
    await pipeAll(in2, [[0, null, 5]]);
    expect(store.get(0)).toBeUndefined();
  });
});
