/**
 * Fills the review queue (ops/reviewQueueStore.ts) from the loop's committed output, under a
 * consumer group of its own (`<app>-review`, read_committed: a decision of an aborted transaction
 * never becomes a case):
 *  - decisions: every REVIEW decision that is not a repeat (`duplicate: true` is the stored decision
 *    sent again for a retried transaction id) becomes a case;
 *  - training examples: kept per account, for the case page's label history;
 *  - screening hits (when the topic is given): each new hit becomes a case.
 * Offsets are committed after the rows are in; a redelivery inserts nothing (case id = transaction
 * id, ON CONFLICT DO NOTHING), so the queue is exactly the REVIEW decisions, once each.
 *
 * Errors as in ops/auditSink.ts: a failed database write throws out of the batch (kafkajs retries,
 * then restarts from the committed offsets); a record that cannot be decoded is skipped with its
 * position logged; a crash kafkajs will not restart from is retried in 2 s unless fatal, which is
 * emitted as 'error' (ops/supervisedConsumer.ts; riskloop run then exits for its supervisor).
 */
import { Kafka, logLevel, type Consumer, type EachBatchPayload } from 'kafkajs';
import type { Logger } from 'pino';
import type { Decision, TrainingExample } from '../schemas/types.js';
import { kafkajsConnectionOptions, type KafkaConnection } from '../topology/kafka/connection.js';
import type { LabelRow, ReviewStore, ScreeningHitLike } from './reviewQueueStore.js';
import { SupervisedConsumer } from './supervisedConsumer.js';

/** A value serde as the registry-backed ones are: prefetch the writer schemas, then decode. */
export interface ValueReader<T> {
  deserialize(data: Buffer): T;
  prefetch?(payloads: readonly Buffer[]): Promise<void>;
}

export interface ReviewConsumerOptions {
  connection: KafkaConnection;
  applicationId: string;
  logger: Logger;
  decisions: { topic: string; serde: ValueReader<Decision> };
  trainingExamples: { topic: string; serde: ValueReader<TrainingExample> };
  screeningHits?: { topic: string; serde: ValueReader<ScreeningHitLike> };
}

export class ReviewCaseConsumer extends SupervisedConsumer {
  private readonly kafka: Kafka;

  constructor(
    private readonly opts: ReviewConsumerOptions,
    private readonly store: ReviewStore,
  ) {
    super('review', opts.logger);
    this.kafka = new Kafka({ clientId: `${opts.applicationId}-review`, ...kafkajsConnectionOptions(opts.connection), logLevel: logLevel.NOTHING });
  }

  get groupId(): string {
    return `${this.opts.applicationId}-review`;
  }

  protected createConsumer(): Consumer {
    return this.kafka.consumer({ groupId: this.groupId, readUncommitted: false, maxWaitTimeInMs: 250 });
  }

  protected async run(consumer: Consumer): Promise<void> {
    const { logger } = this.opts;
    const kafka = this.kafka;
    const topics = [this.opts.decisions.topic, this.opts.trainingExamples.topic];
    if (this.opts.screeningHits) {
      // The screening-hits topic came with issue 20.3: a cluster whose topics predate it runs the
      // queue without screening cases (and says so) until `riskloop topics create` adds it.
      const admin = kafka.admin();
      await admin.connect();
      const existing = new Set(await admin.listTopics().finally(() => admin.disconnect()));
      if (existing.has(this.opts.screeningHits.topic)) topics.push(this.opts.screeningHits.topic);
      else logger.warn({ component: 'review', topic: this.opts.screeningHits.topic }, 'screening-hits topic missing: screening hits will not become cases (riskloop topics create adds it)');
    }
    // From the beginning on first start: every REVIEW decision still on the topic is a case.
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: (p) => this.batch(p) });
  }

  private async decode<T>(serde: ValueReader<T>, payload: EachBatchPayload): Promise<{ value: T; offset: number }[]> {
    const { batch } = payload;
    const values = batch.messages.filter((m) => m.value !== null);
    // A registry that cannot be reached rejects here: the batch is retried, nothing skipped.
    await serde.prefetch?.(values.map((m) => m.value!));
    const out: { value: T; offset: number }[] = [];
    for (const m of values) {
      try {
        out.push({ value: serde.deserialize(m.value!), offset: Number(m.offset) });
      } catch (err) {
        this.opts.logger.warn({ component: 'review', topic: batch.topic, partition: batch.partition, offset: m.offset, err: (err as Error).message }, 'review queue skipped a record it cannot decode');
      }
    }
    return out;
  }

  private async batch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset } = payload;
    const { decisions, trainingExamples, screeningHits } = this.opts;
    try {
      if (batch.topic === decisions.topic) {
        const rows = (await this.decode(decisions.serde, payload))
          .filter(({ value: d }) => d.decision === 'REVIEW' && d.duplicate !== true)
          .map(({ value, offset }) => ({ decision: value, partition: batch.partition, offset }));
        const added = await this.store.addDecisions(rows);
        if (added > 0) this.opts.logger.debug({ component: 'review', partition: batch.partition, added }, 'review cases opened');
      } else if (batch.topic === trainingExamples.topic) {
        const rows: LabelRow[] = (await this.decode(trainingExamples.serde, payload)).map(({ value: e }) => ({
          transactionId: e.transactionId,
          accountToken: e.accountToken,
          label: e.label,
          labelSource: e.labelSource,
          labeledAt: e.labeledAt,
          isCorrection: e.isCorrection,
          decision: e.decision,
        }));
        await this.store.addLabels(rows);
      } else if (screeningHits && batch.topic === screeningHits.topic) {
        const rows = (await this.decode(screeningHits.serde, payload)).map(({ value, offset }) => ({ hit: value, partition: batch.partition, offset }));
        await this.store.addScreeningHits(rows);
      }
    } catch (err) {
      this.opts.logger.warn({ component: 'review', database: this.store.where(), topic: batch.topic, partition: batch.partition, err: (err as Error).message }, 'review queue write failed; the batch will be retried');
      throw err;
    }
    for (const m of batch.messages) resolveOffset(m.offset);
    const last = batch.messages[batch.messages.length - 1];
    if (last) await this.consumer!.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
  }
}
