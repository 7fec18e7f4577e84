/** Windowed KStream–KStream left join: Kafka Streams' KStreamKStreamLeftJoinTest (spurious-result fix on, KIP-633). */
import { afterEach, describe, expect, it } from 'vitest';
import { JoinWindows, type TopologyTestDriver } from '../../topology/index.js';
import { expectOutput, pipeAll, streamJoin, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const keys = [0, 1, 2, 3];
const each = (prefix: string, ts: number, ks = keys): KVT<number, string>[] => ks.map((k) => [k, `${prefix}${k}`, ts]);

describe('KStream–KStream left join (Kafka Streams conformance)', () => {
  it('KStreamKStreamLeftJoinTest.testLeftJoinDuplicates', async () => {
    const j = await streamJoin('leftJoin', JoinWindows.ofTimeDifferenceAndGrace(100, 10));
    driver = j.driver;
    await pipeAll(j.in1, [[0, 'A0', 0], [0, 'A0-0', 0]]);
    await pipeAll(j.in2, [[1, 'a0', 111], [2, 'dummy', 500]]);
    expectOutput(j.out, [[0, 'A0+null', 0], [0, 'A0-0+null', 0]]);
    await pipeAll(j.in1, [[2, 'A2', 1000], [2, 'A2-0', 1000]]);
    await pipeAll(j.in2, [[2, 'a2', 1001]]);
    expectOutput(j.out, [[2, 'A2+a2', 1001], [2, 'A2-0+a2', 1001]]);
    await pipeAll(j.in2, [[3, 'a3', 315]]);
    expectOutput(j.out, []);
  });

  for (const [side, input] of [['Left', 'in1'], ['Right', 'in2']] as const) {
    it(`KStreamKStreamLeftJoinTest.testLeftExpiredNonJoinedRecordsAreEmittedByThe${side}Processor`, async () => {
      const j = await streamJoin('leftJoin', JoinWindows.ofTimeDifferenceAndGrace(100, 0));
      driver = j.driver;
      await pipeAll(j.in1, [[0, 'A0', 1], [1, 'A1', 2], [0, 'A0-0', 3]]);
      expectOutput(j.out, []);
      await pipeAll(j.in2, [[1, 'a1', 3]]);
      expectOutput(j.out, [[1, 'A1+a1', 3]]);
      await pipeAll(j[input], [[2, 'dummy', 401]]);
      expectOutput(j.out, [[0, 'A0+null', 1], [0, 'A0-0+null', 3]]);
      const other = input === 'in1' ? j.in2 : j.in1;
      const ts = input === 'in1' ? 401 : 402;
      await pipeAll(other, [[2, 'dummy', ts]]);
      expectOutput(j.out, [[2, 'dummy+dummy', ts]]);
    });

    it(`KStreamKStreamLeftJoinTest.testRightNonJoinedRecordsAreNeverEmittedByThe${side}Processor`, async () => {
      const j = await streamJoin('leftJoin', JoinWindows.ofTimeDifferenceAndGrace(100, 0));
      driver = j.driver;
      await pipeAll(j.in2, [[0, 'A0', 1], [1, 'A1', 2], [0, 'A0-0', 3]]);
      expectOutput(j.out, []);
      await pipeAll(j.in1, [[1, 'a1', 3]]);
      expectOutput(j.out, [[1, 'a1+A1', 3]]);
      const first = side === 'Left' ? j.in1 : j.in2;
      const second = side === 'Left' ? j.in2 : j.in1;
      await pipeAll(first, [[2, 'dummy', 401]]);
      expectOutput(j.out, []);
      await pipeAll(second, [[2, 'dummy', 402]]);
      expectOutput(j.out, [[2, 'dummy+dummy', 402]]);
    });
  }

  it('KStreamKStreamLeftJoinTest.testLeftJoinedRecordsWithZeroAfterAreEmitted', async () => {
    const j = await streamJoin('leftJoin', JoinWindows.ofTimeDifferenceWithNoGrace(100).after(0));
    driver = j.driver;
    expect(j.topology.subtopologies()).toHaveLength(1);
    await pipeAll(j.in1, keys.map((k): KVT<number, string> => [k, `A${k}`, 1000 + k]));
    expectOutput(j.out, [[0, 'A0+null', 1000], [1, 'A1+null', 1001], [2, 'A2+null', 1002]]);
    await pipeAll(j.in2, each('a', 999));
    expectOutput(j.out, [[0, 'A0+a0', 1000], [1, 'A1+a1', 1001], [2, 'A2+a2', 1002], [3, 'A3+a3', 1003]]);
    await pipeAll(j.in2, each('b', 1000));
    expectOutput(j.out, [[0, 'A0+b0', 1000], [1, 'A1+b1', 1001], [2, 'A2+b2', 1002], [3, 'A3+b3', 1003]]);
    await pipeAll(j.in2, each('c', 1001));
    expectOutput(j.out, [[1, 'A1+c1', 1001], [2, 'A2+c2', 1002], [3, 'A3+c3', 1003]]);
    await pipeAll(j.in2, each('d', 1002));
    expectOutput(j.out, [[2, 'A2+d2', 1002], [3, 'A3+d3', 1003]]);
    await pipeAll(j.in2, each('e', 1003));
    expectOutput(j.out, [[3, 'A3+e3', 1003]]);
    await pipeAll(j.in2, each('f', 1100));
    expectOutput(j.out, []);
  });

  it('KStreamKStreamLeftJoinTest.testLeftJoinWithDefaultSuppliers (runLeftJoin)', async () => {
    const j = await streamJoin('leftJoin', JoinWindows.ofTimeDifferenceAndGrace(100, 0));
    driver = j.driver;
    // Two window stores and the shared outer-join store.
    expect(j.topology.subtopology(0).stores).toHaveLength(3);
    await pipeAll(j.in1, each('A', 0, [0, 1]));
    expectOutput(j.out, []);
    await pipeAll(j.in2, each('a', 0, [0, 1]));
    expectOutput(j.out, [[0, 'A0+a0', 0], [1, 'A1+a1', 0]]);
    await pipeAll(j.in1, each('B', 0, [0, 1, 2]));
    expectOutput(j.out, [[0, 'B0+a0', 0], [1, 'B1+a1', 0]]);
    await pipeAll(j.in2, each('b', 0));
    expectOutput(j.out, [[0, 'A0+b0', 0], [0, 'B0+b0', 0], [1, 'A1+b1', 0], [1, 'B1+b1', 0], [2, 'B2+b2', 0]]);
    await pipeAll(j.in1, each('C', 0));
    expectOutput(j.out, [[0, 'C0+a0', 0], [0, 'C0+b0', 0], [1, 'C1+a1', 0], [1, 'C1+b1', 0], [2, 'C2+b2', 0], [3, 'C3+b3', 0]]);
    await pipeAll(j.in1, [[0, 'dummy', 1000]]);
    expectOutput(j.out, []);
  });

  it('KStreamKStreamLeftJoinTest.testOrdering', async () => {
    const j = await streamJoin('leftJoin', JoinWindows.ofTimeDifferenceWithNoGrace(100));
    driver = j.driver;
    await pipeAll(j.in1, [[0, 'A0', 0], [1, 'A1', 100]]);
    expectOutput(j.out, []);
    await pipeAll(j.in2, [[1, 'a1', 110]]);
    expectOutput(j.out, [[0, 'A0+null', 0], [1, 'A1+a1', 110]]);
  });

  it('KStreamKStreamLeftJoinTest.testGracePeriod', async () => {
    const j = await streamJoin('leftJoin', JoinWindows.ofTimeDifferenceAndGrace(100, 10));
    driver = j.driver;
    await pipeAll(j.in1, each('A', 0, [0, 1]));
    expectOutput(j.out, []);
    await pipeAll(j.in2, each('a', 101));
    expectOutput(j.out, []);
    await pipeAll(j.in2, [[0, 'dummy', 1201]]);
    expectOutput(j.out, [[0, 'A0+null', 0], [1, 'A1+null', 0]]);
  });

  it('KStreamKStreamLeftJoinTest.shouldNotEmitLeftJoinResultForAsymmetricWindow', async () => {
    const j = await streamJoin('leftJoin', JoinWindows.ofTimeDifferenceWithNoGrace(100).before(0));
    driver = j.driver;
    await pipeAll(j.in1, [[0, 'A0', 0], [1, 'A1', 1]]);
    expectOutput(j.out, []);
    await pipeAll(j.in2, [[0, 'a0', 100]]);
    expectOutput(j.out, [[0, 'A0+a0', 100]]);
    await pipeAll(j.in2, [[1, 'a1', 102]]);
    expectOutput(j.out, [[1, 'A1+null', 1]]);
  });
});
