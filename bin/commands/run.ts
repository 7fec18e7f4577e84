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
import type { CommandIo } from './topics.js';

export const RUN_USAGE = [
  'usage: riskloop run [--app-id ID] [--prefix P] [--guarantee exactly_once|at_least_once] [--state-dir DIR] [--create-topics]',
  '',
  'Configuration comes from the environment (flags override): KAFKA_BROKERS, SCHEMA_REGISTRY_URL,',
  'RISKLOOP_APP_ID, RISKLOOP_TOPIC_PREFIX, RISKLOOP_PARTITIONS, RISKLOOP_GUARANTEE, RISKLOOP_STATE_DIR,',
  'RISKLOOP_RULES, RISKLOOP_MODEL_CARD, RISKLOOP_INSTANCE_ID, LOG_LEVEL, and the tokenization keys',
  'RISKLOOP_ACCOUNT_TOKEN_KEY, RISKLOOP_CARD_KEYS (JSON [{id,key}]), RISKLOOP_CARD_KEY_ID (environment only).',
];

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
  // Metrics, health and the dashboard on 127.0.0.1:RISKLOOP_METRICS_PORT (see docs/operations.md).
  const ops = await startOps(
    { port: config.metricsPort, host: io.env.RISKLOOP_OPS_HOST ?? '127.0.0.1' },
    { brokers: config.brokers, applicationId: config.applicationId, catalogue: app.catalogue, serdes: app.serdes, streams: { loop: app.streams }, models: app.models, logger },
  );
  const stopped = new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'stopping');
      Promise.all([ops.close(), app.close()]).then(
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
