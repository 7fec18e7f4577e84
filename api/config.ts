/**
 * The decision API's configuration, read once from the environment and validated with zod. API
 * keys are secrets: they are hashed at load, and only their ids are ever logged.
 *
 *   RISKLOOP_API_HOST / RISKLOOP_API_PORT        where to listen (127.0.0.1:8088)
 *   RISKLOOP_API_KEYS_FILE                       a file holding JSON [{"id":"gateway-eu","token":"<>= 32 chars>"}]
 *                                                (preferred: a mounted secret), or the same JSON in
 *   RISKLOOP_API_KEYS                            (the environment); the key id is the caller's principal
 *   RISKLOOP_API_ALLOW_ANONYMOUS                 "true" to accept calls without a key (default false)
 *   RISKLOOP_API_DEFAULT_DEADLINE_MS             deadline when the request gives none (300)
 *   RISKLOOP_API_MAX_DEADLINE_MS                 the largest deadline a request may ask for (5000)
 *   RISKLOOP_API_ON_DEADLINE                     error (default) | static:APPROVE|REVIEW|DECLINE|CHALLENGE | rules
 *   RISKLOOP_API_CACHE_TTL_MS / _CACHE_MAX       recent decisions kept for retries (600000 ms, 100000)
 * plus the SDK's: KAFKA_BROKERS, SCHEMA_REGISTRY_URL, RISKLOOP_TOPIC_PREFIX, RISKLOOP_ACCOUNT_TOKEN_KEY.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DecisionAction } from '../schemas/types.js';
import { clientConfigFromEnv, type RiskloopClientConfigInput } from '../sdk/config.js';

const ApiKeys = z
  .string()
  .transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON: [{"id":"name","token":"<at least 32 characters>"}]' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(z.object({ id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'key ids are 1-64 letters, digits, ".", "_" or "-"'), token: z.string().min(32, 'tokens are at least 32 characters') }))
      .transform((keys) => keys.map((k) => ({ id: k.id, sha256: createHash('sha256').update(k.token, 'utf8').digest() }))),
  );

const OnDeadlineText = z.string().transform((s, ctx) => {
  if (s === 'error') return { mode: 'error' as const };
  if (s === 'rules') return { mode: 'rules' as const, rulesPath: 'rules/ruleset.json', noHit: 'APPROVE' as const };
  const m = /^static:(APPROVE|REVIEW|DECLINE|CHALLENGE)$/.exec(s);
  if (m) return { mode: 'static' as const, decision: m[1] as DecisionAction };
  ctx.addIssue({ code: 'custom', message: 'must be error, rules or static:APPROVE|REVIEW|DECLINE|CHALLENGE' });
  return z.NEVER;
});

export const ApiConfig = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(8088),
    keys: ApiKeys.default([]),
    allowAnonymous: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
    defaultDeadlineMs: z.coerce.number().int().positive().default(300),
    maxDeadlineMs: z.coerce.number().int().positive().max(60_000).default(5000),
    onDeadline: OnDeadlineText.default({ mode: 'error' }),
    cacheTtlMs: z.coerce.number().int().min(0).default(600_000),
    cacheMax: z.coerce.number().int().min(0).default(100_000),
  })
  .superRefine((c, ctx) => {
    if (c.keys.length === 0 && !c.allowAnonymous) {
      ctx.addIssue({ code: 'custom', path: ['keys'], message: 'no API keys configured (RISKLOOP_API_KEYS) and anonymous calls not allowed (RISKLOOP_API_ALLOW_ANONYMOUS=true)' });
    }
    if (c.defaultDeadlineMs > c.maxDeadlineMs) ctx.addIssue({ code: 'custom', path: ['defaultDeadlineMs'], message: 'exceeds the maximum deadline' });
  });
export type ApiConfig = z.output<typeof ApiConfig>;
export type ApiConfigInput = z.input<typeof ApiConfig>;

const ENV = {
  host: 'RISKLOOP_API_HOST',
  port: 'RISKLOOP_API_PORT',
  keys: 'RISKLOOP_API_KEYS',
  allowAnonymous: 'RISKLOOP_API_ALLOW_ANONYMOUS',
  defaultDeadlineMs: 'RISKLOOP_API_DEFAULT_DEADLINE_MS',
  maxDeadlineMs: 'RISKLOOP_API_MAX_DEADLINE_MS',
  onDeadline: 'RISKLOOP_API_ON_DEADLINE',
  cacheTtlMs: 'RISKLOOP_API_CACHE_TTL_MS',
  cacheMax: 'RISKLOOP_API_CACHE_MAX',
} as const;

export function parseApiConfig(input: ApiConfigInput): ApiConfig {
  const parsed = ApiConfig.safeParse(input);
  if (!parsed.success) {
    // Paths and messages only: the input holds the API keys and the account-token key.
    const msg = parsed.error.issues.map((i) => {
      const name = ENV[i.path[0] as keyof typeof ENV];
      return `${i.path.join('.') || 'config'}${name ? ` ($${name})` : ''}: ${i.message}`;
    });
    throw new Error(`invalid decision API configuration:\n  ${msg.join('\n  ')}`);
  }
  return parsed.data;
}

/**
 * The API's own settings, and the SDK client's (validated by the client itself when it is made,
 * with the API's deadline policy: one place decides what a deadline returns).
 */
export function readApiConfig(
  env: Readonly<Record<string, string | undefined>>,
  overrides: { port?: string; host?: string } = {},
): { api: ApiConfig; client: RiskloopClientConfigInput } {
  const raw: Record<string, unknown> = {};
  for (const [name, variable] of Object.entries(ENV)) if (env[variable] !== undefined) raw[name] = env[variable];
  const keysFile = env.RISKLOOP_API_KEYS_FILE;
  if (keysFile) {
    if (env.RISKLOOP_API_KEYS !== undefined) throw new Error('invalid decision API configuration:\n  set RISKLOOP_API_KEYS_FILE or RISKLOOP_API_KEYS, not both');
    try {
      // Read once at start: new or rotated keys take effect on restart (docs/decision-api.md).
      raw.keys = readFileSync(keysFile, 'utf8');
    } catch (err) {
      throw new Error(`invalid decision API configuration:\n  $RISKLOOP_API_KEYS_FILE: cannot read ${keysFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (overrides.port !== undefined) raw.port = overrides.port;
  if (overrides.host !== undefined) raw.host = overrides.host;
  const api = parseApiConfig(raw as ApiConfigInput);
  return { api, client: clientConfigFromEnv(env, { clientId: 'riskloop-api', onDeadline: api.onDeadline }) };
}
