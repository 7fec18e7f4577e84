/**
 * suppress(untilWindowCloses): Kafka Streams' SuppressScenarioTest (DSL) and
 * suppress/KTableSuppressProcessorTest (the processor fed windowed Changes directly, here through a
 * Processor API topology in the test driver).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  Consumed,
  Grouped,
  Materialized,
  Produced,
  Serdes,
  StreamsBuilder,
  Suppressed,
  TimeWindows,
  Topology,
  TopologyTestDriver,
  timeWindowedSerde,
  type Change,
  type Processor,
  type ProcessorContext,
  type Record,
  type Windowed,
} from '../../topology/index.js';
import { Stores } from '../../state/index.js';
import { SuppressUntilWindowClosesProcessor, bufferedSerde, suppressKeySerde } from '../../topology/dsl/processors/suppress.js';
import { Str, expectOutput, pipeAll, type KVT } from './support.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** Windowed<String>.toString() in Kafka Streams: [key@start/end]. */
const show = (w: Windowed<string>) => `[${w.key}@${w.window.start}/${w.window.end}]`;

async function scenario(sizeMs: number, graceMs: number, input: KVT<string, string>[]) {
  const builder = new StreamsBuilder();
  const counts = builder
    .stream('input', Consumed.with(Str, Str))
    .groupBy((k) => k, Grouped.with(Str, Str))
    .windowedBy(TimeWindows.ofSizeWithGrace(sizeMs, graceMs))
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
  driver = await TopologyTestDriver.create(builder.build({ applicationId: 'suppress' }));
  await pipeAll(driver.createInputTopic('input', Str, Str), input);
  return { raw: driver.createOutputTopic('output-raw', Str, Serdes.Long), suppressed: driver.createOutputTopic('output-suppressed', Str, Serdes.Long) };
}

describe('suppress(untilWindowCloses) (Kafka Streams conformance)', () => {
  it('SuppressScenarioTest.shouldSupportFinalResultsForTimeWindows', async () => {
    const o = await scenario(2, 1, [['k1', 'v1', 0], ['k1', 'v1', 1], ['k1', 'v1', 2], ['k1', 'v1', 1], ['k1', 'v1', 0], ['k1', 'v1', 5], ['k1', 'v1', 0]]);
    expectOutput(o.raw, [['[k1@0/2]', 1, 0], ['[k1@0/2]', 2, 1], ['[k1@2/4]', 1, 2], ['[k1@0/2]', 3, 1], ['[k1@0/2]', 4, 1], ['[k1@4/6]', 1, 5]]);
    expectOutput(o.suppressed, [['[k1@0/2]', 4, 1], ['[k1@2/4]', 1, 2]]);
  });

  it('SuppressScenarioTest.shouldSupportFinalResultsForTimeWindowsWithLargeJump', async () => {
    const o = await scenario(2, 2, [['k1', 'v1', 0], ['k1', 'v1', 1], ['k1', 'v1', 2], ['k1', 'v1', 0], ['k1', 'v1', 3], ['k1', 'v1', 0], ['k1', 'v1', 4], ['k1', 'v1', 0], ['k1', 'v1', 30]]);
    expectOutput(o.raw, [
      ['[k1@0/2]', 1, 0],
      ['[k1@0/2]', 2, 1],
      ['[k1@2/4]', 1, 2],
      ['[k1@0/2]', 3, 1],
      ['[k1@2/4]', 2, 3],
      ['[k1@0/2]', 4, 1],
      ['[k1@4/6]', 1, 4],
      ['[k1@30/32]', 1, 30],
    ]);
    expectOutput(o.suppressed, [['[k1@0/2]', 4, 1], ['[k1@2/4]', 2, 3], ['[k1@4/6]', 1, 4]]);
  });
});

/** Turns each input record into the Change a windowed KTable would send (a null value: Change(null, old)). */
class ToChange implements Processor<Windowed<string>, number | null, Windowed<string>, Change<number>> {
  private ctx!: ProcessorContext<Windowed<string>, Change<number>>;
  init(context: ProcessorContext<Windowed<string>, Change<number>>): void {
    this.ctx = context;
  }
  process(record: Record<Windowed<string>, number | null>): void {
    this.ctx.forward({ ...record, value: { newValue: record.value, oldValue: record.value === null ? 21 : null } });
  }
}

/** KTableSuppressProcessorTest's Harness: finalResults(grace) on windowed String keys, Long values. */
async function harness(graceMs: number, windowSizeMs: number) {
  const windowed = timeWindowedSerde(Str, windowSizeMs);
  const topology = new Topology({ applicationId: 'suppress-harness' });
  topology.addSource('in', 'changes', { keySerde: windowed as never, valueSerde: Serdes.Long as never });
  topology.addProcessor('to-change', () => new ToChange(), 'in');
  topology.addProcessor('suppress', () => new SuppressUntilWindowClosesProcessor<string, number>('buffer', graceMs), 'to-change');
  topology.addStateStore(Stores.keyValue('buffer', suppressKeySerde(windowed), bufferedSerde(Serdes.Long), { persistent: false }), ['suppress']);
  topology.addProcessor('values', () => new NewValue(), 'suppress');
  topology.addSink('out', 'forwarded', { keySerde: windowed as never, valueSerde: Serdes.Long as never }, 'values');
  driver = await TopologyTestDriver.create(topology);
  const input = driver.createInputTopic('changes', windowed, Serdes.Long);
  const out = driver.createOutputTopic('forwarded', windowed, Serdes.Long);
  return {
    send: (key: string, start: number, end: number, value: number | null, timestamp: number) => input.pipeInput({ key, window: { start, end } }, value, timestamp),
    forwarded: () => out.readRecordsToList().map((r) => [show(r.key!), r.value, r.timestamp]),
  };
}

class NewValue implements Processor<Windowed<string>, Change<number>, Windowed<string>, number | null> {
  private ctx!: ProcessorContext<Windowed<string>, number | null>;
  init(context: ProcessorContext<Windowed<string>, number | null>): void {
    this.ctx = context;
  }
  process(record: Record<Windowed<string>, Change<number>>): void {
    this.ctx.forward({ ...record, value: record.value.newValue });
  }
}

const ARBITRARY = 42;

describe('KTableSuppressProcessor final results (Kafka Streams conformance)', () => {
  it('KTableSuppressProcessorTest.finalResultsSuppressionShouldBufferAndEmitAtGraceExpiration', async () => {
    const h = await harness(1, 1);
    await h.send('hey', 99, 100, ARBITRARY, 99);
    expect(h.forwarded()).toEqual([]);
    await h.send('dummyKey1', 100, 101, ARBITRARY, 100);
    expect(h.forwarded()).toEqual([]);
    await h.send('dummyKey2', 101, 102, ARBITRARY, 101);
    expect(h.forwarded()).toEqual([['[hey@99/100]', ARBITRARY, 99]]);
  });

  it('KTableSuppressProcessorTest.finalResultsWithZeroGraceShouldStillBufferUntilTheWindowEnd', async () => {
    const h = await harness(0, 100);
    await h.send('hey', 0, 100, ARBITRARY, 5);
    expect(h.forwarded()).toEqual([]);
    await h.send('dummyKey', 100, 200, ARBITRARY, 100);
    expect(h.forwarded()).toEqual([['[hey@0/100]', ARBITRARY, 5]]);
  });

  it('KTableSuppressProcessorTest.finalResultsWithZeroGraceAtWindowEndShouldImmediatelyEmit', async () => {
    const h = await harness(0, 100);
    await h.send('hey', 0, 100, ARBITRARY, 100);
    expect(h.forwarded()).toEqual([['[hey@0/100]', ARBITRARY, 100]]);
  });

  it('KTableSuppressProcessorTest.finalResultsShouldDropTombstonesForTimeWindows', async () => {
    const h = await harness(0, 100);
    await h.send('hey', 0, 100, null, 100);
    expect(h.forwarded()).toEqual([]);
  });
});
