/**
 * Who may do what on the registry: HTTP basic auth as Confluent's clients send it
 * (`basic.auth.user.info=user:password` → `Authorization: Basic …`), users and roles from a file.
 *
 * Users file (REGISTRY_USERS_FILE), JSON, passwords as scrypt hashes only (never in clear):
 *   {"users": [{"name": "loop", "role": "read", "password": "scrypt$16384$8$1$<salt>$<hash>"}]}
 * Make a hash with `node --import tsx registry/hashPassword.ts` (reads the password on stdin).
 *
 * Roles, each including the ones before it:
 *   read  — GET everything, lookups (POST /subjects/{s}) and compatibility tests: consumers, the loop
 *   write — register schemas: producers that auto-register
 *   admin — delete, compatibility config and mode changes
 *
 * scrypt from node:crypto (no dependency: it is OpenSSL's). Checking a password costs ~50 ms of
 * CPU by design, and Confluent clients send credentials on every request, so a successful check is
 * remembered for a few minutes under an HMAC of the header with a per-process random key: the
 * memory holds no password and no value that would verify elsewhere. Unknown users cost the same
 * scrypt as known ones, and hashes are compared in constant time.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Actor } from './audit.js';
import { Errors } from './errors.js';

export const ROLES = ['read', 'write', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export type AnonymousAccess = Role | 'none';

const RANK: Record<Role, number> = { read: 1, write: 2, admin: 3 };

const SCRYPT = { N: 16_384, r: 8, p: 1, keylen: 32 } as const;
const VERIFIED_TTL_MS = 5 * 60_000;
const MAX_VERIFIED = 10_000;

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keylen: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, keylen, { N, r, p, maxmem: 256 * N * r }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** `scrypt$N$r$p$<salt base64>$<hash base64>` */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keylen);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface StoredHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseHash(encoded: string): StoredHash | undefined {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(encoded);
  if (m === null) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // N a power of two, and bounds that keep one check from exhausting memory or CPU.
  if (N < 1024 || N > 1_048_576 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const key = Buffer.from(m[5] as string, 'base64');
  if (key.length < 16) return undefined;
  return { N, r, p, salt: Buffer.from(m[4] as string, 'base64'), key };
}

async function verify(password: string, h: StoredHash): Promise<boolean> {
  const key = await scryptAsync(password, h.salt, h.N, h.r, h.p, h.key.length);
  return timingSafeEqual(key, h.key);
}

const UsersFileSchema = z.object({
  users: z.array(
    z.object({
      name: z.string().min(1).regex(/^[^:\s]+$/, 'a user name holds no ":" and no whitespace'),
      role: z.enum(ROLES),
      password: z.string().refine((p) => parseHash(p) !== undefined, {
        message: 'password must be an scrypt hash (scrypt$N$r$p$salt$hash), made with registry/hashPassword.ts',
      }),
    }),
  ),
});

export interface RegistryUser {
  name: string;
  role: Role;
  hash: StoredHash;
}

/** Reads and checks the users file; errors name the file and the entry, never a hash. */
export function loadUsersFile(path: string): RegistryUser[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (err) {
    throw new Error(`registry users file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'not valid JSON'}`);
  }
  const parsed = UsersFileSchema.safeParse(raw);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`registry users file ${path}: ${msg}`);
  }
  const names = new Set<string>();
  return parsed.data.users.map((u) => {
    if (names.has(u.name)) throw new Error(`registry users file ${path}: user ${u.name} appears twice`);
    names.add(u.name);
    return { name: u.name, role: u.role, hash: parseHash(u.password) as StoredHash };
  });
}

export interface Principal extends Actor {
  role: Role | undefined;
}

export class Authenticator {
  private users: Map<string, RegistryUser>;
  private readonly cacheKey = randomBytes(32);
  private readonly verified = new Map<string, { name: string; until: number }>();
  /** Burnt on unknown users so that "no such user" takes as long as "wrong password". */
  private readonly decoy: StoredHash;

  constructor(
    users: readonly RegistryUser[],
    readonly anonymous: AnonymousAccess,
  ) {
    this.users = new Map(users.map((u) => [u.name, u]));
    this.decoy = { ...SCRYPT, salt: randomBytes(16), key: randomBytes(SCRYPT.keylen) };
  }

  /**
   * The caller of a request: a user whose credentials check out, or anonymous when no
   * Authorization header came. Wrong or malformed credentials → 401 (also where anonymous access
   * is allowed: a client that sends credentials means to be someone).
   */
  async authenticate(header: string | undefined, from: string): Promise<Principal> {
    if (header === undefined || header === '') {
      return { principal: 'anonymous', authenticated: false, from, role: this.anonymous === 'none' ? undefined : this.anonymous };
    }
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    if (m === null) throw Errors.unauthorized();
    const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw Errors.unauthorized();
    const name = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const user = this.users.get(name);
    const mac = createHmac('sha256', this.cacheKey).update(decoded).digest('base64');
    const hit = this.verified.get(mac);
    if (hit !== undefined && hit.until > Date.now() && user !== undefined && hit.name === name) {
      return { principal: name, authenticated: true, from, role: user.role };
    }
    const ok = await verify(password, user?.hash ?? this.decoy);
    if (!ok || user === undefined) throw Errors.unauthorized();
    if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
    this.verified.set(mac, { name, until: Date.now() + VERIFIED_TTL_MS });
    return { principal: name, authenticated: true, from, role: user.role };
  }

  /**
   * Replaces the users (a re-read users file): requests from now on check against the new hashes
   * and roles, and no check remembered under the old ones counts any more.
   */
  replaceUsers(users: readonly RegistryUser[]): void {
    this.users = new Map(users.map((u) => [u.name, u]));
    this.verified.clear();
  }

  /** 401 for anonymous callers lacking the role (they may log in), 403 for users lacking it. */
  authorize(p: Principal, needed: Role): void {
    if (p.role !== undefined && RANK[p.role] >= RANK[needed]) return;
    if (!p.authenticated) throw Errors.unauthorized();
    throw Errors.forbidden(p.principal, needed);
  }
}
