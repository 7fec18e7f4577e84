/**
 * `riskloop run`: the risk loop as a long-running instance. Start more instances with the same
 * RISKLOOP_APP_ID to scale out; SIGTERM commits, closes tasks cleanly (with checkpoints) and
 * leaves the group.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { readAppConfig } from '../config.js';
import { buildRiskLoopApp } from '../riskLoopApp.js';
import { startOps } from '../../ops/opsRuntime.js';
import { ensureTopics } from './topicsEnsure.js';
import { readFile } from 'node:fs/promises';
import { AuditConsumer, AuditSink } from '../../ops/auditSink.js';
import { driftTopology } from '../../ops/driftTopology.js';
import { KafkaStreams } from '../../topology/kafka/kafkaStreams.js';
import type { CommandIo } from './topics.js';

export const RUN_USAGE = [
  'usage: riskloop run [--app-id ID] [--prefix P] [--guarantee exactly_once|at_least_once] [--state-dir DIR] [--create-topics]',
  '',
  'Configuration comes from the environment (flags override): KAFKA_BROKERS, SCHEMA_REGISTRY_URL,',
  'RISKLOOP_APP_ID, RISKLOOP_TOPIC_PREFIX, RISKLOOP_PARTITIONS, RISKLOOP_GUARANTEE, RISKLOOP_STATE_DIR,',
  'RISKLOOP_RULES, RISKLOOP_MODEL_CARD, RISKLOOP_INSTANCE_ID, LOG_LEVEL, and the tokenization keys',
  'RISKLOOP_ACCOUNT_TOKEN_KEY, RISKLOOP_CARD_KEYS (JSON [{id,key}]), RISKLOOP_CARD_KEY_ID (environment only).',
];

async function seededReferences(modelCard: string): Promise<Map<string, Record<string, { edges: number[]; proportions: number[] }>>> {
  if (!modelCard) return new Map();
  const card = JSON.parse(await readFile(modelCard, 'utf8')) as { version: string; referenceDistributions?: Record<string, { edges: number[]; proportions: number[] }> };
  return new Map([[card.version, card.referenceDistributions ?? {}]]);
}

export async function runCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'app-id': { type: 'string' },
      prefix: { type: 'string' },
      guarantee: { type: 'string' },
      'state-dir': { type: 'string' },
      'create-topics': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    for (const l of RUN_USAGE) io.out(l);
    return 0;
  }
  const flags: Record<string, string> = {};
  if (values['app-id']) flags.applicationId = values['app-id'];
  if (values.prefix !== undefined) flags.topicPrefix = values.prefix;
  if (values.guarantee) flags.guarantee = values.guarantee;
  if (values['state-dir']) flags.stateDir = values['state-dir'];
  const config = readAppConfig(io.env, flags);
  const logger = pino({
    level: config.logLevel,
    // Belt and braces: nothing should log these, and if something tries, the value never leaves.
    redact: { paths: ['pan', '*.pan', 'accountId', '*.accountId', 'tokenizer', '*.key'], censor: '[redacted]' },
  });
  if (values['create-topics']) await ensureTopics(config, io);
  const app = await buildRiskLoopApp(config, logger);
  await app.streams.start();
  let ops: Awaited<ReturnType<typeof startOps>> | undefined;
  // Drift: a small topology of its own beside the loop (reads decisions, writes alerts), seeded with
  // the starting champion's reference distributions; later releases bring their own.
  const drift = new KafkaStreams(
    driftTopology(`${config.applicationId}-drift`, {}, {
      catalogue: app.catalogue,
      serdes: { decisions: app.serdes.decisions, alerts: app.serdes.alerts, modelReleases: app.serdes.modelReleases },
      seeded: await seededReferences(config.modelCard),
      // The ops server is started next; measurements before it exists only miss a gauge update.
      listener: (m) => ops?.decisions.observeDrift(m),
    }),
    { applicationId: `${config.applicationId}-drift`, brokers: config.brokers, processingGuarantee: config.guarantee, stateDir: config.stateDir },
    { logger },
  );
  await drift.start();
  // Metrics, health and the dashboard on 127.0.0.1:RISKLOOP_METRICS_PORT (see docs/operations.md).
  ops = await startOps(
    { port: config.metricsPort, host: io.env.RISKLOOP_OPS_HOST ?? '127.0.0.1' },
    { brokers: config.brokers, applicationId: config.applicationId, catalogue: app.catalogue, serdes: app.serdes, streams: { loop: app.streams, drift }, models: app.models, logger },
  );
  // Audit trail in PostgreSQL when RISKLOOP_AUDIT_DB is set (docs/operations.md).
  let audit: AuditConsumer | undefined;
  if (io.env.RISKLOOP_AUDIT_DB) {
    const sink = new AuditSink({ connectionString: io.env.RISKLOOP_AUDIT_DB });
    await sink.init();
    audit = new AuditConsumer({ brokers: config.brokers, applicationId: config.applicationId, catalogue: app.catalogue, serdes: app.serdes, logger }, sink);
    await audit.start();
  }
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'stopping');
      Promise.all([ops!.close(), app.close(), drift.close(), audit?.stop()]).then(
        () => resolve(0),
        (err) => {
          logger.error({ err: (err as Error).message }, 'close failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    app.streams.once('error', () => resolve(1));
  });
  await app.streams.waitForRunning(120_000).catch(() => undefined);
  io.out(`riskloop ${config.applicationId}: ${app.streams.state} (${config.guarantee}); decisions → ${app.catalogue.decisions.name}`);
  return stopped;
}
