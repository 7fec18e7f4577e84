/** Model lifecycle events (lifecycle/events.ts): the record shape, its audit mirror, the topic's settings and the fold. */
import { describe, expect, it } from 'vitest';
import { AuditLog, parseAuditEvent } from '../../../ops/auditEvents.js';
import {
  auditDetails,
  ensureLifecycleTopic,
  foldLifecycle,
  LifecycleLog,
  lifecycleTopicName,
  parseLifecycleEvent,
  type LifecycleEvent,
  type LifecycleInput,
} from '../../../lifecycle/events.js';
import type { Admin, OutgoingRecord, TopicSpec } from '../../../topology/kafka/client.js';

const base = { actor: 'retrainer@host', automatic: true, reason: 'test', policyVersion: 'lifecycle-policy-1' } as const;

function logInto(sent: OutgoingRecord[], audit: OutgoingRecord[]): LifecycleLog {
  const auditLog = new AuditLog({ send: async (r) => void audit.push(...r) }, 'p.audit-events', { principal: 'svc', authenticated: false, source: 'loop', from: 'host/1' });
  return new LifecycleLog({ send: async (r) => void sent.push(...r) }, lifecycleTopicName('p.'), auditLog);
}

let clock = Date.parse('2026-12-01T00:00:00Z');
function ev(input: Omit<LifecycleInput, 'actor' | 'automatic' | 'reason' | 'policyVersion'> & Partial<LifecycleInput>): LifecycleEvent {
  clock += 1000;
  return { id: crypto.randomUUID(), at: new Date(clock).toISOString(), ...base, ...input } as LifecycleEvent;
}
const stage = (version: string, from: string, to: LifecycleEvent['stage']): LifecycleEvent => ev({ version, type: 'stage', stage: to, details: { from, to } });

describe('lifecycle events', () => {
  it('writes the event keyed by version on one partition, then mirrors it as model.lifecycle.<type> for the audit trail', async () => {
    const sent: OutgoingRecord[] = [];
    const audit: OutgoingRecord[] = [];
    const log = logInto(sent, audit);
    const e = await log.record({
      ...base,
      version: 'm-2',
      type: 'candidate',
      stage: 'candidate',
      details: {
        cardPath: 'models/m-2.card.json', onnxPath: 'models/m-2.onnx', parent: 'm-1', featureSetVersion: 'fs-3',
        trainingFrom: '2026-11-01T00:00:00Z', trainingTo: '2026-11-20T00:00:00Z', labelCutoff: '2026-11-20T00:00:00Z',
        examples: 12000, positives: 140, trigger: 'schedule', cost: { wallMs: 5300, cpuMs: 9100, examples: 12000, bytes: 4_200_000 },
      },
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ topic: 'p.model-lifecycle', partition: 0 });
    expect(sent[0]!.key!.toString()).toBe('m-2');
    expect(parseLifecycleEvent(sent[0]!.value!)).toEqual(e);
    expect(sent[0]!.timestamp).toBe(Date.parse(e.at));

    expect(audit).toHaveLength(1);
    const a = parseAuditEvent(audit[0]!.value!);
    expect(a).toMatchObject({ action: 'model.lifecycle.candidate', target: 'm-2', outcome: 'ok', source: 'loop', principal: 'svc' });
    expect(a.details).toEqual({
      lifecycleEventId: e.id, stage: 'candidate', actor: 'retrainer@host', automatic: true, reason: 'test', policyVersion: 'lifecycle-policy-1',
      parent: 'm-1', featureSetVersion: 'fs-3', trainingFrom: '2026-11-01T00:00:00Z', trainingTo: '2026-11-20T00:00:00Z', labelCutoff: '2026-11-20T00:00:00Z',
      examples: 12000, positives: 140, trigger: 'schedule', cost: { wallMs: 5300, cpuMs: 9100, examples: 12000, bytes: 4_200_000 }, cardPath: 'models/m-2.card.json',
    });
  });

  it('records a failed gate as a failed audit outcome with its figures, trimmed to what the database can hold', async () => {
    const sent: OutgoingRecord[] = [];
    const audit: OutgoingRecord[] = [];
    const checks = [
      { name: 'ap', passed: false, value: 0.41, limit: 0.52, detail: 'candidate 0.41 vs champion 0.50 + margin 0.02', extra: { big: 'x'.repeat(10_000) } },
      { name: 'latency', passed: true, value: Number.NaN, limit: Infinity, detail: `nul\u0000inside ${'y'.repeat(2000)}` },
    ];
    await logInto(sent, audit).record({ ...base, version: 'm-3', type: 'gate', stage: 'rejected', details: { passed: false, reportPath: 'models/m-3.gates.json', checks } });
    const a = parseAuditEvent(audit[0]!.value!);
    expect(a.outcome).toBe('failed');
    expect(a.action).toBe('model.lifecycle.gate');
    const got = a.details.checks as Array<Record<string, unknown>>;
    expect(got[0]).toEqual({ name: 'ap', passed: false, value: 0.41, limit: 0.52, detail: 'candidate 0.41 vs champion 0.50 + margin 0.02' });
    // NaN/Infinity are null on purpose; NUL is gone (PostgreSQL jsonb refuses it); long text is cut.
    expect(got[1]).toMatchObject({ name: 'latency', value: null, limit: null });
    expect(got[1]!.detail).not.toContain('\u0000');
    expect((got[1]!.detail as string).length).toBeLessThanOrEqual(500);
    expect(audit[0]!.value!.length).toBeLessThan(2000);
    // The topic keeps the event whole.
    expect(parseLifecycleEvent(sent[0]!.value!).details.checks).toHaveLength(2);
  });

  it('leaves paths to artifacts and unknown extras out of the audit row, keeps rollback reasons', () => {
    const rollback = ev({ version: 'm-4', type: 'rollback', stage: 'rolled-back', reason: 'canary decline rate 0.31 > 0.10', details: { restored: 'm-1', failedCheck: { name: 'declineRate', value: 0.31, limit: 0.1, detail: '412 decisions' }, scratch: 'x' } });
    expect(auditDetails(rollback)).toMatchObject({ restored: 'm-1', failedCheck: { name: 'declineRate', value: 0.31, limit: 0.1, detail: '412 decisions' }, reason: 'canary decline rate 0.31 > 0.10', stage: 'rolled-back' });
    expect(auditDetails(rollback)).not.toHaveProperty('scratch');
    const cand = ev({ version: 'm-4', type: 'candidate', stage: 'candidate', details: { onnxPath: '/abs/m-4.onnx', parent: null } });
    expect(auditDetails(cand)).not.toHaveProperty('onnxPath');
    expect(auditDetails(cand)).toHaveProperty('parent', null);
    const cmd = ev({ version: 'm-4', type: 'command', stage: null, actor: 'os:alice@desk', automatic: false, details: { command: 'pause' } });
    expect(auditDetails(cmd)).toMatchObject({ command: 'pause', actor: 'os:alice@desk', automatic: false });
  });

  it('refuses what is not an event before anything is written, naming fields and never values', async () => {
    const sent: OutgoingRecord[] = [];
    const audit: OutgoingRecord[] = [];
    await expect(logInto(sent, audit).record({ ...base, version: '', type: 'stage', stage: 'live' as never, details: {} })).rejects.toThrow();
    expect(sent).toHaveLength(0);
    expect(audit).toHaveLength(0);
    expect(() => parseLifecycleEvent(Buffer.from('{'))).toThrow('lifecycle event is not JSON');
    let message = '';
    try {
      parseLifecycleEvent(Buffer.from(JSON.stringify({ id: 'secret-looking', at: 'x', version: 'v', type: 'deploy', stage: null, actor: 'a', automatic: true, reason: '', policyVersion: null, details: {} })));
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/id: .*at: .*type: /s);
    expect(message).not.toContain('secret-looking');
  });

  it('does not claim an audit row when the lifecycle write fails', async () => {
    const audit: OutgoingRecord[] = [];
    const auditLog = new AuditLog({ send: async (r) => void audit.push(...r) }, 'a', { principal: 'svc', authenticated: false, source: 'loop' });
    const log = new LifecycleLog({ send: async () => Promise.reject(new Error('broker down')) }, 't', auditLog);
    await expect(log.record({ ...base, version: 'v', type: 'stage', stage: 'shadow', details: { from: 'candidate', to: 'shadow' } })).rejects.toThrow('broker down');
    expect(audit).toHaveLength(0);
  });

  it('creates the topic once, one partition, append-only forever; refuses a topic with more partitions', async () => {
    const created: TopicSpec[] = [];
    let counts = new Map<string, number>();
    const admin = { partitionCounts: async () => counts, createTopics: async (s: TopicSpec[]) => void created.push(...s) } as unknown as Admin;
    await ensureLifecycleTopic(admin, 'p.model-lifecycle');
    expect(created).toEqual([{ topic: 'p.model-lifecycle', partitions: 1, replicationFactor: -1, config: { 'cleanup.policy': 'delete', 'retention.ms': '-1' } }]);
    counts = new Map([['p.model-lifecycle', 1]]);
    await ensureLifecycleTopic(admin, 'p.model-lifecycle');
    expect(created).toHaveLength(1);
    counts = new Map([['p.model-lifecycle', 3]]);
    await expect(ensureLifecycleTopic(admin, 'p.model-lifecycle')).rejects.toThrow(/needs exactly 1/);
  });
});

describe('foldLifecycle', () => {
  it('follows a candidate through the gates and stages; the old champion is retired and becomes the previous champion', () => {
    const events = [
      stage('m-1', 'candidate', 'champion'),
      ev({ version: 'm-2', type: 'candidate', stage: 'candidate', details: {} }),
      ev({ version: 'm-2', type: 'gate', stage: null, details: { passed: true } }),
      stage('m-2', 'candidate', 'shadow'),
      stage('m-2', 'shadow', 'canary'),
    ];
    let s = foldLifecycle(events);
    expect(s.champion).toBe('m-1');
    expect(s.previousChampion).toBeNull();
    expect(s.models.get('m-2')).toMatchObject({ stage: 'canary', since: events[4]!.at, paused: false });
    expect(s.models.get('m-2')!.events).toHaveLength(4);
    events.push(stage('m-2', 'canary', 'champion'));
    s = foldLifecycle(events);
    expect(s.champion).toBe('m-2');
    expect(s.previousChampion).toBe('m-1');
    expect(s.models.get('m-1')).toMatchObject({ stage: 'retired', since: events[5]!.at });
    expect([...s.models.keys()]).toEqual(['m-1', 'm-2']);
  });

  it('a rejected candidate stays rejected and the champion is untouched', () => {
    const s = foldLifecycle([stage('m-1', 'candidate', 'champion'), ev({ version: 'm-2', type: 'candidate', stage: 'candidate', details: {} }), ev({ version: 'm-2', type: 'gate', stage: 'rejected', details: { passed: false } })]);
    expect(s.models.get('m-2')!.stage).toBe('rejected');
    expect(s.champion).toBe('m-1');
  });

  it('a canary rolled back leaves the champion; a champion rolled back restores the one before it', () => {
    const canary = foldLifecycle([stage('m-1', 'candidate', 'champion'), stage('m-2', 'shadow', 'canary'), ev({ version: 'm-2', type: 'rollback', stage: 'rolled-back', details: { restored: 'm-1', failedCheck: null } })]);
    expect(canary.champion).toBe('m-1');
    expect(canary.previousChampion).toBeNull();
    expect(canary.models.get('m-2')!.stage).toBe('rolled-back');

    const events = [stage('m-1', 'candidate', 'champion'), stage('m-2', 'canary', 'champion'), stage('m-3', 'canary', 'champion')];
    let s = foldLifecycle(events);
    expect([s.champion, s.previousChampion]).toEqual(['m-3', 'm-2']);
    events.push(ev({ version: 'm-3', type: 'rollback', stage: 'rolled-back', details: { restored: 'm-2', failedCheck: { name: 'precision', value: 0.1, limit: 0.3 } } }));
    s = foldLifecycle(events);
    expect([s.champion, s.previousChampion]).toEqual(['m-2', 'm-1']);
    expect(s.models.get('m-2')).toMatchObject({ stage: 'champion', since: events[3]!.at });
    expect(s.models.get('m-3')!.stage).toBe('rolled-back');
    // Rolling m-2 back as well goes to m-1; m-3 is never a target again.
    events.push(ev({ version: 'm-2', type: 'rollback', stage: 'rolled-back', details: { restored: 'm-1', failedCheck: null } }));
    s = foldLifecycle(events);
    expect([s.champion, s.previousChampion]).toEqual(['m-1', null]);
  });

  it('a rollback may restore a champion the topic never saw (the one the loop started with)', () => {
    const s = foldLifecycle([stage('m-2', 'canary', 'champion'), ev({ version: 'm-2', type: 'rollback', stage: 'rolled-back', details: { restored: 'boot-1', failedCheck: null } })]);
    expect(s.champion).toBe('boot-1');
    expect(s.models.get('boot-1')!.stage).toBe('champion');
  });

  it('pause and resume commands set paused; promote changes nothing until the controller records the stage', () => {
    const events = [stage('m-2', 'candidate', 'shadow'), ev({ version: 'm-2', type: 'command', stage: null, automatic: false, actor: 'os:alice@desk', details: { command: 'pause' } })];
    expect(foldLifecycle(events).models.get('m-2')).toMatchObject({ paused: true, stage: 'shadow' });
    events.push(ev({ version: 'm-2', type: 'command', stage: null, automatic: false, details: { command: 'promote' } }));
    expect(foldLifecycle(events).models.get('m-2')).toMatchObject({ paused: true, stage: 'shadow' });
    events.push(ev({ version: 'm-2', type: 'command', stage: null, automatic: false, details: { command: 'resume' } }));
    expect(foldLifecycle(events).models.get('m-2')!.paused).toBe(false);
  });

  it('a champion retired by hand leaves no champion and is what a rollback would bring back', () => {
    const s = foldLifecycle([stage('m-1', 'candidate', 'champion'), stage('m-1', 'champion', 'retired')]);
    expect([s.champion, s.previousChampion]).toEqual([null, 'm-1']);
  });

  it('an empty history has no champion and no models', () => {
    const s = foldLifecycle([]);
    expect(s).toEqual({ champion: null, previousChampion: null, models: new Map() });
  });
});
