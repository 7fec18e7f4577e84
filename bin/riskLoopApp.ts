/**
 * One running risk loop: the topology from processors/riskLoop.ts on the KafkaStreams runtime,
 * with Avro serdes through the schema registry, the rule file, and the model registry (seeded with
 * the model card from config, then driven by the model-releases topic). Used by `riskloop run`,
 * `riskloop replay`, the demo and the integration tests, so they all run the same thing.
 */
import { newIdempotencyCounters } from '../processors/idempotency.js';
import { type LoopCounters } from '../ops/opsRuntime.js';
import { observeModelReleases, ReleaseEvents } from '../ops/releaseEvents.js';
import { readFile } from 'node:fs/promises';
import { MisroutedCounters } from '../processors/partitionCheck.js';
import type { Logger } from 'pino';
import { ModelRegistry, specFromModelCard } from '../processors/modelRegistry.js';
import { type RiskLoopConfigInput, type RiskLoopSerdes, riskLoopErrorHandlers, riskLoopTopology } from '../processors/riskLoop.js';
import { loadFeatureSet } from '../processors/featureSet/declaration.js';
import { RuleSetHolder } from '../processors/rules.js';
import { Tokenizer } from '../processors/tokenizer.js';
import { type Catalogue, buildCatalogue } from '../schemas/catalogue.js';
import { createSerdes, type TopicSerdes } from '../schemas/createSerdes.js';
import { parseStreamsConfig, type StreamsConfigInput } from '../topology/kafka/config.js';
import { KafkaStreams } from '../topology/kafka/kafkaStreams.js';
import type { KafkaClient } from '../topology/kafka/client.js';
import type { Topology } from '../topology/topology.js';
import { type AppConfig, labelJoinTiming } from './config.js';
import { createRegistryClient } from '../schemas/registryClient.js';
import { screeningFromConfig } from '../processors/screening/fromConfig.js';

export interface RiskLoopApp {
  streams: KafkaStreams;
  topology: Topology;
  models: ModelRegistry;
  rules: RuleSetHolder;
  catalogue: Catalogue;
  serdes: TopicSerdes;
  tokenizer: Tokenizer;
  /** Re-routed records and idempotency outcomes of the loop, for /metrics (ops/opsRuntime.ts). */
  counters: LoopCounters;
  /** Model releases and rule sets applied or refused, for /metrics and the charts (ops/releaseEvents.ts). */
  releases: ReleaseEvents;
  close(): Promise<void>;
}

export function loopSerdes(serdes: TopicSerdes): RiskLoopSerdes {
  return {
    transactions: serdes.transactions,
    kyc: serdes.kyc,
    deviceSignals: serdes.deviceSignals,
    chargebacks: serdes.chargebacks,
    analystOutcomes: serdes.analystOutcomes,
    challengeResults: serdes.challengeResults,
    decisions: serdes.decisions,
    trainingExamples: serdes.trainingExamples,
    modelReleases: serdes.modelReleases,
    deadLetters: serdes.deadLetters,
    entityStats: serdes.entityStats,
  };
}

/** The topology's configuration from the app's: label maturity and delay (bin/config.ts), stores, id; `loop` overrides. */
export function riskLoopConfigFor(config: AppConfig, loop: Omit<RiskLoopConfigInput, 'applicationId'> = {}): RiskLoopConfigInput {
  return {
    persistentStores: config.stores === 'rocksdb',
    // The child names are the topology's own (processors/riskLoop.ts).
    labelJoin: { trainingExamplesChild: 'training-examples-sink', unknownLabelsChild: 'unknown-labels', ...labelJoinTiming(config) },
    ...loop,
    applicationId: config.applicationId,
  };
}

export async function buildRiskLoopApp(
  config: AppConfig,
  logger: Logger,
  opts: { bounded?: boolean; loop?: Omit<RiskLoopConfigInput, 'applicationId'>; client?: (clientId: string) => KafkaClient } = {},
): Promise<RiskLoopApp> {
  const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const serdes = await createSerdes(createRegistryClient(config.registry), catalogue);
  const tokenizer = new Tokenizer(config.tokenizer);
  const rules = await RuleSetHolder.fromFile(config.rulesPath, {}, logger);
  const models = new ModelRegistry(logger.child({ component: 'models' }));
  // Before any model is installed: a model needing a feature this set does not produce is refused.
  const featureSet = await loadFeatureSet(config.featureSetPath);
  models.useFeatureSet(featureSet);
  logger.info({ featureSetVersion: featureSet.version, path: config.featureSetPath, features: featureSet.velocityNames.length + featureSet.crossEntityNames.length }, 'feature set loaded');
  // Before the runtime starts: the releases it replays at start are counted too.
  const releases = new ReleaseEvents();
  observeModelReleases(models, releases);
  releases.record({ kind: 'rules', version: rules.current().version, mode: 'start', outcome: 'applied', reason: null });
  if (config.modelCard) {
    const outcome = await models.setChampion(await specFromModelCard(config.modelCard));
    if (!outcome.accepted) throw new Error(`model ${config.modelCard} refused: ${outcome.reason}`);
    const card = JSON.parse(await readFile(config.modelCard, 'utf8')) as { referenceDistributions?: Parameters<ReleaseEvents['noteReferences']>[1] };
    releases.noteReferences(outcome.model.version, card.referenceDistributions ?? {});
  }
  for (const shadowCard of config.shadowModelCards) {
    const outcome = await models.setShadow(await specFromModelCard(shadowCard));
    if (!outcome.accepted) throw new Error(`shadow model ${shadowCard} refused: ${outcome.reason}`);
    const card = JSON.parse(await readFile(shadowCard, 'utf8')) as { referenceDistributions?: Parameters<ReleaseEvents['noteReferences']>[1] };
    releases.noteReferences(outcome.model.version, card.referenceDistributions ?? {});
  }
  const counters: LoopCounters = { misrouted: new MisroutedCounters(), idempotency: newIdempotencyCounters() };
  // Sanctions/PEP screening of KYC holder names, when a list is configured (docs/screening.md).
  const screening = screeningFromConfig(config, serdes.screeningHits, logger.child({ component: 'screening' }));
  const topology = riskLoopTopology(
    riskLoopConfigFor(config, opts.loop),
    { catalogue, serdes: loopSerdes(serdes), tokenizer, rules, models, logger, misroutedCounters: counters.misrouted, idempotencyCounters: counters.idempotency, featureSet, ...(screening ? { screening: screening.deps } : {}) },
  );
  const streamsConfig: StreamsConfigInput = {
    applicationId: config.applicationId,
    connection: config.kafka,
    processingGuarantee: config.guarantee,
    stateDir: config.stateDir,
    boundedInput: opts.bounded ?? false,
    ...(config.commitIntervalMs ? { commitIntervalMs: config.commitIntervalMs } : {}),
    ...(config.instanceId ? { instanceId: config.instanceId } : {}),
  };
  const streams = new KafkaStreams(
    topology,
    streamsConfig,
    {
      logger,
      // A client of the caller's (bin/faultInjection.ts wraps the default one); the runtime's own otherwise.
      ...(opts.client ? { client: opts.client(parseStreamsConfig(streamsConfig).clientId) } : {}),
      // The side-only build (a replay's first phase) reads the same inputs as the hot phase after it,
      // which writes the dead letters; here a bad record is only skipped.
      errorHandlers:
        opts.loop?.parts === 'side'
          ? { deserialization: () => 'CONTINUE', processing: () => 'CONTINUE', production: () => 'FAIL' }
          : riskLoopErrorHandlers(catalogue, serdes.deadLetters, tokenizer),
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
    counters,
    releases,
    async close() {
      screening?.stop();
      await streams.close();
      await models.close();
    },
  };
}
