/**
 * The configuration of a riskloop process, read once from the environment (flags override) and
 * validated here; everything downstream receives it as a value. Secrets (tokenization keys) only
 * come from the environment, never from flags (they would show in `ps`).
 */
import { z } from 'zod';
import { TokenizerConfig } from '../processors/tokenizer.js';
import type { KafkaConnection } from '../topology/kafka/connection.js';
import { kafkaConnectionFromEnv } from './kafkaConnection.js';
import { accountTokenKeysFromEnv } from './tokenKeys.js';
import { type RegistryClientSettings, registryClientFromEnv } from '../schemas/registryClient.js';

const Brokers = z
  .string()
  .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'broker must be host:port')).min(1));

const CardKeys = z.string().transform((s, ctx) => {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'RISKLOOP_CARD_KEYS must be JSON: [{"id":"k1","key":"<hex or base64, >= 32 bytes>"}]' });
    return z.NEVER;
  }
});

export const AppConfig = z.object({
  brokers: Brokers,
  schemaRegistryUrl: z.string().url(),
  applicationId: z.string().regex(/^[A-Za-z0-9._-]+$/),
  topicPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/),
  partitions: z.coerce.number().int().min(1),
  guarantee: z.enum(['at_least_once', 'exactly_once']),
  commitIntervalMs: z.coerce.number().int().positive().optional(),
  stateDir: z.string().min(1),
  instanceId: z.string().optional(),
  /**
   * Stream threads of this process (Kafka Streams' num.stream.threads): above 1, each is a worker
   * thread with its own consumer, producer, tasks and state folder (topology/threads/). 1: no worker.
   */
  numStreamThreads: z.coerce.number().int().min(1).max(64),
  rulesPath: z.string().min(1),
  /** Empty: start with no model (rules decide) until a release arrives on the model-releases topic. */
  modelCard: z.string(),
  /**
   * Model cards seeded as shadows at start (comma-separated): scored and recorded on every decision,
   * never deciding — a cold start can run rules-first with the bootstrap model measured beside them.
   */
  shadowModelCards: z.string().transform((s) => s.split(',').map((c) => c.trim()).filter(Boolean)),
  metricsPort: z.coerce.number().int().min(0).max(65535),
  /** Ingress-to-decision deadline p99 is held against (alerts, charts); the decision API's default deadline. */
  latencySloMs: z.coerce.number().int().positive(),
  /** Prometheus that scrapes this process: the dashboard's charts read their history from it. Empty: in-memory history. */
  prometheusUrl: z.union([z.literal(''), z.string().url()]),
  /**
   * Where state stores keep their data: RocksDB on local disk (default; restarts skip the restore
   * via checkpoints) or memory (faster reads; every start restores from the changelogs).
   */
  stores: z.enum(['rocksdb', 'memory']),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
  /**
   * Label maturity (processors/labelJoin.ts maturityMs): a transaction with no label this many days
   * after its event time becomes a legitimate training example. Fit it to the label delay of the
   * traffic: 60 days for card-network chargebacks; a feed whose chargebacks all come within ~10 days
   * can mature in 14 and have negatives weeks earlier.
   */
  labelMaturityDays: z.coerce.number().positive(),
  /**
   * Label delay (labelJoin.ts maturityGraceMs): how late a label may be processed after its own
   * timestamp (a label-feed outage); the maturity pass waits this much longer before a negative.
   */
  labelDelayDays: z.coerce.number().min(0),
  /** Feature-set declaration the hot path computes (processors/featureSet/, docs/features.md). */
  featureSetPath: z.string().min(1),
  /** Sanctions/PEP list to screen KYC holder names against (docs/screening.md); empty: no screening. */
  sanctionsListFile: z.string(),
  /** auto: detected from the file's first line. */
  sanctionsListFormat: z.enum(['auto', 'ofac-sdn', 'opensanctions']),
  /** How often the list file is checked for a new version (content hash), in ms. */
  sanctionsListReloadMs: z.coerce.number().int().positive(),
  /**
   * File holding the 32-byte AES-256-GCM key that seals holder names for re-screening (64 hex
   * digits or base64). Empty: no name is kept; a new list version applies at each account's next KYC update.
   */
  screeningKeyFile: z.string(),
  /** Hit threshold on the match score (docs/screening.md). */
  screeningThreshold: z.coerce.number().min(0.5).max(1),
  /**
   * How often the process hands the C heap's free pages back to the system (glibc malloc_trim,
   * ops/mallocTrim.ts); 0: never. Without it RSS grows ~20-28 % in 10 minutes of steady traffic.
   */
  mallocTrimSeconds: z.coerce.number().min(0),
  /** Kept as text (the Tokenizer decodes it) but checked here, so a bad key fails at start. */
  tokenizer: z
    .object({
      accountTokenKey: z.string(),
      previousAccountTokenKeys: z.array(z.string()).default([]),
      cardKeys: z.array(z.object({ id: z.string(), key: z.string() })),
      currentCardKeyId: z.string(),
    })
    .superRefine((t, ctx) => {
      const checked = TokenizerConfig.safeParse(t);
      if (!checked.success) for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    }),
});
/**
 * `kafka`: the brokers with the connection's security (bin/kafkaConnection.ts), environment only.
 * `registry`: the registry URL with its basic auth and CA (schemas/registryClient.ts), environment only.
 */
export type AppConfig = z.output<typeof AppConfig> & { kafka: KafkaConnection; registry: RegistryClientSettings };
export type AppConfigInput = z.input<typeof AppConfig>;

/** Flag name → environment variable; flags win. */
export const ENV = {
  brokers: 'KAFKA_BROKERS',
  schemaRegistryUrl: 'SCHEMA_REGISTRY_URL',
  applicationId: 'RISKLOOP_APP_ID',
  topicPrefix: 'RISKLOOP_TOPIC_PREFIX',
  partitions: 'RISKLOOP_PARTITIONS',
  guarantee: 'RISKLOOP_GUARANTEE',
  commitIntervalMs: 'RISKLOOP_COMMIT_INTERVAL_MS',
  stateDir: 'RISKLOOP_STATE_DIR',
  instanceId: 'RISKLOOP_INSTANCE_ID',
  numStreamThreads: 'RISKLOOP_STREAM_THREADS',
  rulesPath: 'RISKLOOP_RULES',
  modelCard: 'RISKLOOP_MODEL_CARD',
  shadowModelCards: 'RISKLOOP_SHADOW_MODEL_CARDS',
  metricsPort: 'RISKLOOP_METRICS_PORT',
  latencySloMs: 'RISKLOOP_LATENCY_SLO_MS',
  prometheusUrl: 'RISKLOOP_PROMETHEUS_URL',
  stores: 'RISKLOOP_STORES',
  logLevel: 'LOG_LEVEL',
  labelMaturityDays: 'RISKLOOP_LABEL_MATURITY_DAYS',
  labelDelayDays: 'RISKLOOP_LABEL_DELAY_DAYS',
  featureSetPath: 'RISKLOOP_FEATURE_SET_FILE',
  sanctionsListFile: 'RISKLOOP_SANCTIONS_LIST_FILE',
  sanctionsListFormat: 'RISKLOOP_SANCTIONS_LIST_FORMAT',
  sanctionsListReloadMs: 'RISKLOOP_SANCTIONS_LIST_RELOAD_MS',
  screeningKeyFile: 'RISKLOOP_SCREENING_KEY_FILE',
  screeningThreshold: 'RISKLOOP_SCREENING_THRESHOLD',
  mallocTrimSeconds: 'RISKLOOP_MALLOC_TRIM_SECONDS',
} as const;

const DEFAULTS: Record<keyof typeof ENV, string | undefined> = {
  brokers: '127.0.0.1:9092',
  schemaRegistryUrl: 'http://127.0.0.1:8081',
  applicationId: 'riskloop',
  topicPrefix: 'riskloop.',
  partitions: '6',
  guarantee: 'exactly_once',
  commitIntervalMs: undefined,
  stateDir: '.state',
  instanceId: undefined,
  numStreamThreads: '1',
  rulesPath: 'rules/ruleset.json',
  // Cold start is rules-first: no champion until a model retrained on the loop's own labels is
  // released. sim-bootstrap-v1 (trained on one simulator run) rides along in shadow: on traffic
  // from another generator it ranked fraud at AUC 0.52-0.61 (its card; docs/training.md "Results").
  modelCard: '',
  shadowModelCards: 'models/sim-bootstrap-v1.card.json',
  metricsPort: '9464',
  latencySloMs: '300',
  prometheusUrl: '',
  stores: 'rocksdb',
  logLevel: 'info',
  labelMaturityDays: '60',
  labelDelayDays: '0',
  featureSetPath: 'features/default.json',
  sanctionsListFile: '',
  sanctionsListFormat: 'auto',
  sanctionsListReloadMs: '60000',
  screeningKeyFile: '',
  screeningThreshold: '0.85',
  mallocTrimSeconds: '60',
};

/** What commands that only read or publish records need: everything but the tokenization keys. */
export const ClientConfig = AppConfig.omit({ tokenizer: true });
export type ClientConfig = z.output<typeof ClientConfig> & { kafka: KafkaConnection; registry: RegistryClientSettings };

function rawConfig(env: Readonly<Record<string, string | undefined>>, flags: Partial<Record<keyof typeof ENV, string>>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(ENV) as [keyof typeof ENV, string][]) {
    const v = flags[name] ?? env[variable] ?? DEFAULTS[name];
    if (v !== undefined) raw[name] = v;
  }
  return raw;
}

function fail(issues: readonly { path: PropertyKey[]; message: string }[], extra: string[] = []): never {
  // Paths and messages only: the input holds secrets.
  const problems = issues.map((i) => {
    const path = i.path.join('.');
    if (path.startsWith('tokenizer')) return `${path}: ${i.message} (set RISKLOOP_ACCOUNT_TOKEN_KEY or its _FILE, RISKLOOP_PREVIOUS_ACCOUNT_TOKEN_KEYS, RISKLOOP_CARD_KEYS, RISKLOOP_CARD_KEY_ID)`;
    const variable = ENV[i.path[0] as keyof typeof ENV];
    return `${path}${variable ? ` ($${variable})` : ''}: ${i.message}`;
  });
  throw new Error(`invalid configuration:\n  ${[...problems, ...extra].join('\n  ')}`);
}

const DAY_MS = 86_400_000;
/** Snapshots are kept at least this long (labelJoin.ts retentionMs: the networks' 120-day window with margin). */
const MIN_LABEL_RETENTION_MS = 180 * DAY_MS;

/** The label join's timing from the configuration (processors/labelJoin.ts LabelJoinConfig). */
export function labelJoinTiming(config: Pick<AppConfig, 'labelMaturityDays' | 'labelDelayDays'>): { maturityMs: number; maturityGraceMs: number; retentionMs: number } {
  const maturityMs = Math.round(config.labelMaturityDays * DAY_MS);
  const maturityGraceMs = Math.round(config.labelDelayDays * DAY_MS);
  // A snapshot must outlive its maturity deadline, or it would never get its negative.
  return { maturityMs, maturityGraceMs, retentionMs: Math.max(MIN_LABEL_RETENTION_MS, maturityMs + maturityGraceMs) };
}

/**
 * The flags every loop command (run, replay, demo) takes for the label join, parsed by
 * node:util parseArgs; `loopFlagValues` turns them into readAppConfig flags.
 */
export const LOOP_FLAG_OPTIONS = {
  'label-maturity-days': { type: 'string' },
  'label-delay-days': { type: 'string' },
} as const;
export const LOOP_FLAG_USAGE = [
  '  --label-maturity-days D   days without a label before a transaction is a negative (default 60; $RISKLOOP_LABEL_MATURITY_DAYS)',
  '  --label-delay-days D      how late a label may be processed; negatives wait that much longer (default 0; $RISKLOOP_LABEL_DELAY_DAYS)',
];
export function loopFlagValues(values: { 'label-maturity-days'?: string | undefined; 'label-delay-days'?: string | undefined; 'feature-set'?: string | undefined }): Partial<Record<keyof typeof ENV, string>> {
  const flags: Partial<Record<keyof typeof ENV, string>> = {};
  if (values['feature-set'] !== undefined) flags.featureSetPath = values['feature-set'];
  if (values['label-maturity-days'] !== undefined) flags.labelMaturityDays = values['label-maturity-days'];
  if (values['label-delay-days'] !== undefined) flags.labelDelayDays = values['label-delay-days'];
  return flags;
}

/**
 * Topic naming (prefix and partition count), for every command that names catalogue topics: the
 * same variables (RISKLOOP_TOPIC_PREFIX, RISKLOOP_PARTITIONS), defaults and validation as the loop.
 */
export function readTopicNaming(
  env: Readonly<Record<string, string | undefined>>,
  flags: { topicPrefix?: string | undefined; partitions?: string | undefined } = {},
): { topicPrefix: string; partitions: number } {
  const pick = AppConfig.pick({ topicPrefix: true, partitions: true });
  const raw = {
    topicPrefix: flags.topicPrefix ?? env[ENV.topicPrefix] ?? DEFAULTS.topicPrefix,
    partitions: flags.partitions ?? env[ENV.partitions] ?? DEFAULTS.partitions,
  };
  const parsed = pick.safeParse(raw);
  if (!parsed.success) fail(parsed.error.issues);
  return parsed.data;
}

/** For decisions tail, produce, release: no key material is read, so none is required. */
export function readClientConfig(env: Readonly<Record<string, string | undefined>>, flags: Partial<Record<keyof typeof ENV, string>> = {}): ClientConfig {
  const parsed = ClientConfig.safeParse(rawConfig(env, flags));
  if (!parsed.success) fail(parsed.error.issues);
  return { ...parsed.data, kafka: kafkaConnectionFromEnv(env, parsed.data.brokers), registry: registryClientFromEnv(env, parsed.data.schemaRegistryUrl) };
}

export function readAppConfig(env: Readonly<Record<string, string | undefined>>, flags: Partial<Record<keyof typeof ENV, string>> = {}): AppConfig {
  const raw = rawConfig(env, flags);
  const cardKeys = env.RISKLOOP_CARD_KEYS === undefined ? undefined : CardKeys.safeParse(env.RISKLOOP_CARD_KEYS);
  raw.tokenizer = {
    ...accountTokenKeysFromEnv(env),
    cardKeys: cardKeys?.success ? cardKeys.data : undefined,
    currentCardKeyId: env.RISKLOOP_CARD_KEY_ID,
  };
  const parsed = AppConfig.safeParse(raw);
  if (!parsed.success) fail(parsed.error.issues, cardKeys && !cardKeys.success ? [cardKeys.error.issues[0]!.message] : []);
  return { ...parsed.data, kafka: kafkaConnectionFromEnv(env, parsed.data.brokers), registry: registryClientFromEnv(env, parsed.data.schemaRegistryUrl) };
}
