/**
 * `POST /v1/decisions`: the loop's decision for one transaction within a deadline, over HTTP, for
 * callers in any language (api/openapi.yaml is the contract). A thin layer over the SDK's
 * decide(): the same validation, the same deadline semantics, one shared client per server.
 *
 * Node's own http module: one route and a JSON body do not need a framework, and every outcome
 * below is an explicit status code with a JSON body:
 *   200 the Decision (header Riskloop-Fallback: true when it is a deadline fallback,
 *       Idempotent-Replayed: true when a retry was answered from the recent-decisions cache)
 *   400 invalid JSON or body (message and issues name the paths, never the values)
 *   401 no or unknown API key        422 the loop refused the transaction (its reason code)
 *   503 Kafka did not take it        504 deadline passed (when the policy is `error`)
 * `POST /v1/challenge-results`: how the step-up a CHALLENGE decision asked for ended (PASSED,
 * FAILED, ABANDONED); 202 with the record's partition and offset once Kafka has it.
 * Request bodies and the Decision are never logged; a line per request gives key id, status, ms.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino, { type Logger } from 'pino';
import getRawBody, { type RawBodyError } from 'raw-body';
import { z } from 'zod';
import { RiskloopClient } from '../sdk/client.js';
import type { RiskloopClientConfigInput } from '../sdk/config.js';
import { ClientClosedError, DecisionTimeoutError, InvalidInputError, PublishError, TransactionRejectedError } from '../sdk/errors.js';
import { isFallback } from '../sdk/fallback.js';
import { ChallengeResultInput, TransactionInput, parseInput } from '../sdk/inputs.js';
import { authenticate } from './auth.js';
import type { ApiConfig } from './config.js';
import { RecentDecisions, fingerprintOf } from './recentDecisions.js';

const MAX_BODY_BYTES = 64 * 1024;
const OPENAPI = new URL('./openapi.yaml', import.meta.url);
export const DEADLINE_HEADER = 'riskloop-deadline-ms';

export function requestSchema(maxDeadlineMs: number) {
  return z.strictObject({
    transaction: TransactionInput,
    deadlineMs: z.number().int('must be an integer number of milliseconds').min(1).max(maxDeadlineMs, `must be at most ${maxDeadlineMs} ms`).optional(),
  });
}

export interface DecisionApi {
  url: string;
  port: number;
  client: RiskloopClient;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    super(String(body.message ?? body.error));
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const text = await getRawBody(req, { limit: MAX_BODY_BYTES, encoding: 'utf-8' }).catch((err: unknown) => {
    throw (err as RawBodyError).type === 'entity.too.large' ? new HttpError(413, { error: 'BODY_TOO_LARGE', message: `request body exceeds ${MAX_BODY_BYTES} bytes` }) : err;
  });
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, { error: 'UNSUPPORTED_MEDIA_TYPE', message: 'send the body as application/json' });
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, { error: 'INVALID_JSON', message: 'the body is not valid JSON' });
  }
}

function invalid(issues: readonly { path: string; message: string }[]): HttpError {
  return new HttpError(400, {
    error: 'INVALID_REQUEST',
    message: issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('; '),
    issues,
  });
}

/**
 * Starts the API on config.host:config.port (port 0: any free port) with a connected SDK client
 * made from `clientConfig` (or the one passed in, e.g. a test's).
 */
export async function startDecisionApi(config: ApiConfig, clientConfig: RiskloopClientConfigInput, opts: { logger?: Logger } = {}): Promise<DecisionApi> {
  const logger = opts.logger ?? pino({ level: 'info' });
  const client = new RiskloopClient({ ...clientConfig, onDeadline: config.onDeadline });
  await client.connect();
  const recent = new RecentDecisions(config.cacheTtlMs, config.cacheMax);
  const schema = requestSchema(config.maxDeadlineMs);
  const openapi = readFileSync(OPENAPI);

  async function decide(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const raw = await readJson(req);
    const headerDeadline = req.headers[DEADLINE_HEADER];
    const body = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : raw;
    if (typeof body === 'object' && body !== null && !('deadlineMs' in body) && typeof headerDeadline === 'string') {
      (body as Record<string, unknown>).deadlineMs = /^\d+$/.test(headerDeadline) ? Number(headerDeadline) : headerDeadline;
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw invalid(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
    const { transaction, deadlineMs = config.defaultDeadlineMs } = parsed.data;
    const fingerprint = fingerprintOf(transaction);
    const cached = recent.get(transaction.transactionId, fingerprint);
    if (cached) {
      send(res, 200, cached, { 'idempotent-replayed': 'true' });
      return 200;
    }
    try {
      const decision = await client.decide(transaction, { deadlineMs });
      const fallback = isFallback(decision);
      if (!fallback) recent.put(transaction.transactionId, fingerprint, decision);
      send(res, 200, decision, fallback ? { 'riskloop-fallback': 'true' } : {});
      return 200;
    } catch (err) {
      if (err instanceof DecisionTimeoutError) {
        throw new HttpError(504, { error: 'DEADLINE_EXCEEDED', message: err.message, transactionId: err.transactionId, deadlineMs: err.deadlineMs, published: err.published, retriable: true });
      }
      if (err instanceof TransactionRejectedError) {
        throw new HttpError(422, { error: 'TRANSACTION_REJECTED', message: err.message, transactionId: err.transactionId, reason: err.reason, retriable: false });
      }
      if (err instanceof InvalidInputError) throw invalid(err.issues);
      if (err instanceof PublishError || err instanceof ClientClosedError) {
        throw new HttpError(503, { error: 'UNAVAILABLE', message: 'the decision service cannot reach Kafka; retry with the same transactionId', retriable: true });
      }
      throw err;
    }
  }

  async function challengeResult(req: IncomingMessage, res: ServerResponse): Promise<number> {
    const raw = await readJson(req);
    try {
      const input = parseInput(ChallengeResultInput, 'challenge result', raw);
      const at = await client.publishChallengeResult(input);
      send(res, 202, { transactionId: input.transactionId, partition: at.partition, offset: at.offset });
      return 202;
    } catch (err) {
      if (err instanceof InvalidInputError) throw invalid(err.issues);
      if (err instanceof PublishError || err instanceof ClientClosedError) {
        throw new HttpError(503, { error: 'UNAVAILABLE', message: 'cannot reach Kafka; retry (a repeated result is harmless: the label join keeps one label per transaction)', retriable: true });
      }
      throw err;
    }
  }

  const server: Server = createServer((req, res) => {
    const t0 = performance.now();
    let keyId: string | null = null;
    const done = (status: number): void => {
      logger.debug({ method: req.method, path: req.url, status, keyId, ms: Number((performance.now() - t0).toFixed(1)) }, 'request');
    };
    const route = `${req.method} ${(req.url ?? '/').split('?')[0]}`;
    const handle = async (): Promise<number> => {
      if (route === 'GET /openapi.yaml') {
        res.writeHead(200, { 'content-type': 'application/yaml', 'content-length': openapi.length });
        res.end(openapi);
        return 200;
      }
      if (route === 'GET /healthz') {
        send(res, 200, { status: 'ok' });
        return 200;
      }
      if (route !== 'POST /v1/decisions' && route !== 'POST /v1/challenge-results') throw new HttpError(404, { error: 'NOT_FOUND', message: `no route ${route}` });
      const caller = authenticate(req, config.keys, config.allowAnonymous);
      if (!caller) {
        req.resume();
        throw new HttpError(401, { error: 'UNAUTHORIZED', message: 'send a valid API key as "Authorization: Bearer <token>" or "X-API-Key: <token>"' });
      }
      keyId = caller.keyId;
      return route === 'POST /v1/decisions' ? decide(req, res) : challengeResult(req, res);
    };
    handle().then(done, (err: unknown) => {
      if (err instanceof HttpError) {
        send(res, err.status, err.body, err.status === 401 ? { 'www-authenticate': 'Bearer realm="riskloop"' } : {});
        done(err.status);
        return;
      }
      // Only the class: a message could quote input.
      logger.error({ errorClass: (err as Error)?.name, keyId }, 'decision request failed');
      if (!res.headersSent) send(res, 500, { error: 'INTERNAL', message: 'internal error' });
      done(500);
    });
  });
  // Keep-alive connections from gateways are the norm; make idle ones outlive a typical client pool's.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  logger.info({ host: config.host, port, keys: config.keys.map((k) => k.id), anonymous: config.allowAnonymous, onDeadline: config.onDeadline.mode }, 'decision API listening');
  return {
    url: `http://${host}:${port}`,
    port,
    client,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await client.close();
    },
  };
}
