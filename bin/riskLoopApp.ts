/**
 * One running risk loop: the topology from processors/riskLoop.ts on the KafkaStreams runtime,
 * with Avro serdes through the schema registry, the rule file, and the model registry (seeded with
 * the model card from config, then driven by the model-releases topic). Used by `riskloop run`,
 * `riskloop replay`, the demo and the integration tests, so they all run the same thing.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Logger } from 'pino';
import { ModelRegistry, specFromModelCard } from '../processors/modelRegistry.js';
import { type RiskLoopConfigInput, type RiskLoopSerdes, riskLoopErrorHandlers, riskLoopTopology } from '../processors/riskLoop.js';
import { RuleSetHolder } from '../processors/rules.js';
import { Tokenizer } from '../processors/tokenizer.js';
import { type Catalogue, buildCatalogue } from '../schemas/catalogue.js';
import { createSerdes, type TopicSerdes } from '../schemas/createSerdes.js';
import { MissingSourceTopicsError, prepareInternalTopics } from '../topology/kafka/internalTopics.js';
import { createKafkajsClient } from '../topology/kafka/kafkajsClient.js';
import { KafkaStreams } from '../topology/kafka/kafkaStreams.js';
import type { Topology } from '../topology/topology.js';
import type { AppConfig } from './config.js';

export interface RiskLoopApp {
  streams: KafkaStreams;
  topology: Topology;
  models: ModelRegistry;
  rules: RuleSetHolder;
  catalogue: Catalogue;
  serdes: TopicSerdes;
  tokenizer: Tokenizer;
  close(): Promise<void>;
}

export function loopSerdes(serdes: TopicSerdes): RiskLoopSerdes {
  return {
    transactions: serdes.transactions,
    kyc: serdes.kyc,
    deviceSignals: serdes.deviceSignals,
    chargebacks: serdes.chargebacks,
    analystOutcomes: serdes.analystOutcomes,
    decisions: serdes.decisions,
    trainingExamples: serdes.trainingExamples,
    modelReleases: serdes.modelReleases,
    deadLetters: serdes.deadLetters,
    entityStats: serdes.entityStats,
  };
}

export async function buildRiskLoopApp(
  config: AppConfig,
  logger: Logger,
  opts: { bounded?: boolean; loop?: Omit<RiskLoopConfigInput, 'applicationId'> } = {},
): Promise<RiskLoopApp> {
  const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const serdes = await createSerdes(new SchemaRegistry({ host: config.schemaRegistryUrl }), catalogue);
  const tokenizer = new Tokenizer(config.tokenizer);
  const rules = await RuleSetHolder.fromFile(config.rulesPath, {}, logger);
  const models = new ModelRegistry(logger.child({ component: 'models' }));
  if (config.modelCard) {
    const outcome = await models.setChampion(await specFromModelCard(config.modelCard));
    if (!outcome.accepted) throw new Error(`model ${config.modelCard} refused: ${outcome.reason}`);
  }
  const topology = riskLoopTopology(
    { persistentStores: config.stores === 'rocksdb', ...opts.loop, applicationId: config.applicationId },
    { catalogue, serdes: loopSerdes(serdes), tokenizer, rules, models, logger },
  );
  await settleInternalTopics(topology, config, logger);
  const streams = new KafkaStreams(
    topology,
    {
      applicationId: config.applicationId,
      brokers: config.brokers,
      processingGuarantee: config.guarantee,
      stateDir: config.stateDir,
      boundedInput: opts.bounded ?? false,
      ...(config.commitIntervalMs ? { commitIntervalMs: config.commitIntervalMs } : {}),
      ...(config.instanceId ? { instanceId: config.instanceId } : {}),
    },
    {
      logger,
      // The side-only build (a replay's first phase) reads the same inputs as the hot phase after it,
      // which writes the dead letters; here a bad record is only skipped.
      errorHandlers:
        opts.loop?.parts === 'side'
          ? { deserialization: () => 'CONTINUE', processing: () => 'CONTINUE', production: () => 'FAIL' }
          : riskLoopErrorHandlers(catalogue, serdes.deadLetters),
    },
  );
  return {
    streams,
    topology,
    models,
    rules,
    catalogue,
    serdes,
    tokenizer,
    async close() {
      await streams.close();
      await models.close();
    },
  };
}

/**
 * Creates the topology's internal topics (as KafkaStreams.start would) and waits until the broker
 * answers offset requests for every one of them. The side sub-topologies read repartition topics,
 * and the runtime asks for their offsets as soon as it has created them; under load a fresh topic
 * answers "not the leader for that topic-partition" for a moment even after createTopics waited
 * for leaders, which would fail the start. Missing source topics are left for start() to report.
 */
export async function settleInternalTopics(topology: Topology, config: AppConfig, logger: Logger, timeoutMs = 30_000): Promise<void> {
  const internal = topology.internalTopics().filter((t) => t.kind === 'repartition');
  if (internal.length === 0) return;
  const admin = await createKafkajsClient({ brokers: config.brokers, clientId: `${config.applicationId}-settle`, logger }).admin();
  try {
    try {
      await prepareInternalTopics(topology, admin, 1);
    } catch (err) {
      if (err instanceof MissingSourceTopicsError) return;
      throw err;
    }
    const deadline = Date.now() + timeoutMs;
    for (const t of internal) {
      for (;;) {
        try {
          await admin.endOffsets(t.name);
          await admin.beginningOffsets(t.name);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    }
  } finally {
    await admin.disconnect();
  }
}
