/**
 * One running risk loop: the topology from processors/riskLoop.ts on the KafkaStreams runtime,
 * with Avro serdes through the schema registry, the rule file, and the model registry (seeded with
 * the model card from config, then driven by the model-releases topic). Used by `riskloop run`,
 * `riskloop replay`, the demo and the integration tests, so they all run the same thing.
 *
 * With `numStreamThreads` > 1 (RISKLOOP_STREAM_THREADS) the loop runs in that many worker threads
 * (topology/threads/, bin/riskLoopThread.ts), each a whole one-thread loop with its own consumer,
 * producer(s), tasks, state folder and copy of the global stores. The main thread then keeps what
 * the ops server reads: the StreamThreads client (state, tasks, merged metrics), a model registry
 * that applies every release a thread applied (so riskloop_model_info and the release events stay
 * right), the rule set whose reloads are passed on to every thread, and the loop counters summed
 * over the threads. With 1 thread nothing of this exists: the loop runs here, as before.
 */
import type { EventEmitter } from 'node:events';
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
import { StreamThreads } from '../topology/threads/streamThreads.js';
import type { ModelRelease } from '../schemas/types.js';
import type { IdempotencyCounters } from '../processors/idempotency.js';
import { encodeThreadData, type LoopThreadMessage, type LoopThreadReport, reviveRelease } from './riskLoopThread.js';
import type { Topology } from '../topology/topology.js';
import { type AppConfig, labelJoinTiming } from './config.js';
import { createRegistryClient } from '../schemas/registryClient.js';
import { screeningFromConfig } from '../processors/screening/fromConfig.js';
import type { ScreeningCounts } from '../processors/screening/kycScreening.js';

export interface RiskLoopApp {
  /** The loop's runtime: a KafkaStreams, or with numStreamThreads > 1 the client of its threads. */
  streams: KafkaStreams | StreamThreads;
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

export interface RiskLoopBuildOptions {
  /** A bounded run (replay): always one thread, since caught-up is known only to an instance owning every partition. */
  bounded?: boolean;
  loop?: Omit<RiskLoopConfigInput, 'applicationId'>;
  /** A client of the caller's (fault injection): one thread, as a function cannot reach a worker. */
  client?: (clientId: string) => KafkaClient;
}

export async function buildRiskLoopApp(config: AppConfig, logger: Logger, opts: RiskLoopBuildOptions = {}): Promise<RiskLoopApp> {
  const threads = opts.bounded || opts.client ? 1 : config.numStreamThreads;
  if (threads !== config.numStreamThreads) logger.warn({ numStreamThreads: config.numStreamThreads, bounded: Boolean(opts.bounded) }, 'this run uses one stream thread');
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
  const counters: Omit<LoopCounters, 'screening'> = { misrouted: new MisroutedCounters(), idempotency: newIdempotencyCounters() };
  // Sanctions/PEP screening of KYC holder names, when a list is configured (docs/screening.md); with
  // threads each thread screens its own tasks' records.
  const screening = threads === 1 ? screeningFromConfig(config, serdes.screeningHits, logger.child({ component: 'screening' })) : undefined;
  const topology = riskLoopTopology(
    riskLoopConfigFor(config, opts.loop),
    { catalogue, serdes: loopSerdes(serdes), tokenizer, rules, models, logger, misroutedCounters: counters.misrouted, idempotencyCounters: counters.idempotency, featureSet, ...(screening ? { screening: screening.deps } : {}) },
  );
  const { streams, loopCounters } = threads > 1 ? threadedStreams(threads) : singleStreams();
  return {
    streams,
    topology,
    models,
    rules,
    catalogue,
    serdes,
    tokenizer,
    counters: loopCounters,
    releases,
    async close() {
      screening?.stop();
      await streams.close();
      await models.close();
    },
  };

  function threadedStreams(n: number): { streams: RiskLoopApp['streams']; loopCounters: LoopCounters } {
    const streams = new StreamThreads({ numStreamThreads: n, module: new URL('./riskLoopThread.ts', import.meta.url), data: encodeThreadData(config, opts.loop ? { loop: opts.loop } : {}), logger });
    return { streams, loopCounters: mirrorThreads(streams, models, rules, logger, config.sanctionsListFile !== '') };
  }

  function singleStreams(): { streams: RiskLoopApp['streams']; loopCounters: LoopCounters } {
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
    return { streams, loopCounters: { ...counters, screening: screening?.deps.counters ?? null } };
  }
}

const IDEMPOTENCY_FIELDS: readonly (keyof IdempotencyCounters)[] = ['repeated', 'reused', 'notReplayable', 'retriesOfUndecided'];
const SCREENING_FIELDS: readonly (keyof ScreeningCounts)[] = ['screened', 'rescreened', 'hits', 'unopenable'];

/** Counters whose every field is the sum over the threads' reports, read at each access (a scrape). */
function summedView<T extends object>(fields: readonly (keyof T & string)[], value: (r: LoopThreadReport, field: keyof T & string) => number, reports: () => LoopThreadReport[]): T {
  const view = {};
  for (const field of fields) Object.defineProperty(view, field, { enumerable: true, get: () => reports().reduce((n, r) => n + value(r, field), 0) });
  return view as T;
}

/** Re-route counts summed over the threads' latest reports (and those of threads that died). */
class SummedMisrouted extends MisroutedCounters {
  constructor(private readonly reports: () => LoopThreadReport[]) {
    super();
  }
  override entries(): [topic: string, count: number][] {
    const sum = new Map<string, number>();
    for (const r of this.reports()) for (const [topic, n] of r.misrouted) sum.set(topic, (sum.get(topic) ?? 0) + n);
    return [...sum.entries()];
  }
  override get(topic: string): number {
    return this.entries().find(([t]) => t === topic)?.[1] ?? 0;
  }
}

/**
 * The main thread's side of a threaded loop: releases the threads applied are applied to the main
 * registry too (once each, in order), rule reloads go to every thread, and the loop counters are
 * the sum of the threads' reports.
 */
export function mirrorThreads(streams: Pick<EventEmitter, 'on'> & Pick<StreamThreads, 'broadcast'>, models: Pick<ModelRegistry, 'applyRelease'>, rules: Pick<RuleSetHolder, 'load'>, logger: Logger, screeningConfigured = false): LoopCounters {
  const seen = new Set<string>();
  let applying: Promise<unknown> = Promise.resolve();
  streams.on('threadMessage', (_index: number, payload: unknown) => {
    const m = payload as LoopThreadMessage;
    if (m.kind !== 'release') return;
    // Every thread applies every release (each has the global store): the first report counts.
    const key = `${m.release.version}|${m.release.mode}|${m.release.sha256}|${m.release.releasedAt}`;
    if (seen.has(key)) return;
    seen.add(key);
    const release: ModelRelease = reviveRelease(m.release);
    applying = applying.then(() => models.applyRelease(release, m.referenceValues)).catch((err: Error) => logger.error({ err: err.message, version: release.version }, 'main thread could not mirror a model release'));
  });
  const load = rules.load.bind(rules);
  rules.load = async (path, options) => {
    const next = await load(path, options);
    streams.broadcast({ kind: 'rules', path } satisfies LoopThreadMessage);
    return next;
  };
  const latest = new Map<number, LoopThreadReport>();
  const retired: LoopThreadReport[] = [];
  streams.on('threadReport', (index: number, report: unknown) => latest.set(index, report as LoopThreadReport));
  // A replacement starts counting from zero: keep what the dead thread had counted.
  streams.on('threadReplaced', (index: number) => {
    const last = latest.get(index);
    if (last) retired.push(last);
    latest.delete(index);
  });
  const reports = (): LoopThreadReport[] => [...retired, ...latest.values()];
  const idempotency = summedView<IdempotencyCounters>(IDEMPOTENCY_FIELDS, (r, f) => r.idempotency[f], reports);
  // Every thread screens its own tasks' KYC records when a list is configured, none when not.
  const screening = screeningConfigured ? summedView<ScreeningCounts>(SCREENING_FIELDS, (r, f) => r.screening?.[f] ?? 0, reports) : null;
  return { misrouted: new SummedMisrouted(reports), idempotency, screening };
}
