/**
 * A stream-thread factory for the unit tests of topology/threads/StreamThreads: each thread runs a
 * small stand-in for KafkaStreams (state machine, metrics, one task) so that the client's
 * supervision — merged metrics, aggregated state, replacing or giving up on dead threads — is
 * tested in real worker threads without a broker. The real runtime in threads is tested on the
 * broker in test/integration/streamThreads.test.ts.
 */
import { EventEmitter } from 'node:events';
import type { KafkaStreams, StreamsState } from '../../topology/kafka/kafkaStreams.js';
import { StreamsMetrics } from '../../topology/kafka/metrics.js';
import type { StreamThreadContext, StreamThreadHandle } from '../../topology/threads/streamThreads.js';

class FakeRuntime extends EventEmitter {
  readonly metrics = new StreamsMetrics();
  state: StreamsState = 'CREATED';
  constructor(private readonly index: number) {
    super();
  }
  private set(next: StreamsState): void {
    const prev = this.state;
    this.state = next;
    this.emit('stateChange', next, prev);
  }
  async start(): Promise<void> {
    this.set('REBALANCING');
    this.metrics.inc('fake_records_total', { task: `0_${this.index}` }, 10 + this.index);
    this.metrics.inc('fake_rebalances_total');
    setTimeout(() => this.set('RUNNING'), 50);
  }
  async close(): Promise<void> {
    this.set('NOT_RUNNING');
  }
  /** As KafkaStreams.fail: ERROR, 'error', then 'closed' once shut down. */
  failNow(): void {
    this.set('ERROR');
    this.emit('error', new Error('fatal in fake runtime'));
    setImmediate(() => this.emit('closed'));
  }
  taskStates(): { id: string; status: string }[] {
    return [{ id: `0_${this.index}`, status: 'running' }];
  }
  publishTaskMetrics(): void {}
}

export async function createStreamThread(data: unknown, ctx: StreamThreadContext): Promise<StreamThreadHandle> {
  const runtime = new FakeRuntime(ctx.index);
  ctx.onMessage((m) => {
    if (m === 'fail') runtime.failNow();
    if (m === 'ping') ctx.post({ pong: ctx.index, data });
  });
  // The stand-in implements the part of KafkaStreams the thread body uses (see the file comment).
  return { streams: runtime as unknown as KafkaStreams, report: () => ({ index: ctx.index }) };
}
