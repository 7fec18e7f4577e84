/**
 * Helpers for the conformance suite: Kafka Streams' own DSL tests (streams/src/test/java/org/apache/
 * kafka/streams/kstream/internals/…), transcribed as inputs and exact expected output records —
 * key, value and timestamp (and window for windowed keys). Each test's title names the Java class
 * and method it comes from. Not a test file itself.
 */
import { expect } from 'vitest';
import type { JoinWindows, Serde, TestInputTopic, TestOutputTopic, Windowed } from '../../topology/index.js';
import { Consumed, Produced, Serdes, StreamsBuilder, TopologyTestDriver } from '../../topology/index.js';

/** Kafka's Serdes.Integer(): 4-byte big-endian. */
export const IntSerde: Serde<number> = {
  serialize(v) {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(v, 0);
    return b;
  },
  deserialize(b) {
    return b.readInt32BE(0);
  },
};
export const Str = Serdes.String;

/** MockValueJoiner.TOSTRING_JOINER: value1 + "+" + value2, with Java's "null" for a missing side. */
export const toStringJoiner = (a: unknown, b: unknown): string => `${a}+${b}`;

/** [key, value, timestamp] as Kafka's tests write them. */
export type KVT<K, V> = [K | null, V | null, number];

export async function pipeAll<K, V>(input: TestInputTopic<K, V>, records: readonly KVT<K, V>[]): Promise<void> {
  for (const [k, v, ts] of records) await input.pipeInput(k, v, ts);
}

/** The output records so far, exactly (order included), as [key, value, timestamp]. */
export function expectOutput<K, V>(output: TestOutputTopic<K, V>, expected: readonly KVT<K, V>[]): void {
  const got = output.readRecordsToList().map((r) => [r.key, r.value, r.timestamp]);
  expect(got).toEqual(expected);
}

/** Windowed output as [key, windowStart, windowEnd, value, timestamp] (Kafka's KeyValueTimestamp of a Windowed key). */
export type WKVT<K, V> = [K, number, number, V | null, number];

export function expectWindowed<K, V>(output: TestOutputTopic<Windowed<K>, V>, expected: readonly WKVT<K, V>[]): void {
  const got = output.readRecordsToList().map((r) => [r.key!.key, r.key!.window.start, r.key!.window.end, r.value, r.timestamp]);
  expect(got).toEqual(expected);
}

export async function closeDriver(driver: TopologyTestDriver | undefined): Promise<void> {
  await driver?.close();
}

/** topic1 and topic2 (Integer/String) joined within `windows` into `output`, as the KStreamKStream*JoinTest setups. */
export async function streamJoin(mode: 'join' | 'leftJoin' | 'outerJoin', windows: JoinWindows) {
  const builder = new StreamsBuilder();
  const s1 = builder.stream('topic1', Consumed.with(IntSerde, Str));
  const s2 = builder.stream('topic2', Consumed.with(IntSerde, Str));
  const joined = mode === 'join' ? s1.join(s2, toStringJoiner, windows) : mode === 'leftJoin' ? s1.leftJoin(s2, toStringJoiner, windows) : s1.outerJoin(s2, toStringJoiner, windows);
  joined.to('output', Produced.with(IntSerde, Str));
  const topology = builder.build({ applicationId: 'ss-join' });
  const d = await TopologyTestDriver.create(topology);
  return { topology, driver: d, in1: d.createInputTopic('topic1', IntSerde, Str), in2: d.createInputTopic('topic2', IntSerde, Str), out: d.createOutputTopic('output', IntSerde, Str) };
}
