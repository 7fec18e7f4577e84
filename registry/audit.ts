/**
 * Audit events of registry writes, in the shape every riskloop writer shares (docs/security.md,
 * the `riskloop.audit-events` topic): JSON, not Avro, because the registry must not depend on
 * itself to say what was done to it.
 *
 * A write that changed the registry carries its event in the same Kafka transaction as its
 * `_schemas` records (store.ts): both are committed or neither, so no write goes unaudited and no
 * event claims a write that did not happen. Denied and failed attempts change nothing; their event
 * is produced on its own and the request waits for the broker's ack — if the event cannot be
 * written, the request fails with 500 instead of answering as if it had been recorded.
 */
import { randomUUID } from 'node:crypto';

/** Who asked: the basic-auth user, or `anonymous` where anonymous access is configured. */
export interface Actor {
  principal: string;
  authenticated: boolean;
  /** The client's address as the socket saw it. */
  from: string;
}

export type AuditOutcome = 'ok' | 'denied' | 'failed';

export interface AuditEvent {
  id: string;
  at: string;
  principal: string;
  authenticated: boolean;
  source: 'registry';
  from: string;
  action: string;
  target: string;
  outcome: AuditOutcome;
  /** Subject names, versions, ids, levels and error codes only: never a credential. */
  details: Record<string, unknown>;
}

export function auditEvent(
  actor: Actor,
  action: string,
  target: string,
  outcome: AuditOutcome,
  details: Record<string, unknown> = {},
): AuditEvent {
  return {
    id: randomUUID(),
    at: new Date().toISOString(),
    principal: actor.principal,
    authenticated: actor.authenticated,
    source: 'registry',
    from: actor.from,
    action,
    // The shared format bounds the target (ops/auditEvents.ts); subject names rarely come near it.
    target: target.length > 512 ? `${target.slice(0, 511)}…` : target,
    outcome,
    details,
  };
}

export function encodeAuditEvent(e: AuditEvent): { key: string; value: string } {
  return { key: e.id, value: JSON.stringify(e) };
}
