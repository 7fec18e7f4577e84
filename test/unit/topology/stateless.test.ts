/** Stateless KStream operators, run through the test driver. */
import { afterEach, describe, expect, it } from 'vitest';
import { Branched, Consumed, Named, Produced, Serdes, StreamsBuilder, TopologyTestDriver } from '../../../topology/index.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const strings = Consumed.with(Serdes.String, Serdes.String);

describe('stateless operators', () => {
  it('filter, filterNot, mapValues, map, selectKey, flatMap, flatMapValues and peek transform records and keep their timestamps', async () => {
    const builder = new StreamsBuilder();
    const peeked: string[] = [];
    const amounts = builder.stream('payments', Consumed.with(Serdes.String, Serdes.Long));
    amounts.filter((_k, v) => v >= 100).to('big');
    amounts.filterNot((_k, v) => v >= 100).to('small');
    amounts.mapValues((v, k) => `${k}:${v * 2}`).to('doubled', Produced.with(Serdes.String, Serdes.String));
    amounts.map((k, v) => ({ key: `${v}`, value: k })).to('swapped', Produced.with(Serdes.String, Serdes.String));
    amounts.selectKey((k, v) => `${k}-${v % 2 === 0 ? 'even' : 'odd'}`).to('rekeyed', Produced.with(Serdes.String, Serdes.Long));
    amounts.flatMap((k, v) => (v > 100 ? [] : [{ key: k, value: v }, { key: `${k}!`, value: -v }])).to('fanned', Produced.with(Serdes.String, Serdes.Long));
    amounts.flatMapValues((v) => String(v).split('')).to('digits', Produced.with(Serdes.String, Serdes.String));
    amounts.peek((k, v) => peeked.push(`${k}=${v}`)).to('peeked');
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'stateless' }));

    const input = driver.createInputTopic('payments', Serdes.String, Serdes.Long);
    await input.pipeInput('alice', 40, 1_000);
    await input.pipeInput('bob', 250, 2_000);

    const out = <V>(topic: string, valueSerde: { deserialize(b: Buffer): V }) =>
      driver!.createOutputTopic(topic, Serdes.String, { serialize: () => Buffer.alloc(0), deserialize: valueSerde.deserialize }).readRecordsToList().map((r) => [r.key, r.value, r.timestamp]);
    expect(out('big', Serdes.Long)).toEqual([['bob', 250, 2_000]]);
    expect(out('small', Serdes.Long)).toEqual([['alice', 40, 1_000]]);
    expect(out('doubled', Serdes.String)).toEqual([['alice', 'alice:80', 1_000], ['bob', 'bob:500', 2_000]]);
    expect(out('swapped', Serdes.String)).toEqual([['40', 'alice', 1_000], ['250', 'bob', 2_000]]);
    expect(out('rekeyed', Serdes.Long)).toEqual([['alice-even', 40, 1_000], ['bob-even', 250, 2_000]]);
    expect(out('fanned', Serdes.Long)).toEqual([['alice', 40, 1_000], ['alice!', -40, 1_000]]);
    expect(out('digits', Serdes.String)).toEqual([['alice', '4', 1_000], ['alice', '0', 1_000], ['bob', '2', 2_000], ['bob', '5', 2_000], ['bob', '0', 2_000]]);
    expect(out('peeked', Serdes.Long)).toEqual([['alice', 40, 1_000], ['bob', 250, 2_000]]);
    expect(peeked).toEqual(['alice=40', 'bob=250']);
  });

  it('split sends each record to the first matching branch, else to the default branch', async () => {
    const builder = new StreamsBuilder();
    const branches = builder
      .stream('tx', Consumed.with(Serdes.String, Serdes.Long))
      .split(Named.as('risk-'))
      .branch((_k, v) => v >= 1_000, Branched.as('high'))
      .branch((_k, v) => v >= 100, Branched.as('medium'))
      .branch((_k, v) => v < 0, Branched.withConsumer((refunds) => refunds.mapValues((v) => -v).to('refunds', Produced.with(Serdes.String, Serdes.Long))))
      .defaultBranch(Branched.as('low'));
    expect([...branches.keys()]).toEqual(['risk-high', 'risk-medium', 'risk-low']);
    branches.get('risk-high')!.to('high', Produced.with(Serdes.String, Serdes.Long));
    branches.get('risk-medium')!.to('medium', Produced.with(Serdes.String, Serdes.Long));
    branches.get('risk-low')!.to('low', Produced.with(Serdes.String, Serdes.Long));
    driver = await TopologyTestDriver.create(builder.build({ applicationId: 'split' }));

    const input = driver.createInputTopic('tx', Serdes.String, Serdes.Long);
    // 5000 matches both "high" and "medium": only the first matching branch gets it.
    for (const [k, v] of [['a', 5_000], ['b', 150], ['c', 99], ['d', 1_000], ['e', -30], ['f', 100]] as const) await input.pipeInput(k, v, 10);

    const values = (topic: string) => driver!.createOutputTopic(topic, Serdes.String, Serdes.Long).readKeyValuesToList();
    expect(values('high')).toEqual([{ key: 'a', value: 5_000 }, { key: 'd', value: 1_000 }]);
    expect(values('medium')).toEqual([{ key: 'b', value: 150 }, { key: 'f', value: 100 }]);
    expect(values('refunds')).toEqual([{ key: 'e', value: 30 }]);
    expect(values('low')).toEqual([{ key: 'c', value: 99 }]);
  });

  it('split without a default branch drops what no branch matches; unnamed branches are numbered from 1', async () => {
    const builder = new StreamsBuilder();
    const branches = builder
      .stream('tx', strings)
      .split()
      .branch((k) => k.startsWith('a'))
      .branch((k) => k.startsWith('b'))
      .noDefaultBranch();
    expect([...branches.keys()]).toEqual(['KSTREAM-BRANCH-0000000001-1', 'KSTREAM-BRANCH-0000000001-2']);
    branches.get('KSTREAM-BRANCH-0000000001-2')!.to('b-out', Produced.with(Serdes.String, Serdes.String));
    driver = await TopologyTestDriver.create(builder.build());
    const input = driver.createInputTopic('tx', Serdes.String, Serdes.String);
    await input.pipeInput('abc', '1', 1);
    await input.pipeInput('bcd', '2', 2);
    await input.pipeInput('cde', '3', 3);
    expect(driver.createOutputTopic('b-out', Serdes.String, Serdes.String).readValuesToList()).toEqual(['2']);
    expect(driver.metrics().nodes.get('KSTREAM-BRANCH-0000000001')).toEqual({ recordsIn: 3, recordsOut: 2, dropped: 0 });
  });

  it('merge interleaves two streams in processing order', async () => {
    const builder = new StreamsBuilder();
    const cards = builder.stream('card-tx', strings);
    const wires = builder.stream('wire-tx', strings).mapValues((v) => `wire:${v}`);
    cards.merge(wires).to('all-tx');
    driver = await TopologyTestDriver.create(builder.build());
    const cardIn = driver.createInputTopic('card-tx', Serdes.String, Serdes.String);
    const wireIn = driver.createInputTopic('wire-tx', Serdes.String, Serdes.String);
    await cardIn.pipeInput('acct-1', 'c1', 10);
    await wireIn.pipeInput('acct-2', 'w1', 5);
    await cardIn.pipeInput('acct-1', 'c2', 20);
    expect(driver.createOutputTopic('all-tx', Serdes.String, Serdes.String).readRecordsToList().map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ['acct-1', 'c1', 10],
      ['acct-2', 'wire:w1', 5],
      ['acct-1', 'c2', 20],
    ]);
  });

  it('to() partitions output by the key with murmur2, as Kafka producers do', async () => {
    const builder = new StreamsBuilder();
    builder.stream('in', strings).to('out');
    driver = await TopologyTestDriver.create(builder.build(), { partitions: { out: 4 } });
    const input = driver.createInputTopic('in', Serdes.String, Serdes.String);
    // Kafka's own murmur2 test vectors: "21" → -973932308, "foobar" → -790332482, "abc" → 479470107.
    for (const key of ['21', 'foobar', 'abc']) await input.pipeInput(key, key, 1);
    const partitions = driver.createOutputTopic('out', Serdes.String, Serdes.String).readRecordsToList().map((r) => [r.key, r.partition]);
    expect(partitions).toEqual([
      ['21', (-973932308 & 0x7fffffff) % 4],
      ['foobar', (-790332482 & 0x7fffffff) % 4],
      ['abc', 479470107 % 4],
    ]);
  });

  it('a type change without serdes fails at build time with a message naming the operator', () => {
    const builder = new StreamsBuilder();
    const mapped = builder.stream('in', strings).mapValues((v) => v.length);
    expect(() => mapped.to('out')).toThrow(/to\(out\) needs a value serde/);
  });
});
