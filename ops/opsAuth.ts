/**
 * Who may use the ops server (ops/server.ts), read once at start and validated with zod:
 *
 *   RISKLOOP_OPS_USERS_FILE     JSON [{"name","role":"viewer"|"analyst"|"admin","password":"scrypt$…"}]: people,
 *                               who log in through the form (session cookie). Hashes come from
 *                               `node --import tsx ops/opsUsers.ts hash` (password on stdin).
 *   RISKLOOP_OPS_TOKENS_FILE    JSON [{"name","role","token":"<>= 32 chars>"}]: machines calling
 *                               /api/* with `Authorization: Bearer <token>`.
 *   RISKLOOP_METRICS_TOKEN_FILE the bearer token Prometheus sends to /metrics
 *                               (`authorization: { credentials_file: … }`), one per line (two while
 *                               rotating), or RISKLOOP_METRICS_TOKEN.
 *   RISKLOOP_OPS_COOKIE_SECURE  "true" behind a TLS-terminating proxy: the cookie gets Secure and
 *                               the __Host- prefix.
 *   RISKLOOP_OPS_SESSION_TTL_S  session lifetime (28800 = 8 h); RISKLOOP_OPS_MAX_FAILURES (5) and
 *                               RISKLOOP_OPS_LOCKOUT_S (300): failed logins per client address or
 *                               user name before further attempts are refused for that long.
 *
 * Secrets only from files (or the environment for the metrics token), never from flags; tokens are
 * kept as SHA-256 digests and compared in constant time; nothing here is ever logged but names.
 * Password hashes: node:crypto scrypt (N=2^15, r=8, p=1, 16-byte salt, 32-byte key) — the KDF Node
 * ships, so no native dependency; OWASP lists scrypt with these parameters.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** analyst: a viewer who may also claim review cases and give verdicts (ops/reviewQueue.ts); admin may too. */
export const ROLES = ['viewer', 'analyst', 'admin'] as const;
export type Role = (typeof ROLES)[number];

function scrypt(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
const maxmem = (n: number, r: number): number => 256 * n * r;

/** `scrypt$N$r$p$<salt base64>$<key base64>` */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, 32, { ...SCRYPT, maxmem: maxmem(SCRYPT.N, SCRYPT.r) });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const PasswordHash = z
  .string()
  .regex(/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'password must be an scrypt hash (scrypt$N$r$p$salt$key; make one with ops/opsUsers.ts hash)')
  .transform((s) => {
    const [, n, r, p, salt, key] = s.split('$');
    return { N: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(salt!, 'base64'), key: Buffer.from(key!, 'base64') };
  })
  .refine((h) => h.N >= 1 << 14 && (h.N & (h.N - 1)) === 0 && h.r >= 8 && h.p >= 1 && h.salt.length >= 16 && h.key.length >= 32, 'scrypt parameters too weak (N >= 16384, r >= 8, 16-byte salt, 32-byte key)');
type PasswordHash = z.output<typeof PasswordHash>;

const Name = z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'names are 1-64 letters, digits, ".", "_", "@" or "-"');

const Users = z
  .array(z.strictObject({ name: Name, role: z.enum(ROLES), password: PasswordHash }))
  .refine((us) => new Set(us.map((u) => u.name)).size === us.length, 'user names must be unique');
const Tokens = z
  .array(z.strictObject({ name: Name, role: z.enum(ROLES), token: z.string().min(32, 'tokens are at least 32 characters') }))
  .transform((ts) => ts.map((t) => ({ name: t.name, role: t.role, sha256: sha256(t.token) })));

export const OpsAuthConfig = z.object({
  users: Users.default([]),
  tokens: Tokens.default([]),
  /** One token, or several while one is being rotated (old and new both accepted). */
  metricsToken: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : [v]))
    .pipe(z.array(z.string().min(32, 'the metrics token is at least 32 characters').transform(sha256)).min(1))
    .optional(),
  cookieSecure: z.boolean().default(false),
  sessionTtlMs: z.number().int().positive().default(8 * 3_600_000),
  maxFailures: z.number().int().min(1).default(5),
  lockoutMs: z.number().int().min(0).default(300_000),
  /** Added to every failed login: slows guessing, and a wrong user answers as slowly as a wrong password. */
  failureDelayMs: z.number().int().min(0).default(250),
});
export type OpsAuthConfig = z.output<typeof OpsAuthConfig>;
export type OpsAuthConfigInput = z.input<typeof OpsAuthConfig>;

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

type Env = Readonly<Record<string, string | undefined>>;

function readJsonFile(file: string, variable: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not the parser's message: it can quote the file's content.
    throw new Error(`${variable}: ${file} is not JSON`);
  }
}

const ENV_OF: Record<string, string> = {
  users: 'RISKLOOP_OPS_USERS_FILE',
  tokens: 'RISKLOOP_OPS_TOKENS_FILE',
  metricsToken: 'RISKLOOP_METRICS_TOKEN_FILE',
  cookieSecure: 'RISKLOOP_OPS_COOKIE_SECURE',
  sessionTtlMs: 'RISKLOOP_OPS_SESSION_TTL_S',
  maxFailures: 'RISKLOOP_OPS_MAX_FAILURES',
  lockoutMs: 'RISKLOOP_OPS_LOCKOUT_S',
};

export function parseOpsAuthConfig(input: OpsAuthConfigInput): OpsAuthConfig {
  const parsed = OpsAuthConfig.safeParse(input);
  if (!parsed.success) {
    // Paths and messages only, never values: the input holds hashes and tokens.
    const msg = parsed.error.issues.map((i) => `${i.path.join('.')}${ENV_OF[String(i.path[0])] ? ` ($${ENV_OF[String(i.path[0])]})` : ''}: ${i.message}`);
    throw new Error(`invalid ops server authentication settings:\n  ${msg.join('\n  ')}`);
  }
  return parsed.data;
}

export function readOpsAuthConfig(env: Env): OpsAuthConfig {
  const input: Record<string, unknown> = {};
  if (env.RISKLOOP_OPS_USERS_FILE) input.users = readJsonFile(env.RISKLOOP_OPS_USERS_FILE, 'RISKLOOP_OPS_USERS_FILE');
  if (env.RISKLOOP_OPS_TOKENS_FILE) input.tokens = readJsonFile(env.RISKLOOP_OPS_TOKENS_FILE, 'RISKLOOP_OPS_TOKENS_FILE');
  if (env.RISKLOOP_METRICS_TOKEN_FILE && env.RISKLOOP_METRICS_TOKEN) throw new Error('set RISKLOOP_METRICS_TOKEN_FILE or RISKLOOP_METRICS_TOKEN, not both');
  if (env.RISKLOOP_METRICS_TOKEN_FILE) {
    let text: string;
    try {
      text = readFileSync(env.RISKLOOP_METRICS_TOKEN_FILE, 'utf8');
    } catch (err) {
      throw new Error(`RISKLOOP_METRICS_TOKEN_FILE: cannot read ${env.RISKLOOP_METRICS_TOKEN_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    // Prometheus sends its credentials file's content trimmed. Here one token per line: during a
    // rotation the new one beside the old, then the old removed (docs/operations.md).
    input.metricsToken = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  } else if (env.RISKLOOP_METRICS_TOKEN) input.metricsToken = env.RISKLOOP_METRICS_TOKEN;
  if (env.RISKLOOP_OPS_COOKIE_SECURE) input.cookieSecure = env.RISKLOOP_OPS_COOKIE_SECURE === 'true';
  const num = (v: string | undefined, scale: number): number | undefined => (v === undefined || v === '' ? undefined : Number(v) * scale);
  const ttl = num(env.RISKLOOP_OPS_SESSION_TTL_S, 1000);
  if (ttl !== undefined) input.sessionTtlMs = ttl;
  const maxFailures = num(env.RISKLOOP_OPS_MAX_FAILURES, 1);
  if (maxFailures !== undefined) input.maxFailures = maxFailures;
  const lockout = num(env.RISKLOOP_OPS_LOCKOUT_S, 1000);
  if (lockout !== undefined) input.lockoutMs = lockout;
  return parseOpsAuthConfig(input as OpsAuthConfigInput);
}

export interface OpsPrincipal {
  name: string;
  role: Role;
  via: 'session' | 'token' | 'open';
}

interface Session {
  name: string;
  role: Role;
  expiresAt: number;
}

/** A dummy hash verified for unknown users, so that they cost the same time as a wrong password. */
let dummy: PasswordHash | undefined;

/**
 * At most this many password checks at once: each scrypt takes 32 MiB and a libuv thread for
 * ~100 ms, so a flood of login posts queues here instead of exhausting memory and the thread pool
 * the loop's RocksDB and DNS work share.
 */
const MAX_CONCURRENT_CHECKS = 2;
let running = 0;
const waiting: (() => void)[] = [];
async function limited<T>(work: () => Promise<T>): Promise<T> {
  // A finishing check hands its slot to the next in line, so the count never exceeds the limit.
  if (running >= MAX_CONCURRENT_CHECKS) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/**
 * Sessions (in memory, per process: a restart logs everyone out), bearer tokens and the login
 * throttle. Session ids are 256 random bits, base64url.
 */
export class OpsAuthenticator {
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(
    readonly config: OpsAuthConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /** Something to log in with is configured: users or API tokens. */
  get enabled(): boolean {
    return this.config.users.length > 0 || this.config.tokens.length > 0;
  }

  get cookieName(): string {
    // __Host-: the browser only accepts it with Secure, Path=/ and no Domain, so no sibling host can set it.
    return this.config.cookieSecure ? '__Host-riskloop_session' : 'riskloop_session';
  }

  /** Seconds until the client may try again, or 0. */
  lockedFor(keys: string[]): number {
    const t = this.now();
    let wait = 0;
    for (const k of keys) {
      const f = this.failures.get(k);
      if (!f) continue;
      if (t - f.last > this.config.lockoutMs) {
        this.failures.delete(k);
        continue;
      }
      if (f.count >= this.config.maxFailures) wait = Math.max(wait, Math.ceil((f.last + this.config.lockoutMs - t) / 1000));
    }
    return wait;
  }

  private failed(keys: string[]): void {
    const t = this.now();
    // Bounded memory under a spray of addresses/names: forget the oldest.
    if (this.failures.size > 10_000) for (const k of [...this.failures.keys()].slice(0, 1000)) this.failures.delete(k);
    for (const k of keys) {
      const f = this.failures.get(k);
      this.failures.set(k, { count: (f && t - f.last <= this.config.lockoutMs ? f.count : 0) + 1, last: t });
    }
  }

  /**
   * Checks a name and password; on success returns a new session id. Unknown users cost the same
   * scrypt as known ones. Every failure waits failureDelayMs and counts against the client's
   * address and the user name (lockout after maxFailures within lockoutMs).
   */
  async login(name: string, password: string, clientAddress: string): Promise<{ ok: true; sessionId: string; role: Role } | { ok: false; reason: 'locked'; retryAfterS: number } | { ok: false; reason: 'invalid' }> {
    const keys = [`ip:${clientAddress}`, `user:${name}`];
    const locked = this.lockedFor(keys);
    if (locked > 0) return { ok: false, reason: 'locked', retryAfterS: locked };
    const user = this.config.users.find((u) => u.name === name);
    dummy ??= PasswordHash.parse(await hashPassword(randomBytes(16).toString('hex')));
    const h = user?.password ?? dummy;
    const key = await limited(() => scrypt(password, h.salt, h.key.length, { N: h.N, r: h.r, p: h.p, maxmem: maxmem(h.N, h.r) + 1024 * 1024 }));
    const match = timingSafeEqual(key, h.key);
    if (!user || !match) {
      this.failed(keys);
      await new Promise((r) => setTimeout(r, this.config.failureDelayMs));
      return { ok: false, reason: 'invalid' };
    }
    for (const k of keys) this.failures.delete(k);
    const sessionId = randomBytes(32).toString('base64url');
    this.sessions.set(sessionId, { name: user.name, role: user.role, expiresAt: this.now() + this.config.sessionTtlMs });
    return { ok: true, sessionId, role: user.role };
  }

  logout(sessionId: string | undefined): void {
    if (sessionId) this.sessions.delete(sessionId);
  }

  session(sessionId: string | undefined): OpsPrincipal | undefined {
    if (!sessionId) return undefined;
    const s = this.sessions.get(sessionId);
    if (!s) return undefined;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(sessionId);
      return undefined;
    }
    return { name: s.name, role: s.role, via: 'session' };
  }

  /** The API token's principal; every token is compared so the time does not say which matched. */
  bearer(token: string | undefined): OpsPrincipal | undefined {
    if (!token) return undefined;
    const d = sha256(token);
    let hit: OpsPrincipal | undefined;
    for (const t of this.config.tokens) if (timingSafeEqual(d, t.sha256) && !hit) hit = { name: t.name, role: t.role, via: 'token' };
    return hit;
  }

  /** Whether the bearer token is Prometheus's; true when no metrics token is configured. */
  metricsAllowed(token: string | undefined): boolean {
    if (!this.config.metricsToken) return true;
    if (token === undefined) return false;
    const d = sha256(token);
    let ok = false;
    for (const t of this.config.metricsToken) ok = timingSafeEqual(d, t) || ok;
    return ok;
  }
}

export function bearerToken(authorization: string | undefined): string | undefined {
  const m = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return m?.[1];
}

export function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Loopback addresses: the only ones the ops server may listen on without authentication. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
