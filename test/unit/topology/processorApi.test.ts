/**
 * The Processor API through the test driver: a custom processor with a store, record metadata,
 * and both punctuation types.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Stores } from '../../../state/stores.js';
import type { KeyValueStore } from '../../../state/types.js';
import type { Processor, ProcessorContext } from '../../../topology/processor.js';
import type { Record, RecordMetadata } from '../../../topology/records.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';
import { Consumed, Named, Produced, StreamsBuilder } from '../../../topology/index.js';

let driver: TopologyTestDriver | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
});

/** Sums amounts per key; emits the running sum per record and, on punctuation, a snapshot of all sums. */
class SumProcessor implements Processor<string, number, string, string> {
  private ctx!: ProcessorContext<string, string>;
  private store!: KeyValueStore<string, number>;
  readonly seen: (RecordMetadata | null)[] = [];

  constructor(private readonly punctuateEveryMs: { stream?: number; wall?: number }) {}

  init(context: ProcessorContext<string, string>): void {
    this.ctx = context;
    this.store = context.getStateStore('sums');
    if (this.punctuateEveryMs.stream !== undefined) {
      context.schedule(this.punctuateEveryMs.stream, 'STREAM_TIME', (ts) => this.snapshot('stream', ts));
    }
    if (this.punctuateEveryMs.wall !== undefined) {
      context.schedule(this.punctuateEveryMs.wall, 'WALL_CLOCK_TIME', (ts) => this.snapshot('wall', ts));
    }
  }

  process(record: Record<string, number>): void {
    this.seen.push(this.ctx.recordMetadata());
    const sum = (this.store.get(record.key) ?? 0) + record.value;
    this.store.put(record.key, sum);
    this.ctx.forward({ ...record, value: `sum=${sum}` });
  }

  private snapshot(kind: string, ts: number): void {
    const parts: string[] = [];
    for (const { key, value } of this.store.all()) parts.push(`${key}:${value}`);
    this.ctx.forward({ key: kind, value: `${ts} ${parts.join(',')}`, timestamp: ts, headers: {} });
  }
}

function sumTopology(every: { stream?: number; wall?: number }, instances: SumProcessor[] = []): Topology {
  return new Topology({ applicationId: 'papi' })
    .addSource('in', 'amounts', { keySerde: Serdes.String, valueSerde: Serdes.Long })
    .addProcessor(
      'sum',
      () => {
        const p = new SumProcessor(every);
        instances.push(p);
        return p;
      },
      'in',
    )
    .addStateStore(Stores.keyValue('sums', Serdes.String, Serdes.Long, { persistent: false }), ['sum'])
    .addSink('out', 'sums-out', { keySerde: Serdes.String, valueSerde: Serdes.String }, 'sum');
}

describe('Processor API', () => {
  it('gives a processor its store and the record metadata, and logs store writes to the changelog', async () => {
    const instances: SumProcessor[] = [];
    driver = await TopologyTestDriver.create(sumTopology({}, instances));
    const input = driver.createInputTopic('amounts', Serdes.String, Serdes.Long);
    const output = driver.createOutputTopic('sums-out', Serdes.String, Serdes.String);

    await input.pipeInput('card-1', 10, 1_000);
    await input.pipeInput('card-2', 5, 1_100);
    await input.pipeInput('card-1', 7, 1_200, { trace: Buffer.from('t-1') });

    const records = output.readRecordsToList();
    expect(records.map((r) => [r.key, r.value, r.timestamp])).toEqual([
      ['card-1', 'sum=10', 1_000],
      ['card-2', 'sum=5', 1_100],
      ['card-1', 'sum=17', 1_200],
    ]);
    // Headers travel with the record from source to sink.
    expect(records[2]!.headers.trace?.toString()).toBe('t-1');
    expect(instances).toHaveLength(1);
    expect(instances[0]!.seen).toEqual([
      { topic: 'amounts', partition: 0, offset: 0 },
      { topic: 'amounts', partition: 0, offset: 1 },
      { topic: 'amounts', partition: 0, offset: 2 },
    ]);
    expect(driver.getKeyValueStore<string, number>('sums').get('card-1')).toBe(17);

    // Each pipe ends with a commit, which flushes the store to its changelog.
    const changelog = driver.readRaw('papi-sums-changelog');
    const last = new Map(changelog.map((r) => [r.key!.toString(), Serdes.Long.deserialize(r.value!)]));
    expect(last).toEqual(new Map([['card-1', 17], ['card-2', 5]]));
  });

  it('fires a STREAM_TIME punctuator as piped records advance stream time, aligned to the interval', async () => {
    driver = await TopologyTestDriver.create(sumTopology({ stream: 1_000 }));
    const input = driver.createInputTopic('amounts', Serdes.String, Serdes.Long);
    const output = driver.createOutputTopic('sums-out', Serdes.String, Serdes.String);

    // Stream-time schedules start at 0, so the first record (stream time 500) is already due.
    await input.pipeInput('a', 1, 500);
    expect(output.readKeyValuesToList()).toEqual([
      { key: 'a', value: 'sum=1' },
      { key: 'stream', value: '500 a:1' },
    ]);
    // Next due at 1000: a record at 999 does not fire, one at 1000 does.
    await input.pipeInput('a', 2, 999);
    expect(output.readKeyValuesToList()).toEqual([{ key: 'a', value: 'sum=3' }]);
    await input.pipeInput('b', 4, 1_000);
    expect(output.readKeyValuesToList()).toEqual([
      { key: 'b', value: 'sum=4' },
      { key: 'stream', value: '1000 a:3,b:4' },
    ]);
    // An older record does not move stream time, so nothing fires.
    await input.pipeInput('a', 1, 200);
    expect(output.readKeyValuesToList()).toEqual([{ key: 'a', value: 'sum=4' }]);
    // Jumping several intervals fires once, and the next due time stays on the 1000 grid (5000).
    await input.pipeInput('a', 1, 4_500);
    expect(output.readValuesToList()).toEqual(['sum=5', '4500 a:5,b:4']);
    await input.pipeInput('a', 1, 4_999);
    expect(output.readValuesToList()).toEqual(['sum=6']);
    await input.pipeInput('a', 1, 5_000);
    expect(output.readValuesToList()).toEqual(['sum=7', '5000 a:7,b:4']);
    // The wall clock plays no part in stream-time punctuation.
    await driver.advanceWallClockTime(60_000);
    expect(output.isEmpty()).toBe(true);
  });

  it('fires a WALL_CLOCK_TIME punctuator only when the wall clock advances', async () => {
    driver = await TopologyTestDriver.create(sumTopology({ wall: 10_000 }), { initialWallClockTimeMs: 1_000_000 });
    const input = driver.createInputTopic('amounts', Serdes.String, Serdes.Long);
    const output = driver.createOutputTopic('sums-out', Serdes.String, Serdes.String);

    await input.pipeInput('a', 3, 99_999_999);
    expect(output.readValuesToList()).toEqual(['sum=3']);
    await driver.advanceWallClockTime(9_999);
    expect(output.isEmpty()).toBe(true);
    await driver.advanceWallClockTime(1);
    expect(output.readKeyValuesToList()).toEqual([{ key: 'wall', value: '1010000 a:3' }]);
    // 25 s later: fires once (not twice) and stays aligned: next at 1 040 000.
    await driver.advanceWallClockTime(25_000);
    expect(output.readValuesToList()).toEqual(['1035000 a:3']);
    await driver.advanceWallClockTime(4_999);
    expect(output.isEmpty()).toBe(true);
    await driver.advanceWallClockTime(1);
    expect(output.readValuesToList()).toEqual(['1040000 a:3']);
    expect(driver.metrics().punctuations).toBe(3);
  });
});

describe('KStream.process()', () => {
  /**
   * Velocity check: counts a card's transactions in a store, flags the 3rd one, and clears counts
   * on a stream-time punctuator (every minute of event time) while reporting the number of tracked
   * cards on a wall-clock punctuator.
   */
  class VelocityProcessor implements Processor<string, number, string, string> {
    private ctx!: ProcessorContext<string, string>;
    private counts!: KeyValueStore<string, number>;
    init(context: ProcessorContext<string, string>): void {
      this.ctx = context;
      this.counts = context.getStateStore('velocity');
      context.schedule(60_000, 'STREAM_TIME', (ts) => {
        for (const { key } of [...this.counts.all()]) this.counts.delete(key);
        this.ctx.forward({ key: 'reset', value: `at ${ts}`, timestamp: ts, headers: {} });
      });
      context.schedule(1_000, 'WALL_CLOCK_TIME', (now) => {
        this.ctx.forward({ key: 'tracked', value: `${this.counts.approximateNumEntries()} cards`, timestamp: now, headers: {} });
      });
    }
    process(record: Record<string, number>): void {
      const n = (this.counts.get(record.key) ?? 0) + 1;
      this.counts.put(record.key, n);
      if (n === 3) this.ctx.forward({ ...record, value: `3 transactions in the current minute` });
    }
  }

  it('runs a custom processor with a store added to the builder and both punctuation types', async () => {
    const builder = new StreamsBuilder();
    builder.addStateStore(Stores.keyValue('velocity', Serdes.String, Serdes.Long, { persistent: false }));
    builder
      .stream('tx', Consumed.with(Serdes.String, Serdes.Long))
      .process(() => new VelocityProcessor(), Named.as('velocity-check'), 'velocity')
      .to('alerts', Produced.with(Serdes.String, Serdes.String));
    const topology = builder.build({ applicationId: 'velo' });
    expect(topology.describe().toString()).toContain('Processor: velocity-check (stores: [velocity])');
    driver = await TopologyTestDriver.create(topology);
    const tx = driver.createInputTopic('tx', Serdes.String, Serdes.Long);
    const alerts = driver.createOutputTopic('alerts', Serdes.String, Serdes.String);

    // The first record makes stream time 10 000, and stream-time schedules start at 0: a reset fires
    // right after it is processed (so its count is cleared too); the next is due at 60 000.
    await tx.pipeInput('c1', 5, 10_000);
    expect(alerts.readKeyValuesToList()).toEqual([{ key: 'reset', value: 'at 10000' }]);
    await tx.pipeInput('c1', 5, 20_000);
    await tx.pipeInput('c2', 5, 30_000);
    await tx.pipeInput('c1', 5, 40_000);
    expect(alerts.isEmpty()).toBe(true);
    await tx.pipeInput('c1', 5, 50_000);
    expect(alerts.readKeyValuesToList()).toEqual([{ key: 'c1', value: '3 transactions in the current minute' }]);
    await driver.advanceWallClockTime(1_000);
    expect(alerts.readKeyValuesToList()).toEqual([{ key: 'tracked', value: '2 cards' }]);
    // Stream time reaches 60 000: counts are cleared (that record's too), so c1 needs three more.
    await tx.pipeInput('c1', 5, 60_000);
    expect(alerts.readValuesToList()).toEqual(['at 60000']);
    await tx.pipeInput('c1', 5, 61_000);
    await tx.pipeInput('c1', 5, 62_000);
    expect(alerts.isEmpty()).toBe(true);
    await tx.pipeInput('c1', 5, 63_000);
    expect(alerts.readValuesToList()).toEqual(['3 transactions in the current minute']);
    await driver.advanceWallClockTime(1_000);
    expect(alerts.readValuesToList()).toEqual(['1 cards']);
  });

  it('refuses access to a store that was not connected to the processor', async () => {
    const b = new StreamsBuilder();
    b.addStateStore(Stores.keyValue('secret', Serdes.String, Serdes.Long, { persistent: false }));
    b.stream('tx', Consumed.with(Serdes.String, Serdes.Long)).process(() => new VelocityProcessor());
    await expect(TopologyTestDriver.create(b.build())).rejects.toThrow(/has no access to store velocity/);
  });
});
