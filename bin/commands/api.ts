/**
 * `riskloop api`: the synchronous decision API (`POST /v1/decisions`, api/openapi.yaml) in front of
 * a running loop. It is a client of the loop (publishes, reads decisions), not part of it: run as
 * many as the gateways need, beside `riskloop run`. SIGTERM stops accepting, answers or fails the
 * calls in flight, and exits.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { readApiConfig } from '../../api/config.js';
import { startDecisionApi } from '../../api/server.js';
import type { CommandIo } from './topics.js';

export const API_USAGE = [
  'usage: riskloop api [--port N] [--host H]',
  '',
  'Serves POST /v1/decisions (and GET /openapi.yaml, GET /healthz). Configuration from the environment:',
  '  RISKLOOP_API_KEYS (JSON [{"id","token"}]), RISKLOOP_API_ALLOW_ANONYMOUS, RISKLOOP_API_HOST, RISKLOOP_API_PORT,',
  '  RISKLOOP_API_DEFAULT_DEADLINE_MS, RISKLOOP_API_MAX_DEADLINE_MS, RISKLOOP_API_ON_DEADLINE (error | rules | static:REVIEW),',
  '  RISKLOOP_API_CACHE_TTL_MS, RISKLOOP_API_CACHE_MAX; and the loop\'s KAFKA_BROKERS, SCHEMA_REGISTRY_URL,',
  '  RISKLOOP_TOPIC_PREFIX, RISKLOOP_ACCOUNT_TOKEN_KEY. See docs/decision-api.md.',
];

export async function apiCommand(argv: string[], io: CommandIo): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    for (const l of API_USAGE) io.out(l);
    return 0;
  }
  const { api, client } = readApiConfig(io.env, { ...(values.port ? { port: values.port } : {}), ...(values.host ? { host: values.host } : {}) });
  const logger = pino({ level: io.env.LOG_LEVEL ?? 'info', redact: { paths: ['pan', '*.pan', 'accountId', '*.accountId', 'token', '*.token'], censor: '[redacted]' } });
  const server = await startDecisionApi(api, client, { logger });
  io.out(`riskloop api: listening on ${server.url} (POST /v1/decisions)`);
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'stopping');
      server.close().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
