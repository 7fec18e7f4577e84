/**
 * Windowed aggregations: tumbling and hopping TimeWindows (boundaries, overlaps, grace, late
 * records) and SlidingWindows (Kafka Streams' record-defined windows), through the test driver.
 * Expected windows are worked out by hand in each test.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Consumed,
  Materialized,
  Produced,
  Serdes,
  SlidingWindows,
  StreamsBuilder,
  TimeWindows,
  TopologyTestDriver,
  type ValueAndTimestamp,
  timeWindowedSerde,
} from '../../../topology/index.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** All windows of a window store as "start:value" strings, oldest first. */
function windowsOf<V>(name: string, key: string): string[] {
  return [...driver!.getWindowStore<string, ValueAndTimestamp<V>>(name).fetchRange(key, 0, Number.MAX_SAFE_INTEGER)].map(
    (w) => `${w.windowStart}:${JSON.stringify(w.value.value)}`,
  );
}

describe('TimeWindows', () => {
  it('computes the windows of a timestamp: [start, end), so a record on a boundary belongs to the later window', () => {
    const tumbling = TimeWindows.ofSizeWithNoGrace(10_000);
    expect(tumbling.windowsFor(0)).toEqual([{ start: 0, end: 10_000 }]);
    expect(tumbling.windowsFor(9_999)).toEqual([{ start: 0, end: 10_000 }]);
    expect(tumbling.windowsFor(10_000)).toEqual([{ start: 10_000, end: 20_000 }]);
    const hopping = TimeWindows.ofSizeWithNoGrace(10_000).advanceBy(5_000);
    expect(hopping.windowsFor(5_000)).toEqual([
      { start: 0, end: 10_000 },
      { start: 5_000, end: 15_000 },
    ]);
    expect(hopping.windowsFor(10_000)).toEqual([
      { start: 5_000, end: 15_000 },
      { start: 10_000, end: 20_000 },
    ]);
    expect(hopping.windowsFor(4_999)).toEqual([{ start: 0, end: 10_000 }]);
    expect(() => TimeWindows.ofSizeWithNoGrace(10).advanceBy(11)).toThrow(/must not exceed/);
  });

  it('tumbling: boundaries, grace, and a late record dropped, counted and routed to the late-records topic', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('tx', Consumed.with(Serdes.String, Serdes.Long))
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithGrace(10_000, 5_000))
      .withLateRecordsTo('late-tx')
      .count(Materialized.as('tx-count'))
      .toStream()
      .to('tx-count-out', Produced.with(timeWindowedSerde(Serdes.String, 10_000), Serdes.Long));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'tumble' }));
    const input = driver.createInputTopic('tx', Serdes.String, Serdes.Long);
    const output = driver.createOutputTopic('tx-count-out', timeWindowedSerde(Serdes.String, 10_000), Serdes.Long);
    const read = () => output.readRecordsToList().map((r) => `[${r.key!.window.start},${r.key!.window.end}) ${r.value} @${r.timestamp}`);

    await input.pipeInput('card', 1, 0);
    await input.pipeInput('card', 1, 9_999);
    await input.pipeInput('card', 1, 10_000); // exactly on the boundary: the next window
    expect(read()).toEqual(['[0,10000) 1 @0', '[0,10000) 2 @9999', '[10000,20000) 1 @10000']);

    // Stream time 14 999: [0,10000) closes at 10 000 + 5 000 grace = 15 000, so it is still open.
    await input.pipeInput('card', 1, 14_999);
    await input.pipeInput('card', 1, 5_000);
    expect(read()).toEqual(['[10000,20000) 2 @14999', '[0,10000) 3 @9999']);

    // Stream time 15 000 closes [0,10000): a record for it is late.
    await input.pipeInput('card', 1, 15_000);
    await input.pipeInput('card', 42, 9_000);
    expect(read()).toEqual(['[10000,20000) 3 @15000']);
    expect(driver.metrics().dropped.late).toBe(1);
    expect(driver.createOutputTopic('late-tx', Serdes.String, Serdes.Long).readRecordsToList().map((r) => [r.key, r.value, r.timestamp])).toEqual([['card', 42, 9_000]]);

    expect(windowsOf('tx-count', 'card')).toEqual(['0:3', '10000:3']);
    // Window store changelogs are compacted and time-limited (retention + 1 day).
    expect(driver.topology.internalTopics().find((t) => t.name === 'tumble-tx-count-changelog')!.config).toEqual({
      'cleanup.policy': 'compact,delete',
      'retention.ms': String(15_000 + 86_400_000),
    });
  });

  it('hopping: a record updates every window it falls in; with no grace a window closes at its end', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('tx', Consumed.with(Serdes.String, Serdes.Long))
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithNoGrace(10_000).advanceBy(5_000))
      .reduce((a, b) => a + b, Materialized.as('sum-10s-every-5s'))
      .toStream()
      .to('sums', Produced.with(timeWindowedSerde(Serdes.String, 10_000), Serdes.Long));
    driver = await TopologyTestDriver.create(builder.build());
    const input = driver.createInputTopic('tx', Serdes.String, Serdes.Long);
    const output = driver.createOutputTopic('sums', timeWindowedSerde(Serdes.String, 10_000), Serdes.Long);
    const read = () => output.readRecordsToList().map((r) => `${r.key!.window.start}:${r.value}`);

    await input.pipeInput('card', 1, 5_000); // in [0,10000) and [5000,15000)
    expect(read()).toEqual(['0:1', '5000:1']);
    await input.pipeInput('card', 2, 7_000);
    expect(read()).toEqual(['0:3', '5000:3']);
    await input.pipeInput('card', 4, 12_000); // in [5000,15000) and [10000,20000)
    expect(read()).toEqual(['5000:7', '10000:4']);
    await input.pipeInput('card', 8, 10_000); // on the boundary: not in [0,10000)
    expect(read()).toEqual(['5000:15', '10000:12']);
    // Stream time is 12 000: [0,10000) is closed, so a record only it would contain is late.
    await input.pipeInput('card', 100, 4_999);
    expect(read()).toEqual([]);
    expect(driver.metrics().dropped.late).toBe(1);
    // A record in a closed and an open window updates the open one only; the closed window counts
    // as a drop, as in Kafka Streams (one per expired window).
    await input.pipeInput('card', 16, 9_000); // [0,10000) closed, [5000,15000) open
    expect(read()).toEqual(['5000:31']);
    expect(driver.metrics().dropped.late).toBe(2);
    // The store keeps windows for size + grace behind the newest window start (10 000), so the
    // closed window [0,10000) has already left it.
    expect(windowsOf('sum-10s-every-5s', 'card')).toEqual(['5000:31', '10000:12']);
  });

  it('each key has its own windows, and stream time is shared by all keys of the task', async () => {
    const builder = new StreamsBuilder();
    builder
      .stream('tx', Consumed.with(Serdes.String, Serdes.Long))
      .groupByKey()
      .windowedBy(TimeWindows.ofSizeWithGrace(1_000, 0))
      // Kept longer than the windows need, so closed windows can still be read.
      .count(Materialized.as<string, number>('c').withRetention(60_000));
    driver = await TopologyTestDriver.create(builder.build());
    const input = driver.createInputTopic('tx', Serdes.String, Serdes.Long);
    await input.pipeInput('a', 1, 500);
    await input.pipeInput('b', 1, 1_500); // moves stream time past [0,1000) for every key
    await input.pipeInput('a', 1, 900);
    expect(windowsOf('c', 'a')).toEqual(['0:1']);
    expect(windowsOf('c', 'b')).toEqual(['1000:1']);
    expect(driver.metrics().dropped.late).toBe(1);
  });
});

describe('SlidingWindows', () => {
  function slidingTopology(diff: number, grace: number) {
    const builder = new StreamsBuilder();
    builder
      .stream('tx', Consumed.with(Serdes.String, Serdes.String))
      .groupByKey()
      .windowedBy(SlidingWindows.ofTimeDifferenceAndGrace(diff, grace))
      .withLateRecordsTo('late')
      .aggregate(() => [] as string[], (_k, id, ids) => [...ids, id], Materialized.as<string, string[]>('ids').withValueSerde(Serdes.Json()))
      .toStream()
      .to('windows', Produced.with(timeWindowedSerde(Serdes.String, diff), Serdes.Json<string[]>()));
    return builder.build({ applicationId: 'sliding' });
  }

  it('creates one window per distinct set of records within the time difference, as Kafka Streams does', async () => {
    driver = await TopologyTestDriver.create(slidingTopology(10_000, 100_000));
    const input = driver.createInputTopic('tx', Serdes.String, Serdes.String);
    const output = driver.createOutputTopic('windows', timeWindowedSerde(Serdes.String, 10_000), Serdes.Json<string[]>());
    const read = () => output.readRecordsToList().map((r) => `[${r.key!.window.start},${r.key!.window.end}] ${r.value!.join('')} @${r.timestamp}`);

    // a@10000: its left window [0,10000] = {a}.
    await input.pipeInput('k', 'a', 10_000);
    expect(read()).toEqual(['[0,10000] a @10000']);
    // b@15000: a's right window [10001,20001] now holds b; b's left window [5000,15000] holds a and b.
    await input.pipeInput('k', 'b', 15_000);
    expect(read()).toEqual(['[10001,20001] b @15000', '[5000,15000] ab @15000']);
    // c@26000: more than 10 s after b, so it only gets its own left window; b's right window stays empty (not created).
    await input.pipeInput('k', 'c', 26_000);
    expect(read()).toEqual(['[16000,26000] c @26000']);
    // d@12000 (out of order, within grace): joins [5000,15000] and [10001,20001], gets its left window
    // [2000,12000] = {a,d}, and a right window [12001,22001] = {b}.
    await input.pipeInput('k', 'd', 12_000);
    expect(read()).toEqual(['[5000,15000] abd @15000', '[10001,20001] bd @15000', '[2000,12000] ad @12000', '[12001,22001] b @15000']);

    expect(windowsOf('ids', 'k')).toEqual(['0:["a"]', '2000:["a","d"]', '5000:["a","b","d"]', '10001:["b","d"]', '12001:["b"]', '16000:["c"]']);
  });

  it('both window ends are inclusive: records exactly diff apart share a window', async () => {
    driver = await TopologyTestDriver.create(slidingTopology(10_000, 0));
    const input = driver.createInputTopic('tx', Serdes.String, Serdes.String);
    await input.pipeInput('k', 'a', 20_000);
    await input.pipeInput('k', 'b', 30_000);
    // b's left window [20000,30000] includes a (on its start); a's right window [20001,30001] holds b.
    expect(windowsOf('ids', 'k')).toEqual(['10000:["a"]', '20000:["a","b"]', '20001:["b"]']);
    // 30 001 − 20 000 > 10 000: a new record just beyond the difference does not share a's windows.
    await input.pipeInput('k', 'c', 30_001);
    // c's left window is b's right window [20001,30001]; b's right window [30001,40001] = {c}.
    // ([10000,20000] is closed but still kept: the store keeps 2 × diff + grace + 2 behind 30 001.)
    expect(windowsOf('ids', 'k')).toEqual(['10000:["a"]', '20000:["a","b"]', '20001:["b","c"]', '30001:["c"]']);
  });

  it('counts each closed window, and drops and routes a record whose windows all closed (t + diff < stream time - grace)', async () => {
    driver = await TopologyTestDriver.create(slidingTopology(1_000, 500));
    const input = driver.createInputTopic('tx', Serdes.String, Serdes.String);
    await input.pipeInput('k', 'a', 10_000);
    // Close time is now 10 000 − 500 = 9 500. b@9200 joins a's left window [9000,10000] (still open)
    // and gets a right window [9201,10201] = {a}; its own left window [8200,9200] is closed.
    await input.pipeInput('k', 'b', 9_200);
    expect(windowsOf('ids', 'k')).toEqual(['9000:["a","b"]', '9201:["a"]']);
    // The closed left window is counted (Kafka Streams logs and counts each expired window), but b
    // is not routed to the late sink: it did update open windows.
    expect(driver.metrics().dropped.late).toBe(1);
    await input.pipeInput('k', 'c', 8_499); // 8499 + 1000 < 9500: every window it could be in is closed
    expect(driver.metrics().dropped.late).toBe(2);
    expect(driver.createOutputTopic('late', Serdes.String, Serdes.String).readKeyValuesToList()).toEqual([{ key: 'k', value: 'c' }]);
    expect(windowsOf('ids', 'k')).toEqual(['9000:["a","b"]', '9201:["a"]']);
  });

  it('matches a brute-force definition of sliding windows for records in any order, including early ones (t < diff)', async () => {
    const diff = 1_000;
    driver = await TopologyTestDriver.create(slidingTopology(diff, 1_000_000));
    const input = driver.createInputTopic('tx', Serdes.String, Serdes.String);
    // A fixed pseudo-random sequence (LCG) so the test is deterministic.
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const records: { id: string; ts: number }[] = [];
    for (let i = 0; i < 60; i++) records.push({ id: `r${i}`, ts: rand(6_000) });
    for (const r of records) await input.pipeInput('k', r.id, r.ts);

    // Windows per Kafka Streams: a left window [t - diff, t] per record (records before diff share
    // [0, diff]), and a right window [t + 1, t + 1 + diff] when some record falls in it.
    const starts = new Set<number>();
    for (const { ts } of records) {
      starts.add(ts < diff ? 0 : ts - diff);
      if (records.some((o) => o.ts > ts && o.ts <= ts + 1 + diff)) starts.add(ts + 1);
    }
    const expected = [...starts].sort((a, b) => a - b).map((s) => `${s}:${records.filter((r) => r.ts >= s && r.ts <= s + diff).map((r) => r.id).sort().join(',')}`);
    const actual = [...driver.getWindowStore<string, ValueAndTimestamp<string[]>>('ids').fetchRange('k', 0, Number.MAX_SAFE_INTEGER)].map(
      (w) => `${w.windowStart}:${[...w.value.value].sort().join(',')}`,
    );
    expect(actual).toEqual(expected);
  });
});
