/**
 * Privileged-action audit events (the shared format of issue 15): one JSON record per action on
 * `${topicPrefix}audit-events`, keyed by the event id, written by the registry, the CLI (model
 * releases, replays), the ops server (logins, rule reloads) and the loop (rule set loaded at start);
 * ops/auditSink.ts consumes them into the append-only `privileged_audit` table.
 *
 * JSON rather than Avro on purpose: the registry is one of the writers and must not depend on itself.
 * Details carry no secrets and no identifiers (no account ids, PANs, passwords, tokens).
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import type { Admin, Producer } from '../topology/kafka/client.js';

export const AuditEvent = z.strictObject({
  id: z.string().uuid(),
  at: z.string().datetime({ offset: true }),
  principal: z.string().min(1).max(256),
  authenticated: z.boolean(),
  source: z.enum(['registry', 'cli', 'ops', 'loop']),
  from: z.string().max(256),
  action: z.string().regex(/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/, 'a dotted verb such as model.release'),
  target: z.string().max(512),
  outcome: z.enum(['ok', 'denied', 'failed']),
  details: z.record(z.string(), z.unknown()).default({}),
});
export type AuditEvent = z.output<typeof AuditEvent>;

export const AUDIT_TOPIC_SUFFIX = 'audit-events';

export function auditTopicName(topicPrefix: string): string {
  return `${topicPrefix}${AUDIT_TOPIC_SUFFIX}`;
}

/**
 * Creates the audit topic when missing (the broker does not auto-create): one partition, so the
 * events of all writers keep one order; a year's retention, so the sink may be down for long
 * without losing anything (PostgreSQL is the store of record, Kafka the transport).
 */
export async function ensureAuditTopic(admin: Admin, topic: string): Promise<void> {
  const have = await admin.partitionCounts([topic]);
  if (have.has(topic)) return;
  await admin.createTopics([{ topic, partitions: 1, replicationFactor: -1, config: { 'cleanup.policy': 'delete', 'retention.ms': String(365 * 86_400_000) } }]);
}

/** `os:<user>@<host>`: who runs this process, as the OS says; nobody authenticated it. */
export function osPrincipal(): string {
  let user = 'unknown';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry for this uid (containers): the uid says as much
    user = `uid${process.getuid?.() ?? '?'}`;
  }
  return `os:${user}@${os.hostname()}`;
}

export interface Principal {
  principal: string;
  authenticated: boolean;
}

/**
 * The principal of a CLI command: the Kafka SASL username of its validated connection (config.kafka,
 * bin/kafkaConnection.ts) when it has one — the broker checks that name before it accepts the audit
 * event itself — else `os:<user>@<host>`, unauthenticated (PLAINTEXT/SSL without SASL, or
 * OAUTHBEARER, whose token names nobody riskloop can read without verifying it).
 */
export function cliPrincipal(kafka: { sasl?: { mechanism: string; username?: string } } | undefined): Principal {
  const user = kafka?.sasl && 'username' in kafka.sasl ? kafka.sasl.username : undefined;
  if (user) return { principal: user, authenticated: true };
  return { principal: osPrincipal(), authenticated: false };
}

export function processOrigin(): string {
  return `${os.hostname()}/${process.pid}`;
}

export type AuditInput = Pick<AuditEvent, 'action' | 'target' | 'outcome'> & Partial<Pick<AuditEvent, 'principal' | 'authenticated' | 'from' | 'details'>>;

/** Writes audit events for one source; the defaults (principal, origin) are the process's own. */
export class AuditLog {
  constructor(
    private readonly producer: Pick<Producer, 'send'>,
    readonly topic: string,
    private readonly defaults: Principal & { source: AuditEvent['source']; from?: string },
  ) {}

  /** Sends one event and resolves once the broker has it (acks=all by the producer's default). */
  async record(input: AuditInput): Promise<AuditEvent> {
    const event = AuditEvent.parse({
      id: randomUUID(),
      at: new Date().toISOString(),
      principal: input.principal ?? this.defaults.principal,
      authenticated: input.authenticated ?? this.defaults.authenticated,
      source: this.defaults.source,
      from: input.from ?? this.defaults.from ?? processOrigin(),
      action: input.action,
      target: input.target,
      outcome: input.outcome,
      details: input.details ?? {},
    });
    await this.producer.send([{ topic: this.topic, partition: 0, key: Buffer.from(event.id, 'utf8'), value: Buffer.from(JSON.stringify(event), 'utf8'), timestamp: Date.parse(event.at) }]);
    return event;
  }
}

/** Decodes one record of the audit topic; throws (with the field paths, never the values) when it is not an event. */
export function parseAuditEvent(value: Buffer): AuditEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch {
    throw new Error('audit event is not JSON');
  }
  const parsed = AuditEvent.safeParse(raw);
  if (!parsed.success) throw new Error(`audit event invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
