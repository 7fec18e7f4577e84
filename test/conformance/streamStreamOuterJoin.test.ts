/** Windowed KStream–KStream outer join: Kafka Streams' KStreamKStreamOuterJoinTest (spurious-result fix on, KIP-633). */
import { afterEach, describe, it } from 'vitest';
import { Consumed, JoinWindows, Produced, Serdes, StreamsBuilder, TopologyTestDriver } from '../../topology/index.js';
import { IntSerde, Str, expectOutput, pipeAll } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** topic1: Integer/String, topic2: Integer/Long, as in the Java test. */
async function outerJoin(windows: JoinWindows) {
  const builder = new StreamsBuilder();
  const s1 = builder.stream('topic1', Consumed.with(IntSerde, Str));
  const s2 = builder.stream('topic2', Consumed.with(IntSerde, Serdes.Long));
  s1.outerJoin(s2, (a, b) => `${a}+${b}`, windows).to('output', Produced.with(IntSerde, Str));
  driver = await TopologyTestDriver.create(builder.build({ applicationId: 'ss-outer' }));
  return { in1: driver.createInputTopic('topic1', IntSerde, Str), in2: driver.createInputTopic('topic2', IntSerde, Serdes.Long), out: driver.createOutputTopic('output', IntSerde, Str) };
}

describe('KStream–KStream outer join (Kafka Streams conformance)', () => {
  it('KStreamKStreamOuterJoinTest.testOuterJoinDuplicates', async () => {
    const j = await outerJoin(JoinWindows.ofTimeDifferenceAndGrace(100, 10));
    await pipeAll(j.in1, [[0, 'A0', 0], [0, 'A0-0', 0]]);
    await pipeAll(j.in2, [[1, 11, 0], [1, 12, 0], [1, 10, 111], [3, 100, 211]]);
    expectOutput(j.out, [[1, 'null+11', 0], [1, 'null+12', 0], [0, 'A0+null', 0], [0, 'A0-0+null', 0]]);
    await pipeAll(j.in1, [[2, 'A2', 200], [2, 'A2-0', 200]]);
    await pipeAll(j.in2, [[2, 13, 201], [2, 14, 201]]);
    expectOutput(j.out, [[2, 'A2+13', 201], [2, 'A2-0+13', 201], [2, 'A2+14', 201], [2, 'A2-0+14', 201]]);
    await pipeAll(j.in2, [[3, 100, 1500]]);
    expectOutput(j.out, [[1, 'null+10', 111], [3, 'null+100', 211]]);
  });

  for (const side of ['Left', 'Right'] as const) {
    it(`KStreamKStreamOuterJoinTest.testLeftExpiredNonJoinedRecordsAreEmittedByThe${side}Processor`, async () => {
      const j = await outerJoin(side === 'Left' ? JoinWindows.ofTimeDifferenceWithNoGrace(100) : JoinWindows.ofTimeDifferenceAndGrace(100, 0));
      await pipeAll(j.in1, [[0, 'A0', 1], [1, 'A1', 2], [0, 'A0-0', 3]]);
      expectOutput(j.out, []);
      await pipeAll(j.in2, [[1, 11, 3]]);
      expectOutput(j.out, [[1, 'A1+11', 3]]);
      if (side === 'Left') await pipeAll(j.in1, [[2, 'dummy', 401]]);
      else await pipeAll(j.in2, [[2, 100, 401]]);
      expectOutput(j.out, [[0, 'A0+null', 1], [0, 'A0-0+null', 3]]);
      if (side === 'Left') {
        await pipeAll(j.in2, [[2, 100, 401]]);
        expectOutput(j.out, [[2, 'dummy+100', 401]]);
      } else {
        await pipeAll(j.in1, [[2, 'dummy', 402]]);
        expectOutput(j.out, [[2, 'dummy+100', 402]]);
      }
    });

    it(`KStreamKStreamOuterJoinTest.testRightExpiredNonJoinedRecordsAreEmittedByThe${side}Processor`, async () => {
      const j = await outerJoin(JoinWindows.ofTimeDifferenceWithNoGrace(100));
      await pipeAll(j.in2, [[0, 10, 1], [1, 11, 2], [0, 12, 3]]);
      expectOutput(j.out, []);
      await pipeAll(j.in1, [[1, 'A1', 3]]);
      expectOutput(j.out, [[1, 'A1+11', 3]]);
      if (side === 'Left') await pipeAll(j.in1, [[2, 'dummy', 401]]);
      else await pipeAll(j.in2, [[2, 100, 401]]);
      expectOutput(j.out, [[0, 'null+10', 1], [0, 'null+12', 3]]);
      if (side === 'Left') await pipeAll(j.in2, [[2, 100, 402]]);
      else await pipeAll(j.in1, [[2, 'dummy', 402]]);
      expectOutput(j.out, [[2, 'dummy+100', 402]]);
    });
  }

  it('KStreamKStreamOuterJoinTest.testOrdering', async () => {
    const j = await outerJoin(JoinWindows.ofTimeDifferenceWithNoGrace(100));
    await pipeAll(j.in1, [[0, 'A0', 0], [1, 'A1', 100]]);
    expectOutput(j.out, []);
    await pipeAll(j.in2, [[1, 11, 110]]);
    expectOutput(j.out, [[0, 'A0+null', 0], [1, 'A1+11', 110]]);
  });

  it('KStreamKStreamOuterJoinTest.testGracePeriod', async () => {
    const j = await outerJoin(JoinWindows.ofTimeDifferenceAndGrace(100, 10));
    await pipeAll(j.in1, [[0, 'A0', 0]]);
    await pipeAll(j.in2, [[1, 11, 0]]);
    expectOutput(j.out, []);
    await pipeAll(j.in1, [[1, 'A1', 101]]);
    await pipeAll(j.in2, [[0, 10, 101]]);
    expectOutput(j.out, []);
    await pipeAll(j.in2, [[0, 100, 112]]);
    expectOutput(j.out, [[1, 'null+11', 0], [0, 'A0+null', 0]]);
  });

  it('KStreamKStreamOuterJoinTest.testEmitAllNonJoinedResultsForAsymmetricWindow', async () => {
    const j = await outerJoin(JoinWindows.ofTimeDifferenceWithNoGrace(5).after(20));
    await pipeAll(j.in1, [[0, 'A0', 29]]);
    await pipeAll(j.in1, [[1, 'A1', 30]]);
    await pipeAll(j.in2, [[2, 12, 31]]);
    await pipeAll(j.in2, [[3, 13, 36]]);
    expectOutput(j.out, []);
    await pipeAll(j.in2, [[4, 14, 37]]);
    expectOutput(j.out, [[2, 'null+12', 31]]);
    await pipeAll(j.in2, [[5, 15, 50]]);
    expectOutput(j.out, [[0, 'A0+null', 29], [3, 'null+13', 36], [4, 'null+14', 37]]);
  });

  it('KStreamKStreamOuterJoinTest.testShouldNotEmitLeftJoinResultForAsymmetricBeforeWindow', async () => {
    const j = await outerJoin(JoinWindows.ofTimeDifferenceWithNoGrace(100).before(0));
    await pipeAll(j.in1, [[0, 'A0', 0], [1, 'A1', 1]]);
    expectOutput(j.out, []);
    await pipeAll(j.in2, [[0, 10, 100]]);
    expectOutput(j.out, [[0, 'A0+10', 100]]);
    await pipeAll(j.in2, [[1, 11, 102]]);
    expectOutput(j.out, [[1, 'A1+null', 1]]);
    await pipeAll(j.in2, [[2, 12, 103]]);
    expectOutput(j.out, [[1, 'null+11', 102]]);
    await pipeAll(j.in1, [[2, 'A2', 103]]);
    expectOutput(j.out, [[2, 'A2+12', 103]]);
  });

  it('KStreamKStreamOuterJoinTest.testShouldNotEmitLeftJoinResultForAsymmetricAfterWindow', async () => {
    const j = await outerJoin(JoinWindows.ofTimeDifferenceWithNoGrace(100).after(0));
    await pipeAll(j.in1, [[0, 'A0', 0], [1, 'A1', 1]]);
    expectOutput(j.out, [[0, 'A0+null', 0]]);
    await pipeAll(j.in2, [[1, 11, 1]]);
    expectOutput(j.out, [[1, 'A1+11', 1]]);
    await pipeAll(j.in2, [[2, 12, 101]]);
    expectOutput(j.out, []);
    await pipeAll(j.in2, [[3, 13, 101]]);
    expectOutput(j.out, []);
    await pipeAll(j.in1, [[2, 'A2', 201]]);
    expectOutput(j.out, [[2, 'A2+12', 201]]);
  });
});
