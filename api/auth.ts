/**
 * Static API keys: `Authorization: Bearer <token>` or `X-API-Key: <token>`. Tokens are compared
 * as SHA-256 digests in constant time, so neither their length nor a common prefix shows in the
 * response time. The caller is identified by the key's id, which is all that is ever logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type Caller = { keyId: string } | { keyId: null; anonymous: true };

export function presentedToken(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  const key = req.headers['x-api-key'];
  return typeof key === 'string' && key.length > 0 ? key : undefined;
}

/** The caller, or undefined when the request must be refused (401). */
export function authenticate(req: IncomingMessage, keys: readonly { id: string; sha256: Buffer }[], allowAnonymous: boolean): Caller | undefined {
  const token = presentedToken(req);
  if (token === undefined) return allowAnonymous ? { keyId: null, anonymous: true } : undefined;
  const digest = createHash('sha256').update(token, 'utf8').digest();
  let match: string | undefined;
  // Every key is compared, so the time taken does not say which one matched.
  for (const k of keys) if (timingSafeEqual(digest, k.sha256) && match === undefined) match = k.id;
  // A wrong key is refused even when anonymous calls are allowed: it is a misconfigured caller.
  return match === undefined ? undefined : { keyId: match };
}
