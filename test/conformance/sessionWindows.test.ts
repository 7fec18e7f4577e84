/**
 * Session windows: Kafka Streams' KGroupedStreamImplTest (session count/reduce/aggregate),
 * KStreamSessionWindowAggregateProcessorTest (non-cached cases) and
 * SuppressScenarioTest.shouldSupportFinalResultsForSessionWindows.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Consumed,
  Grouped,
  Materialized,
  Produced,
  Serdes,
  SessionWindows,
  StreamsBuilder,
  Suppressed,
  TopologyTestDriver,
  sessionWindowedSerde,
  type KTable,
  type Windowed,
} from '../../topology/index.js';
import { Str, expectOutput, pipeAll, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});
const show = (w: Windowed<string>) => `[${w.key}@${w.window.start}/${w.window.end}]`;
const windowedStr = sessionWindowedSerde(Str);

async function run<V>(build: (b: StreamsBuilder) => KTable<Windowed<string>, V>, valueSerde: typeof Str | typeof Serdes.Long, input: KVT<string, string>[]) {
  const builder = new StreamsBuilder();
  build(builder)
    .toStream()
    .to('output', Produced.with(windowedStr, valueSerde as never));
  driver = await TopologyTestDriver.create(builder.build({ applicationId: 'session' }));
  await pipeAll(driver.createInputTopic('topic', Str, Str), input);
  return driver.createOutputTopic('output', windowedStr, valueSerde as typeof Str).readRecordsToList();
}

/** MockApiProcessor.lastValueAndTimestampPerKey: the last value and timestamp per windowed key. */
function last<V>(records: { key: Windowed<string> | null; value: V | null; timestamp: number }[]): Map<string, [V | null, number]> {
  const out = new Map<string, [V | null, number]>();
  for (const r of records) out.set(show(r.key!), [r.value, r.timestamp]);
  return out;
}

const grouped = (b: StreamsBuilder) => b.stream('topic', Consumed.with(Str, Str)).groupByKey(Grouped.with(Str, Str));
const processData: KVT<string, string>[] = [['1', '1', 10], ['2', '2', 15], ['1', '1', 30], ['1', '1', 70], ['1', '1', 100], ['1', '1', 90]];

describe('Session windows (Kafka Streams conformance)', () => {
  it('KGroupedStreamImplTest.shouldCountSessionWindows', async () => {
    const out = last(await run((b) => grouped(b).windowedBy(SessionWindows.ofInactivityGapWithNoGrace(30)).count(Materialized.as('session-store')), Serdes.Long, processData));
    expect(out.get('[1@10/30]')).toEqual([2, 30]);
    expect(out.get('[2@15/15]')).toEqual([1, 15]);
    expect(out.get('[1@70/100]')).toEqual([3, 100]);
  });

  it('KGroupedStreamImplTest.shouldReduceSessionWindows', async () => {
    const out = last(
      await run(
        (b) => grouped(b).windowedBy(SessionWindows.ofInactivityGapWithNoGrace(30)).reduce((a, v) => `${a}:${v}`, Materialized.as<string, string>('session-store')),
        Str,
        [['1', 'A', 10], ['2', 'Z', 15], ['1', 'B', 30], ['1', 'A', 70], ['1', 'B', 100], ['1', 'C', 90]],
      ),
    );
    expect(out.get('[1@10/30]')).toEqual(['A:B', 30]);
    expect(out.get('[2@15/15]')).toEqual(['Z', 15]);
    expect(out.get('[1@70/100]')).toEqual(['A:B:C', 100]);
  });

  it('KGroupedStreamImplTest.shouldAggregateSessionWindows', async () => {
    const out = last(
      await run(
        (b) =>
          grouped(b)
            .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(30))
            .aggregate(() => 0, (_k, _v, agg) => agg + 1, (_k, a, b2) => a + b2, Materialized.as<string, number>('session-store').withValueSerde(Serdes.Long)),
        Serdes.Long,
        processData,
      ),
    );
    expect(out.get('[1@10/30]')).toEqual([2, 30]);
    expect(out.get('[2@15/15]')).toEqual([1, 15]);
    expect(out.get('[1@70/100]')).toEqual([3, 100]);
  });

  const GAP_MS = 5 * 60 * 1000;
  const processorTopology = (b: StreamsBuilder) =>
    grouped(b)
      .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(GAP_MS))
      .aggregate(() => 0, (_k, _v, agg) => agg + 1, (_k, a, b2) => a + b2, Materialized.as<string, number>('session-store').withValueSerde(Serdes.Long));
  const rows = (records: { key: Windowed<string> | null; value: unknown; timestamp: number }[]) => records.map((r) => [show(r.key!), r.value, r.timestamp]);

  it('KStreamSessionWindowAggregateProcessorTest.shouldImmediatelyForwardNewSessionWhenNonCachedStore', async () => {
    const out = await run(processorTopology, Serdes.Long, [['a', '1', 0], ['b', '1', 0], ['c', '1', 0]]);
    expect(rows(out)).toEqual([['[a@0/0]', 1, 0], ['[b@0/0]', 1, 0], ['[c@0/0]', 1, 0]]);
  });

  it('KStreamSessionWindowAggregateProcessorTest.shouldImmediatelyForwardRemovedSessionsWhenMerging', async () => {
    const out = await run(processorTopology, Serdes.Long, [['a', '1', 0], ['a', '1', 5]]);
    expect(rows(out)).toEqual([['[a@0/0]', 1, 0], ['[a@0/0]', null, 0], ['[a@0/5]', 2, 5]]);
  });

  it('KStreamSessionWindowAggregateProcessorTest.shouldLogAndMeterWhenSkippingLateRecordWithZeroGrace', async () => {
    const out = await run(
      (b) => grouped(b).windowedBy(SessionWindows.ofInactivityGapAndGrace(10, 0)).aggregate(() => 0, (_k, _v, agg) => agg + 1, (_k, a, b2) => a + b2, Materialized.as<string, number>('s').withValueSerde(Serdes.Long)),
      Serdes.Long,
      [['dummy', 'dummy', 0], ['OnTime1', '1', 0], ['dummy', 'dummy', 11], ['Late1', '1', 0]],
    );
    expect(rows(out).map((r) => r[0])).not.toContain('[Late1@0/0]');
    expect(driver!.metrics().dropped.late).toBe(1);
  });

  it('SuppressScenarioTest.shouldSupportFinalResultsForSessionWindows', async () => {
    const builder = new StreamsBuilder();
    const counts = builder
      .stream('input', Consumed.with(Str, Str))
      .groupBy((k) => k, Grouped.with(Str, Str))
      .windowedBy(SessionWindows.ofInactivityGapWithNoGrace(5))
      .count(Materialized.as<string, number>('counts').withKeySerde(Str));
    counts
      .suppress(Suppressed.untilWindowCloses())
      .toStream()
      .map((k, v) => ({ key: show(k), value: v }))
      .to('output-suppressed', Produced.with(Str, Serdes.Long));
    counts
      .toStream()
      .map((k, v) => ({ key: show(k), value: v }))
      .to('output-raw', Produced.with(Str, Serdes.Long));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'suppress-session' }));
    await pipeAll(driver.createInputTopic('input', Str, Str), [['k1', 'v1', 0], ['k1', 'v1', 5], ['k1', 'v1', 1], ['k2', 'v1', 11], ['k1', 'v1', 5], ['k1', 'v1', 30]]);
    expectOutput(driver.createOutputTopic('output-raw', Str, Serdes.Long), [
      ['[k1@0/0]', 1, 0],
      ['[k1@0/0]', null, 0],
      ['[k1@0/5]', 2, 5],
      ['[k1@0/5]', null, 5],
      ['[k1@0/5]', 3, 5],
      ['[k2@11/11]', 1, 11],
      ['[k1@30/30]', 1, 30],
    ]);
    expectOutput(driver.createOutputTopic('output-suppressed', Str, Serdes.Long), [['[k1@0/5]', 3, 5], ['[k2@11/11]', 1, 11]]);
  });
});
