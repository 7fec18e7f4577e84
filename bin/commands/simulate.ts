/**
 * `riskloop simulate`: a seeded, deterministic run of the transaction simulator (simulator/,
 * docs/simulator.md), written as JSONL files, produced to the loop's ingress topics, or both.
 *
 * Records of account-keyed topics are keyed by the account token, so the command needs the
 * account-token key, the partitioning secret the loop's tokenizer is configured with: from
 * RISKLOOP_ACCOUNT_TOKEN_KEY or a file (--account-token-key-file), never from an argument, which
 * would show in the process list. The simulator itself only ever sees `keyFor`.
 *
 * With --kafka and no start date, the run ends at today's UTC midnight, so the transactions are
 * recent enough for the raw topic's retention and the labels that lie in the future are held back
 * (see simulator/sinks/kafka.ts); the start is printed so the run can be reproduced.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import kafkajs from 'kafkajs';
import { z } from 'zod';
import { SecretKey, accountTokenOf } from '../../processors/tokenizer.js';
import { CatalogueConfig, buildCatalogue, catalogueTopics } from '../../schemas/catalogue.js';
import { SimulatorConfig, type SimulatorConfigInput } from '../../simulator/config.js';
import { produceSimulation } from '../../simulator/sinks/kafka.js';
import { kafkajsConnectionOptions } from '../../topology/kafka/connection.js';
import { kafkaConnectionFromEnv } from '../kafkaConnection.js';
import { writeSimulationFiles } from '../../simulator/sinks/files.js';
import { SIMULATED_TOPICS, simulate } from '../../simulator/simulate.js';
import { formatSummary } from '../../simulator/summary.js';
import { type CommandIo, ensureTopics } from './topics.js';
import { registryClientFromEnv } from '../../schemas/registryClient.js';
import { readTopicNaming } from '../config.js';

const { Kafka, logLevel } = kafkajs;
const DAY = 86_400_000;
export const ACCOUNT_TOKEN_KEY_ENV = 'RISKLOOP_ACCOUNT_TOKEN_KEY';

const OPTIONS = {
  seed: { type: 'string' },
  days: { type: 'string' },
  customers: { type: 'string' },
  start: { type: 'string' },
  'fraud-scale': { type: 'string' },
  'label-tail-days': { type: 'string' },
  config: { type: 'string' },
  'out-dir': { type: 'string' },
  kafka: { type: 'boolean' },
  rate: { type: 'string' },
  brokers: { type: 'string' },
  registry: { type: 'string' },
  prefix: { type: 'string' },
  partitions: { type: 'string' },
  'create-topics': { type: 'boolean' },
  'account-token-key-file': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const USAGE = [
  'usage: riskloop simulate [options] (--out-dir DIR | --kafka | both)',
  'Generates a seeded, deterministic month of card traffic with fraud, chargebacks, analyst outcomes,',
  'device signals and KYC (docs/simulator.md). Needs the account-token key in $' + ACCOUNT_TOKEN_KEY_ENV,
  '(hex or base64, >= 32 bytes, the one the loop tokenizes with) or --account-token-key-file.',
  '',
  '  --seed N                    random seed, 0..4294967295 (default 1)',
  '  --days N                    simulated days (default 30)',
  '  --customers N               customers, one account each (default 2000)',
  '  --start ISO                 first simulated day or instant (default 2026-01-05; with --kafka: today - days)',
  '  --fraud-scale X             multiplies every fraud incident rate (default 1)',
  '  --label-tail-days N         emit labels up to N days after the last simulated day (default 120)',
  '  --config FILE               JSON with any simulator parameter (docs/simulator.md); flags override it',
  '  --out-dir DIR               write <topic>.jsonl, truth.jsonl and summary.json into DIR',
  '  --kafka                     produce to the catalogue topics (Avro through the schema registry)',
  '  --rate N                    with --kafka: records per second (default: as fast as possible)',
  '  --brokers host:port,...     Kafka bootstrap brokers (default: $KAFKA_BROKERS or 127.0.0.1:9092)',
  '  --registry URL              schema registry (default: $SCHEMA_REGISTRY_URL or http://127.0.0.1:8081)',
  '  --prefix P                  topic name prefix (default: $RISKLOOP_TOPIC_PREFIX or riskloop.)',
  '  --partitions N              partitions of the co-partitioned topics, for --create-topics (default: 6)',
  '  --create-topics             create missing catalogue topics first',
  '  --account-token-key-file F  read the account-token key from F instead of the environment',
];

const CliConfig = z
  .object({
    outDir: z.string().min(1).optional(),
    kafka: z.boolean(),
    rate: z.number().positive().nullable(),
    brokers: z
      .string()
      .transform((s) => s.split(',').map((b) => b.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^[^\s:]+:\d+$/, 'broker must be host:port')).min(1)),
    registryUrl: z.url(),
    catalogue: CatalogueConfig,
    createTopics: z.boolean(),
  })
  .refine((c) => c.outDir !== undefined || c.kafka, { message: 'pass --out-dir DIR, --kafka, or both', path: ['output'] })
  .refine((c) => c.rate === null || c.kafka, { message: '--rate only applies with --kafka', path: ['rate'] });
type CliConfig = z.output<typeof CliConfig>;

const numberOption = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

class UsageError extends Error {}

async function accountTokenKey(file: string | undefined, io: CommandIo): Promise<Buffer> {
  const source = file ?? `$${ACCOUNT_TOKEN_KEY_ENV}`;
  const text = file !== undefined ? (await readFile(file, 'utf8')).trim() : io.env[ACCOUNT_TOKEN_KEY_ENV];
  if (text === undefined || text === '') {
    throw new UsageError(`no account-token key: set $${ACCOUNT_TOKEN_KEY_ENV} or pass --account-token-key-file (the key the loop's tokenizer uses)`);
  }
  const parsed = SecretKey.safeParse(text);
  // The message names the source, never the value.
  if (!parsed.success) throw new UsageError(`${source}: ${parsed.error.issues[0]?.message ?? 'invalid key'}`);
  return parsed.data;
}

function startOfUtcDay(ms: number): number {
  return Math.floor(ms / DAY) * DAY;
}

export async function simulateCommand(argv: string[], io: CommandIo): Promise<number> {
  try {
    const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
    if (values.help) {
      USAGE.forEach((l) => io.out(l));
      return 0;
    }
    const fromFile: Record<string, unknown> = values.config ? (JSON.parse(await readFile(values.config, 'utf8')) as Record<string, unknown>) : {};
    const input: Record<string, unknown> = { ...fromFile };
    const flags: [string, unknown][] = [
      ['seed', numberOption(values.seed)],
      ['days', numberOption(values.days)],
      ['customers', numberOption(values.customers)],
      ['start', values.start],
      ['fraudScale', numberOption(values['fraud-scale'])],
      ['labelTailDays', numberOption(values['label-tail-days'])],
    ];
    for (const [name, value] of flags) if (value !== undefined) input[name] = value;

    // Prefix and partitions as every command reads them (bin/config.ts readTopicNaming).
    const naming = readTopicNaming(io.env, { topicPrefix: values.prefix, partitions: values.partitions });
    const catalogue: Record<string, unknown> = { prefix: naming.topicPrefix, partitions: naming.partitions };
    const cli: CliConfig = CliConfig.parse({
      outDir: values['out-dir'],
      kafka: values.kafka ?? false,
      rate: numberOption(values.rate) ?? null,
      brokers: values.brokers ?? io.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
      registryUrl: values.registry ?? io.env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081',
      catalogue,
      createTopics: values['create-topics'] ?? false,
    });
    if (cli.kafka && input.start === undefined) {
      const days = SimulatorConfig.parse(input).days;
      input.start = new Date(startOfUtcDay(Date.now()) - days * DAY).toISOString();
      io.out(`start: ${String(input.start)} (the run ends at today's UTC midnight; pass --start ${String(input.start)} to reproduce it)`);
    }
    // Validated before the key is read, so a typo in a flag is reported first.
    SimulatorConfig.parse(input);
    const key = await accountTokenKey(values['account-token-key-file'], io);

    const began = Date.now();
    const result = simulate(input as SimulatorConfigInput, { keyFor: (accountId) => accountTokenOf(key, accountId) });
    io.out(`simulated in ${((Date.now() - began) / 1000).toFixed(1)} s`);
    formatSummary(result.summary).forEach((l) => io.out(l));

    if (cli.outDir !== undefined) {
      const files = await writeSimulationFiles(result, cli.outDir);
      io.out(`wrote ${files.length} files to ${cli.outDir}`);
    }
    if (cli.kafka) {
      const catalogueSpec = buildCatalogue(cli.catalogue);
      const connection = kafkaConnectionFromEnv(io.env, cli.brokers);
      if (cli.createTopics) {
        const kafka = new Kafka({ clientId: 'riskloop-simulate', ...kafkajsConnectionOptions(connection), logLevel: logLevel.NOTHING, connectionTimeout: 3000, retry: { retries: 2 } });
        const admin = kafka.admin();
        await admin.connect();
        try {
          const reports = await ensureTopics(admin, catalogueTopics(catalogueSpec));
          const failed = reports.filter((r) => r.outcome === 'error');
          for (const r of failed) io.err(`riskloop simulate: topic ${r.topic}: ${r.detail}`);
          if (failed.length > 0) return 1;
        } finally {
          await admin.disconnect();
        }
      }
      const report = await produceSimulation(result.records, {
        brokers: cli.brokers,
        connection,
        registryUrl: cli.registryUrl,
        registry: registryClientFromEnv(io.env, cli.registryUrl),
        catalogue: catalogueSpec,
        ratePerSecond: cli.rate,
        log: (line) => io.out(line),
      });
      for (const topic of SIMULATED_TOPICS) {
        const held = report.heldBack[topic];
        const old = report.olderThanRetention[topic];
        io.out(
          `produced ${String(report.produced[topic]).padStart(7)} to ${report.topics[topic]}` +
            (held > 0 ? `; held back ${held} dated in the future` : '') +
            (old > 0 ? `; ${old} already older than the topic's retention` : ''),
        );
      }
      io.out(`produced in ${(report.elapsedMs / 1000).toFixed(1)} s`);
      if (SIMULATED_TOPICS.some((t) => report.olderThanRetention[t] > 0)) {
        io.err(
          'riskloop simulate: warning: some records are older than their topic retention; the broker deletes them at its next ' +
            'retention check once their segment closes. Run the loop alongside, or start the run more recently.',
        );
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof z.ZodError) {
      for (const issue of err.issues) io.err(`riskloop simulate: ${issue.path.join('.') || 'option'}: ${issue.message}`);
      return 2;
    }
    if (err instanceof UsageError || err instanceof SyntaxError) {
      io.err(`riskloop simulate: ${err.message}`);
      return 2;
    }
    if (err instanceof TypeError && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      io.err(`riskloop simulate: ${err.message}`);
      return 2;
    }
    io.err(`riskloop simulate: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
