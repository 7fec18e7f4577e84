/** KStream–KTable and KStream–GlobalKTable joins: Kafka Streams' KStreamKTable{,Left}JoinTest and KStreamGlobalKTable{,Left}JoinTest. */
import { afterEach, describe, expect, it } from 'vitest';
import { Consumed, Produced, StreamsBuilder, TopologyTestDriver } from '../../topology/index.js';
import { IntSerde, Str, expectOutput, pipeAll, toStringJoiner, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});
const keys = [0, 1, 2, 3];

async function tableJoin(left: boolean) {
  const builder = new StreamsBuilder();
  const stream = builder.stream('streamTopic', Consumed.with(IntSerde, Str));
  const table = builder.table('tableTopic', Consumed.with(IntSerde, Str));
  (left ? stream.leftJoin(table, toStringJoiner) : stream.join(table, toStringJoiner)).to('output', Produced.with(IntSerde, Str));
  driver = await TopologyTestDriver.create(builder.build({ applicationId: 'st-join' }));
  const s = driver.createInputTopic('streamTopic', IntSerde, Str);
  const t = driver.createInputTopic('tableTopic', IntSerde, Str);
  const out = driver.createOutputTopic('output', IntSerde, Str);
  return {
    out,
    pushToStream: (n: number, prefix: string) => pipeAll(s, keys.slice(0, n).map((k, i): KVT<number, string> => [k, `${prefix}${k}`, i])),
    // The Java test uses random table timestamps: they do not reach the output (the stream record's is used).
    pushToTable: (n: number, prefix: string) => pipeAll(t, keys.slice(0, n).map((k): KVT<number, string> => [k, `${prefix}${k}`, Math.floor(Math.random() * 2 ** 31)])),
    pushNullValueToTable: (n: number) => pipeAll(t, keys.slice(0, n).map((k): KVT<number, string> => [k, null, 0])),
    pipeStream: (k: number | null, v: string | null) => s.pipeInput(k, v, 0),
  };
}

describe('KStream–KTable join (Kafka Streams conformance)', () => {
  it('KStreamKTableJoinTest.shouldNotJoinWithEmptyTableOnStreamUpdates', async () => {
    const j = await tableJoin(false);
    await j.pushToStream(2, 'X');
    expectOutput(j.out, []);
  });

  it('KStreamKTableJoinTest.shouldNotJoinOnTableUpdates', async () => {
    const j = await tableJoin(false);
    await j.pushToStream(2, 'X');
    expectOutput(j.out, []);
    await j.pushToTable(2, 'Y');
    expectOutput(j.out, []);
    await j.pushToStream(4, 'X');
    expectOutput(j.out, [[0, 'X0+Y0', 0], [1, 'X1+Y1', 1]]);
    await j.pushToTable(4, 'YY');
    expectOutput(j.out, []);
    await j.pushToStream(4, 'X');
    expectOutput(j.out, [[0, 'X0+YY0', 0], [1, 'X1+YY1', 1], [2, 'X2+YY2', 2], [3, 'X3+YY3', 3]]);
    await j.pushToTable(4, 'YYY');
    expectOutput(j.out, []);
  });

  it('KStreamKTableJoinTest.shouldJoinOnlyIfMatchFoundOnStreamUpdates', async () => {
    const j = await tableJoin(false);
    await j.pushToTable(2, 'Y');
    expectOutput(j.out, []);
    await j.pushToStream(4, 'X');
    expectOutput(j.out, [[0, 'X0+Y0', 0], [1, 'X1+Y1', 1]]);
  });

  it('KStreamKTableJoinTest.shouldClearTableEntryOnNullValueUpdates', async () => {
    const j = await tableJoin(false);
    await j.pushToTable(4, 'Y');
    await j.pushToStream(4, 'X');
    expectOutput(j.out, [[0, 'X0+Y0', 0], [1, 'X1+Y1', 1], [2, 'X2+Y2', 2], [3, 'X3+Y3', 3]]);
    await j.pushNullValueToTable(2);
    expectOutput(j.out, []);
    await j.pushToStream(4, 'XX');
    expectOutput(j.out, [[2, 'XX2+Y2', 2], [3, 'XX3+Y3', 3]]);
  });

  it('KStreamKTableJoinTest.shouldLogAndMeterWhenSkippingNullLeftKey', async () => {
    const j = await tableJoin(false);
    await j.pipeStream(null, 'A');
    expectOutput(j.out, []);
    expect(driver!.metrics().dropped['null-key']).toBe(1);
  });

  it('KStreamKTableJoinTest.shouldLogAndMeterWhenSkippingNullLeftValue', async () => {
    const j = await tableJoin(false);
    await j.pipeStream(1, null);
    expectOutput(j.out, []);
    expect(driver!.metrics().dropped['null-value']).toBe(1);
  });

  it('KStreamKTableLeftJoinTest.shouldJoinWithEmptyTableOnStreamUpdates', async () => {
    const j = await tableJoin(true);
    await j.pushToStream(2, 'X');
    expectOutput(j.out, [[0, 'X0+null', 0], [1, 'X1+null', 1]]);
  });

  it('KStreamKTableLeftJoinTest.shouldNotJoinOnTableUpdates', async () => {
    const j = await tableJoin(true);
    await j.pushToStream(2, 'X');
    expectOutput(j.out, [[0, 'X0+null', 0], [1, 'X1+null', 1]]);
    await j.pushToTable(2, 'Y');
    expectOutput(j.out, []);
    await j.pushToStream(4, 'X');
    expectOutput(j.out, [[0, 'X0+Y0', 0], [1, 'X1+Y1', 1], [2, 'X2+null', 2], [3, 'X3+null', 3]]);
    await j.pushToTable(4, 'YY');
    expectOutput(j.out, []);
    await j.pushToStream(4, 'X');
    expectOutput(j.out, [[0, 'X0+YY0', 0], [1, 'X1+YY1', 1], [2, 'X2+YY2', 2], [3, 'X3+YY3', 3]]);
    await j.pushToTable(4, 'YYY');
    expectOutput(j.out, []);
  });

  it('KStreamKTableLeftJoinTest.shouldJoinRegardlessIfMatchFoundOnStreamUpdates', async () => {
    const j = await tableJoin(true);
    await j.pushToTable(2, 'Y');
    await j.pushToStream(4, 'X');
    expectOutput(j.out, [[0, 'X0+Y0', 0], [1, 'X1+Y1', 1], [2, 'X2+null', 2], [3, 'X3+null', 3]]);
  });

  it('KStreamKTableLeftJoinTest.shouldClearTableEntryOnNullValueUpdates', async () => {
    const j = await tableJoin(true);
    await j.pushToTable(4, 'Y');
    await j.pushToStream(4, 'X');
    expectOutput(j.out, [[0, 'X0+Y0', 0], [1, 'X1+Y1', 1], [2, 'X2+Y2', 2], [3, 'X3+Y3', 3]]);
    await j.pushNullValueToTable(2);
    await j.pushToStream(4, 'XX');
    expectOutput(j.out, [[0, 'XX0+null', 0], [1, 'XX1+null', 1], [2, 'XX2+Y2', 2], [3, 'XX3+Y3', 3]]);
  });
});

async function globalJoin(left: boolean) {
  const builder = new StreamsBuilder();
  const stream = builder.stream('streamTopic', Consumed.with(IntSerde, Str));
  const table = builder.globalTable('globalTableTopic', Consumed.with(Str, Str));
  // The stream's value optionally carries the table's key after a comma.
  const keyMapper = (_k: number, v: string) => {
    const tokens = v.split(',');
    return tokens.length > 1 ? tokens[1]! : null;
  };
  (left ? stream.leftJoin(table, keyMapper, toStringJoiner) : stream.join(table, keyMapper, toStringJoiner)).to('output', Produced.with(IntSerde, Str));
  const topology = builder.build({ applicationId: 'gt-join' });
  driver = await TopologyTestDriver.create(topology, { partitions: { streamTopic: 2 } });
  // Stream topic: timestamps from 0, advancing 1 ms per record (the Java test's Duration.ofMillis(1L)).
  const s = driver.createInputTopic('streamTopic', IntSerde, Str, { startTimestampMs: 0, autoAdvanceMs: 1 });
  const t = driver.createInputTopic('globalTableTopic', Str, Str);
  const out = driver.createOutputTopic('output', IntSerde, Str);
  return {
    topology,
    out,
    pushToStream: async (n: number, prefix: string, foreignKey: boolean, nullKey: boolean) => {
      for (let i = 0; i < n; i++) await s.pipeInput(nullKey && i === 0 ? null : keys[i]!, `${prefix}${keys[i]}${foreignKey ? `,FKey${keys[i]}` : ''}`);
    },
    pushToGlobalTable: async (n: number, prefix: string) => {
      for (let i = 0; i < n; i++) await t.pipeInput(`FKey${keys[i]}`, `${prefix}${keys[i]}`);
    },
    pushNullValueToGlobalTable: async (n: number) => {
      for (let i = 0; i < n; i++) await t.pipeInput(`FKey${keys[i]}`, null);
    },
  };
}

for (const left of [false, true]) {
  const cls = left ? 'KStreamGlobalKTableLeftJoinTest' : 'KStreamGlobalKTableJoinTest';
  const maybe = (k: number, v: string, ts: number): KVT<number, string>[] => (left ? [[k, `${v}+null`, ts]] : []);
  describe(`KStream–GlobalKTable ${left ? 'left ' : ''}join (Kafka Streams conformance)`, () => {
    it(`${cls}.shouldNotRequireCopartitioning`, async () => {
      const j = await globalJoin(left);
      // The stream topic has 2 partitions, the global table 1: no co-partitioning needed.
      expect(driver!.streamTasks()).toHaveLength(2);
      expect(j.topology.subtopologies()).toHaveLength(1);
    });

    it(`${cls}.shouldNotJoinWithEmptyGlobalTableOnStreamUpdates`, async () => {
      const j = await globalJoin(left);
      await j.pushToStream(2, 'X', true, false);
      expectOutput(j.out, [...maybe(0, 'X0,FKey0', 0), ...maybe(1, 'X1,FKey1', 1)]);
    });

    it(`${cls}.shouldNotJoinOnGlobalTableUpdates`, async () => {
      const j = await globalJoin(left);
      await j.pushToStream(2, 'X', true, false);
      expectOutput(j.out, [...maybe(0, 'X0,FKey0', 0), ...maybe(1, 'X1,FKey1', 1)]);
      await j.pushToGlobalTable(2, 'Y');
      expectOutput(j.out, []);
      await j.pushToStream(4, 'X', true, false);
      expectOutput(j.out, [[0, 'X0,FKey0+Y0', 2], [1, 'X1,FKey1+Y1', 3], ...maybe(2, 'X2,FKey2', 4), ...maybe(3, 'X3,FKey3', 5)]);
      await j.pushToGlobalTable(4, 'YY');
      expectOutput(j.out, []);
      await j.pushToStream(4, 'X', true, false);
      expectOutput(j.out, [[0, 'X0,FKey0+YY0', 6], [1, 'X1,FKey1+YY1', 7], [2, 'X2,FKey2+YY2', 8], [3, 'X3,FKey3+YY3', 9]]);
      await j.pushToGlobalTable(4, 'YYY');
      expectOutput(j.out, []);
    });

    it(`${cls}.${left ? 'shouldJoinRegardlessIfMatchFoundOnStreamUpdates' : 'shouldJoinOnlyIfMatchFoundOnStreamUpdates'}`, async () => {
      const j = await globalJoin(left);
      await j.pushToGlobalTable(2, 'Y');
      await j.pushToStream(4, 'X', true, false);
      expectOutput(j.out, [[0, 'X0,FKey0+Y0', 0], [1, 'X1,FKey1+Y1', 1], ...maybe(2, 'X2,FKey2', 2), ...maybe(3, 'X3,FKey3', 3)]);
    });

    it(`${cls}.shouldClearGlobalTableEntryOnNullValueUpdates`, async () => {
      const j = await globalJoin(left);
      await j.pushToGlobalTable(4, 'Y');
      await j.pushToStream(4, 'X', true, false);
      expectOutput(j.out, [[0, 'X0,FKey0+Y0', 0], [1, 'X1,FKey1+Y1', 1], [2, 'X2,FKey2+Y2', 2], [3, 'X3,FKey3+Y3', 3]]);
      await j.pushNullValueToGlobalTable(2);
      await j.pushToStream(4, 'XX', true, false);
      expectOutput(j.out, [...maybe(0, 'XX0,FKey0', 4), ...maybe(1, 'XX1,FKey1', 5), [2, 'XX2,FKey2+Y2', 6], [3, 'XX3,FKey3+Y3', 7]]);
    });

    it(`${cls}.shouldNotJoinOnNullKeyMapperValues`, async () => {
      const j = await globalJoin(left);
      await j.pushToGlobalTable(4, 'Y');
      await j.pushToStream(4, 'XXX', false, false);
      expectOutput(j.out, []);
    });

    it(`${cls}.shouldJoinOnNullKeyWithNonNullKeyMapperValues`, async () => {
      const j = await globalJoin(left);
      await j.pushToGlobalTable(left ? 4 : 2, 'Y');
      await j.pushToStream(4, 'X', true, true);
      expectOutput(j.out, left ? [[null, 'X0,FKey0+Y0', 0], [1, 'X1,FKey1+Y1', 1], [2, 'X2,FKey2+Y2', 2], [3, 'X3,FKey3+Y3', 3]] : [[null, 'X0,FKey0+Y0', 0], [1, 'X1,FKey1+Y1', 1]]);
    });
  });
}
