/**
 * The risk loop's wiring: which topic feeds which step, which store each step owns. Read this
 * file with topology/ and you can draw the graph (`riskloop describe` prints it).
 *
 *   transactions ─► ingress ─► velocity ─► enrich ─► cross-entity ─► rules ─► score ─► decide ─► decision-snapshot ─► decisions
 *                     │  │                   ▲           ▲                                              │
 *                     │  └─► dead-letters    │           │ entity-stats (global) ◄─ entity-stats-table   │ (snapshot stores)
 *                     │                      │ kyc store ◄─ kyc-table ◄─ kyc                             ▼
 *                     │                      │ devices (global) ◄─ device-signals              label-join ─► training-examples
 *                     └─► entity-activity ─┬─► [entity-activity repartition] ─► entity-aggregate ─► entity-stats topic
 *                                          └─► [label-attribution repartition] ─► label-attribution ─┘ (fraud labels by merchant)
 *   chargebacks ─► chargebacks-tokenize ─┬──────────────────────────────────────────────────► label-join
 *   analyst-outcomes ────────────────────┼──────────────────────────────────────────────────►     └─► unknown-labels ─► dead-letters
 *                                        └─► label-attribution-keys ─► [label-attribution repartition]
 *   model-releases (global) ─► model-release ─► ModelRegistry (used by score)
 *
 * Everything account-keyed is co-partitioned by account token, so the hot path is one
 * sub-topology: a transaction reaches its decision without a repartition hop, and its labels come
 * back to the task that holds its snapshot. Device, IP and merchant statistics need other keys:
 * they are computed in side sub-topologies behind repartition topics and come back as the global
 * `entity-stats` table, which the hot path reads as of each transaction's event time minus a lag
 * and never waits for (processors/crossEntity/).
 *
 * `parts` builds the whole loop ('all', what `riskloop run` runs), the hot path with the global
 * tables only ('hot'), or the side sub-topologies only ('side'): a replay runs 'side' to the end
 * first, then 'hot' on tables that are complete (bin/replay.ts).
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { type IdentifierProtection, buildDeadLetter, redactorFor, scrubText } from '../schemas/deadLetter.js';
import type { Catalogue } from '../schemas/catalogue.js';
import type {
  AnalystOutcome,
  ChallengeResult,
  Chargeback,
  Decision,
  DeadLetter,
  DeviceSignal,
  EntityStats,
  KycRecord,
  ModelRelease,
  TrainingExample,
  Transaction,
} from '../schemas/types.js';
import { deadLetterPerRecordProductionErrors, type DeadLetterEncoder, type ErrorHandlers } from '../topology/errors.js';
import type { Processor, ProcessorContext } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes, type Serde } from '../topology/serde.js';
import { Topology, repartitionTopicName } from '../topology/topology.js';
import { ChallengesConfig, challengeFeaturesProcessor, challengeHistoryProcessor, challengeHistoryStore } from './challenges.js';
import { CrossEntityConfig } from './crossEntity/buckets.js';
import { crossEntityFeaturesProcessor } from './crossEntity/features.js';
import { CrossEntityNodes, addCrossEntitySide, addCrossEntityTable } from './crossEntity/wiring.js';
import { DecideConfig, DecideProcessor } from './decide.js';
import { type FeatureSet, defaultFeatureSet } from './featureSet/declaration.js';
import { DeviceTableConfig, addDeviceTable } from './deviceTable.js';
import { enrichProcessor } from './enrich.js';
import { FirstSightProcessor, type IdempotencyCounters, inFlightStore, newIdempotencyCounters, seenIdsStore, transactionIdProcessor } from './idempotency.js';
import { IngressConfig, ingressProcessor } from './ingress.js';
import { addKycTable } from './kycTable.js';
import { LabelJoinConfig, type UnmatchedLabel, addLabelJoin } from './labelJoin.js';
import { MisroutedCounters, REROUTED_TOPIC_BASE, type Rerouted, partitionCheckProcessor, reroutedProcessor } from './partitionCheck.js';
import { chargebackIngressProcessor } from './chargebackIngress.js';
import type { ModelRegistry } from './modelRegistry.js';
import { modelReleaseProcessor, modelReleasesStore } from './modelReleases.js';
import { RulesProcessor, type RuleSetHolder } from './rules.js';
import { ScoringConfig, ScoringProcessor } from './scoring.js';
import { kycForReroute } from './screening/kycScreening.js';
import { type ScreeningDeps, ScreeningNodes, addScreeningOutputs, kycScreeningStep } from './screening/wiring.js';
import type { Tokenizer } from './tokenizer.js';
import { StoreNames } from './types.js';
import { VelocityConfig, velocityFeaturesProcessor, velocityStoreBuilders } from './velocityFeatures.js';

export const RiskLoopConfig = z.object({
  applicationId: z.string().default('riskloop'),
  ingress: IngressConfig.prefault({}),
  velocity: VelocityConfig.prefault({}),
  deviceTable: DeviceTableConfig.prefault({}),
  /** Device / IP / merchant velocity and merchant fraud risk (lags, retention, volume guard). */
  crossEntity: CrossEntityConfig.prefault({}),
  /** Which part of the loop to build: everything, the hot path with its global tables, or the side sub-topologies. */
  parts: z.enum(['all', 'hot', 'side']).default('all'),
  scoring: ScoringConfig.prefault({}),
  decide: DecideConfig.prefault({ defaultThresholds: { review: 0.5, decline: 0.9 } }),
  /** Step-up results kept per account (processors/challenges.ts). */
  challenges: ChallengesConfig.prefault({}),
  labelJoin: LabelJoinConfig.prefault({ trainingExamplesChild: 'training-examples-sink', unknownLabelsChild: 'unknown-labels' }),
  /** RocksDB stores (default) or in-memory ones (tests, quick demos). */
  persistentStores: z.boolean().default(true),
  /**
   * Partition count the wrong-partition check expects of the account-keyed inputs
   * (partitionCheck.ts); default the catalogue's.
   */
  accountPartitions: z.number().int().positive().optional(),
});
export type RiskLoopConfigInput = z.input<typeof RiskLoopConfig>;
export type RiskLoopConfig = z.output<typeof RiskLoopConfig>;

/** The value serdes of the topics the loop touches (Avro with the registry in production). */
export interface RiskLoopSerdes {
  transactions: Serde<Transaction>;
  kyc: Serde<KycRecord>;
  deviceSignals: Serde<DeviceSignal>;
  chargebacks: Serde<Chargeback>;
  analystOutcomes: Serde<AnalystOutcome>;
  challengeResults: Serde<ChallengeResult>;
  decisions: Serde<Decision>;
  trainingExamples: Serde<TrainingExample>;
  modelReleases: Serde<ModelRelease>;
  deadLetters: Serde<DeadLetter>;
  entityStats: Serde<EntityStats>;
}

export interface RiskLoopDeps {
  catalogue: Catalogue;
  serdes: RiskLoopSerdes;
  tokenizer: Tokenizer;
  rules: RuleSetHolder;
  models: ModelRegistry;
  logger: Logger;
  /** Retries answered, ids reused (idempotency.ts); a fresh object when not given. */
  idempotencyCounters?: IdempotencyCounters;
  /** Records re-routed to the task owning their key, per source topic (partitionCheck.ts). */
  misroutedCounters?: MisroutedCounters;
  /** The declared features the hot path computes (processors/featureSet/); the shipped features/default.json when not given. */
  featureSet?: FeatureSet;
  /** Sanctions/PEP screening of KYC holder names (processors/screening/); none when not given. */
  screening?: ScreeningDeps;
}

/** Node names; the decisions and training sinks are what consumers of the loop read. */
export const Nodes = {
  transactions: 'transactions-source',
  ingress: 'ingress',
  ingressDeadLetters: 'ingress-dead-letters',
  transactionIds: 'transaction-ids',
  idempotencyDeadLetters: 'idempotency-dead-letters',
  velocity: 'velocity',
  enrich: 'enrich',
  crossEntity: CrossEntityNodes.features,
  rules: 'rules',
  score: 'score',
  decide: 'decide',
  decisionSnapshot: 'decision-snapshot',
  decisionsSink: 'decisions-sink',
  chargebacks: 'chargebacks-source',
  chargebacksTokenize: 'chargebacks-tokenize',
  chargebackDeadLetters: 'chargeback-dead-letters',
  analystOutcomes: 'analyst-outcomes-source',
  analystOutcomesCheck: 'analyst-outcomes-check',
  challengeResults: 'challenge-results-source',
  challengeResultsCheck: 'challenge-results-check',
  challengeHistory: 'challenge-history',
  challengeFeatures: 'challenge-features',
  kycCheck: 'kyc-partition-check',
  kycTable: 'kyc-table',
  reroutedSink: 'rerouted-sink',
  reroutedSource: 'rerouted-source',
  rerouted: 'rerouted',
  labelJoin: 'label-join',
  trainingSink: 'training-examples-sink',
  unknownLabels: 'unknown-labels',
  labelDeadLetters: 'label-dead-letters',
} as const;

const byEventTime = (r: { value: unknown; timestamp: number }, field: string): number => {
  const v = r.value as { [k: string]: unknown } | null;
  const t = v?.[field];
  return typeof t === 'number' ? t : r.timestamp;
};

export function riskLoopTopology(configInput: RiskLoopConfigInput, deps: RiskLoopDeps): Topology {
  const config = RiskLoopConfig.parse(configInput);
  const { catalogue: topics, serdes } = deps;
  const storeOptions = { persistent: config.persistentStores };
  const t = new Topology({ applicationId: config.applicationId });
  const hot = config.parts !== 'side';
  const side = config.parts !== 'hot';
  const idempotencyCounters = deps.idempotencyCounters ?? newIdempotencyCounters();
  const featureSet = deps.featureSet ?? defaultFeatureSet();
  // Partitions matter only where account state lives: the hot path. The side-only build keys by entity.
  const check = hot ? { partitions: config.accountPartitions ?? topics.transactions.partitions, counters: deps.misroutedCounters ?? new MisroutedCounters(), rerouteChild: Nodes.reroutedSink } : undefined;
  const reroutedTopic = repartitionTopicName(config.applicationId, REROUTED_TOPIC_BASE);
  const reroutedSerdes = { keySerde: Serdes.String, valueSerde: Serdes.Json<Rerouted>() };

  // Hot path. Ingress checks event time against the Kafka record timestamp, so the raw source keeps
  // the record-timestamp extractor; everything after ingress runs on the transaction's event time.
  t.addSource(Nodes.transactions, topics.transactions.name, { keySerde: Serdes.String, valueSerde: serdes.transactions })
    .addProcessor(
      Nodes.ingress,
      ingressProcessor(config.ingress, { tokenizer: deps.tokenizer, encodeOriginal: (v) => serdes.transactions.serialize(v, topics.transactions.name), ...(check ? { partitionCheck: check } : {}) }),
      Nodes.transactions,
    );
  if (hot) {
    // Records that reached the wrong task come back here, on the task that owns their key.
    t.addSource(Nodes.reroutedSource, reroutedTopic, reroutedSerdes)
      .addProcessor(Nodes.rerouted, reroutedProcessor({ transaction: [Nodes.transactionIds], kyc: [deps.screening ? ScreeningNodes.kycScreening : Nodes.kycTable], label: [Nodes.labelJoin, CrossEntityNodes.labelKeys], challenge: [Nodes.challengeHistory] }), Nodes.reroutedSource)
      .addRepartitionTopic(reroutedTopic);
  }
  if (hot) {
    t.addSink(Nodes.ingressDeadLetters, topics.deadLetters.name, { keySerde: Serdes.String, valueSerde: serdes.deadLetters }, Nodes.ingress);
  } else {
    // The side-only build (first phase of a replay) reads the same transactions as the hot phase
    // after it: dead letters are the hot phase's to write, once.
    t.addProcessor(Nodes.ingressDeadLetters, () => new DropRecords(), Nodes.ingress);
  }
  if (hot) {
    // Idempotency by transaction id before anything counts the transaction (idempotency.ts).
    t.addProcessor(Nodes.transactionIds, transactionIdProcessor({ decisionsChild: Nodes.decisionsSink, deadLetterChild: Nodes.idempotencyDeadLetters }, idempotencyCounters), Nodes.ingress, Nodes.rerouted);
    t.addProcessor(Nodes.velocity, velocityFeaturesProcessor(config.velocity, featureSet), Nodes.transactionIds);
    for (const store of velocityStoreBuilders(config.velocity, storeOptions)) t.addStateStore(store, [Nodes.velocity]);
    t.addProcessor(Nodes.enrich, enrichProcessor(), Nodes.velocity);
    addKycTable(t, {
      topic: topics.kyc.name,
      valueSerde: serdes.kyc,
      timestampExtractor: (r) => byEventTime(r, 'updatedAt'),
      storeOptions,
      readers: [Nodes.enrich],
      processorName: Nodes.kycTable,
      // A table: a misrouted tombstone is re-routed too, so that the delete happens where the row is.
      check: { name: Nodes.kycCheck, supplier: partitionCheckProcessor<KycRecord>({ ...check!, wrap: (value) => ({ kind: 'kyc', value: kycForReroute(deps.screening?.sealer ?? null)(value) }), tombstones: 'forward', what: 'kyc' }) },
      extraParents: [Nodes.rerouted],
      ...(deps.screening ? { screen: kycScreeningStep(deps.screening, Nodes.kycTable) } : {}),
    });
    addDeviceTable(t, {
      topic: topics.deviceSignals.name,
      valueSerde: serdes.deviceSignals,
      config: config.deviceTable,
      timestampExtractor: (r) => byEventTime(r, 'eventTime'),
      storeOptions: { persistent: config.persistentStores },
    });
    t.addProcessor(Nodes.challengeFeatures, challengeFeaturesProcessor(), Nodes.enrich);
    const beforeCrossEntity = deps.screening
      ? addScreeningOutputs(t, { hitsTopic: topics.screeningHits.name, deps: deps.screening, factsParent: Nodes.challengeFeatures, storeOptions })
      : Nodes.challengeFeatures;
    t.addProcessor(Nodes.crossEntity, crossEntityFeaturesProcessor(deps.tokenizer, config.crossEntity, featureSet), beforeCrossEntity)
      .addProcessor(Nodes.rules, () => new RulesProcessor(deps.rules), Nodes.crossEntity)
      .addProcessor(Nodes.score, () => new ScoringProcessor(deps.models, config.scoring), Nodes.rules)
      .addProcessor(Nodes.decide, () => new DecideProcessor(config.decide, (v) => deps.models.thresholdsFor(v)), Nodes.score);
  }

  // Labels come back to the task that holds the decision snapshot.
  t.addSource(Nodes.chargebacks, topics.chargebacks.name, {
    keySerde: Serdes.String,
    valueSerde: serdes.chargebacks,
    timestampExtractor: (r) => byEventTime(r, 'reportedAt'),
  })
    .addProcessor(
      Nodes.chargebacksTokenize,
      chargebackIngressProcessor({
        tokenizer: deps.tokenizer,
        deadLetterChild: Nodes.chargebackDeadLetters,
        encodeOriginal: (v) => serdes.chargebacks.serialize(v, topics.chargebacks.name),
        ...(check ? { partitionCheck: check } : {}),
      }),
      Nodes.chargebacks,
    )
    .addSource(Nodes.analystOutcomes, topics.analystOutcomes.name, {
      keySerde: Serdes.String,
      valueSerde: serdes.analystOutcomes,
      timestampExtractor: (r) => byEventTime(r, 'decidedAt'),
    })
    .addSource(Nodes.challengeResults, topics.challengeResults.name, {
      keySerde: Serdes.String,
      valueSerde: serdes.challengeResults,
      timestampExtractor: (r) => byEventTime(r, 'completedAt'),
    });
  if (hot) t.addSink(Nodes.chargebackDeadLetters, topics.deadLetters.name, { keySerde: Serdes.String, valueSerde: serdes.deadLetters }, Nodes.chargebacksTokenize);
  else t.addProcessor(Nodes.chargebackDeadLetters, () => new DropRecords(), Nodes.chargebacksTokenize);
  const labelParents = hot
    ? [Nodes.chargebacksTokenize, Nodes.analystOutcomesCheck, Nodes.challengeHistory, Nodes.rerouted]
    : [Nodes.chargebacksTokenize, Nodes.analystOutcomes, Nodes.challengeResults];
  if (hot) {
    t.addProcessor(
      Nodes.analystOutcomesCheck,
      partitionCheckProcessor<AnalystOutcome>({ ...check!, wrap: (value) => ({ kind: 'analyst-outcome', value: value! }), tombstones: 'reject', what: 'analyst outcome' }),
      Nodes.analystOutcomes,
    )
      .addProcessor(
        Nodes.challengeResultsCheck,
        partitionCheckProcessor<ChallengeResult>({ ...check!, wrap: (value) => ({ kind: 'challenge-result', value: value! }), tombstones: 'reject', what: 'challenge result' }),
        Nodes.challengeResults,
      )
      .addProcessor(Nodes.challengeHistory, challengeHistoryProcessor(config.challenges), Nodes.challengeResultsCheck, Nodes.rerouted)
      .addStateStore(challengeHistoryStore(storeOptions), [Nodes.challengeHistory, Nodes.challengeFeatures])
      .addSink(Nodes.reroutedSink, reroutedTopic, reroutedSerdes, Nodes.ingress, Nodes.kycCheck, Nodes.chargebacksTokenize, Nodes.analystOutcomesCheck, Nodes.challengeResultsCheck);
    addLabelJoin(t, {
      decisionParent: Nodes.decide,
      labelParents,
      config: config.labelJoin,
      storeOptions,
      idempotency: { decisionsChild: Nodes.decisionsSink, deadLetterChild: Nodes.idempotencyDeadLetters, counters: idempotencyCounters },
    });
    t.connectProcessorAndStateStores([Nodes.transactionIds, StoreNames.decisionSnapshots], [Nodes.transactionIds, StoreNames.snapshotIndex])
      .addStateStore(inFlightStore(), [Nodes.transactionIds, Nodes.decisionSnapshot])
      .addSink(Nodes.decisionsSink, topics.decisions.name, { keySerde: Serdes.String, valueSerde: serdes.decisions }, Nodes.decisionSnapshot, Nodes.transactionIds)
      .addSink(Nodes.idempotencyDeadLetters, topics.deadLetters.name, { keySerde: Serdes.String, valueSerde: serdes.deadLetters }, Nodes.transactionIds, Nodes.decisionSnapshot)
      .addSink(config.labelJoin.trainingExamplesChild, topics.trainingExamples.name, { keySerde: Serdes.String, valueSerde: serdes.trainingExamples }, Nodes.labelJoin)
      .addProcessor(config.labelJoin.unknownLabelsChild, () => new UnmatchedLabelDeadLetter(deps.tokenizer), Nodes.labelJoin)
      .addSink(Nodes.labelDeadLetters, topics.deadLetters.name, { keySerde: Serdes.String, valueSerde: serdes.deadLetters }, config.labelJoin.unknownLabelsChild);
  }

  // Device / IP / merchant statistics: side sub-topologies out, a global table back in.
  if (side && !hot) {
    // The side-only build counts each transaction id once too (idempotency.ts, FirstSightProcessor).
    t.addProcessor(Nodes.transactionIds, () => new FirstSightProcessor(), Nodes.ingress).addStateStore(seenIdsStore(), [Nodes.transactionIds]);
  }
  if (side) {
    addCrossEntitySide(t, {
      // After the transaction-id check (a retry is counted once), in every build.
      ingress: Nodes.transactionIds,
      labelParents,
      statsTopic: topics.entityStats.name,
      statsSerde: serdes.entityStats,
      tokenizer: deps.tokenizer,
      config: config.crossEntity,
      storeOptions,
    });
  }
  if (hot) {
    addCrossEntityTable(t, { statsTopic: topics.entityStats.name, statsSerde: serdes.entityStats, storeOptions: { persistent: config.persistentStores } });

    // Model releases: every instance applies every release, in topic order.
    t.addGlobalStore(
      modelReleasesStore(),
      'model-releases-source',
      { keySerde: Serdes.String, valueSerde: serdes.modelReleases },
      topics.modelReleases.name,
      'model-release',
      modelReleaseProcessor(deps.models, deps.logger.child({ component: 'model-releases' })),
    );
  }
  return t;
}

/** Drops what it receives (the side-only build's stand-in for the ingress dead-letter sink). */
class DropRecords implements Processor<unknown, unknown> {
  process(): void {}
}

/** A label for a transaction this loop has no snapshot of becomes a dead letter with its reason. */
class UnmatchedLabelDeadLetter implements Processor<string, UnmatchedLabel, string, DeadLetter> {
  private ctx!: ProcessorContext<string, DeadLetter>;
  constructor(private readonly protect: IdentifierProtection) {}
  init(ctx: ProcessorContext<string, DeadLetter>): void {
    this.ctx = ctx;
  }
  process(r: Record<string, UnmatchedLabel>): void {
    const where = this.ctx.recordMetadata();
    const letter = buildDeadLetter(
      {
        sourceTopic: where?.topic ?? 'unknown',
        partition: where?.partition ?? -1,
        offset: where?.offset ?? -1,
        key: r.key === null ? null : Buffer.from(r.key, 'utf8'),
        // The label is already tokenized: no PAN, no clear account id.
        value: Buffer.from(JSON.stringify(r.value.label), 'utf8'),
        headers: {},
        processor: Nodes.labelJoin,
        error: Object.assign(new Error(`label for a transaction without a decision snapshot (${r.value.reason})`), { reason: r.value.reason }),
        reason: r.value.reason,
      },
      // Keys and headers by the identifier rule; the value is the tokenized label.
      { ...redactorFor({ containsPan: true }), protect: this.protect },
    );
    this.ctx.forward({ key: `${letter.sourceTopic}/${letter.partition}/${letter.offset}`, value: letter, timestamp: r.timestamp, headers: {} });
  }
}

/**
 * Error handlers of the loop: a record that cannot be decoded or processed becomes a dead letter
 * (Avro DeadLetter, PAN-masked whatever topic it came from) and the partition goes on. A record
 * that cannot be produced because of itself (too large for its topic, refused by it, not
 * serializable) becomes a dead letter too, reduced when the full one would be too large
 * (deadLetterPerRecordProductionErrors); any other production failure fails the task.
 */
export function riskLoopErrorHandlers(catalogue: Catalogue, deadLetterSerde: Serde<DeadLetter>, protect: IdentifierProtection): ErrorHandlers {
  const redact = redactorFor({ containsPan: true });
  // Topics only the loop writes hold tokens, never a clear identifier: their bytes are kept for
  // diagnosis. Any other source (what outside producers write, or unknown) is described, not copied.
  const loopWritten = new Set([catalogue.transactionsTokenized, catalogue.chargebacksTokenized, catalogue.decisions, catalogue.trainingExamples, catalogue.entityStats, catalogue.alerts, catalogue.deadLetters].map((t) => t.name));
  const keepsValue = (topic: string | null): boolean => topic !== null && (loopWritten.has(topic) || topic.endsWith('-repartition') || topic.endsWith('-changelog'));
  const encoder: DeadLetterEncoder = {
    encode(dl) {
      const letter = buildDeadLetter(
        {
          sourceTopic: dl.sourceTopic ?? 'unknown',
          partition: dl.partition ?? -1,
          offset: dl.offset ?? -1,
          key: dl.key,
          value: dl.value,
          headers: dl.headers,
          processor: dl.processor,
          error: Object.assign(new Error(dl.message), { name: dl.errorClass, reason: dl.reason }),
          reason: dl.reason,
          ...(dl.reduced ? { reduced: dl.reduced } : {}),
        },
        { ...redact, protect, value: keepsValue(dl.sourceTopic) ? 'keep' : 'describe' },
      );
      return {
        key: Buffer.from(`${letter.sourceTopic}/${letter.partition}/${letter.offset}`, 'utf8'),
        value: deadLetterSerde.serialize(letter, catalogue.deadLetters.name),
      };
    },
  };
  return {
    deserialization: () => 'DEAD_LETTER',
    processing: () => 'DEAD_LETTER',
    production: deadLetterPerRecordProductionErrors,
    deadLetterTopic: catalogue.deadLetters.name,
    deadLetterEncoder: encoder,
    // The task logs each dead letter (reason, topic/partition/offset); its error text is masked like the letter's.
    redactLogText: (text) => scrubText(text),
    digest: (bytes) => protect.deadLetterDigest(bytes),
  };
}
