/**
 * The little HTTP plumbing the registry needs on node:http: path patterns with `{param}`
 * segments, JSON bodies in Confluent's content types, and `{error_code, message}` errors.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import getRawBody, { type RawBodyError } from 'raw-body';
import { type Actor, type AuditEvent, auditEvent } from './audit.js';
import type { Authenticator, Principal, Role } from './auth.js';
import { Errors, RegistryError } from './errors.js';

export const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** What Confluent accepts as a request body type (plus none, which curl sends without -H). */
const ACCEPTED_BODY_TYPES = new Set([
  'application/vnd.schemaregistry.v1+json',
  'application/vnd.schemaregistry+json',
  'application/json',
  'application/octet-stream',
]);

/** Schemas are small; this only stops a runaway client from filling the heap. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface Request {
  /** Who asked (authenticated and authorized for the route before the handler runs). */
  actor: Actor;
  /** The caller's role, for the few routes whose rule depends on more than the route. */
  role: Role | undefined;
  params: Record<string, string>;
  query: URLSearchParams;
  /** The parsed JSON body; 400 if it is not JSON, 415 for a content type Confluent would refuse. */
  body(): Promise<unknown>;
}

export type Handler = (req: Request) => Promise<unknown>;

export interface RouteOptions {
  /** The least role that may call the route (auth.ts); read unless given. */
  role?: Role;
  /**
   * The audit action of a privileged route. Denied calls and calls that fail with a client error
   * are recorded here; successful writes record themselves with their records (service.ts).
   */
  action?: string;
  /** The audit target: the subject, or "(global)" for registry-wide routes. */
  target?: (params: Record<string, string>) => string;
}

interface Route extends RouteOptions {
  method: string;
  segments: string[];
  handler: Handler;
}

export interface RouterOptions {
  authenticator: Authenticator;
  /** Records a denied or failed privileged call; rejects if the event could not be written. */
  audit: (event: AuditEvent) => Promise<void>;
}

export class Router {
  private readonly routes: Route[] = [];

  constructor(private readonly options: RouterOptions) {}

  /** `pattern` like `/subjects/{subject}/versions/{version}`. */
  on(method: string, pattern: string, handler: Handler, options: RouteOptions = {}): this {
    this.routes.push({ ...options, method, segments: pattern.split('/').filter((s) => s !== ''), handler });
    return this;
  }

  /** A node:http request listener that answers every request, errors included, as JSON. */
  listener(logger: Logger): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
      const started = Date.now();
      this.handle(req)
        .then((body) => send(res, 200, body))
        .catch((err: unknown) => {
          const error = err instanceof RegistryError ? err : Errors.storeError((err as Error)?.message ?? String(err));
          if (error.status >= 500) logger.error({ err, method: req.method, url: req.url }, 'request failed');
          send(res, error.status, error.toJSON(), error.headers);
        })
        .finally(() => {
          logger.debug({ method: req.method, url: req.url, status: res.statusCode, ms: Date.now() - started }, 'request');
        });
    };
  }

  private async handle(req: IncomingMessage): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'http://registry');
    // Split before decoding, so a subject holding an encoded "/" stays one segment.
    const parts = url.pathname.split('/').filter((s) => s !== '');
    let pathMatched = false;
    let match: { route: Route; params: Record<string, string> } | undefined;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (params === undefined) continue;
      pathMatched = true;
      if (route.method !== req.method) continue;
      match = { route, params };
      break;
    }
    // Credentials are checked before routing errors, so that nobody learns the routes unauthenticated.
    const from = req.socket.remoteAddress ?? 'unknown';
    const route = match?.route;
    const target = match === undefined ? '' : (route?.target?.(match.params) ?? '(global)');
    const principal = await this.admit(req.headers.authorization, from, route, target);
    if (match === undefined) throw pathMatched ? Errors.methodNotAllowed() : Errors.routeNotFound();
    const actor: Actor = { principal: principal.principal, authenticated: principal.authenticated, from };
    try {
      return await match.route.handler({
        actor,
        role: principal.role,
        params: match.params,
        query: url.searchParams,
        body: () => readJsonBody(req),
      });
    } catch (err) {
      if (match.route.action !== undefined && err instanceof RegistryError && err.status < 500) {
        const outcome = err.status === 401 || err.status === 403 ? 'denied' : 'failed';
        await this.options.audit(auditEvent(actor, match.route.action, target, outcome, { status: err.status, error_code: err.errorCode }));
      }
      throw err;
    }
  }

  /** Authenticates and authorizes; a refused privileged call is audited as denied before the refusal. */
  private async admit(header: string | undefined, from: string, route: Route | undefined, target: string): Promise<Principal> {
    const { authenticator } = this.options;
    let who: Actor = { principal: 'anonymous', authenticated: false, from };
    try {
      const principal = await authenticator.authenticate(header, from);
      who = principal;
      authenticator.authorize(principal, route?.role ?? 'read');
      return principal;
    } catch (err) {
      if (route?.action !== undefined && err instanceof RegistryError) {
        const actor: Actor = { principal: who.principal, authenticated: who.authenticated, from };
        await this.options.audit(auditEvent(actor, route.action, target, 'denied', { status: err.status, error_code: err.errorCode }));
      }
      throw err;
    }
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    let part: string;
    try {
      part = decodeURIComponent(parts[i] as string);
    } catch {
      return undefined;
    }
    if (p.startsWith('{') && p.endsWith('}')) params[p.slice(1, -1)] = part;
    else if (p !== part) return undefined;
  }
  return params;
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (type !== '' && !ACCEPTED_BODY_TYPES.has(type)) throw Errors.unsupportedMediaType(type);
  const text = await getRawBody(req, { limit: MAX_BODY_BYTES, encoding: 'utf-8' }).catch((err: unknown) => {
    throw (err as RawBodyError).type === 'entity.too.large' ? Errors.badRequest(`request body larger than ${MAX_BODY_BYTES} bytes`) : err;
  });
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw Errors.badRequest(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const payload = JSON.stringify(body ?? null);
  res.writeHead(status, { ...headers, 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}
