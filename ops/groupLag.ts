/**
 * The loop's consumer-group lag seen from outside the loop: log-end offsets of the topics the group
 * reads against the offsets it committed, polled with the admin API (what kafka-exporter or
 * Burrow do). The runtime's own riskloop_consumer_lag is set when a batch is fetched, so a loop
 * that stops fetching (a hung task) freezes it; this one keeps moving while input arrives, which is
 * what the "decisions stalled" alert needs. Under exactly_once the committed offsets are the ones
 * committed with the transactions.
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { kafkajsConnectionOptions, type KafkaConnection } from '../topology/kafka/connection.js';

export interface GroupLagSample {
  topic: string;
  partition: number;
  end: number;
  committed: number;
  lag: number;
}

export class GroupLagMonitor {
  private admin: Admin | undefined;
  private timer: NodeJS.Timeout | undefined;
  private latest: GroupLagSample[] = [];
  private polling: Promise<void> | undefined;

  constructor(
    registry: Registry,
    private readonly opts: { connection: KafkaConnection; clientId: string; groupId: string; topics: readonly string[]; intervalMs: number; logger: Logger },
  ) {
    const self = this;
    new Gauge({
      name: 'riskloop_group_lag',
      help: "Records the loop's consumer group has not committed yet, per input topic and partition (log-end offset minus committed offset; polled by the ops server).",
      labelNames: ['topic', 'partition'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of self.latest) this.set({ topic: s.topic, partition: String(s.partition) }, s.lag);
      },
    });
    new Gauge({
      name: 'riskloop_input_end_offset',
      help: "Log-end offset of each input topic partition of the loop (grows while input arrives).",
      labelNames: ['topic', 'partition'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of self.latest) this.set({ topic: s.topic, partition: String(s.partition) }, s.end);
      },
    });
  }

  samples(): readonly GroupLagSample[] {
    return this.latest;
  }

  async start(): Promise<void> {
    const kafka = new Kafka({ clientId: `${this.opts.clientId}-ops-lag`, ...kafkajsConnectionOptions(this.opts.connection), logLevel: logLevel.NOTHING });
    this.admin = kafka.admin();
    await this.admin.connect();
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.opts.intervalMs);
    this.timer.unref();
  }

  /** One round; a failure keeps the previous numbers (logged, never thrown: metrics must not stop the loop). */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const admin = this.admin;
    if (!admin) return;
    try {
      const committed = await admin.fetchOffsets({ groupId: this.opts.groupId, topics: [...this.opts.topics] });
      const out: GroupLagSample[] = [];
      for (const t of committed) {
        const ends = await admin.fetchTopicOffsets(t.topic);
        for (const e of ends) {
          const end = Number(e.high);
          const c = Number(t.partitions.find((p) => p.partition === e.partition)?.offset ?? -1);
          // Never committed: everything up to the end is still to do (a group reads from the start).
          const low = Number(e.low);
          const from = c < 0 ? low : c;
          out.push({ topic: t.topic, partition: e.partition, end, committed: c, lag: Math.max(0, end - from) });
        }
      }
      this.latest = out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'group lag poll failed; keeping the previous numbers');
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    await this.admin?.disconnect();
  }
}
