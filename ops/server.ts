/**
 * The ops HTTP server `riskloop run` starts: /metrics (Prometheus), /healthz, /readyz,
 * /api/summary (the dashboard's JSON), POST /api/rules/reload, / (the dashboard page) and
 * /login, /logout. Node's own http module: a handful of routes do not need a framework.
 *
 * Access (ops/opsAuth.ts, docs/operations.md "Ops server access"):
 *  - /healthz, /readyz: open (probes carry no credentials; they show runtime states only).
 *  - /metrics: the Prometheus bearer token when one is configured (or a logged-in user); open
 *    otherwise, with a warning at start.
 *  - the dashboard and /api/*: a session cookie from the login form, or an API bearer token. The
 *    dashboard redirects to /login; /api/* answers 401. /api/rules/reload needs the admin role (403
 *    for a viewer). Without any users or tokens configured the server runs open (viewer rights, no
 *    reload) and only on loopback: bound beyond loopback it refuses to start.
 *  - CSRF: the session cookie is SameSite=Strict, so a browser never sends it with a request
 *    started by another site, and state changes are POST only; a POST whose Origin (or
 *    Sec-Fetch-Site) shows another origin is refused as well.
 * Binds 127.0.0.1 by default.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import getRawBody, { type RawBodyError } from 'raw-body';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { RuleSetHolder } from '../processors/rules.js';
import type { StreamsRuntime } from '../topology/threads/streamThreads.js';
import type { AuditInput } from './auditEvents.js';
import type { DecisionMetrics } from './decisionMetrics.js';
import { bearerToken, cookie, isLoopback, OpsAuthenticator, parseOpsAuthConfig, type OpsAuthConfig, type OpsPrincipal } from './opsAuth.js';
import type { ReleaseEvents } from './releaseEvents.js';
import type { RuntimeMetricsBridge } from './runtimeMetrics.js';
import { WINDOWS, type ChartData, type WindowName } from './timeSeries.js';
import type { OpsRequestContext } from './reviewQueue.js';

export const OpsServerConfig = z.object({
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port (tests). */
  port: z.number().int().min(0).max(65535).default(9464),
});
/** Where and how: `auth` is read once by the caller (readOpsAuthConfig); absent means none configured. */
export type OpsServerConfigInput = z.input<typeof OpsServerConfig> & { auth?: OpsAuthConfig };

export interface OpsServerDeps {
  registry: Registry;
  bridge: RuntimeMetricsBridge;
  decisions: DecisionMetrics;
  /** The runtimes whose state /healthz and /readyz report (the loop, the drift monitor). */
  /** A KafkaStreams, or the client of a loop's stream threads (RISKLOOP_STREAM_THREADS > 1). */
  streams: { [name: string]: StreamsRuntime };
  logger: Logger;
  /** The loop's rule set and its file: POST /api/rules/reload loads the file again (admin). */
  rules?: { holder: RuleSetHolder; path: string };
  /** Privileged actions (logins, rule reloads) are recorded here (ops/auditEvents.ts). */
  audit?: { record(input: AuditInput): Promise<unknown> };
  /** The charts' time series for a window (ops/timeSeries.ts): GET /api/series?window=15m|1h|24h. */
  charts?: (window: WindowName, nowMs: number) => Promise<ChartData>;
  /** Rule reloads through POST /api/rules/reload are counted here (applied / refused). */
  releases?: ReleaseEvents;
  /** Route modules of their own (ops/reviewQueue.ts), asked in turn before the 404: true when they answered. */
  routes?: { handle(req: http.IncomingMessage, res: http.ServerResponse, ctx: OpsRequestContext): Promise<boolean> }[];
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
const LOGIN = readFileSync(new URL('./login.html', import.meta.url), 'utf8');
const MAX_FORM_BYTES = 4096;
/**
 * uPlot (npm `uplot`, MIT, ~50 kB, no dependencies) draws the charts: served from node_modules by
 * this server, so the page needs no CDN. Read once at start.
 */
const require = createRequire(import.meta.url);
const UPLOT_DIR = new URL('.', `file://${require.resolve('uplot/dist/uPlot.iife.min.js')}`);
const ASSETS: Record<string, { type: string; body: Buffer }> = {
  '/assets/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', body: readFileSync(new URL('uPlot.iife.min.js', UPLOT_DIR)) },
  '/assets/uPlot.min.css': { type: 'text/css; charset=utf-8', body: readFileSync(new URL('uPlot.min.css', UPLOT_DIR)) },
};

/** Pages must not be framed (clickjacking) nor leak their URL onwards. */
const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on the form's
  // POST, which the CSRF check must refuse.
  'referrer-policy': 'same-origin',
};

/**
 * Without users or tokens the ops server is open, which is acceptable on loopback only. Called by
 * `riskloop run` before anything starts, and again by the server itself.
 */
export function assertOpsExposureAllowed(host: string, auth: Pick<OpsAuthConfig, 'users' | 'tokens'>): void {
  if (auth.users.length === 0 && auth.tokens.length === 0 && !isLoopback(host)) {
    throw new Error(`ops server: refusing to listen on ${host} without authentication; configure RISKLOOP_OPS_USERS_FILE and/or RISKLOOP_OPS_TOKENS_FILE, or bind to 127.0.0.1`);
  }
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class OpsServer {
  private server: http.Server | undefined;
  readonly auth: OpsAuthenticator;

  constructor(
    private readonly config: z.output<typeof OpsServerConfig>,
    auth: OpsAuthConfig,
    private readonly deps: OpsServerDeps,
  ) {
    this.auth = new OpsAuthenticator(auth);
  }

  static create(config: OpsServerConfigInput, deps: OpsServerDeps): OpsServer {
    const { auth, ...where } = config;
    return new OpsServer(OpsServerConfig.parse(where), auth ?? parseOpsAuthConfig({}), deps);
  }

  async start(): Promise<{ host: string; port: number }> {
    const log = this.deps.logger;
    assertOpsExposureAllowed(this.config.host, this.auth.config);
    if (!this.auth.enabled) {
      log.warn({ host: this.config.host }, 'OPS SERVER WITHOUT LOGIN: no RISKLOOP_OPS_USERS_FILE or RISKLOOP_OPS_TOKENS_FILE; the dashboard and /api/summary are open to every local user of this machine, and rule reloads are disabled');
    }
    if (!this.auth.config.metricsToken) log.warn('/metrics is open: set RISKLOOP_METRICS_TOKEN_FILE to require a bearer token (Prometheus authorization.credentials_file)');
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
    this.deps.logger.info(
      { host: addr.address, port: addr.port, login: this.auth.enabled, users: this.auth.config.users.length, tokens: this.auth.config.tokens.length, metricsToken: Boolean(this.auth.config.metricsToken) },
      'ops server listening (/metrics, /healthz, /readyz, /)',
    );
    return { host: addr.address, port: addr.port };
  }

  /** Who is asking: an API token, then a session cookie; in open mode an anonymous viewer. */
  private principal(req: http.IncomingMessage): OpsPrincipal | undefined {
    const token = bearerToken(req.headers.authorization);
    if (token !== undefined) return this.auth.bearer(token);
    const s = this.auth.session(cookie(req.headers.cookie, this.auth.cookieName));
    if (s) return s;
    return this.auth.enabled ? undefined : { name: 'anonymous', role: 'viewer', via: 'open' };
  }

  /**
   * A state-changing request a browser started from another origin (CSRF defence in depth).
   * Sec-Fetch-Site, which every current browser sends, decides when present: it does not depend on
   * the Host header, which a reverse proxy may rewrite (nginx's default). Older browsers: Origin
   * against Host.
   */
  private crossOrigin(req: http.IncomingMessage): boolean {
    const site = req.headers['sec-fetch-site'];
    if (typeof site === 'string') return site !== 'same-origin' && site !== 'none';
    const origin = req.headers.origin;
    if (typeof origin !== 'string' || origin === 'null') return origin === 'null';
    try {
      return new URL(origin).host !== req.headers.host;
    } catch {
      return true;
    }
  }

  private client(req: http.IncomingMessage): string {
    return req.socket.remoteAddress ?? 'unknown';
  }

  private cookieHeader(value: string, maxAgeS: number): string {
    return `${this.auth.cookieName}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${this.auth.config.cookieSecure ? '; Secure' : ''}`;
  }

  private async readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '')) {
      req.resume();
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the form as application/x-www-form-urlencoded');
    }
    const text = await getRawBody(req, { limit: MAX_FORM_BYTES, encoding: 'utf-8' }).catch((err: unknown) => {
      throw (err as RawBodyError).type === 'entity.too.large' ? new HttpError(413, 'BODY_TOO_LARGE', 'form too large') : err;
    });
    return new URLSearchParams(text);
  }

  private loginPage(res: http.ServerResponse, status: number, message: string): void {
    res.writeHead(status, PAGE_HEADERS);
    res.end(LOGIN.replace('<!--message-->', message));
  }

  /** Best effort for attempts that changed nothing; the caller decides when an event must exist. */
  private async audit(input: AuditInput, mustRecord: boolean): Promise<void> {
    if (!this.deps.audit) return;
    try {
      await this.deps.audit.record(input);
    } catch (err) {
      this.deps.logger.error({ action: input.action, outcome: input.outcome, err: (err as Error).message }, 'audit event could not be written');
      if (mustRecord) throw new HttpError(503, 'AUDIT_UNAVAILABLE', 'the audit log cannot be written; try again later');
    }
  }

  private async login(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.crossOrigin(req)) {
      req.resume();
      throw new HttpError(403, 'CROSS_ORIGIN', 'cross-origin form posts are refused');
    }
    if (!this.auth.enabled) {
      req.resume();
      return this.loginPage(res, 404, 'No ops users are configured (RISKLOOP_OPS_USERS_FILE); the dashboard is open on loopback.');
    }
    const form = await this.readForm(req);
    // A name is at most 64 characters; cap what is logged and audited (it may be a mistyped password).
    const name = (form.get('username') ?? '').slice(0, 64);
    const from = this.client(req);
    const result = await this.auth.login(name, form.get('password') ?? '', from);
    if (!result.ok) {
      const locked = result.reason === 'locked';
      this.deps.logger.warn({ user: name, from, reason: result.reason }, 'ops login refused');
      await this.audit({ action: 'ops.login', target: 'ops-server', outcome: 'denied', principal: name || '(empty)', authenticated: false, from, details: { reason: result.reason } }, false);
      if (locked) res.setHeader('retry-after', String(result.retryAfterS));
      return this.loginPage(res, locked ? 429 : 401, locked ? 'Too many failed attempts; try again later.' : 'Wrong user name or password.');
    }
    try {
      await this.audit({ action: 'ops.login', target: 'ops-server', outcome: 'ok', principal: name, authenticated: true, from, details: { role: result.role } }, true);
    } catch (err) {
      this.auth.logout(result.sessionId);
      throw err;
    }
    this.deps.logger.info({ user: name, role: result.role, from }, 'ops login');
    res.writeHead(303, { location: '/', 'set-cookie': this.cookieHeader(result.sessionId, Math.floor(this.auth.config.sessionTtlMs / 1000)), 'cache-control': 'no-store' });
    res.end();
  }

  private async reloadRules(req: http.IncomingMessage, who: OpsPrincipal, json: (status: number, body: unknown) => void): Promise<void> {
    req.resume();
    const from = this.client(req);
    const base = { action: 'ruleset.reload', principal: who.name, authenticated: who.via !== 'open', from } as const;
    const rules = this.deps.rules;
    if (who.role !== 'admin' || who.via === 'open') {
      await this.audit({ ...base, target: rules?.path ?? 'rules', outcome: 'denied', details: { role: who.role } }, false);
      throw new HttpError(403, 'FORBIDDEN', who.via === 'open' ? 'rule reloads need an authenticated admin (configure RISKLOOP_OPS_USERS_FILE)' : 'rule reloads need the admin role');
    }
    if (!rules) throw new HttpError(404, 'NOT_FOUND', 'this ops server has no rule set to reload');
    const previous = rules.holder.current().version;
    let next;
    try {
      next = await rules.holder.load(rules.path);
    } catch (err) {
      this.deps.releases?.record({ kind: 'rules', version: previous, mode: 'reload', outcome: 'refused', reason: (err as Error).message });
      await this.audit({ ...base, target: rules.path, outcome: 'failed', details: { path: rules.path, version: previous, error: (err as Error).name } }, false);
      throw new HttpError(422, 'RULESET_REFUSED', `the rule file was refused; rule set ${previous} stays in force: ${(err as Error).message}`);
    }
    this.deps.releases?.record({ kind: 'rules', version: next.version, mode: 'reload', outcome: 'applied', reason: null });
    const details = { path: rules.path, version: next.version, previousVersion: previous, rules: next.rules.length };
    try {
      await this.audit({ ...base, target: next.version, outcome: 'ok', details }, true);
    } catch {
      throw new HttpError(500, 'NOT_AUDITED', `rule set ${next.version} is in force but its audit event could not be written; see the log`);
    }
    json(200, { ruleSetVersion: next.version, previousVersion: previous, rules: next.rules.length });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      switch (`${method} ${path}`) {
        case 'GET /healthz': {
          const h = health(this.deps.streams);
          return json(h.alive ? 200 : 503, h.body);
        }
        case 'GET /readyz': {
          const h = health(this.deps.streams);
          return json(h.ready ? 200 : 503, h.body);
        }
        case 'GET /metrics': {
          const token = bearerToken(req.headers.authorization);
          const allowed = this.auth.metricsAllowed(token) || (token === undefined ? this.auth.session(cookie(req.headers.cookie, this.auth.cookieName)) : this.auth.bearer(token)) !== undefined;
          if (!allowed) throw new HttpError(401, 'UNAUTHORIZED', 'send the metrics bearer token', { 'www-authenticate': 'Bearer realm="riskloop-metrics"' });
          this.deps.bridge.sync();
          const text = await this.deps.registry.metrics();
          res.writeHead(200, { 'content-type': this.deps.registry.contentType });
          res.end(text);
          return;
        }
        case 'GET /login':
          if (this.principal(req)?.via === 'session') {
            res.writeHead(303, { location: '/' });
            res.end();
            return;
          }
          return this.loginPage(res, 200, '');
        case 'POST /login':
          return await this.login(req, res);
        case 'POST /logout':
          req.resume();
          if (this.crossOrigin(req)) throw new HttpError(403, 'CROSS_ORIGIN', 'cross-origin posts are refused');
          this.auth.logout(cookie(req.headers.cookie, this.auth.cookieName));
          res.writeHead(303, { location: '/login', 'set-cookie': this.cookieHeader('', 0) });
          res.end();
          return;
        case 'GET /':
        case 'GET /dashboard': {
          if (!this.principal(req)) {
            res.writeHead(303, { location: '/login', 'cache-control': 'no-store' });
            res.end();
            return;
          }
          res.writeHead(200, PAGE_HEADERS);
          res.end(DASHBOARD);
          return;
        }
      }
      for (const r of this.deps.routes ?? []) if (await r.handle(req, res, { principal: this.principal(req), crossOrigin: this.crossOrigin(req), from: this.client(req) })) return;
      const asset = method === 'GET' ? ASSETS[path] : undefined;
      if (asset) {
        res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'max-age=3600', 'x-content-type-options': 'nosniff' });
        res.end(asset.body);
        return;
      }
      if (path.startsWith('/api/')) {
        const who = this.principal(req);
        if (!who) {
          req.resume();
          throw new HttpError(401, 'UNAUTHORIZED', 'log in at /login or send "Authorization: Bearer <token>"', { 'www-authenticate': 'Bearer realm="riskloop-ops"' });
        }
        if (method === 'GET' && path === '/api/summary') return json(200, { ...this.deps.decisions.summary(), health: health(this.deps.streams).body, user: { name: who.name, role: who.role } });
        if (method === 'GET' && path === '/api/series') {
          const window = new URL(req.url ?? '/', 'http://x').searchParams.get('window') ?? '15m';
          if (!(window in WINDOWS)) throw new HttpError(400, 'BAD_WINDOW', `window must be one of ${Object.keys(WINDOWS).join(', ')}`);
          if (!this.deps.charts) throw new HttpError(404, 'NOT_FOUND', 'this ops server keeps no time series');
          try {
            return json(200, await this.deps.charts(window as WindowName, Date.now()));
          } catch (err) {
            this.deps.logger.warn({ err: (err as Error).message }, 'chart series failed');
            throw new HttpError(502, 'SERIES_UNAVAILABLE', `the time series could not be read: ${(err as Error).message}`);
          }
        }
        if (method === 'POST' && path === '/api/rules/reload') {
          if (who.via === 'session' && this.crossOrigin(req)) {
            req.resume();
            throw new HttpError(403, 'CROSS_ORIGIN', 'cross-origin posts are refused');
          }
          return await this.reloadRules(req, who, json);
        }
      }
      req.resume();
      throw new HttpError(404, 'NOT_FOUND', 'not found');
    } catch (err) {
      if (!(err instanceof HttpError)) throw err;
      if (!res.headersSent) json(err.status, { error: err.code, message: err.message }, err.headers);
      else res.end();
    }
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
  }
}
