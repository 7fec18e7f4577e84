/** Cogrouped streams: Kafka Streams' CogroupedKStreamImplTest. */
import { afterEach, describe, expect, it } from 'vitest';
import { Consumed, Materialized, Produced, StreamsBuilder, TopologyTestDriver } from '../../topology/index.js';
import { Str, pipeAll, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

// STRING_AGGREGATOR and STRING_INITIALIZER.
const STRING_AGGREGATOR = (_k: string, v: string, agg: string) => agg + v;
const STRING_INITIALIZER = () => '';

async function cogrouped(topics: string[], inputs: [number, KVT<string, string>[]][]) {
  const builder = new StreamsBuilder();
  const grouped = topics.map((t) => builder.stream(t, Consumed.with(Str, Str)).groupByKey());
  let co = grouped[0]!.cogroup(STRING_AGGREGATOR);
  for (const g of grouped.slice(1)) co = co.cogroup(g, STRING_AGGREGATOR);
  co.aggregate(STRING_INITIALIZER, Materialized.with(Str, Str)).toStream().to('output', Produced.with(Str, Str));
  const topology = builder.build({ applicationId: 'cogroup' });
  // All inputs aggregate into one store: one co-partitioned sub-topology.
  expect(topology.subtopologies()).toHaveLength(1);
  driver = await TopologyTestDriver.create(topology);
  const ins = topics.map((t) => driver!.createInputTopic(t, Str, Str));
  for (const [i, records] of inputs) await pipeAll(ins[i]!, records);
  return driver.createOutputTopic('output', Str, Str).readRecordsToList().map((r) => [r.key, r.value, r.timestamp]);
}

describe('cogroup (Kafka Streams conformance)', () => {
  it('CogroupedKStreamImplTest.shouldCogroupAndAggregateSingleKStreams', async () => {
    const out = await cogrouped(['one'], [[0, [['k1', 'A', 0], ['k2', 'B', 0], ['k2', 'B', 0], ['k1', 'A', 0]]]]);
    expect(out).toEqual([['k1', 'A', 0], ['k2', 'B', 0], ['k2', 'BB', 0], ['k1', 'AA', 0]]);
  });

  it('CogroupedKStreamImplTest.shouldCogroupAndAggregateTwoKStreamsWithDistinctKeys', async () => {
    const out = await cogrouped(
      ['one', 'two'],
      [
        [0, [['k1', 'A', 0], ['k1', 'A', 1], ['k1', 'A', 10], ['k1', 'A', 100]]],
        [1, [['k2', 'B', 100], ['k2', 'B', 200], ['k2', 'B', 1], ['k2', 'B', 500], ['k2', 'B', 500], ['k2', 'B', 100]]],
      ],
    );
    expect(out).toEqual([
      ['k1', 'A', 0], ['k1', 'AA', 1], ['k1', 'AAA', 10], ['k1', 'AAAA', 100],
      ['k2', 'B', 100], ['k2', 'BB', 200], ['k2', 'BBB', 200], ['k2', 'BBBB', 500], ['k2', 'BBBBB', 500], ['k2', 'BBBBBB', 500],
    ]);
  });

  it('CogroupedKStreamImplTest.shouldCogroupAndAggregateTwoKStreamsWithSharedKeys', async () => {
    const out = await cogrouped(
      ['one', 'two'],
      [
        [0, [['k1', 'A', 0], ['k2', 'A', 1], ['k1', 'A', 10], ['k2', 'A', 100]]],
        [1, [['k2', 'B', 100], ['k2', 'B', 200], ['k1', 'B', 1], ['k2', 'B', 500], ['k1', 'B', 500], ['k2', 'B', 500], ['k3', 'B', 500], ['k2', 'B', 100]]],
      ],
    );
    // The Java test asserts the first ten outputs.
    expect(out.slice(0, 10)).toEqual([
      ['k1', 'A', 0], ['k2', 'A', 1], ['k1', 'AA', 10], ['k2', 'AA', 100], ['k2', 'AAB', 100],
      ['k2', 'AABB', 200], ['k1', 'AAB', 10], ['k2', 'AABBB', 500], ['k1', 'AABB', 500], ['k2', 'AABBBB', 500],
    ]);
  });

  it('CogroupedKStreamImplTest.testCogroupWithThreeGroupedStreams', async () => {
    const out = await cogrouped(
      ['one', 'two', 'three'],
      [
        [0, [['k1', 'A', 0], ['k2', 'A', 1], ['k1', 'A', 10], ['k2', 'A', 100]]],
        [1, [['k2', 'B', 100], ['k2', 'B', 200], ['k1', 'B', 1], ['k2', 'B', 500]]],
        [2, [['k1', 'B', 500], ['k2', 'B', 500], ['k3', 'B', 500], ['k2', 'B', 100]]],
      ],
    );
    expect(out.slice(0, 11)).toEqual([
      ['k1', 'A', 0], ['k2', 'A', 1], ['k1', 'AA', 10], ['k2', 'AA', 100], ['k2', 'AAB', 100], ['k2', 'AABB', 200],
      ['k1', 'AAB', 10], ['k2', 'AABBB', 500], ['k1', 'AABB', 500], ['k2', 'AABBBB', 500], ['k3', 'B', 500],
    ]);
  });
});
