/**
 * The ops server's access control over real HTTP (Node's fetch as the outside client): the login
 * form and its session cookie, API bearer tokens, roles (403 for a viewer on a rule reload), the
 * Prometheus token on /metrics, open probes, CSRF refusals, the login throttle, session expiry,
 * and the start-up refusal to listen beyond loopback without authentication. Rule reloads really
 * reload the rule file through RuleSetHolder.load; audit events are captured as recorded.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditInput } from '../../ops/auditEvents.js';
import { DecisionMetrics } from '../../ops/decisionMetrics.js';
import { hashPassword, OpsAuthenticator, parseOpsAuthConfig, readOpsAuthConfig, type OpsAuthConfigInput } from '../../ops/opsAuth.js';
import { RuntimeMetricsBridge } from '../../ops/runtimeMetrics.js';
import { OpsServer } from '../../ops/server.js';
import { RuleSetHolder } from '../../processors/rules.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-opsauth-'));
let rulesPath = '';
let starts = 0;
const METRICS_TOKEN = 'm'.repeat(20) + 'etrics-token-0123456789';
const ADMIN_TOKEN = 'a'.repeat(20) + 'dmin-token-0123456789';
const VIEWER_TOKEN = 'v'.repeat(20) + 'iewer-token-0123456789';
const logger = pino({ level: 'silent' });
let users: OpsAuthConfigInput['users'];

beforeAll(async () => {
  users = [
    { name: 'alice', role: 'admin', password: await hashPassword('alice-password-1') },
    { name: 'victor', role: 'viewer', password: await hashPassword('victor-password-1') },
  ];
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function start(auth: OpsAuthConfigInput | undefined, host = '127.0.0.1') {
  const registry = new Registry();
  const events: AuditInput[] = [];
  rulesPath = path.join(dir, `ruleset-${++starts}.json`);
  writeFileSync(rulesPath, readFileSync('rules/ruleset.json'));
  const holder = await RuleSetHolder.fromFile(rulesPath);
  const server = OpsServer.create(
    { host, port: 0, ...(auth ? { auth: parseOpsAuthConfig({ failureDelayMs: 0, ...auth }) } : {}) },
    {
      registry,
      bridge: new RuntimeMetricsBridge(registry, () => []),
      decisions: new DecisionMetrics(registry, () => []),
      streams: {},
      logger,
      rules: { holder, path: rulesPath },
      audit: { record: async (e: AuditInput) => void events.push(e) },
    },
  );
  const addr = await server.start();
  return { base: `http://127.0.0.1:${addr.port}`, server, events, holder };
}

async function login(base: string, username: string, password: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ username, password }).toString(),
  });
}

function sessionOf(res: Response): string {
  const set = res.headers.get('set-cookie');
  expect(set, 'a session cookie').toBeTruthy();
  return set!.split(';')[0]!;
}

describe('ops server access', () => {
  it('keeps the dashboard and /api/* behind a login, lets probes through, and checks roles', async () => {
    const { base, server, events, holder } = await start({ users, tokens: [{ name: 'deployer', role: 'admin', token: ADMIN_TOKEN }, { name: 'grafana', role: 'viewer', token: VIEWER_TOKEN }], metricsToken: METRICS_TOKEN });
    try {
      // No credentials: the page sends the browser to the form, the API says 401.
      const page = await fetch(`${base}/`, { redirect: 'manual' });
      expect(page.status).toBe(303);
      expect(page.headers.get('location')).toBe('/login');
      const api = await fetch(`${base}/api/summary`);
      expect(api.status).toBe(401);
      expect(api.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await fetch(`${base}/api/rules/reload`, { method: 'POST' })).status).toBe(401);
      expect((await fetch(`${base}/login`)).status).toBe(200);
      // Probes stay open.
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);

      // /metrics: the Prometheus token, not a wrong one, not none.
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}x` } })).status).toBe(401);
      const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/# TYPE riskloop_decisions_total counter/);

      // A wrong password: 401, the form again, an audit event naming the user, no session.
      const wrong = await login(base, 'alice', 'not-her-password');
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('set-cookie')).toBeNull();
      expect(await wrong.text()).toContain('Wrong user name or password.');
      // An unknown user answers the same way.
      expect((await login(base, 'mallory', 'whatever-password')).status).toBe(401);

      // The viewer logs in: cookie attributes, then the dashboard and the summary, but no reload.
      const v = await login(base, 'victor', 'victor-password-1');
      expect(v.status).toBe(303);
      expect(v.headers.get('location')).toBe('/');
      const setCookie = v.headers.get('set-cookie')!;
      expect(setCookie).toMatch(/^riskloop_session=[A-Za-z0-9_-]{43}; /);
      expect(setCookie).toContain('HttpOnly');
      expect(setCookie).toContain('SameSite=Strict');
      expect(setCookie).toContain('Path=/');
      expect(setCookie).not.toContain('Secure');
      const viewer = sessionOf(v);
      const dash = await fetch(`${base}/`, { headers: { cookie: viewer } });
      expect(dash.status).toBe(200);
      expect(dash.headers.get('x-frame-options')).toBe('DENY');
      expect(await dash.text()).toContain('data-testid="decisions-total"');
      const summary = (await (await fetch(`${base}/api/summary`, { headers: { cookie: viewer } })).json()) as { user: { name: string; role: string } };
      expect(summary.user).toEqual({ name: 'victor', role: 'viewer' });
      expect((await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { cookie: viewer } })).status).toBe(403);
      expect((await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).status).toBe(403);
      // A logged-in user may read /metrics too.
      expect((await fetch(`${base}/metrics`, { headers: { cookie: viewer } })).status).toBe(200);

      // The admin reloads a changed rule file: the holder swaps, the answer names both versions.
      const a = sessionOf(await login(base, 'alice', 'alice-password-1'));
      const before = holder.current().version;
      const file = JSON.parse(readFileSync(rulesPath, 'utf8')) as { version: string };
      writeFileSync(rulesPath, JSON.stringify({ ...file, version: `2099-01-01.7` }));
      // Another site's page posting with the admin's cookie (a browser without SameSite) is refused.
      expect((await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { cookie: a, origin: 'https://evil.example' } })).status).toBe(403);
      expect((await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { cookie: a, 'sec-fetch-site': 'cross-site' } })).status).toBe(403);
      // Behind a proxy that rewrites Host, a browser's same-origin post still passes on Sec-Fetch-Site.
      expect((await fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://ops.example.com', 'sec-fetch-site': 'same-origin' }, body: 'username=victor&password=victor-password-1' })).status).toBe(303);
      // An opaque origin (a sandboxed frame, a data: page) says `Origin: null`: refused too.
      expect((await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { cookie: a, origin: 'null' } })).status).toBe(403);
      expect(holder.current().version).toBe(before);
      const reload = await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { cookie: a, origin: base } });
      expect(reload.status).toBe(200);
      expect(await reload.json()).toMatchObject({ ruleSetVersion: `2099-01-01.7`, previousVersion: before });
      expect(holder.current().version).toBe(`2099-01-01.7`);
      // A broken file is refused and the rule set in force stays.
      writeFileSync(rulesPath, '{"version": "broken", "rules": [{"id": 1}]}');
      const refused = await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(refused.status).toBe(422);
      expect(holder.current().version).toBe(`2099-01-01.7`);

      // Logging out ends the session.
      const out = await fetch(`${base}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: a } });
      expect(out.status).toBe(303);
      expect((await fetch(`${base}/api/summary`, { headers: { cookie: a } })).status).toBe(401);

      // What was audited: every login (ok and refused) and every reload attempt, with who and where.
      const summaryOf = events.map((e) => `${e.action} ${e.principal} ${e.outcome} ${e.target}`);
      expect(summaryOf).toEqual([
        'ops.login alice denied ops-server',
        'ops.login mallory denied ops-server',
        'ops.login victor ok ops-server',
        'ruleset.reload victor denied ' + rulesPath,
        'ruleset.reload grafana denied ' + rulesPath,
        'ops.login alice ok ops-server',
        'ops.login victor ok ops-server',
        `ruleset.reload alice ok 2099-01-01.7`,
        `ruleset.reload deployer failed ${rulesPath}`,
      ]);
      for (const e of events) expect(e.from).toMatch(/127\.0\.0\.1/);
      expect(events.find((e) => e.outcome === 'ok' && e.action === 'ruleset.reload')!.authenticated).toBe(true);
      // No password and no token in any event.
      const text = JSON.stringify(events);
      for (const secret of ['alice-password-1', 'victor-password-1', 'not-her-password', ADMIN_TOKEN, VIEWER_TOKEN]) expect(text).not.toContain(secret);
    } finally {
      await server.close();
    }
  }, 60_000);

  it('locks a client out after repeated failures, expires sessions, and marks cookies Secure behind TLS', async () => {
    const { base, server } = await start({ users, maxFailures: 3, lockoutMs: 60_000, sessionTtlMs: 1500, cookieSecure: true });
    try {
      const ok = await login(base, 'victor', 'victor-password-1');
      const set = ok.headers.get('set-cookie')!;
      expect(set).toMatch(/^__Host-riskloop_session=/);
      expect(set).toContain('; Secure');
      const session = sessionOf(ok);
      expect((await fetch(`${base}/api/summary`, { headers: { cookie: session } })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 1700));
      expect((await fetch(`${base}/api/summary`, { headers: { cookie: session } })).status).toBe(401);

      for (let i = 0; i < 3; i++) expect((await login(base, 'alice', `guess-${i}`)).status).toBe(401);
      // Locked: even the right password is refused now, with Retry-After.
      const locked = await login(base, 'alice', 'alice-password-1');
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      // A login form posted from another site is refused before any password check.
      expect((await login(base, 'victor', 'victor-password-1', { origin: 'https://evil.example' })).status).toBe(403);
    } finally {
      await server.close();
    }
    // A burst of parallel guesses is queued (two scrypt checks at a time), not dropped: every one
    // is answered, and the client is locked out afterwards.
    const fresh = await start({ users, maxFailures: 3, lockoutMs: 60_000 });
    try {
      const t0 = Date.now();
      const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => login(fresh.base, 'victor', `burst-${i}`)));
      expect(burst.map((r) => r.status)).toEqual(Array(8).fill(401));
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect((await login(fresh.base, 'victor', 'victor-password-1')).status).toBe(429);
    } finally {
      await fresh.server.close();
    }
  }, 60_000);

  it('runs open only on loopback, without rule reloads, and refuses to listen beyond it', async () => {
    const { base, server, events } = await start(undefined);
    try {
      expect((await fetch(`${base}/`)).status).toBe(200);
      expect((await fetch(`${base}/api/summary`)).status).toBe(200);
      expect((await fetch(`${base}/metrics`)).status).toBe(200);
      expect((await fetch(`${base}/api/rules/reload`, { method: 'POST' })).status).toBe(403);
      expect(events.map((e) => `${e.action} ${e.outcome} ${e.authenticated}`)).toEqual(['ruleset.reload denied false']);
    } finally {
      await server.close();
    }
    await expect(start(undefined, '0.0.0.0')).rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without authentication/);
    // With users configured it may listen there.
    const wide = await start({ users }, '0.0.0.0');
    await wide.server.close();
  }, 60_000);

  it('ops/opsUsers.ts writes a users file from a password on stdin, and the server accepts it', async () => {
    const file = path.join(dir, 'made-users.json');
    const add = (name: string, role: string, password: string) =>
      execFileSync(process.execPath, ['--import', 'tsx', 'ops/opsUsers.ts', 'add', file, name, role], { input: password, encoding: 'utf8' });
    expect(add('carol', 'admin', 'carol-first-password')).toContain('carol (admin) written');
    // Rotation: the same name again replaces the entry.
    add('carol', 'admin', 'carol-second-password');
    add('dave', 'viewer', 'dave-password-123');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('carol-second-password');
    const c = readOpsAuthConfig({ RISKLOOP_OPS_USERS_FILE: file });
    expect(c.users.map((u) => `${u.name}:${u.role}`)).toEqual(['carol:admin', 'dave:viewer']);
    const auth = new OpsAuthenticator(parseOpsAuthConfig({ users: JSON.parse(text) as OpsAuthConfigInput['users'], failureDelayMs: 0 }));
    expect((await auth.login('carol', 'carol-first-password', 'x')).ok).toBe(false);
    expect((await auth.login('carol', 'carol-second-password', 'y')).ok).toBe(true);
    expect(() => add('erin', 'admin', 'short')).toThrow();
  }, 60_000);

  it('reads users and tokens from files, never their values into errors', () => {
    const usersFile = path.join(dir, 'users.json');
    const tokensFile = path.join(dir, 'tokens.json');
    const metricsFile = path.join(dir, 'metrics-token');
    writeFileSync(usersFile, JSON.stringify(users));
    writeFileSync(tokensFile, JSON.stringify([{ name: 'ci', role: 'admin', token: ADMIN_TOKEN }]));
    // Two lines: the old token and its successor during a rotation; both are accepted.
    writeFileSync(metricsFile, `${METRICS_TOKEN}\n${METRICS_TOKEN}-next\n`);
    const c = readOpsAuthConfig({ RISKLOOP_OPS_USERS_FILE: usersFile, RISKLOOP_OPS_TOKENS_FILE: tokensFile, RISKLOOP_METRICS_TOKEN_FILE: metricsFile });
    expect(c.users.map((u) => u.name)).toEqual(['alice', 'victor']);
    expect(c.tokens.map((t) => t.name)).toEqual(['ci']);
    expect(c.metricsToken).toHaveLength(2);
    const auth = new OpsAuthenticator(c);
    expect(auth.metricsAllowed(METRICS_TOKEN)).toBe(true);
    expect(auth.metricsAllowed(`${METRICS_TOKEN}-next`)).toBe(true);
    expect(auth.metricsAllowed(`${METRICS_TOKEN}-other`)).toBe(false);
    expect(auth.metricsAllowed(undefined)).toBe(false);
    writeFileSync(tokensFile, JSON.stringify([{ name: 'ci', role: 'admin', token: 'short-secret' }]));
    expect(() => readOpsAuthConfig({ RISKLOOP_OPS_TOKENS_FILE: tokensFile })).toThrow(/tokens are at least 32 characters/);
    try {
      readOpsAuthConfig({ RISKLOOP_OPS_TOKENS_FILE: tokensFile });
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret');
    }
    writeFileSync(usersFile, JSON.stringify([{ name: 'bob', role: 'admin', password: 'plain-text-password' }]));
    expect(() => readOpsAuthConfig({ RISKLOOP_OPS_USERS_FILE: usersFile })).toThrow(/scrypt hash/);
  });
});
