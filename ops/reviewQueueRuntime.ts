/**
 * The review queue as `riskloop run` starts it (and the integration test, the same way): the store
 * (PostgreSQL, the audit trail's database), the case consumer, the outcome producer and the route
 * module the ops server mounts. Configuration is read once from the environment:
 *
 *   RISKLOOP_AUDIT_DB               the database (the queue runs when it is set; tables: ops/auditSchema.ts)
 *   RISKLOOP_REVIEW_QUEUE           "off" runs the audit trail without the queue (default "on")
 *   RISKLOOP_REVIEW_CLAIM_TTL_S     how long a claim holds without renewal (900 = 15 min)
 *   RISKLOOP_REVIEW_SLA_S           how long a case may wait for a verdict (14400 = 4 h)
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { RuleSet } from '../processors/ruleSet.js';
import type { Catalogue } from '../schemas/catalogue.js';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import type { KafkaConnection } from '../topology/kafka/connection.js';
import type { AuditInput } from './auditEvents.js';
import { kafkaOutcomePublisher, registerReviewMetrics, ReviewQueueRoutes } from './reviewQueue.js';
import { ReviewCaseConsumer } from './reviewQueueConsumer.js';
import { ReviewStore, type ReviewStoreConfigInput } from './reviewQueueStore.js';

const seconds = z.coerce.number().int().positive();

const ReviewEnv = z.object({
  RISKLOOP_AUDIT_DB: z.string().min(1).optional(),
  RISKLOOP_REVIEW_QUEUE: z.enum(['on', 'off']).default('on'),
  RISKLOOP_REVIEW_CLAIM_TTL_S: seconds.default(900),
  RISKLOOP_REVIEW_SLA_S: seconds.default(14_400),
});

/** The queue's store settings from the environment; undefined when RISKLOOP_AUDIT_DB is not set. */
export function readReviewQueueConfig(env: Record<string, string | undefined>): ReviewStoreConfigInput | undefined {
  const parsed = ReviewEnv.safeParse(env);
  if (!parsed.success) throw new Error(`review queue configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const e = parsed.data;
  if (!e.RISKLOOP_AUDIT_DB || e.RISKLOOP_REVIEW_QUEUE === 'off') return undefined;
  return { connectionString: e.RISKLOOP_AUDIT_DB, claimTtlMs: e.RISKLOOP_REVIEW_CLAIM_TTL_S * 1000, slaMs: e.RISKLOOP_REVIEW_SLA_S * 1000 };
}

export interface ReviewQueue {
  routes: ReviewQueueRoutes;
  store: ReviewStore;
  consumer: ReviewCaseConsumer;
  /** Registers the queue gauges on the ops server's registry. */
  registerMetrics(registry: Registry): void;
  close(): Promise<void>;
}

export async function startReviewQueue(opts: {
  store: ReviewStoreConfigInput;
  connection: KafkaConnection;
  applicationId: string;
  catalogue: Catalogue;
  serdes: Pick<TopicSerdes, 'decisions' | 'trainingExamples' | 'analystOutcomes' | 'screeningHits'>;
  ruleSet: () => RuleSet;
  audit?: { record(input: AuditInput): Promise<unknown> };
  logger: Logger;
}): Promise<ReviewQueue> {
  const logger = opts.logger.child({ component: 'review' });
  const store = new ReviewStore(opts.store, logger);
  const started: { close(): Promise<unknown> }[] = [{ close: () => store.end() }];
  const closeAll = async (): Promise<void> => {
    for (const s of started.reverse()) await s.close().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'review queue close failed'));
  };
  try {
    await store.init();
    const outcomes = await kafkaOutcomePublisher({
      connection: opts.connection,
      clientId: `${opts.applicationId}-review-outcomes`,
      topic: opts.catalogue.analystOutcomes.name,
      partitions: opts.catalogue.analystOutcomes.partitions,
      serde: opts.serdes.analystOutcomes,
    });
    started.push(outcomes);
    const consumer = new ReviewCaseConsumer(
      {
        connection: opts.connection,
        applicationId: opts.applicationId,
        logger,
        decisions: { topic: opts.catalogue.decisions.name, serde: opts.serdes.decisions },
        trainingExamples: { topic: opts.catalogue.trainingExamples.name, serde: opts.serdes.trainingExamples },
        screeningHits: { topic: opts.catalogue.screeningHits.name, serde: opts.serdes.screeningHits },
      },
      store,
    );
    await consumer.start();
    started.push({ close: () => consumer.stop() });
    const routes = new ReviewQueueRoutes({ store, outcomes, ruleSet: opts.ruleSet, logger, ...(opts.audit ? { audit: opts.audit } : {}) });
    logger.info({ database: store.where(), claimTtlMs: store.config.claimTtlMs, slaMs: store.config.slaMs }, 'review queue started (/review)');
    return { routes, store, consumer, registerMetrics: (registry) => registerReviewMetrics(registry, store, logger), close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
