/**
 * The decisions the API answered recently, by transaction id, so that a retry within the TTL is
 * answered without another round trip through the loop. The loop is still the authority: it
 * remembers every decided id for as long as its decision snapshots live (see docs/decision-api.md),
 * and a retry that misses this cache is answered by the loop with the same decision.
 *
 * The entry keeps a fingerprint of the request's transaction: a retry must be the same transaction.
 * A different one under the same id is not answered from here; it goes to the loop, which refuses
 * it (TRANSACTION_ID_REUSED). Fallback answers are never cached: a retry should get the real decision.
 * Bounded by count (oldest first out) and by age; Map keeps insertion order, so both are O(1).
 */
import { createHash } from 'node:crypto';
import type { Decision } from '../schemas/types.js';

interface Entry {
  fingerprint: string;
  decision: Decision;
  at: number;
}

export function fingerprintOf(transaction: unknown): string {
  return createHash('sha256').update(JSON.stringify(transaction)).digest('base64url');
}

export class RecentDecisions {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(transactionId: string, fingerprint: string): Decision | undefined {
    const e = this.entries.get(transactionId);
    if (!e) return undefined;
    if (this.now() - e.at > this.ttlMs) {
      this.entries.delete(transactionId);
      return undefined;
    }
    return e.fingerprint === fingerprint ? e.decision : undefined;
  }

  put(transactionId: string, fingerprint: string, decision: Decision): void {
    if (this.max === 0 || this.ttlMs === 0) return;
    this.entries.delete(transactionId);
    this.entries.set(transactionId, { fingerprint, decision, at: this.now() });
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    // Expired entries at the old end go as new ones come in.
    for (const [id, e] of this.entries) {
      if (this.now() - e.at <= this.ttlMs) break;
      this.entries.delete(id);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
