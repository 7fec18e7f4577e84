/**
 * A KafkaJS group consumer that outlives a broker restart. KafkaJS restarts a crashed consumer by
 * itself only on errors it calls retriable; a coordinator not found while the broker restarts is
 * not, yet it is transient. So on a crash KafkaJS will not restart from, a new consumer is started
 * 2 s later (from the committed offsets, so nothing is skipped), again while the broker refuses,
 * unless the runtime's classification (topology/kafka/errorClass.ts) says nothing will help: then
 * 'error' is emitted and the owner decides (riskloop run exits for its supervisor to restart it).
 *
 * The side consumers of the ops layer (the audit sink, the review queue) extend this; each says how
 * to build its consumer and what to run on it.
 */
import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import type { Logger } from 'pino';
import { classifyError } from '../topology/kafka/errorClass.js';

const RESTART_DELAY_MS = 2000;

export abstract class SupervisedConsumer extends EventEmitter {
  protected consumer: Consumer | undefined;
  private stopping = false;

  protected constructor(
    /** The log's `component` field: 'audit', 'review'. */
    private readonly component: string,
    private readonly supervisorLogger: Logger,
  ) {
    super();
  }

  /** A new, unconnected consumer: called on start and on every restart. */
  protected abstract createConsumer(): Consumer;

  /** Subscribes and runs the connected consumer. */
  protected abstract run(consumer: Consumer): Promise<void>;

  async start(): Promise<void> {
    const consumer = this.createConsumer();
    this.consumer = consumer;
    consumer.on(consumer.events.CRASH, (e) => {
      this.supervisorLogger.warn({ component: this.component, err: e.payload.error.message, restart: e.payload.restart }, `${this.component} consumer crashed`);
      if (e.payload.restart || this.stopping) return;
      if (classifyError(e.payload.error).kind === 'fatal') {
        this.emit('error', e.payload.error);
        return;
      }
      this.restartLater(consumer);
    });
    await consumer.connect();
    await this.run(consumer);
  }

  private restartLater(old: Consumer): void {
    setTimeout(() => {
      if (this.stopping) return;
      this.supervisorLogger.warn({ component: this.component }, `${this.component} consumer restarting`);
      void old
        .disconnect()
        .catch(() => undefined)
        .then(() => this.start())
        .catch((err: unknown) => {
          if (classifyError(err).kind === 'fatal') this.emit('error', err);
          else if (this.consumer) this.restartLater(this.consumer);
        });
    }, RESTART_DELAY_MS);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
  }
}
