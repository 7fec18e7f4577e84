/**
 * The ops HTTP server `riskloop run` starts: /metrics (Prometheus), /healthz, /readyz,
 * /api/summary (the dashboard's JSON) and / (the dashboard page). Node's own http module: five
 * routes do not need a framework. Binds 127.0.0.1 by default, so the unauthenticated dashboard is
 * only reachable from the machine itself unless an operator chooses otherwise.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { KafkaStreams } from '../topology/kafka/kafkaStreams.js';
import type { DecisionMetrics } from './decisionMetrics.js';
import type { RuntimeMetricsBridge } from './runtimeMetrics.js';

export const OpsServerConfig = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535).default(9464),
});
export type OpsServerConfigInput = z.input<typeof OpsServerConfig>;

export interface OpsServerDeps {
  registry: Registry;
  bridge: RuntimeMetricsBridge;
  decisions: DecisionMetrics;
  /** The runtimes whose state /healthz and /readyz report (the loop, the drift monitor). */
  streams: { [name: string]: KafkaStreams };
  logger: Logger;
}

export interface Health {
  status: 'ok' | 'not-ready' | 'failed';
  runtimes: { [name: string]: { state: string; tasks: { id: string; status: string }[] } };
}

/**
 * Alive unless a runtime is in ERROR (it will not recover by itself: restart the process).
 * Ready when every runtime is RUNNING and all its assigned tasks are restored and running.
 */
export function health(streams: OpsServerDeps['streams']): { alive: boolean; ready: boolean; body: Health } {
  const runtimes: Health['runtimes'] = {};
  let alive = true;
  let ready = true;
  for (const [name, s] of Object.entries(streams)) {
    const tasks = s.taskStates();
    runtimes[name] = { state: s.state, tasks };
    if (s.state === 'ERROR') alive = false;
    if (s.state !== 'RUNNING' || tasks.some((t) => t.status !== 'running')) ready = false;
  }
  return { alive, ready: alive && ready, body: { status: !alive ? 'failed' : ready ? 'ok' : 'not-ready', runtimes } };
}

const DASHBOARD = readFileSync(new URL('./dashboard.html', import.meta.url), 'utf8');

export class OpsServer {
  private server: http.Server | undefined;

  constructor(
    private readonly config: z.output<typeof OpsServerConfig>,
    private readonly deps: OpsServerDeps,
  ) {}

  static create(config: OpsServerConfigInput, deps: OpsServerDeps): OpsServer {
    return new OpsServer(OpsServerConfig.parse(config), deps);
  }

  async start(): Promise<{ host: string; port: number }> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.deps.logger.error({ err: (err as Error).message, path: req.url }, 'ops request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    this.deps.logger.info({ host: addr.address, port: addr.port }, 'ops server listening (/metrics, /healthz, /readyz, /)');
    return { host: addr.address, port: addr.port };
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    switch (path) {
      case '/metrics': {
        this.deps.bridge.sync();
        const text = await this.deps.registry.metrics();
        res.writeHead(200, { 'content-type': this.deps.registry.contentType });
        res.end(text);
        return;
      }
      case '/healthz': {
        const h = health(this.deps.streams);
        return json(h.alive ? 200 : 503, h.body);
      }
      case '/readyz': {
        const h = health(this.deps.streams);
        return json(h.ready ? 200 : 503, h.body);
      }
      case '/api/summary':
        return json(200, { ...this.deps.decisions.summary(), health: health(this.deps.streams).body });
      case '/':
      case '/dashboard':
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(DASHBOARD);
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  }
}
