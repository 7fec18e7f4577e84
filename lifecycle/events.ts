/**
 * Model lineage and history (issue 18): every candidate, gate result, stage change, rollback and
 * person's command is one JSON event on `${topicPrefix}model-lifecycle`, keyed by the model version.
 * The topic is the source of truth for where every model stands (foldLifecycle); the
 * model-releases topic stays the actuator the running loops obey. Each event is mirrored as a
 * privileged-action audit event (ops/auditEvents.ts) so that ops/auditSink.ts puts it into
 * PostgreSQL's append-only `privileged_audit` table, where auditors query it with SQL.
 *
 * JSON rather than Avro, as for the audit events: the history must stay readable by any tool
 * without the registry, and its writers (retrainer, controller, CLI) need no schema round trip.
 * Details carry no PANs, account ids or secrets: only versions, paths, dates, counts and figures.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AuditEvent, AuditLog } from '../ops/auditEvents.js';
import type { Admin, KafkaClient, Producer } from '../topology/kafka/client.js';

export const LIFECYCLE_TOPIC_SUFFIX = 'model-lifecycle';

export function lifecycleTopicName(topicPrefix: string): string {
  return `${topicPrefix}${LIFECYCLE_TOPIC_SUFFIX}`;
}

/**
 * Creates the lifecycle topic when missing: one partition, so all writers' events keep one order
 * (the fold depends on it), and append-only — delete policy with infinite retention, never
 * compacted, because an auditor must be able to read every step a model took, not just its last.
 */
export async function ensureLifecycleTopic(admin: Admin, topic: string): Promise<void> {
  const have = await admin.partitionCounts([topic]);
  if (have.has(topic)) {
    if (have.get(topic) !== 1) throw new Error(`topic ${topic} has ${have.get(topic)} partitions; the model lifecycle needs exactly 1 (one order for all events)`);
    return;
  }
  await admin.createTopics([{ topic, partitions: 1, replicationFactor: -1, config: { 'cleanup.policy': 'delete', 'retention.ms': '-1' } }]);
}

export const STAGES = ['candidate', 'rejected', 'shadow', 'canary', 'champion', 'rolled-back', 'retired'] as const;
export const StageEnum = z.enum(STAGES);
export type Stage = z.output<typeof StageEnum>;

export const LIFECYCLE_EVENT_TYPES = ['candidate', 'gate', 'stage', 'rollback', 'command'] as const;

export const LifecycleEvent = z.strictObject({
  id: z.string().uuid(),
  at: z.string().datetime({ offset: true }),
  /** The model version the event is about. */
  version: z.string().min(1),
  type: z.enum(LIFECYCLE_EVENT_TYPES),
  /** The model's stage after this event; null: unchanged. */
  stage: StageEnum.nullable(),
  /** 'retrainer@host' | 'controller@host' | 'os:user@host' */
  actor: z.string(),
  /** False when a person's command caused it. */
  automatic: z.boolean(),
  /** One line for people: why this happened. */
  reason: z.string(),
  policyVersion: z.string().nullable(),
  /** Per type (docs in /work/coord/TEAM18.md and docs/operations.md); no PANs, account ids, secrets. */
  details: z.record(z.string(), z.unknown()),
});
export type LifecycleEvent = z.output<typeof LifecycleEvent>;
export type LifecycleInput = Omit<LifecycleEvent, 'id' | 'at'> & { at?: string };

/** Decodes one record of the lifecycle topic; throws with the field paths, never the values. */
export function parseLifecycleEvent(value: Buffer): LifecycleEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch {
    throw new Error('lifecycle event is not JSON');
  }
  const parsed = LifecycleEvent.safeParse(raw);
  if (!parsed.success) throw new Error(`lifecycle event invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

// --- the audit mirror -------------------------------------------------------------------------

/** Longest string kept in an audit row's details; reasons and check details are one line for people. */
const MAX_AUDIT_TEXT = 500;
/** Checks kept per audit row: a gate report has about ten; the full list stays in the report file. */
const MAX_AUDIT_CHECKS = 30;

/**
 * A value an audit row can hold: JSON, finite numbers (JSON.stringify would turn NaN into null
 * silently; here it is null on purpose), strings without NUL (PostgreSQL's jsonb rejects \u0000 and
 * the sink would then retry the batch forever) and cut to a readable length.
 */
function auditValue(v: unknown, depth = 0): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') {
    // eslint-disable-next-line no-control-regex -- NUL is exactly what must go
    const clean = v.replace(/\u0000/g, '');
    return clean.length > MAX_AUDIT_TEXT ? `${clean.slice(0, MAX_AUDIT_TEXT - 1)}…` : clean;
  }
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'boolean') return v;
  if (depth >= 3) return null;
  if (Array.isArray(v)) return v.slice(0, MAX_AUDIT_CHECKS).map((x) => auditValue(x, depth + 1));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = auditValue(x, depth + 1);
    return out;
  }
  return null;
}

function pick(details: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in details) out[k] = details[k];
  return out;
}

/** A check as an auditor reads it: what was measured, against what, and whether it held. */
function auditCheck(c: unknown): unknown {
  if (c === null || typeof c !== 'object') return c;
  return pick(c as Record<string, unknown>, ['name', 'passed', 'value', 'limit', 'detail']);
}

/**
 * What of an event goes into the audit row: who and why, lineage (data range, label cut-off,
 * feature set, parent), the figures a gate or check measured, and the event id to find the full
 * event on the lifecycle topic. Paths to ONNX files and free-form extras stay on the topic.
 */
export function auditDetails(e: LifecycleEvent): Record<string, unknown> {
  const d = e.details;
  let specific: Record<string, unknown>;
  switch (e.type) {
    case 'candidate':
      specific = pick(d, ['parent', 'featureSetVersion', 'trainingFrom', 'trainingTo', 'labelCutoff', 'examples', 'positives', 'trigger', 'cost', 'cardPath']);
      break;
    case 'gate':
      specific = { ...pick(d, ['passed', 'reportPath']), ...(Array.isArray(d.checks) ? { checks: d.checks.map(auditCheck) } : {}) };
      break;
    case 'stage':
      specific = { ...pick(d, ['from', 'to', 'share']), ...(Array.isArray(d.checks) ? { checks: d.checks.map(auditCheck) } : {}) };
      break;
    case 'rollback':
      specific = { ...pick(d, ['restored']), failedCheck: auditCheck(d.failedCheck ?? null) };
      break;
    case 'command':
      specific = pick(d, ['command']);
      break;
  }
  return auditValue({
    lifecycleEventId: e.id,
    stage: e.stage,
    actor: e.actor,
    automatic: e.automatic,
    reason: e.reason,
    policyVersion: e.policyVersion,
    ...specific,
  }) as Record<string, unknown>;
}

/** A failed gate is a refused release; everything else that was recorded happened. */
function auditOutcome(e: LifecycleEvent): AuditEvent['outcome'] {
  return e.type === 'gate' && e.details.passed === false ? 'failed' : 'ok';
}

export class LifecycleLog {
  constructor(
    private readonly producer: Pick<Producer, 'send'>,
    readonly topic: string,
    private readonly audit: AuditLog | null,
  ) {}

  /**
   * Writes to the lifecycle topic (key = version), then the audit mirror: action
   * `model.lifecycle.<type>`, target = version. Resolves once the broker has both; rejects (and
   * the caller must not act as if it happened) when either write fails. The audit event is written
   * second so that an audit row never claims a step the history does not hold.
   */
  async record(input: LifecycleInput): Promise<LifecycleEvent> {
    const event = LifecycleEvent.parse({ ...input, id: randomUUID(), at: input.at ?? new Date().toISOString() });
    await this.producer.send([{ topic: this.topic, partition: 0, key: Buffer.from(event.version, 'utf8'), value: Buffer.from(JSON.stringify(event), 'utf8'), timestamp: Date.parse(event.at) }]);
    if (this.audit) await this.audit.record({ action: `model.lifecycle.${event.type}`, target: event.version, outcome: auditOutcome(event), details: auditDetails(event) });
    return event;
  }
}

/**
 * Reads the whole topic, beginning to the end offsets at call time; a missing topic is an empty
 * history. A record that is not an event throws (with its offset, never its content) unless
 * `onInvalid` is given, which then decides: the fold is what rollouts act on, so by default an
 * unreadable history stops the caller rather than being guessed around.
 */
export async function readLifecycle(
  client: KafkaClient,
  topic: string,
  opts: { onInvalid?: (offset: number, error: Error) => void } = {},
): Promise<LifecycleEvent[]> {
  const admin = await client.admin();
  let start: number;
  let end: number;
  try {
    if (!(await admin.partitionCounts([topic])).has(topic)) return [];
    start = (await admin.beginningOffsets(topic)).get(0) ?? 0;
    end = (await admin.endOffsets(topic)).get(0) ?? 0;
  } finally {
    await admin.disconnect();
  }
  const events: LifecycleEvent[] = [];
  if (end <= start) return events;
  const reader = client.partitionReader({ readCommitted: true });
  try {
    await reader.read(
      [{ topic, partition: 0, offset: start }],
      (batch) => {
        for (const r of batch.records) {
          if (r.offset >= end) continue;
          if (r.value === null) continue;
          try {
            events.push(parseLifecycleEvent(r.value));
          } catch (err) {
            if (!opts.onInvalid) throw new Error(`${topic}/0@${r.offset}: ${(err as Error).message}`, { cause: err });
            opts.onInvalid(r.offset, err as Error);
          }
        }
      },
      { until: new Map([[`${topic}:0`, end]]) },
    );
  } finally {
    await reader.stop();
  }
  return events;
}

// --- the fold ---------------------------------------------------------------------------------

export interface ModelHistory {
  version: string;
  stage: Stage;
  /** When the model entered its current stage (the event's `at`). */
  since: string;
  paused: boolean;
  events: LifecycleEvent[];
}

export interface LifecycleState {
  /** Version in the 'champion' stage. */
  champion: string | null;
  /** What a rollback goes back to. */
  previousChampion: string | null;
  models: Map<string, ModelHistory>;
}

/**
 * Where every model stands, from its events in topic order. Rules beyond "stage = the last
 * non-null stage":
 *  - a model becoming champion replaces the champion before it, which is then 'retired' (the
 *    loops score with one champion) and becomes the previous champion;
 *  - a rollback of version V restoring R makes V 'rolled-back' (and no longer a rollback target)
 *    and, when R is not already the champion, R champion again; the previous champion is then the
 *    one before R, if any;
 *  - 'command' events pause/resume set `paused` (the controller leaves a paused model where it
 *    is); promote/rollback commands change nothing by themselves: the controller acts on them and
 *    records the stage/rollback event that does.
 */
export function foldLifecycle(events: readonly LifecycleEvent[]): LifecycleState {
  const models = new Map<string, ModelHistory>();
  let champion: string | null = null;
  // Earlier champions, most recent last, without those rolled back: the last is what a rollback
  // goes back to.
  let past: string[] = [];

  const model = (version: string, at: string): ModelHistory => {
    let m = models.get(version);
    if (!m) {
      m = { version, stage: 'candidate', since: at, paused: false, events: [] };
      models.set(version, m);
    }
    return m;
  };
  const setStage = (m: ModelHistory, stage: Stage, at: string): void => {
    if (m.stage === stage) return;
    m.stage = stage;
    m.since = at;
  };
  const becomeChampion = (m: ModelHistory, at: string): void => {
    if (champion !== null && champion !== m.version) {
      const old = models.get(champion);
      if (old && old.stage === 'champion') setStage(old, 'retired', at);
      past = past.filter((v) => v !== champion);
      past.push(champion);
    }
    past = past.filter((v) => v !== m.version);
    champion = m.version;
    setStage(m, 'champion', at);
  };

  for (const e of events) {
    const m = model(e.version, e.at);
    m.events.push(e);
    if (e.type === 'command') {
      if (e.details.command === 'pause') m.paused = true;
      else if (e.details.command === 'resume') m.paused = false;
    }
    if (e.type === 'rollback') {
      const restored = typeof e.details.restored === 'string' && e.details.restored !== '' ? e.details.restored : null;
      past = past.filter((v) => v !== e.version);
      if (champion === e.version) champion = null;
      setStage(m, e.stage ?? 'rolled-back', e.at);
      if (restored !== null && restored !== e.version) becomeChampion(model(restored, e.at), e.at);
      continue;
    }
    if (e.stage === null) continue;
    if (e.stage === 'champion') {
      becomeChampion(m, e.at);
      continue;
    }
    setStage(m, e.stage, e.at);
    if (champion === e.version) {
      // The champion left the stage without a successor (a person retired it): the loops then
      // decide by rules alone, and it is what a rollback would bring back.
      champion = null;
      past = past.filter((v) => v !== e.version);
      past.push(e.version);
    }
    if (e.stage === 'rolled-back' || e.stage === 'rejected') past = past.filter((v) => v !== e.version);
  }
  return { champion, previousChampion: past.at(-1) ?? null, models };
}
