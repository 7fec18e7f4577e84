/**
 * `riskloop topics create|list`: the catalogue (schemas/catalogue.ts) made real on a cluster.
 *
 * `create` is idempotent: missing topics are created with the catalogue's partitions and configs,
 * existing ones are checked. A topic with another partition count or cleanup policy is an error,
 * not something to fix silently: partitions cannot shrink, more partitions would move keys and
 * break co-partitioning, and a table topic without compaction loses keys. Other config differences
 * (retention and the like) are reported as drift, since operators may tune them on purpose.
 */
import { parseArgs } from 'node:util';
import kafkajs, { type Admin } from 'kafkajs';
import { z } from 'zod';
import { buildCatalogue, catalogueTopics, CatalogueConfig, type TopicSpec } from '../../schemas/catalogue.js';
import { explainKafkaError, kafkajsConnectionOptions, type KafkaConnection } from '../../topology/kafka/connection.js';
import { KafkaConnectionConfigError, kafkaConnectionFromEnv } from '../kafkaConnection.js';
import { readTopicNaming } from '../config.js';

// kafkajs is CommonJS: Node's ESM loader only sees named exports it can detect statically, and the
// enums are not among them.
const { ConfigResourceTypes, Kafka, logLevel } = kafkajs;

export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
  env: Readonly<Record<string, string | undefined>>;
}

const OPTIONS = {
  brokers: { type: 'string' },
  prefix: { type: 'string' },
  partitions: { type: 'string' },
  'replication-factor': { type: 'string' },
  'keep-history': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const TOPICS_OPTIONS_USAGE = [
  '  --brokers host:port,...     Kafka bootstrap brokers (default: $KAFKA_BROKERS or 127.0.0.1:9092);',
  '                              TLS/SASL from KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_*, KAFKA_SASL_* (docs/operations.md)',
  '  --prefix P                  topic name prefix (default: $RISKLOOP_TOPIC_PREFIX or riskloop.)',
  '  --partitions N              partitions of the co-partitioned topics (default: $RISKLOOP_PARTITIONS or 6)',
  '  --replication-factor N      replication factor of created topics (default: broker default)',
  '  --keep-history              retention.ms=-1 on delete topics (simulations and tests with old event times; never production)',
];

const CliConfig = z.object({
  brokers: z
    .string()
    .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'broker must be host:port')).min(1)),
  catalogue: CatalogueConfig,
});
type CliConfig = z.output<typeof CliConfig> & { kafka: KafkaConnection };

const intOption = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

/** The command line and environment of `topics create|list`; exported for its unit test. */
export function parseConfig(argv: string[], io: CommandIo): CliConfig | 'help' {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  // Prefix and partitions as every other command reads them (flag, else RISKLOOP_TOPIC_PREFIX /
  // RISKLOOP_PARTITIONS, else the defaults): topics created here are the ones `run` uses.
  const naming = readTopicNaming(io.env, { topicPrefix: values.prefix, partitions: values.partitions });
  const catalogue: Record<string, unknown> = { prefix: naming.topicPrefix, partitions: naming.partitions };
  if (values['replication-factor'] !== undefined) catalogue.replicationFactor = intOption(values['replication-factor']);
  if (values['keep-history']) catalogue.keepHistory = true;
  const parsed = CliConfig.parse({ brokers: values.brokers ?? io.env.KAFKA_BROKERS ?? '127.0.0.1:9092', catalogue });
  // TLS and SASL settings come from the environment only (bin/kafkaConnection.ts).
  return { ...parsed, kafka: kafkaConnectionFromEnv(io.env, parsed.brokers) };
}

async function withAdmin<T>(connection: KafkaConnection, fn: (admin: Admin) => Promise<T>): Promise<T> {
  // Fail in seconds on a wrong address: this is an interactive command, not a long-lived client.
  const kafka = new Kafka({
    clientId: 'riskloop-cli',
    ...kafkajsConnectionOptions(connection),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 2 },
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

export interface TopicState {
  partitions: number;
  configs: Record<string, string>;
}

/** Partition counts and catalogue-relevant configs of those catalogue topics that exist. */
export async function describeTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<Map<string, TopicState>> {
  const existing = new Set(await admin.listTopics());
  const present = specs.filter((s) => existing.has(s.name));
  const states = new Map<string, TopicState>();
  if (present.length === 0) return states;
  const { topics } = await admin.fetchTopicMetadata({ topics: present.map((s) => s.name) });
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: present.map((s) => ({ type: ConfigResourceTypes.TOPIC, name: s.name, configNames: Object.keys(s.configs) })),
  });
  for (const t of topics) states.set(t.name, { partitions: t.partitions.length, configs: {} });
  for (const r of described.resources) {
    const state = states.get(r.resourceName);
    if (!state) continue;
    for (const e of r.configEntries) state.configs[e.configName] = e.configValue;
  }
  return states;
}

export type TopicOutcome = 'created' | 'exists' | 'error' | 'drift';

export interface TopicReport {
  topic: string;
  outcome: TopicOutcome;
  detail: string;
}

function compare(spec: TopicSpec, state: TopicState, created: boolean): TopicReport {
  const problems: string[] = [];
  const drift: string[] = [];
  if (state.partitions !== spec.partitions) {
    problems.push(`has ${state.partitions} partitions, the catalogue wants ${spec.partitions}`);
  }
  for (const [name, wanted] of Object.entries(spec.configs)) {
    const actual = state.configs[name];
    if (actual === wanted) continue;
    const line = `${name}=${actual ?? '(unset)'}, the catalogue wants ${wanted}`;
    (name === 'cleanup.policy' ? problems : drift).push(line);
  }
  if (problems.length > 0) return { topic: spec.name, outcome: 'error', detail: [...problems, ...drift].join('; ') };
  if (drift.length > 0) return { topic: spec.name, outcome: 'drift', detail: drift.join('; ') };
  return {
    topic: spec.name,
    outcome: created ? 'created' : 'exists',
    detail: `${spec.partitions} partition${spec.partitions === 1 ? '' : 's'}, ${spec.cleanupPolicy}`,
  };
}

/**
 * A topic created a moment ago may be unknown yet to the broker that answers (KRaft metadata still
 * propagating): KafkaJS's createTopics with waitForLeaders, and a describe right after it, then fail
 * with UNKNOWN_TOPIC_OR_PARTITION ("does not host this topic-partition") although the creation
 * stands. Seen under load on a fresh broker; the runtime's own topic creation retries it too.
 */
const NOT_YET_KNOWN = /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/i;

async function untilKnown<T>(what: () => Promise<T>, attempts = 20): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (err) {
      if (i >= attempts || !(err instanceof Error) || !NOT_YET_KNOWN.test(err.message)) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Creates the missing catalogue topics, then checks every catalogue topic against the cluster. */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<TopicReport[]> {
  const before = await describeTopics(admin, specs);
  const missing = specs.filter((s) => !before.has(s.name));
  if (missing.length > 0) {
    try {
      // Resolves false (no throw) for topics that appeared meanwhile; the check below judges them.
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((s) => ({
          topic: s.name,
          numPartitions: s.partitions,
          ...(s.replicationFactor !== undefined ? { replicationFactor: s.replicationFactor } : {}),
          configEntries: Object.entries(s.configs).map(([name, value]) => ({ name, value })),
        })),
      });
    } catch (err) {
      // Created, but its leaders not yet visible: the describe below waits for them.
      if (!(err instanceof Error) || !NOT_YET_KNOWN.test(err.message)) throw err;
    }
  }
  const createdNames = new Set(missing.map((s) => s.name));
  const after = await untilKnown(async () => {
    const states = await describeTopics(admin, specs);
    for (const name of createdNames) if (!states.has(name)) throw new Error(`UNKNOWN_TOPIC_OR_PARTITION: ${name} not listed yet`);
    return states;
  });
  const createdNow = new Set(missing.map((s) => s.name));
  return specs.map((spec) => {
    const state = after.get(spec.name);
    if (!state) return { topic: spec.name, outcome: 'error', detail: 'was not created (no error from the broker, yet absent)' };
    return compare(spec, state, createdNow.has(spec.name));
  });
}

function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  const day = 86_400_000;
  return ms % day === 0 ? `${ms / day}d` : `${ms / 3_600_000}h`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
}

function reportFailure(err: unknown, connection: KafkaConnection | undefined, io: CommandIo): number {
  if (err instanceof KafkaConnectionConfigError) {
    io.err(`riskloop topics: ${err.message}`);
    return 2;
  }
  if (err instanceof z.ZodError) {
    for (const issue of err.issues) io.err(`riskloop topics: ${issue.path.join('.') || 'option'}: ${issue.message}`);
    return 2;
  }
  if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
    io.err(`riskloop topics: ${err.message}`);
    return 2;
  }
  io.err(`riskloop topics: ${connection ? explainKafkaError(err, connection) : (err as Error).message}`);
  return 1;
}

export async function topicsCreate(argv: string[], io: CommandIo): Promise<number> {
  let config: CliConfig | 'help';
  try {
    config = parseConfig(argv, io);
  } catch (err) {
    return reportFailure(err, undefined, io);
  }
  if (config === 'help') {
    io.out('usage: riskloop topics create [options]');
    io.out('Creates every catalogue topic that is missing; checks the ones that exist.');
    TOPICS_OPTIONS_USAGE.forEach((l) => io.out(l));
    return 0;
  }
  const specs = catalogueTopics(buildCatalogue(config.catalogue));
  let reports: TopicReport[];
  try {
    reports = await withAdmin(config.kafka, (admin) => ensureTopics(admin, specs));
  } catch (err) {
    return reportFailure(err, config.kafka, io);
  }
  for (const r of reports) {
    const line = `${r.outcome.padEnd(7)} ${r.topic}: ${r.detail}`;
    if (r.outcome === 'error') io.err(line);
    else io.out(line);
  }
  return reports.some((r) => r.outcome === 'error') ? 1 : 0;
}

export async function topicsList(argv: string[], io: CommandIo): Promise<number> {
  let config: CliConfig | 'help';
  try {
    config = parseConfig(argv, io);
  } catch (err) {
    return reportFailure(err, undefined, io);
  }
  if (config === 'help') {
    io.out('usage: riskloop topics list [options]');
    io.out('Lists the catalogue topics with their key, value schema, layout and state on the cluster.');
    TOPICS_OPTIONS_USAGE.forEach((l) => io.out(l));
    return 0;
  }
  const specs = catalogueTopics(buildCatalogue(config.catalogue));
  let states: Map<string, TopicState>;
  try {
    states = await withAdmin(config.kafka, (admin) => describeTopics(admin, specs));
  } catch (err) {
    return reportFailure(err, config.kafka, io);
  }
  const rows = [['TOPIC', 'KEY', 'VALUE', 'PARTITIONS', 'CLEANUP', 'RETENTION', 'VISIBILITY', 'STATE']];
  for (const s of specs) {
    const state = states.get(s.name);
    const status = !state ? 'missing' : compare(s, state, false).outcome === 'exists' ? 'ok' : 'mismatch';
    rows.push([
      s.name,
      s.key,
      s.valueSchema,
      state && state.partitions !== s.partitions ? `${state.partitions} (want ${s.partitions})` : String(s.partitions),
      s.cleanupPolicy,
      formatMs(s.retentionMs),
      s.containsPan ? 'ingress, PAN' : s.public ? 'public' : 'internal',
      status,
    ]);
  }
  table(rows).forEach((l) => io.out(l));
  return 0;
}
