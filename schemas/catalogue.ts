/**
 * Every topic of the risk loop in one place: name, what it carries, key, value schema, partitions,
 * cleanup policy and retention. `riskloop topics create` creates exactly this, and `createSerdes`
 * builds one Avro value serde per entry.
 *
 * Partitioning: every topic keyed by account token has the same partition count (`partitions`),
 * because the hot path joins them partition by partition (co-partitioning): raw and tokenised
 * transactions, KYC, raw and tokenised chargebacks, analyst outcomes, decisions and training
 * examples. The raw ingress topics are keyed by the account token too, not the clear account id:
 * producers compute it with riskloop's producer SDK (HMAC under the non-rotating account-token
 * key), so ingress runs in the same task as the rest of the hot path and a transaction never
 * crosses a repartition topic on its way to its decision. Their values still hold the clear account
 * id (and, for transactions, the PAN) as ingress-only fields: ingress checks that the key is the
 * token of that account id. Model releases use one partition: scorers must see releases in one
 * total order.
 *
 * All catalogue topics carry Avro registered under `<topic>-value` (TopicNameStrategy), and keys
 * are UTF-8 strings (ids and tokens), not registered. `public` marks a topic as a contract with
 * systems outside the loop (schema changes go through compatibility review); internal topics are
 * written and read only by the loop. Changelog and repartition topics of state stores are not
 * listed here: the runtime creates them with its own naming.
 */
import { z } from 'zod';
import { Serdes } from '../topology/serde.js';
import type { SchemaName } from './types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const CatalogueConfig = z.object({
  /** Prepended to every topic name; lets several loops (or tests) share a cluster. */
  prefix: z
    .string()
    .max(100)
    .regex(/^[A-Za-z0-9._-]*$/, 'topic prefix may only contain letters, digits, ".", "_" and "-"')
    .default('riskloop.'),
  /** Partition count of every co-partitioned (account-keyed) topic. Cannot be changed later without re-keying. */
  partitions: z.number().int().min(1).max(10_000).default(6),
  /** Replication factor for created topics; unset means the broker's default.replication.factor. */
  replicationFactor: z.number().int().min(1).optional(),
  /**
   * Keep every record of the delete-policy topics (retention.ms=-1) instead of the catalogue's
   * retention. For simulations, demos and tests that publish months-old event times: retention
   * counts from the record timestamp, so the broker would delete such history within minutes.
   * Never for production: the raw transactions topic's short retention is what bounds how long a
   * PAN stays on disk.
   */
  keepHistory: z.boolean().default(false),
});
export type CatalogueConfig = z.output<typeof CatalogueConfig>;

export type CleanupPolicy = 'delete' | 'compact';

interface TopicDef {
  suffix: string;
  carries: string;
  /** What the (string) key is. */
  key: string;
  valueSchema: SchemaName;
  /** 'hot' = the co-partitioned count from config. */
  partitions: 'hot' | number;
  cleanupPolicy: CleanupPolicy;
  /** For delete topics; null for compacted tables (they keep the latest value per key forever). */
  retentionMs: number | null;
  public: boolean;
  containsPan: boolean;
  /** Extra topic configs beyond cleanup.policy and retention.ms. */
  extraConfigs?: Record<string, string>;
}

const TOPIC_DEFS = {
  transactions: {
    suffix: 'transactions',
    carries: 'Raw card authorisations from the acquiring gateway, with the PAN and clear account id in the value. Read only by the ingress tokeniser.',
    // Computed by the producer SDK; ingress rejects a record whose key is not the token of its accountId.
    key: 'accountToken',
    valueSchema: 'Transaction',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    // PCI DSS: keep the PAN no longer than needed. One day lets the tokeniser survive an outage of
    // hours; anything older is useless to a real-time loop anyway.
    retentionMs: 1 * DAY,
    public: true,
    containsPan: true,
    // Retention deletes whole closed segments only, and segments roll after 7 days by default: without
    // a short segment.ms the PAN would stay on disk for a week regardless of retention.ms.
    extraConfigs: { 'segment.ms': String(1 * HOUR) },
  },
  transactionsTokenized: {
    suffix: 'transactions-tokenized',
    carries: 'Transactions after ingress: PAN and account id replaced by HMAC tokens, BIN and last 4. Input of features, rules and scoring.',
    key: 'accountToken',
    valueSchema: 'TokenizedTransaction',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    // Enough to replay a week of feature computation after a bug fix; state lives in changelogs.
    retentionMs: 7 * DAY,
    public: false,
    containsPan: false,
  },
  kyc: {
    suffix: 'kyc',
    carries:
      'Latest KYC/KYB facts per account (table). May carry the holder name for screening (KycRecord.holderName): personal data that the loop screens at ingress and keeps only sealed; producers that send names should know the compacted topic keeps the latest record per account.',
    key: 'accountToken',
    valueSchema: 'KycRecord',
    partitions: 'hot',
    cleanupPolicy: 'compact',
    retentionMs: null,
    public: true,
    containsPan: false,
  },
  deviceSignals: {
    suffix: 'device-signals',
    carries:
      'Device signals from the app/web SDK. The device table is a history per device (first seen, flag runs, accounts seen), read as of each transaction: a stream kept for a year, not a compacted table, because compaction would keep only the latest signal and a restarted instance would rebuild a different table than the one it decided with.',
    key: 'deviceId',
    valueSchema: 'DeviceSignal',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    retentionMs: 400 * DAY,
    public: true,
    containsPan: false,
  },
  chargebacks: {
    suffix: 'chargebacks',
    carries: 'Raw chargebacks from the card network with the clear account id in the value. Read only by the ingress tokeniser.',
    key: 'accountToken',
    valueSchema: 'Chargeback',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    // No PAN here, so a longer buffer than raw transactions: chargebacks trickle in and an outage over
    // a weekend must not lose labels. Still short, since the clear account id is ingress-only.
    retentionMs: 7 * DAY,
    public: true,
    containsPan: false,
    extraConfigs: { 'segment.ms': String(1 * DAY) },
  },
  chargebacksTokenized: {
    suffix: 'chargebacks-tokenized',
    carries: 'Chargebacks after ingress, keyed by account token, co-partitioned with decisions for the label join.',
    key: 'accountToken',
    valueSchema: 'TokenizedChargeback',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    // Same label horizon as decisions, so the label join can be replayed from the topics.
    retentionMs: 180 * DAY,
    public: false,
    containsPan: false,
  },
  analystOutcomes: {
    suffix: 'analyst-outcomes',
    carries: 'Analyst verdicts (FRAUD/LEGITIMATE) on transactions, mostly ones sent to REVIEW.',
    key: 'accountToken',
    valueSchema: 'AnalystOutcome',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    retentionMs: 180 * DAY,
    public: true,
    containsPan: false,
  },
  challengeResults: {
    suffix: 'challenge-results',
    carries: 'Results (PASSED/FAILED/ABANDONED) of the step-up challenges CHALLENGE decisions asked for, from the gateway or the 3DS server.',
    key: 'accountToken',
    valueSchema: 'ChallengeResult',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    retentionMs: 180 * DAY,
    public: true,
    containsPan: false,
  },
  decisions: {
    suffix: 'decisions',
    carries: 'One decision per transaction with reason codes, model version and the exact feature snapshot.',
    key: 'accountToken',
    valueSchema: 'Decision',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    // Card-network chargeback windows run to ~120 days after the transaction; 180 days lets the label
    // join be rebuilt from this topic. Long-term audit storage is a sink's job, not Kafka's.
    retentionMs: 180 * DAY,
    public: true,
    containsPan: false,
  },
  trainingExamples: {
    suffix: 'training-examples',
    carries: 'Feature snapshots joined with their labels (chargeback, analyst, maturity), including corrections.',
    key: 'accountToken',
    valueSchema: 'TrainingExample',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    // Trainers want two years of seasonality and can rebuild datasets from the topic itself.
    retentionMs: 730 * DAY,
    public: true,
    containsPan: false,
  },
  modelReleases: {
    suffix: 'model-releases',
    carries: 'Model versions with thresholds, mode (champion/shadow/canary) and drift references (table).',
    key: 'version',
    valueSchema: 'ModelRelease',
    partitions: 1,
    cleanupPolicy: 'compact',
    retentionMs: null,
    public: true,
    containsPan: false,
    // Inline ONNX artifacts can be several MB; the broker default max.message.bytes is ~1 MB.
    extraConfigs: { 'max.message.bytes': String(16 * 1024 * 1024) },
  },
  deadLetters: {
    suffix: 'dead-letters',
    carries: 'Records a processor could not handle, with source position and reason; PANs masked.',
    key: 'sourceTopic/partition/offset',
    valueSchema: 'DeadLetter',
    // As many partitions as the hot path: a poison-record storm is as large as the traffic causing it.
    partitions: 'hot',
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    public: false,
    containsPan: false,
  },
  entityStats: {
    suffix: 'entity-stats',
    carries:
      'Bucketed activity per device, IP and merchant (counts, sums, distinct accounts, merchant fraud labels by arrival day), written by the cross-entity side sub-topology and read back by every instance as a global table (processors/crossEntity/).',
    key: 'entityKey',
    valueSchema: 'EntityStats',
    partitions: 'hot',
    // A table: the latest series per entity. Each series prunes its own old buckets.
    cleanupPolicy: 'compact',
    retentionMs: null,
    public: false,
    containsPan: false,
  },
  screeningHits: {
    suffix: 'screening-hits',
    carries:
      'New sanctions/PEP screening hits per account (list entry, score, token-level explanation, holder name only sealed), from KYC arrival and from re-screens on a new list version; consumed by the review queue as cases (processors/screening/).',
    key: 'accountToken',
    valueSchema: 'ScreeningHit',
    partitions: 'hot',
    cleanupPolicy: 'delete',
    // A hit is worked by an analyst within days; compliance records of the decision live in the case
    // system. Same horizon as the other review inputs.
    retentionMs: 180 * DAY,
    public: true,
    containsPan: false,
  },
  alerts: {
    suffix: 'alerts',
    carries: 'Drift and health alerts (feature/score PSI, decline rate, latency, dead-letter rate).',
    key: 'subject',
    valueSchema: 'Alert',
    partitions: 1,
    cleanupPolicy: 'delete',
    retentionMs: 30 * DAY,
    public: true,
    containsPan: false,
  },
} as const satisfies Record<string, TopicDef>;

export type TopicId = keyof typeof TOPIC_DEFS;
export const TOPIC_IDS = Object.keys(TOPIC_DEFS) as TopicId[];

export interface TopicSpec<N extends SchemaName = SchemaName> {
  id: TopicId;
  name: string;
  carries: string;
  key: string;
  valueSchema: N;
  partitions: number;
  replicationFactor?: number;
  cleanupPolicy: CleanupPolicy;
  retentionMs: number | null;
  public: boolean;
  containsPan: boolean;
  /** Topic-level configs to create the topic with (string values, as Kafka wants them). */
  configs: Record<string, string>;
}

export type ValueSchemaOf<K extends TopicId> = (typeof TOPIC_DEFS)[K]['valueSchema'];

export type Catalogue = { readonly [K in TopicId]: TopicSpec<ValueSchemaOf<K>> };

/** Keys of every catalogue topic are UTF-8 strings. */
export const keySerde = Serdes.String;

export function buildCatalogue(input: z.input<typeof CatalogueConfig> = {}): Catalogue {
  const config = CatalogueConfig.parse(input);
  const entries = TOPIC_IDS.map((id): [TopicId, TopicSpec] => {
    const def: TopicDef = TOPIC_DEFS[id];
    const configs: Record<string, string> = { 'cleanup.policy': def.cleanupPolicy, ...def.extraConfigs };
    if (def.retentionMs !== null) configs['retention.ms'] = config.keepHistory ? '-1' : String(def.retentionMs);
    // A short segment.ms only lets retention delete promptly. With history kept it just multiplies
    // segments, and segments roll by record timestamp: months of event time published in minutes
    // made one segment per hour and partition (18 000 open files in a 20-minute soak; the broker
    // stopped on "Too many open files").
    if (config.keepHistory && def.retentionMs !== null) delete configs['segment.ms'];
    const spec: TopicSpec = {
      id,
      name: `${config.prefix}${def.suffix}`,
      carries: def.carries,
      key: def.key,
      valueSchema: def.valueSchema,
      partitions: def.partitions === 'hot' ? config.partitions : def.partitions,
      cleanupPolicy: def.cleanupPolicy,
      retentionMs: def.retentionMs,
      public: def.public,
      containsPan: def.containsPan,
      configs,
    };
    if (config.replicationFactor !== undefined) spec.replicationFactor = config.replicationFactor;
    return [id, spec];
  });
  return Object.freeze(Object.fromEntries(entries)) as Catalogue;
}

/** The catalogue as a list, in catalogue order. */
export function catalogueTopics(catalogue: Catalogue): TopicSpec[] {
  return TOPIC_IDS.map((id) => catalogue[id]);
}
