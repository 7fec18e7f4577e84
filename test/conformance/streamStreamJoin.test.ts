/** Windowed KStream–KStream inner join: Kafka Streams' KStreamKStreamJoinTest (testJoin, testOuterJoin). */
import { afterEach, describe, it } from 'vitest';
import { JoinWindows, type TopologyTestDriver } from '../../topology/index.js';
import { expectOutput, pipeAll, streamJoin, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

const keys = [0, 1, 2, 3];
// The Java test pipes without timestamps from a topic starting at 0 with no auto-advance: all at 0.
const each = (prefix: string, ks = keys): KVT<number, string>[] => ks.map((k) => [k, `${prefix}${k}`, 0]);

/** Shared script of testJoin and testOuterJoin: every record at time 0, so every result is joined. */
async function script(mode: 'join' | 'outerJoin', windows: JoinWindows) {
  const j = await streamJoin(mode, windows);
  driver = j.driver;
  await pipeAll(j.in1, each('A', [0, 1]));
  expectOutput(j.out, []);
  await pipeAll(j.in2, each('a', [0, 1]));
  expectOutput(j.out, [[0, 'A0+a0', 0], [1, 'A1+a1', 0]]);
  await pipeAll(j.in1, each('B'));
  expectOutput(j.out, [[0, 'B0+a0', 0], [1, 'B1+a1', 0]]);
  await pipeAll(j.in2, each('b'));
  expectOutput(j.out, [[0, 'A0+b0', 0], [0, 'B0+b0', 0], [1, 'A1+b1', 0], [1, 'B1+b1', 0], [2, 'B2+b2', 0], [3, 'B3+b3', 0]]);
  await pipeAll(j.in1, each('C'));
  expectOutput(j.out, [[0, 'C0+a0', 0], [0, 'C0+b0', 0], [1, 'C1+a1', 0], [1, 'C1+b1', 0], [2, 'C2+b2', 0], [3, 'C3+b3', 0]]);
  await pipeAll(j.in2, each('c', [0, 1]));
  expectOutput(j.out, [[0, 'A0+c0', 0], [0, 'B0+c0', 0], [0, 'C0+c0', 0], [1, 'A1+c1', 0], [1, 'B1+c1', 0], [1, 'C1+c1', 0]]);
}

describe('KStream–KStream inner join (Kafka Streams conformance)', () => {
  it('KStreamKStreamJoinTest.testJoin', async () => {
    await script('join', JoinWindows.ofTimeDifferenceWithNoGrace(100));
  });

  it('KStreamKStreamJoinTest.testOuterJoin', async () => {
    await script('outerJoin', JoinWindows.ofTimeDifferenceAndGrace(100, 24 * 3_600_000));
  });
});
