/** The end-of-batch hook: a processor may hold records in process() and forward them from flush(). */
import { describe, expect, it } from 'vitest';
import type { Processor, ProcessorContext } from '../../../topology/processor.js';
import type { Record } from '../../../topology/records.js';
import { Serdes } from '../../../topology/serde.js';
import { StreamTask } from '../../../topology/streamTask.js';
import { Topology } from '../../../topology/topology.js';
import type { OutgoingRecord } from '../../../topology/recordCollector.js';
import pino from 'pino';

class Batcher implements Processor<string, string, string, string> {
  private ctx!: ProcessorContext<string, string>;
  private held: Record<string, string>[] = [];
  readonly batchSizes: number[] = [];
  init(ctx: ProcessorContext<string, string>): void {
    this.ctx = ctx;
  }
  process(r: Record<string, string>): void {
    this.held.push(r);
  }
  async flush(): Promise<void> {
    await Promise.resolve(); // an async batch call, like ONNX inference
    this.batchSizes.push(this.held.length);
    for (const r of this.held) this.ctx.forward({ ...r, value: `${r.value}@batch${this.batchSizes.length}` });
    this.held = [];
  }
}

class Upper implements Processor<string, string, string, string> {
  private ctx!: ProcessorContext<string, string>;
  init(ctx: ProcessorContext<string, string>): void {
    this.ctx = ctx;
  }
  process(r: Record<string, string>): void {
    this.ctx.forward({ ...r, value: r.value.toUpperCase() });
  }
}

describe('Processor.flush (end of batch)', () => {
  it('is called once per processed batch, and its forwards reach the sink in order', async () => {
    const batchers: Batcher[] = [];
    const topology = new Topology({ applicationId: 'flush' })
      .addSource('in', 'in', { keySerde: Serdes.String, valueSerde: Serdes.String })
      .addProcessor('batch', () => {
        const b = new Batcher();
        batchers.push(b);
        return b;
      }, 'in')
      .addProcessor('upper', () => new Upper(), 'batch')
      .addSink('out', 'out', { keySerde: Serdes.String, valueSerde: Serdes.String }, 'upper');
    const sent: OutgoingRecord[] = [];
    const task = new StreamTask({
      topology, subtopology: 0, partition: 0,
      collector: { send: (r) => void sent.push(r) },
      changelog: { send: () => undefined },
      stateDir: '/tmp/riskloop-flush-test', logger: pino({ level: 'silent' }),
    });
    await task.initialize();
    const raw = (offset: number, v: string) => ({ topic: 'in', partition: 0, offset, timestamp: 1000 + offset, key: Buffer.from('k'), value: Buffer.from(v), headers: {} });
    task.addRecords([raw(0, 'a'), raw(1, 'b'), raw(2, 'c')]);
    expect(await task.process()).toBe(3);
    task.addRecords([raw(3, 'd')]);
    expect(await task.process()).toBe(1);
    expect(batchers[0]!.batchSizes).toEqual([3, 1]);
    expect(sent.map((r) => r.value!.toString())).toEqual(['A@BATCH1', 'B@BATCH1', 'C@BATCH1', 'D@BATCH2']);
    await task.close();
  });
});
