/**
 * A consumer on the decisions topic (read_committed, as any downstream would read it) that records
 * when decisions arrive: the count over time, and optionally each decision's transaction id, so that
 * latency can be taken against the time its transaction was produced.
 */
import type { TopicSerdes } from '../../schemas/createSerdes.js';
import { type BenchEnv, kafkaClient } from './common.js';

export class DecisionWatcher {
  count = 0;
  /** performance.now() of the batch that brought the count to each threshold asked for. */
  private readonly marks = new Map<number, number>();
  private readonly thresholds: number[];
  private readonly consumer;
  firstArrival = 0;
  lastArrival = 0;

  constructor(
    env: BenchEnv,
    private readonly topic: string,
    opts: { thresholds?: number[]; onDecision?: (transactionId: string, arrivedAtMs: number) => void; serdes?: TopicSerdes } = {},
  ) {
    this.thresholds = [...(opts.thresholds ?? [])].sort((a, b) => a - b);
    this.onDecision = opts.onDecision;
    this.serdes = opts.serdes;
    this.consumer = kafkaClient(env, 'riskloop-bench-decisions').consumer({ groupId: `bench-watch-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`, maxWaitTimeInMs: 5, minBytes: 1 });
  }
  private readonly onDecision;
  private readonly serdes;

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 6,
      eachBatch: async ({ batch }) => {
        const now = performance.now();
        const wall = Date.now();
        if (this.firstArrival === 0) this.firstArrival = now;
        this.lastArrival = now;
        this.count += batch.messages.length;
        for (const t of this.thresholds) if (this.count >= t && !this.marks.has(t)) this.marks.set(t, now);
        if (this.onDecision && this.serdes) {
          const values = batch.messages.map((m) => m.value!);
          await this.serdes.decisions.prefetch?.(values);
          for (const v of values) this.onDecision(this.serdes.decisions.deserialize(v).transactionId, wall);
        }
      },
    });
  }

  mark(threshold: number): number | undefined {
    return this.marks.get(threshold);
  }

  async until(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.count < n) {
      if (Date.now() > deadline) throw new Error(`timed out: ${this.count} of ${n} decisions on ${this.topic}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}
