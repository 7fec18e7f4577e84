/**
 * The rollout state machine with an injected clock: the lifecycle history in memory (the real
 * LifecycleLog over a recording producer, folded by the real foldLifecycle), live figures from a
 * real LiveFollower fed decisions by hand, releases captured instead of published.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { foldLifecycle, LifecycleLog, parseLifecycleEvent, type LifecycleEvent, type LifecycleInput } from '../../../lifecycle/events.js';
import { LiveFollower, type FollowerDeps } from '../../../lifecycle/liveChecks.js';
import { parsePolicy, type LifecyclePolicy } from '../../../lifecycle/policy.js';
import { pendingCommand, planStep, RolloutController } from '../../../lifecycle/rollout.js';
import { canaryBucket } from '../../../processors/scoring.js';
import { buildCatalogue } from '../../../schemas/catalogue.js';
import type { TopicSerdes } from '../../../schemas/createSerdes.js';
import type { Decision, ModelRelease } from '../../../schemas/types.js';
import type { KafkaClient } from '../../../topology/kafka/client.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'rollout-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const base = JSON.parse(readFileSync('models/bootstrap-v1.card.json', 'utf8')) as Record<string, unknown>;
const CARD = path.join(dir, 'cand-1.card.json');
writeFileSync(CARD, JSON.stringify({ ...base, version: 'cand-1', artifact: path.resolve('models/bootstrap-v1.onnx') }));
const T0 = Date.UTC(2026, 11, 1, 12);
const PERSON = 'os:alice@desk';

const policy: LifecyclePolicy = parsePolicy({
  ...JSON.parse(readFileSync('models/lifecycle-policy.json', 'utf8')),
  rollout: {
    shadow: { minSeconds: 60, minDecisions: 20 },
    canary: { share: 50, minSeconds: 120, minDecisions: 10 },
    graceSeconds: 0,
    checks: { maxScorePsi: 50, maxDeclineRate: 0.2, maxReviewRate: 0.3, maxLatencyP99Ms: 100, maxErrorRate: 0.1, minPrecision: 0.1, minLabelledForPrecision: 50 },
  },
});

/** Scores spread like the training reference (bin midpoints in turn), so PSI stays low; 1 in 20 lands in the review band. */
const SCORE_REF = (base.referenceDistributions as Record<string, { edges: number[] }>).__score__!.edges;
const typical = (k: number): number => (SCORE_REF[k % 20]! + SCORE_REF[(k % 20) + 1]!) / 2;

class Harness {
  now = T0;
  events: LifecycleEvent[] = [];
  releases: ModelRelease[] = [];
  /** Set to make the live figures stale (a topic reader that failed for good). */
  stale: Error | null = null;
  readonly live = (() => {
    const h = this;
    return new (class extends LiveFollower {
      override async start(): Promise<void> {}
      override async stop(): Promise<void> {}
      override failed(): Error | null {
        return h.stale;
      }
    })({ client: {} as KafkaClient, serdes: {} as FollowerDeps['serdes'], catalogue: buildCatalogue({ prefix: 't.' }), logger: pino({ level: 'silent' }) });
  })();
  readonly log = new LifecycleLog({ send: async (records) => void this.events.push(...records.map((r) => parseLifecycleEvent(r.value as Buffer))) }, 't.model-lifecycle', null);
  readonly controller = new RolloutController({
    client: {} as KafkaClient,
    serdes: {} as TopicSerdes,
    catalogue: buildCatalogue({ prefix: 't.' }),
    lifecycle: this.log,
    policy,
    logger: pino({ level: 'silent' }),
    clock: () => this.now,
    actor: 'controller@test',
    minSamples: 10,
    readEvents: async () => [...this.events],
    live: this.live,
    publish: async (r) => void this.releases.push(r),
  });
  private n = 0;

  record(input: Omit<LifecycleInput, 'at' | 'policyVersion' | 'reason' | 'actor' | 'automatic'> & Partial<LifecycleInput>): Promise<LifecycleEvent> {
    return this.log.record({ at: new Date(this.now).toISOString(), policyVersion: policy.version, reason: '', actor: 'retrainer@test', automatic: true, ...input });
  }

  /** A candidate released as shadow, as the retrain service leaves it. */
  async candidateInShadow(): Promise<void> {
    await this.record({ version: 'cand-1', type: 'candidate', stage: 'candidate', details: { cardPath: CARD, parent: 'bootstrap-v1' } });
    await this.record({ version: 'cand-1', type: 'stage', stage: 'shadow', details: { from: 'candidate', to: 'shadow' } });
  }

  command(version: string, command: string): Promise<LifecycleEvent> {
    return this.record({ version, type: 'command', stage: null, actor: PERSON, automatic: false, reason: 'runbook', details: { command } });
  }

  /** `count` decisions decided now; the card decides which model (canary cohort or champion). */
  decide(count: number, opts: { shadowScore?: number; canaryScore?: number; championScore?: number } = {}): void {
    const canary = this.state().models.get('cand-1')?.stage === 'canary';
    for (let i = 0; i < count; i++) {
      const k = this.n++;
      const card = `card-${k}`;
      const routed = canary && canaryBucket('cand-1', card) < 0.5;
      const score = routed ? (opts.canaryScore ?? typical(k)) : (opts.championScore ?? typical(k));
      const d: Decision = {
        transactionId: `tx-${k}`, accountToken: `a-${k}`, cardToken: card, eventTime: this.now, decidedAt: this.now,
        decision: score >= 0.8 ? 'DECLINE' : 'APPROVE', score, modelVersion: routed ? 'cand-1' : 'bootstrap-v1',
        shadowScores: opts.shadowScore === undefined ? [] : [{ modelVersion: 'cand-1', score: opts.shadowScore < 0 ? typical(k) : opts.shadowScore }],
        ruleSetVersion: 'r', reasonCodes: [], features: {}, facts: {}, topContributions: [], pipelineLatencyMs: 7,
      };
      this.live.addDecision(d);
    }
  }

  state() {
    return foldLifecycle(this.events);
  }

  last(): LifecycleEvent {
    return this.events.at(-1)!;
  }
}

describe('RolloutController', () => {
  it('advances shadow → canary → champion as the periods pass with checks holding, and a person rolls the champion back', async () => {
    const h = new Harness();
    await h.candidateInShadow();
    await h.controller.start();

    h.now += 30_000;
    h.decide(25, { shadowScore: -1 });
    await h.controller.tick();
    expect(h.releases).toHaveLength(0); // 30 of 60 s
    expect(h.controller.checksOf('cand-1')!.figures.decisions).toBe(25);

    h.now += 31_000;
    await h.controller.tick();
    expect(h.releases.map((r) => [r.version, r.mode, r.releasedBy])).toEqual([['cand-1', 'canary:50', 'controller@test']]);
    expect(h.last()).toMatchObject({ version: 'cand-1', type: 'stage', stage: 'canary', automatic: true, actor: 'controller@test', details: { from: 'shadow', to: 'canary', share: 50 } });
    expect(h.last().at).toBe(new Date(T0 + 61_000).toISOString());

    // The canary decides for its half of the cards; its window starts at the canary stage.
    h.decide(40);
    h.now += 60_000;
    await h.controller.tick();
    expect(h.releases).toHaveLength(1); // 60 of 120 s
    h.now += 61_000;
    await h.controller.tick();
    // The start-up champion enters the history first, so it becomes the previous champion.
    expect(h.events.slice(-2).map((e) => [e.version, e.type, e.stage])).toEqual([['bootstrap-v1', 'stage', 'champion'], ['cand-1', 'stage', 'champion']]);
    expect(h.releases.at(-1)).toMatchObject({ version: 'cand-1', mode: 'champion' });
    expect(h.state()).toMatchObject({ champion: 'cand-1', previousChampion: 'bootstrap-v1' });

    // Nothing happens to a champion by itself.
    h.now += 3600_000;
    await h.controller.tick();
    expect(h.releases).toHaveLength(2);

    await h.command('cand-1', 'rollback');
    await h.controller.tick();
    // The previous champion back first (never a moment without one), then the candidate retired.
    expect(h.releases.slice(-2).map((r) => [r.version, r.mode, r.releasedBy])).toEqual([['bootstrap-v1', 'champion', PERSON], ['cand-1', 'retired', PERSON]]);
    expect(h.last()).toMatchObject({ version: 'cand-1', type: 'rollback', stage: 'rolled-back', automatic: false, actor: PERSON, details: { from: 'champion', failedCheck: null, restored: 'bootstrap-v1' } });
    expect(h.state().champion).toBe('bootstrap-v1');
    await h.controller.tick();
    expect(h.releases).toHaveLength(4); // the command was obeyed once
  });

  it('rolls a canary back automatically when a check fails, with the check and its figures', async () => {
    const h = new Harness();
    await h.candidateInShadow();
    await h.controller.start();
    h.now += 61_000;
    h.decide(25, { shadowScore: -1 });
    await h.controller.tick();
    expect(h.state().models.get('cand-1')!.stage).toBe('canary');
    h.now += 1_000;
    // The canary declines everything it decides for: the decline-rate band is 100 % > 20 %.
    h.decide(60, { canaryScore: 0.95 });
    await h.controller.tick();
    expect(h.releases.at(-1)).toMatchObject({ version: 'cand-1', mode: 'retired', releasedBy: 'controller@test' });
    const rollback = h.last();
    expect(rollback).toMatchObject({ type: 'rollback', stage: 'rolled-back', automatic: true, actor: 'controller@test', details: { from: 'canary', restored: 'bootstrap-v1', failedCheck: { name: 'declineRate', passed: false, value: 1, limit: 0.2 } } });
    expect(rollback.reason).toMatch(/^live check declineRate failed in canary: 1 vs limit 0\.2000/);
    expect((rollback.details.figures as { decisions: number }).decisions).toBeGreaterThanOrEqual(10);
    // The champion was never displaced: it is not re-released, and it is champion in the history.
    expect(h.releases.filter((r) => r.version === 'bootstrap-v1')).toHaveLength(0);
    expect(h.state()).toMatchObject({ champion: 'bootstrap-v1' });
    expect(h.state().models.get('cand-1')!.stage).toBe('rolled-back');
  });

  it('a paused shadow does not advance but its checks still roll it back; promote skips the wait; resume lets it go on', async () => {
    const h = new Harness();
    await h.candidateInShadow();
    await h.controller.start();
    await h.command('cand-1', 'pause');
    h.now += 120_000;
    h.decide(30, { shadowScore: -1 });
    await h.controller.tick();
    expect(h.releases).toHaveLength(0);
    expect(h.controller.checksOf('cand-1')!.checks.find((c) => c.name === 'declineRate')!.passed).toBe(true);
    await h.command('cand-1', 'resume');
    await h.controller.tick();
    expect(h.releases.map((r) => r.mode)).toEqual(['canary:50']);

    // A second candidate: a person promotes it out of shadow at once; paused in canary it stays,
    // until its figures go bad.
    const h2 = new Harness();
    await h2.candidateInShadow();
    await h2.controller.start();
    h2.now += 1_000;
    await h2.command('cand-1', 'promote');
    await h2.controller.tick();
    expect(h2.last()).toMatchObject({ type: 'stage', stage: 'canary', automatic: false, actor: PERSON });
    expect(h2.releases[0]).toMatchObject({ mode: 'canary:50', releasedBy: PERSON });
    await h2.command('cand-1', 'pause');
    h2.now += 500_000;
    h2.decide(40);
    await h2.controller.tick();
    expect(h2.state().models.get('cand-1')!.stage).toBe('canary');
    h2.decide(200, { canaryScore: 0.5 }); // review band: 0.5 ≥ 0.326 for most of its decisions
    await h2.controller.tick();
    expect(h2.last()).toMatchObject({ type: 'rollback', automatic: true, details: { failedCheck: { name: 'reviewRate' } } });
  });
});

describe('restart', () => {
  it('a new controller over the same history carries on: the canary keeps its stage start and period', async () => {
    const h = new Harness();
    await h.candidateInShadow();
    await h.command('cand-1', 'promote');
    await h.controller.tick();
    const canaryAt = Date.parse(h.last().at);
    expect(h.state().models.get('cand-1')!.stage).toBe('canary');
    await h.controller.stop();

    // The service restarts 100 s into the canary's 120 s: a fresh controller, live figures and all.
    const h2 = new Harness();
    h2.events = h.events;
    h2.now = canaryAt + 100_000;
    await h2.controller.start();
    h2.decide(40);
    await h2.controller.tick();
    expect(h2.releases).toHaveLength(0); // 100 of 120 s: the period counts from the recorded stage start
    h2.now = canaryAt + 121_000;
    await h2.controller.tick();
    expect(h2.releases.at(-1)).toMatchObject({ version: 'cand-1', mode: 'champion', releasedBy: 'controller@test' });
    expect(h2.state()).toMatchObject({ champion: 'cand-1', previousChampion: 'bootstrap-v1' });
  });
});

describe('champion probation', () => {
  it('for the canary period after promotion a failing check rolls the new champion back to the previous one; after it, nothing automatic', async () => {
    for (const [after, expected] of [[60_000, 'rolled back'], [121_000, 'stays']] as const) {
      const h = new Harness();
      await h.candidateInShadow();
      await h.controller.start();
      h.decide(5); // bootstrap-v1 decides: the champion in force
      await h.command('cand-1', 'promote');
      await h.controller.tick();
      await h.command('cand-1', 'promote');
      await h.controller.tick();
      expect(h.state()).toMatchObject({ champion: 'cand-1', previousChampion: 'bootstrap-v1' });
      const promotedAt = h.now;
      h.now = promotedAt + after;
      // Now deciding for every card, it declines them all.
      for (let i = 0; i < 60; i++) {
        h.live.addDecision({ transactionId: `p-${i}`, cardToken: `pc-${i}`, decidedAt: h.now, decision: 'DECLINE', score: 0.95, modelVersion: 'cand-1', shadowScores: [], reasonCodes: [], pipelineLatencyMs: 5 });
      }
      const before = h.releases.length;
      await h.controller.tick();
      if (expected === 'rolled back') {
        expect(h.releases.slice(before).map((r) => [r.version, r.mode])).toEqual([['bootstrap-v1', 'champion'], ['cand-1', 'retired']]);
        expect(h.last()).toMatchObject({ type: 'rollback', automatic: true, details: { from: 'champion', restored: 'bootstrap-v1', failedCheck: { name: 'declineRate' } } });
        expect(h.state().champion).toBe('bootstrap-v1');
        // The restored champion is not on probation: its own bad figures would not bounce it further.
        await h.controller.tick();
        expect(h.events.filter((e) => e.type === 'rollback')).toHaveLength(1);
      } else {
        expect(h.releases).toHaveLength(before);
        expect(h.state().champion).toBe('cand-1');
      }
    }
  });
});

describe('stale figures', () => {
  it('judge nothing automatically, while a person\'s rollback is still obeyed', async () => {
    const h = new Harness();
    await h.candidateInShadow();
    await h.command('cand-1', 'promote');
    await h.controller.tick();
    h.now += 1_000;
    h.decide(60, { canaryScore: 0.95 }); // would fail declineRate
    h.stale = new Error('reader crashed');
    await h.controller.tick();
    expect(h.state().models.get('cand-1')!.stage).toBe('canary');
    await h.command('cand-1', 'rollback');
    await h.controller.tick();
    expect(h.last()).toMatchObject({ type: 'rollback', automatic: false, actor: PERSON, details: { failedCheck: null } });
  });
});

describe('one canary at a time', () => {
  it('a second candidate promoted while another holds the canary slot waits in shadow', async () => {
    const h = new Harness();
    await h.candidateInShadow();
    await h.controller.start();
    await h.command('cand-1', 'promote');
    await h.controller.tick();
    expect(h.state().models.get('cand-1')!.stage).toBe('canary');
    const card2 = path.join(dir, 'cand-2.card.json');
    writeFileSync(card2, JSON.stringify({ ...base, version: 'cand-2', artifact: path.resolve('models/bootstrap-v1.onnx') }));
    await h.record({ version: 'cand-2', type: 'candidate', stage: 'candidate', details: { cardPath: card2 } });
    await h.record({ version: 'cand-2', type: 'stage', stage: 'shadow', details: { from: 'candidate', to: 'shadow' } });
    await h.command('cand-2', 'promote');
    const before = h.releases.length;
    await h.controller.tick();
    expect(h.releases).toHaveLength(before);
    expect(h.state().models.get('cand-2')!.stage).toBe('shadow');
    // Once the slot is free (cand-1 rolled back by a person), the pending promote goes through.
    await h.command('cand-1', 'rollback');
    await h.controller.tick();
    expect(h.state().models.get('cand-1')!.stage).toBe('rolled-back');
    await h.controller.tick();
    expect(h.state().models.get('cand-2')!.stage).toBe('canary');
    expect(h.releases.at(-1)).toMatchObject({ version: 'cand-2', mode: 'canary:50', releasedBy: PERSON });
  });
});

describe('planStep and pendingCommand', () => {
  const rollout = policy.rollout;
  const pass = (name: 'declineRate' | 'reviewRate' | 'errorRate' | 'latencyP99Ms') => ({ name, passed: true, value: 0, limit: 1, detail: '' });
  const checks = [pass('declineRate'), pass('reviewRate'), pass('errorRate'), pass('latencyP99Ms')];
  const figures = { decisions: 100 } as never;

  it('waits for time, decisions and judged checks; a failed check wins over everything but a command', () => {
    expect(planStep({ stage: 'shadow', paused: false, sinceMs: 0, now: 59_000, figures, checks, rollout, pending: null })).toMatchObject({ kind: 'stay', why: '59 of 60 s in shadow' });
    expect(planStep({ stage: 'shadow', paused: false, sinceMs: 0, now: 60_000, figures: { decisions: 19 } as never, checks, rollout, pending: null })).toMatchObject({ kind: 'stay', why: '19 of 20 decisions in shadow' });
    expect(planStep({ stage: 'shadow', paused: false, sinceMs: 0, now: 60_000, figures, checks: [...checks.slice(1), { ...pass('declineRate'), passed: null }], rollout, pending: null })).toMatchObject({ kind: 'stay', why: 'not judged yet: declineRate' });
    expect(planStep({ stage: 'canary', paused: false, sinceMs: 0, now: 120_000, figures, checks, rollout, pending: null })).toMatchObject({ kind: 'advance', to: 'champion', manual: null });
    const failed = { name: 'errorRate' as const, passed: false, value: 0.5, limit: 0.1, detail: '5 of 10' };
    expect(planStep({ stage: 'shadow', paused: true, sinceMs: 0, now: 1, figures, checks: [failed], rollout, pending: null })).toMatchObject({ kind: 'rollback', failed, reason: 'live check errorRate failed in shadow: 0.5000 vs limit 0.1000 (5 of 10)' });
    expect(planStep({ stage: 'champion', paused: false, sinceMs: 0, now: 1e12, figures, checks: [failed], rollout, pending: null }).kind).toBe('stay');
  });

  it('a command is pending until a stage or rollback event of the model follows it', () => {
    const e = (type: LifecycleEvent['type'], command?: string): LifecycleEvent => ({ id: '00000000-0000-4000-8000-000000000000', at: new Date(0).toISOString(), version: 'v', type, stage: null, actor: PERSON, automatic: false, reason: '', policyVersion: null, details: command ? { command } : {} });
    const m = { version: 'v', stage: 'shadow' as const, since: '', paused: false, events: [e('stage'), e('command', 'promote')] };
    expect(pendingCommand(m)?.details.command).toBe('promote');
    expect(pendingCommand({ ...m, events: [...m.events, e('stage')] })).toBeNull();
    expect(pendingCommand({ ...m, events: [e('command', 'rollback'), e('command', 'pause')] })?.details.command).toBe('rollback');
  });
});

describe('riskloop models commands (commandProblem)', () => {
  it('refuses what the history does not allow, so the person learns at once', async () => {
    const { commandProblem } = await import('../../../bin/commands/models.js');
    const h = new Harness();
    await h.candidateInShadow();
    const s = () => h.state();
    expect(commandProblem(s(), 'nope', 'pause')).toMatch(/no model nope/);
    expect(commandProblem(s(), 'cand-1', 'pause')).toBeNull();
    expect(commandProblem(s(), 'cand-1', 'resume')).toBe('cand-1 is not paused');
    expect(commandProblem(s(), 'cand-1', 'promote')).toBeNull();
    await h.command('cand-1', 'pause');
    expect(commandProblem(s(), 'cand-1', 'pause')).toBe('cand-1 is already paused');
    expect(commandProblem(s(), 'cand-1', 'resume')).toBeNull();
    await h.record({ version: 'cand-1', type: 'stage', stage: 'champion', details: {} });
    expect(commandProblem(s(), 'cand-1', 'promote')).toMatch(/is champion: only a model in shadow or canary/);
    expect(commandProblem(s(), 'cand-1', 'rollback')).toMatch(/no previous champion/);
  });
});
