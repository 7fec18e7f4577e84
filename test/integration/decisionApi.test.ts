/**
 * POST /v1/decisions against the real broker, registry and the risk loop (in-process,
 * exactly_once), called with clients that are not our SDK: Node's fetch for the status codes, and
 * Python's urllib in a child process against `riskloop api` started as its own process, to prove
 * the contract holds for a caller in another language. 401 without or with a wrong key; 400 with
 * a message naming the field for an invalid body; 200 with the decision (reason codes, model and
 * rule-set versions, score); the same decision on a retry, from the server's cache and from the
 * loop itself; 422 with the loop's reason for a transaction it refuses; the deadline policy.
 */
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseApiConfig, type ApiConfigInput } from '../../api/config.js';
import { startDecisionApi, type DecisionApi } from '../../api/server.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { buildRiskLoopApp, type RiskLoopApp } from '../../bin/riskLoopApp.js';
import type { Decision } from '../../schemas/types.js';
import { testAppConfig, testAppEnv } from '../support/appConfig.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';
import { luhnComplete } from '../support/loopData.js';
import { TEST_TOKENIZER_CONFIG } from '../support/riskLoopFixture.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-api-'));
const id = uniq('api');
const config = testAppConfig(id, stateRoot);
const TOKEN = 'test-token-0123456789abcdef0123456789';
const KEYS = JSON.stringify([{ id: 'gateway-test', token: TOKEN }]);

let app: RiskLoopApp;
const servers: DecisionApi[] = [];

function clientConfig() {
  return { brokers: brokers(), schemaRegistryUrl: schemaRegistryUrl(), topicPrefix: config.topicPrefix, accountTokenKey: TEST_TOKENIZER_CONFIG.accountTokenKey, clientId: 'api-test' };
}

async function server(extra: Partial<ApiConfigInput> = {}): Promise<DecisionApi> {
  const s = await startDecisionApi(parseApiConfig({ port: 0, keys: KEYS, ...extra }), clientConfig(), { logger: pino({ level: 'silent' }) });
  servers.push(s);
  return s;
}

function transaction(n: string, overrides: Record<string, unknown> = {}) {
  return {
    transactionId: `${id}-${n}`,
    eventTime: Date.now(),
    accountId: `API-${n}`,
    pan: luhnComplete('411111999000123'),
    amountMinor: 1999,
    currency: 'EUR',
    merchantId: 'M-api',
    mcc: '5812',
    merchantCountry: 'DE',
    channel: 'ECOM',
    cardPresent: false,
    ...overrides,
  };
}

async function post(url: string, body: unknown, headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${url}/v1/decisions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

beforeAll(async () => {
  await ensureTopics(config, { out: () => undefined, err: (l: string) => console.error(l), env: process.env }, { keepHistory: true });
  app = await buildRiskLoopApp(config, pino({ level: 'error' }));
  await app.streams.start();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
  await app?.close();
  rmSync(stateRoot, { recursive: true, force: true });
});

describe('POST /v1/decisions', () => {
  it('refuses calls without a key or with a wrong one (401), and says what is wrong with a bad body (400)', async () => {
    const api = await server();
    const none = await post(api.url, { transaction: transaction('noauth') }, {});
    expect(none.status).toBe(401);
    expect(none.json.error).toBe('UNAUTHORIZED');
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const wrong = await post(api.url, { transaction: transaction('wrong') }, { authorization: 'Bearer not-the-token-but-long-enough-0000000' });
    expect(wrong.status).toBe(401);
    const apiKeyHeader = await post(api.url, 'not json', { 'x-api-key': TOKEN });
    expect(apiKeyHeader.status).toBe(400);
    expect(apiKeyHeader.json.error).toBe('INVALID_JSON');

    const pan = luhnComplete('411111999000555');
    const bad = await post(api.url, { transaction: transaction('bad', { currency: 'euro', amountMinor: -5, pan: `${pan}x`, channel: 'FAX' }), deadlineMs: 999_999 });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toBe('INVALID_REQUEST');
    const message = String(bad.json.message);
    for (const field of ['transaction.currency', 'transaction.amountMinor', 'transaction.pan', 'transaction.channel', 'deadlineMs']) expect(message).toContain(field);
    expect(message).toContain('must be at most 5000 ms');
    // The PAN is never echoed back, not even the bad one.
    expect(JSON.stringify(bad.json)).not.toContain(pan);
    const missing = await post(api.url, { transaction: { transactionId: 'x' } });
    expect(missing.status).toBe(400);
    expect(String(missing.json.message)).toContain('transaction.eventTime');
    const extra = await post(api.url, { transaction: transaction('extra'), deadline: 100 });
    expect(extra.status).toBe(400);
    expect(String(extra.json.message)).toContain('deadline');
    // Over 64 KiB: refused before parsing, with its own code, and the server keeps serving.
    const huge = await post(api.url, { transaction: transaction('huge'), padding: 'x'.repeat(70 * 1024) });
    expect(huge.status).toBe(413);
    expect(huge.json.error).toBe('BODY_TOO_LARGE');
    expect((await post(api.url, 'not json')).status).toBe(400);
  });

  it('answers 200 with the decision, and the same decision on a retry (from its cache, and from the loop)', async () => {
    const api = await server();
    const noCache = await server({ cacheMax: '0' });
    const t = transaction('ok');
    const first = await post(api.url, { transaction: t, deadlineMs: 5000 });
    expect(first.status).toBe(200);
    const d = first.json as unknown as Decision;
    expect(d.transactionId).toBe(t.transactionId);
    expect(['APPROVE', 'REVIEW', 'DECLINE']).toContain(d.decision);
    expect(d.modelVersion).toBe('bootstrap-v1');
    expect(typeof d.score).toBe('number');
    expect(d.ruleSetVersion).toMatch(/\S/);
    expect(Array.isArray(d.reasonCodes)).toBe(true);
    expect(first.headers.get('riskloop-fallback')).toBeNull();

    const again = await post(api.url, { transaction: t, deadlineMs: 5000 });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.json).toEqual(first.json);
    // Another server instance (no cache): the loop itself answers the retry with the stored decision.
    const viaLoop = await post(noCache.url, { transaction: t }, { 'x-api-key': TOKEN, 'riskloop-deadline-ms': '5000' });
    expect(viaLoop.status).toBe(200);
    expect({ ...viaLoop.json, duplicate: false }).toEqual({ ...first.json, duplicate: false });
  });

  it('422 with the loop’s reason for a transaction it refuses; the deadline policy at a deadline it cannot meet', async () => {
    const api = await server();
    const luhn = await post(api.url, { transaction: transaction('luhn', { pan: '4111111111111112' }), deadlineMs: 5000 });
    expect(luhn.status).toBe(422);
    expect(luhn.json.reason).toBe('INVALID_PAN_LUHN');
    const late = await post(api.url, { transaction: transaction('late'), deadlineMs: 1 });
    expect(late.status).toBe(504);
    expect(late.json.error).toBe('DEADLINE_EXCEEDED');
    const fallback = await server({ onDeadline: 'static:REVIEW' });
    const fb = await post(fallback.url, { transaction: transaction('late-fb'), deadlineMs: 1 });
    expect(fb.status).toBe(200);
    expect(fb.headers.get('riskloop-fallback')).toBe('true');
    expect(fb.json.decision).toBe('REVIEW');
    expect(fb.json.reasonCodes).toEqual(['DEADLINE_FALLBACK']);
  });

  it('`riskloop api` as its own process serves a Python urllib caller: 401, 400, 200, same decision on retry', async () => {
    // Keys from a file, as deployed (a mounted secret), not from the environment.
    const keysFile = path.join(stateRoot, `${id}-api-keys.json`);
    writeFileSync(keysFile, KEYS, { mode: 0o600 });
    const env: NodeJS.ProcessEnv = { ...process.env, ...testAppEnv(id, stateRoot), RISKLOOP_API_KEYS_FILE: keysFile, RISKLOOP_API_PORT: '0', LOG_LEVEL: 'warn' };
    delete env.RISKLOOP_API_KEYS;
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/riskloop.ts', 'api'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        const timer = setTimeout(() => reject(new Error(`riskloop api did not start: ${stderr.slice(-2000)}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once('exit', (code) => reject(new Error(`riskloop api exited ${code}: ${stderr.slice(-2000)}`)));
      });
      const script = `
import json, sys, urllib.request, urllib.error
url, token, body = sys.argv[1], sys.argv[2], sys.argv[3]
def call(headers, data):
    req = urllib.request.Request(url + "/v1/decisions", data=data.encode(), method="POST", headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
out = {}
out["noauth"] = call({}, body)
out["bad"] = call({"Authorization": "Bearer " + token}, json.dumps({"transaction": {"transactionId": "py"}}))
out["ok"] = call({"Authorization": "Bearer " + token}, body)
out["retry"] = call({"Authorization": "Bearer " + token}, body)
print(json.dumps(out))
`;
      const body = JSON.stringify({ transaction: transaction('python'), deadlineMs: 5000 });
      const { stdout } = await promisify(execFile)('python3', ['-c', script, url, TOKEN, body], { timeout: 60_000 });
      const r = JSON.parse(stdout) as Record<string, [number, Record<string, unknown>]>;
      expect(r.noauth![0]).toBe(401);
      expect(r.bad![0]).toBe(400);
      expect(String(r.bad![1].message)).toContain('transaction.pan');
      expect(r.ok![0]).toBe(200);
      expect(r.ok![1].transactionId).toBe(`${id}-python`);
      expect(r.retry![0]).toBe(200);
      expect(r.retry![1]).toEqual(r.ok![1]);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
