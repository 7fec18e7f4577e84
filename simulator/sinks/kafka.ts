/**
 * A run produced to the real ingress topics of the catalogue, Avro-encoded through the schema
 * registry, each record with its event time as the Kafka timestamp and on the partition Kafka's
 * murmur2 partitioner gives its key (the same one the runtime's sinks use, so co-partitioning
 * holds whoever writes a topic).
 *
 * Records of all topics go out merged in timestamp order (KYC and device signals first at equal
 * timestamps, so their tables are ahead of the transactions that read them). `ratePerSecond`
 * paces the wall-clock rate; event times stay simulated (time-compressed replay). Without it,
 * records go as fast as the broker takes them, in batches.
 *
 * Two limits of the broker shape what can be produced:
 *  - it rejects a timestamp more than `message.timestamp.after.max.ms` (1 hour by default in
 *    Kafka 4) ahead of its clock. Labels of a recent run lie in the future (a chargeback 40 days
 *    after a transaction of yesterday); those have not happened yet, so they are held back and
 *    counted, not produced;
 *  - retention is judged by record timestamps: on a delete topic, records older than retention.ms
 *    (1 day on the raw transactions topic) are deleted at the broker's next retention check once
 *    their segment closes. They are produced, counted and reported, so that the caller knows to
 *    run the loop alongside or to start the run recently.
 */
import kafkajs, { type Admin, type Message } from 'kafkajs';
import type { Catalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { kafkajsConnectionOptions, plaintextConnection, type KafkaConnection } from '../../topology/kafka/connection.js';
import { partitionForKey } from '../../topology/murmur2.js';
import { SIMULATED_TOPICS, type SimulatedRecords, type SimulatedTopic } from '../simulate.js';
import { createRegistryClient, plainRegistryClient, type RegistryClientSettings } from '../../schemas/registryClient.js';

// kafkajs is CommonJS: its enums are not visible to Node's ESM named-export detection.
const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

/** Kafka 4's default for message.timestamp.after.max.ms, used when the topic does not say. */
const DEFAULT_FUTURE_LIMIT_MS = 3_600_000;
/** Headroom under the broker's future limit for clock skew and time spent producing. */
const FUTURE_MARGIN_MS = 5 * 60_000;
const MAX_BATCH = 1000;
const PROGRESS_EVERY_MS = 5000;

export interface KafkaSinkOptions {
  brokers: string[];
  /** TLS/SASL connection (bin/kafkaConnection.ts); when given, its brokers are used instead of `brokers`. */
  connection?: KafkaConnection;
  registryUrl: string;
  /** Registry auth and CA (schemas/registryClient.ts); when given, its URL is used instead of `registryUrl`. */
  registry?: RegistryClientSettings;
  catalogue: Catalogue;
  /** Records per second across all topics; null for as fast as possible. */
  ratePerSecond: number | null;
  clientId?: string;
  /** Wall clock, for pacing and the future limit. */
  now?: () => number;
  log?: (line: string) => void;
}

export type TopicCounts = Record<SimulatedTopic, number>;

export interface KafkaSinkReport {
  produced: TopicCounts;
  /** Records whose timestamp lies beyond the broker's future limit: not produced. */
  heldBack: TopicCounts;
  /** Produced records already older than their topic's retention. */
  olderThanRetention: TopicCounts;
  /** Topic names, by simulated topic. */
  topics: Record<SimulatedTopic, string>;
  elapsedMs: number;
}

const zeroCounts = (): TopicCounts => ({ kyc: 0, deviceSignals: 0, transactions: 0, chargebacks: 0, analystOutcomes: 0 });

interface TopicLimits {
  partitions: number;
  futureLimitMs: number;
  retentionMs: number | null;
}

async function topicLimits(admin: Admin, names: string[]): Promise<Map<string, TopicLimits>> {
  const existing = new Set(await admin.listTopics());
  const missing = names.filter((n) => !existing.has(n));
  if (missing.length > 0) {
    throw new Error(`topics missing on the cluster: ${missing.join(', ')} (run \`riskloop topics create\` or pass --create-topics)`);
  }
  const { topics } = await admin.fetchTopicMetadata({ topics: names });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: names.map((name) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configNames: ['message.timestamp.after.max.ms', 'retention.ms', 'cleanup.policy'],
    })),
  });
  const limits = new Map<string, TopicLimits>();
  for (const t of topics) limits.set(t.name, { partitions: t.partitions.length, futureLimitMs: DEFAULT_FUTURE_LIMIT_MS, retentionMs: null });
  for (const r of described.resources) {
    const limit = limits.get(r.resourceName);
    if (!limit) continue;
    const config = new Map(r.configEntries.map((e) => [e.configName, e.configValue]));
    const after = Number(config.get('message.timestamp.after.max.ms'));
    if (Number.isFinite(after) && after > 0) limit.futureLimitMs = Math.min(after, Number.MAX_SAFE_INTEGER);
    const retention = Number(config.get('retention.ms'));
    const deletes = (config.get('cleanup.policy') ?? 'delete').includes('delete');
    limit.retentionMs = deletes && Number.isFinite(retention) && retention >= 0 ? retention : null;
  }
  return limits;
}

/** Indices into each topic's records, advanced in global timestamp order (ties: SIMULATED_TOPICS order). */
function* mergedOrder(records: SimulatedRecords): Generator<{ topic: SimulatedTopic; index: number }> {
  const next: TopicCounts = zeroCounts();
  for (;;) {
    let best: SimulatedTopic | null = null;
    let bestTs = Number.POSITIVE_INFINITY;
    for (const topic of SIMULATED_TOPICS) {
      const record = records[topic][next[topic]];
      if (record && record.timestamp < bestTs) {
        best = topic;
        bestTs = record.timestamp;
      }
    }
    if (best === null) return;
    yield { topic: best, index: next[best]++ };
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function produceSimulation(records: SimulatedRecords, options: KafkaSinkOptions): Promise<KafkaSinkReport> {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const topicName: Record<SimulatedTopic, string> = {
    kyc: options.catalogue.kyc.name,
    deviceSignals: options.catalogue.deviceSignals.name,
    transactions: options.catalogue.transactions.name,
    chargebacks: options.catalogue.chargebacks.name,
    analystOutcomes: options.catalogue.analystOutcomes.name,
  };
  const kafka = new Kafka({
    clientId: options.clientId ?? 'riskloop-simulator',
    ...kafkajsConnectionOptions(options.connection ?? plaintextConnection(options.brokers)),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 5 },
  });
  const admin = kafka.admin();
  await admin.connect();
  let limits: Map<string, TopicLimits>;
  try {
    limits = await topicLimits(admin, Object.values(topicName));
  } finally {
    await admin.disconnect();
  }
  const limitOf = (topic: SimulatedTopic): TopicLimits => limits.get(topicName[topic])!;

  const serdes = await createSerdes(createRegistryClient(options.registry ?? plainRegistryClient(options.registryUrl)), options.catalogue);
  const encode: { [K in SimulatedTopic]: (value: SimulatedRecords[K][number]['value']) => Buffer } = {
    kyc: (v) => serdes.kyc.serialize(v),
    deviceSignals: (v) => serdes.deviceSignals.serialize(v),
    transactions: (v) => serdes.transactions.serialize(v),
    chargebacks: (v) => serdes.chargebacks.serialize(v),
    analystOutcomes: (v) => serdes.analystOutcomes.serialize(v),
  };
  const encodeRecord = <K extends SimulatedTopic>(topic: K, index: number): Message => {
    const record = records[topic][index]!;
    const key = Buffer.from(record.key, 'utf8');
    return {
      key,
      value: encode[topic](record.value),
      partition: partitionForKey(key, limitOf(topic).partitions),
      timestamp: String(record.timestamp),
    };
  };

  const report: KafkaSinkReport = { produced: zeroCounts(), heldBack: zeroCounts(), olderThanRetention: zeroCounts(), topics: topicName, elapsedMs: 0 };
  const total = SIMULATED_TOPICS.reduce((n, t) => n + records[t].length, 0);
  const batchSize = options.ratePerSecond === null ? MAX_BATCH : Math.max(1, Math.min(MAX_BATCH, Math.ceil(options.ratePerSecond / 20)));
  // The limits are fixed at the start: a run of minutes does not move which records are "future".
  const startedAt = now();
  const futureLimit = (topic: SimulatedTopic): number => startedAt + limitOf(topic).futureLimitMs - FUTURE_MARGIN_MS;

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    let batch = new Map<string, Message[]>();
    let inBatch = 0;
    let sent = 0;
    let lastProgress = startedAt;
    const flush = async (): Promise<void> => {
      if (inBatch === 0) return;
      await producer.sendBatch({ acks: -1, topicMessages: [...batch].map(([topic, messages]) => ({ topic, messages })) });
      sent += inBatch;
      batch = new Map();
      inBatch = 0;
      if (options.ratePerSecond !== null) {
        const due = startedAt + (sent / options.ratePerSecond) * 1000;
        const wait = due - now();
        if (wait > 0) await sleep(wait);
      }
      if (now() - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = now();
        log(`produced ${sent} of ${total} records`);
      }
    };
    for (const { topic, index } of mergedOrder(records)) {
      const record = records[topic][index]!;
      if (record.timestamp > futureLimit(topic)) {
        report.heldBack[topic]++;
        continue;
      }
      const retention = limitOf(topic).retentionMs;
      if (retention !== null && record.timestamp < startedAt - retention) report.olderThanRetention[topic]++;
      const name = topicName[topic];
      const list = batch.get(name) ?? [];
      list.push(encodeRecord(topic, index));
      batch.set(name, list);
      inBatch++;
      report.produced[topic]++;
      if (inBatch >= batchSize) await flush();
    }
    await flush();
  } finally {
    await producer.disconnect();
  }
  report.elapsedMs = now() - startedAt;
  return report;
}
