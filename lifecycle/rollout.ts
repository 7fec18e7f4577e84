/**
 * The rollout controller: moves a released candidate shadow → canary → champion as each stage's
 * live checks (lifecycle/liveChecks.ts) hold for the stage's period, and rolls it back the moment
 * one fails. It keeps no state of its own: each tick folds the lifecycle topic (lifecycle/events.ts),
 * so a restarted controller carries on where the history says, and a person's command
 * (`riskloop models pause|resume|promote|rollback`) is simply an event it finds there.
 *
 * Per tick, for each model in shadow or canary, and the champion (a person's rollback, and its
 * probation: for `canary.minSeconds` after a promotion its checks still roll it back to the
 * previous champion; after that only a person does):
 *   1. a pending person's rollback → roll back; a pending promote → the next stage now;
 *   2. any check failed → automatic rollback, the failed check and its figures in the event;
 *   3. paused → stays (its checks are still computed, and a failed one still rolls it back:
 *      pausing holds a model, it does not switch off the safety net);
 *   4. the stage's minSeconds and minDecisions reached and the rate, error and latency checks
 *      judged and passing (precision may still be waiting for labels) → the next stage.
 * A command is pending while no stage or rollback event of the same model follows it.
 *
 * Actuation: releases on the model-releases topic (bin/modelRelease.ts), which the running loops
 * obey; the release goes out first and the lifecycle event second, so a crash between the two is
 * repaired by the next tick doing the same (idempotent) release again and recording it.
 * Rollback: the candidate released `retired` (a shadow or canary never displaced the champion, so
 * the champion simply decides for every card again); a champion rolled back by a person: the
 * previous champion released `champion`, then the candidate `retired`.
 */
import { readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { publishRelease, releaseFromCard } from '../bin/modelRelease.js';
import { SCORE_REFERENCE } from '../processors/driftMonitor.js';
import type { Catalogue } from '../schemas/catalogue.js';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import type { ModelRelease, ReferenceHistogram, Thresholds } from '../schemas/types.js';
import type { KafkaClient, Producer } from '../topology/kafka/client.js';
import { foldLifecycle, readLifecycle, type LifecycleEvent, type LifecycleLog, type LifecycleState, type ModelHistory } from './events.js';
import { evaluateChecks, firstFailure, LiveFollower, type CheckResult, type LiveFigures, type LiveRole, type Watch } from './liveChecks.js';
import type { LifecyclePolicy } from './policy.js';

export type ModelCommand = 'pause' | 'resume' | 'promote' | 'rollback';
export const MODEL_COMMANDS: readonly ModelCommand[] = ['pause', 'resume', 'promote', 'rollback'];

/** What the controller needs of the live figures (LiveFollower; tests feed one directly). */
export type LiveSource = Pick<LiveFollower, 'watch' | 'unwatch' | 'watched' | 'figures' | 'deciders' | 'failed' | 'start' | 'stop'>;

export interface RolloutDeps {
  client: KafkaClient;
  serdes: TopicSerdes;
  catalogue: Catalogue;
  lifecycle: LifecycleLog;
  policy: LifecyclePolicy;
  logger: Logger;
  clock?: () => number;
  /** Who the controller's own events name; default `controller@<host>`. */
  actor?: string;
  /** Observations below which a rate is not judged (default 200). */
  minSamples?: number;
  /** Where a card is looked for when a version's history names none (its version field matches); default `models`. */
  modelsDir?: string;
  /** Overrides for tests: the lifecycle history, the live figures, and where releases go. */
  readEvents?: () => Promise<LifecycleEvent[]>;
  live?: LiveSource;
  publish?: (release: ModelRelease) => Promise<void>;
}

/** What one model does this tick. */
export type Step =
  | { kind: 'stay'; why: string }
  | { kind: 'advance'; to: 'canary' | 'champion'; manual: LifecycleEvent | null; reason: string }
  | { kind: 'rollback'; manual: LifecycleEvent | null; failed: CheckResult | null; reason: string };

export interface StepInput {
  stage: 'shadow' | 'canary' | 'champion';
  paused: boolean;
  sinceMs: number;
  now: number;
  figures: LiveFigures | null;
  checks: readonly CheckResult[];
  rollout: LifecyclePolicy['rollout'];
  pending: LifecycleEvent | null;
}

/** The judged checks an automatic advance needs: rates, errors and latency (precision may wait for labels). */
const MUST_PASS: readonly CheckResult['name'][] = ['declineRate', 'reviewRate', 'errorRate', 'latencyP99Ms'];

const fmt = (v: number | null): string => (v === null ? 'n/a' : Number.isInteger(v) ? String(v) : v.toFixed(4));

/** The decision of one tick for one model; pure, so the state machine is tested without a broker. */
export function planStep(input: StepInput): Step {
  const { stage, pending } = input;
  const next = stage === 'shadow' ? 'canary' : stage === 'canary' ? 'champion' : null;
  if (pending?.details.command === 'rollback') return { kind: 'rollback', manual: pending, failed: null, reason: `rolled back by ${pending.actor}${pending.reason ? `: ${pending.reason}` : ''}` };
  if (pending?.details.command === 'promote' && next !== null) return { kind: 'advance', to: next, manual: pending, reason: `promoted to ${next} by ${pending.actor}${pending.reason ? `: ${pending.reason}` : ''}` };
  const failed = firstFailure(input.checks);
  if (stage === 'champion') {
    // Probation: for the canary period after promotion its checks still guard it (it now decides
    // for every card, so a fault the canary's share hid shows here). After that only a person
    // rolls a champion back: months later its figures drift, and the previous champion is older still.
    const probation = (input.now - input.sinceMs) / 1000 < input.rollout.canary.minSeconds;
    if (!failed || !probation) return { kind: 'stay', why: probation ? 'champion on probation, checks holding' : 'champion: only a person rolls it back' };
  }
  if (failed) {
    return { kind: 'rollback', manual: null, failed, reason: `live check ${failed.name} failed in ${stage}: ${fmt(failed.value)} vs limit ${fmt(failed.limit)} (${failed.detail})` };
  }
  if (input.paused) return { kind: 'stay', why: 'paused' };
  const period = stage === 'shadow' ? input.rollout.shadow : input.rollout.canary;
  const elapsed = (input.now - input.sinceMs) / 1000;
  if (elapsed < period.minSeconds) return { kind: 'stay', why: `${fmt(elapsed)} of ${period.minSeconds} s in ${stage}` };
  const decisions = input.figures?.decisions ?? 0;
  if (decisions < period.minDecisions) return { kind: 'stay', why: `${decisions} of ${period.minDecisions} decisions in ${stage}` };
  // A shadow's latency is not its own (lifecycle/liveChecks.ts): it is judged from canary on.
  const waiting = input.checks.filter((c) => MUST_PASS.includes(c.name) && c.passed !== true && !(stage === 'shadow' && c.name === 'latencyP99Ms'));
  if (waiting.length > 0) return { kind: 'stay', why: `not judged yet: ${waiting.map((c) => c.name).join(', ')}` };
  return {
    kind: 'advance',
    to: next!,
    manual: null,
    reason: `${stage} held ${fmt(elapsed)} s and ${decisions} decisions with every live check passing (${input.checks.map((c) => `${c.name} ${fmt(c.value)}`).join(', ')})`,
  };
}

/** The person's promote/rollback command no stage or rollback event has answered yet, if any. */
export function pendingCommand(m: ModelHistory): LifecycleEvent | null {
  let pending: LifecycleEvent | null = null;
  for (const e of m.events) {
    if (e.type === 'command' && (e.details.command === 'promote' || e.details.command === 'rollback')) pending = e;
    else if (e.type === 'stage' || e.type === 'rollback') pending = null;
  }
  return pending;
}

/** A card path the history names for a version (the candidate event's cardPath), if any. */
export function cardPathOf(m: ModelHistory | undefined): string | null {
  for (const e of [...(m?.events ?? [])].reverse()) if (typeof e.details.cardPath === 'string' && e.details.cardPath !== '') return e.details.cardPath;
  return null;
}

const CardFigures = z.object({
  version: z.string(),
  thresholds: z.object({ review: z.number(), decline: z.number() }),
  referenceDistributions: z.record(z.string(), z.object({ edges: z.array(z.number()), proportions: z.array(z.number()) })).default({}),
});

interface CardInfo {
  path: string;
  thresholds: Thresholds;
  scoreReference: ReferenceHistogram | null;
}

const ROLES: Partial<Record<ModelHistory['stage'], LiveRole>> = { shadow: 'shadow', canary: 'canary', champion: 'champion' };

export class RolloutController {
  private readonly clock: () => number;
  private readonly actor: string;
  private readonly live: LiveSource;
  private readonly cards = new Map<string, CardInfo>();
  private producer: Producer | null = null;
  private running: Promise<void> | null = null;
  private started: Promise<void> | null = null;
  private readonly told = new Set<string>();
  /** The last fold, for `state()`. */
  private last: LifecycleState | null = null;

  constructor(private readonly deps: RolloutDeps) {
    this.clock = deps.clock ?? Date.now;
    this.actor = deps.actor ?? `controller@${os.hostname()}`;
    this.live = deps.live ?? new LiveFollower({ client: deps.client, serdes: deps.serdes, catalogue: deps.catalogue, logger: deps.logger });
  }

  /** Folds the history, watches the models in a stage, and reads the decisions so far. */
  async start(): Promise<void> {
    this.started ??= (async () => {
      await this.syncWatches(foldLifecycle(await this.readEvents()));
      await this.live.start();
    })().catch((err: unknown) => {
      // A start that failed (broker away) is tried again by the next tick, not remembered as failed.
      this.started = null;
      throw err;
    });
    await this.started;
  }

  /** One evaluation; calls do not overlap (a tick still running is awaited instead). */
  tick(): Promise<void> {
    // A caller that never called start() still gets figures: the first tick starts the follower.
    this.running ??= this.start().then(() => this.evaluate()).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  async stop(): Promise<void> {
    await this.running?.catch(() => undefined);
    await this.live.stop();
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = null;
  }

  /** The last folded state (null before the first tick). */
  state(): LifecycleState | null {
    return this.last;
  }

  /** The live checks of a watched version right now (for `riskloop models` and the report). */
  checksOf(version: string): { figures: LiveFigures; checks: CheckResult[] } | null {
    const figures = this.live.figures(version);
    if (!figures) return null;
    const champion = this.last === null ? null : (this.last.champion ?? this.championInForce(this.last));
    const championFigures = champion !== null && champion !== version ? this.live.figures(champion) : null;
    const { shadow, canary } = this.deps.policy.rollout;
    // A champion on probation is judged on the canary's sample size.
    const stageSamples = figures.role === 'shadow' ? shadow.minDecisions : canary.minDecisions;
    return { figures, checks: evaluateChecks(figures, this.deps.policy.rollout.checks, { minSamples: this.deps.minSamples ?? 200, stageSamples, champion: championFigures }) };
  }

  /**
   * The champion by the decisions when the history names none (the loop started with a champion
   * from its card): the version that decided most recently among those the history does not hold
   * as a candidate (shadow, canary, rolled back, retired, rejected).
   */
  private championInForce(state: LifecycleState): string | null {
    let best: { version: string; at: number } | null = null;
    for (const [version, at] of this.live.deciders()) {
      const stage = state.models.get(version)?.stage;
      if (stage !== undefined && stage !== 'champion') continue;
      if (best === null || at > best.at) best = { version, at };
    }
    return best?.version ?? null;
  }

  private onProbation(m: ModelHistory, now: number): boolean {
    // Promoted by a stage event at its current `since` (not adopted at start-up, not restored by a rollback).
    const promoted = m.events.some((e) => e.type === 'stage' && e.stage === 'champion' && e.details.adopted !== true && e.at === m.since);
    return m.stage === 'champion' && promoted && (now - Date.parse(m.since)) / 1000 < this.deps.policy.rollout.canary.minSeconds;
  }

  private async readEvents(): Promise<LifecycleEvent[]> {
    return this.deps.readEvents ? this.deps.readEvents() : readLifecycle(this.deps.client, this.deps.lifecycle.topic);
  }

  private async evaluate(): Promise<void> {
    const failure = this.live.failed();
    if (failure) this.once('follower', () => this.deps.logger.error({ err: failure }, 'rollout: live figures are stale (a topic reader failed): only people\'s commands are obeyed until the service restarts'));
    const state = foldLifecycle(await this.readEvents());
    this.last = state;
    await this.syncWatches(state);
    const now = this.clock();
    const inPlay = [...state.models.values()].filter((m) => m.stage === 'shadow' || m.stage === 'canary' || m.stage === 'champion').sort((a, b) => Date.parse(a.since) - Date.parse(b.since));
    for (const m of inPlay) {
      const stage = m.stage as StepInput['stage'];
      const pending = pendingCommand(m);
      if (stage === 'champion' && pending === null && !this.onProbation(m, now)) continue;
      const checks = this.checksOf(m.version)?.checks ?? [];
      const step = planStep({ stage, paused: m.paused, sinceMs: Date.parse(m.since), now, figures: this.live.figures(m.version), checks, rollout: this.deps.policy.rollout, pending });
      // Stale figures judge nothing: neither an automatic advance nor an automatic rollback.
      if (failure && step.kind !== 'stay' && step.manual === null) continue;
      const occupied = step.kind === 'advance' && step.to === 'canary' ? [...state.models.values()].find((o) => o.stage === 'canary' && o.version !== m.version) : undefined;
      if (occupied) {
        // The loops hold one canary: a second would silently take the first one's cards.
        this.once(`slot:${m.version}:${occupied.version}`, () => this.deps.logger.warn({ version: m.version, canary: occupied.version }, `rollout: ${m.version} waits in shadow: ${occupied.version} holds the canary slot`));
        continue;
      }
      if (step.kind === 'stay') {
        if (pending?.details.command === 'promote' && stage === 'champion') this.once(`promote-champion:${pending.id}`, () => this.deps.logger.warn({ version: m.version }, 'promote ignored: already champion'));
        continue;
      }
      try {
        if (step.kind === 'advance') await this.advance(state, m, stage, step, checks);
        else await this.rollback(state, m, stage, step, checks);
      } catch (err) {
        this.deps.logger.error({ version: m.version, step: step.kind, err }, 'rollout step failed; the next tick tries again');
      }
      // One change per tick: the windows follow the new stage at once, the next tick folds the rest.
      await this.syncWatches(foldLifecycle(await this.readEvents())).catch((err: unknown) => this.deps.logger.warn({ err }, 'rollout: re-reading the history failed; the next tick does'));
      return;
    }
  }

  private async advance(state: LifecycleState, m: ModelHistory, from: StepInput['stage'], step: Extract<Step, { kind: 'advance' }>, checks: readonly CheckResult[]): Promise<void> {
    const who = step.manual?.actor ?? this.actor;
    const card = await this.card(m.version, state);
    const share = this.deps.policy.rollout.canary.share;
    if (step.to === 'canary') {
      await this.publish(await releaseFromCard(card.path, `canary:${share}`, { releasedBy: who, now: this.clock() }));
    } else {
      const old = state.champion ?? this.championInForce(state);
      if (old !== null && old !== m.version && !state.models.has(old)) {
        // The champion in force came from the loop's start-up card, not from this history: recorded
        // here so that it becomes the previous champion a later rollback restores.
        await this.deps.lifecycle.record({
          at: this.at(),
          version: old,
          type: 'stage',
          stage: 'champion',
          actor: this.actor,
          automatic: true,
          reason: `champion in force (deciding on ${this.deps.catalogue.decisions.name}) entered into the lifecycle history before ${m.version} replaces it`,
          policyVersion: this.deps.policy.version,
          details: { from: 'champion', to: 'champion', adopted: true },
        });
      }
      await this.publish(await releaseFromCard(card.path, 'champion', { releasedBy: who, now: this.clock() }));
    }
    await this.deps.lifecycle.record({
      at: this.at(),
      version: m.version,
      type: 'stage',
      stage: step.to,
      actor: who,
      automatic: step.manual === null,
      reason: step.reason,
      policyVersion: this.deps.policy.version,
      details: { from, to: step.to, ...(step.to === 'canary' ? { share } : {}), checks: checks.map(plainCheck), cardPath: card.path },
    });
    this.deps.logger.info({ version: m.version, from, to: step.to, actor: who }, `rollout: ${m.version} ${from} → ${step.to}`);
  }

  private async rollback(state: LifecycleState, m: ModelHistory, from: StepInput['stage'], step: Extract<Step, { kind: 'rollback' }>, checks: readonly CheckResult[]): Promise<void> {
    const who = step.manual?.actor ?? this.actor;
    let restored: string | null;
    if (from === 'champion') {
      restored = state.previousChampion;
      if (restored === null) {
        this.once(`no-previous:${step.manual?.id}`, () => this.deps.logger.error({ version: m.version }, 'rollback refused: the history names no previous champion to restore'));
        return;
      }
      const back = await this.card(restored, state);
      await this.publish(await releaseFromCard(back.path, 'champion', { releasedBy: who, now: this.clock() }));
    } else {
      restored = state.champion ?? this.championInForce(state);
    }
    const card = await this.card(m.version, state);
    await this.publish(await releaseFromCard(card.path, 'retired', { releasedBy: who, now: this.clock() }));
    const failedCheck = step.failed ? plainCheck(step.failed) : null;
    await this.deps.lifecycle.record({
      at: this.at(),
      version: m.version,
      type: 'rollback',
      stage: 'rolled-back',
      actor: who,
      automatic: step.manual === null,
      reason: step.reason,
      policyVersion: this.deps.policy.version,
      details: { from, failedCheck, restored: restored ?? '', checks: checks.map(plainCheck), figures: this.live.figures(m.version) },
    });
    this.deps.logger.warn({ version: m.version, from, restored, failedCheck, actor: who }, `rollout: ${m.version} rolled back (${step.reason})`);
  }

  /** Watches every model in a stage, and the champion (its figures are the comparison). */
  private async syncWatches(state: LifecycleState): Promise<void> {
    const graceMs = this.deps.policy.rollout.graceSeconds * 1000;
    const wanted = new Set<string>();
    let earliest: number | null = null;
    for (const m of state.models.values()) {
      const role = ROLES[m.stage];
      if (role === undefined || role === 'champion') continue;
      let card: CardInfo;
      try {
        card = await this.card(m.version, state);
      } catch (err) {
        this.once(`card:${m.version}`, () => this.deps.logger.error({ version: m.version, err }, 'rollout: no readable card for this model; it is not watched'));
        continue;
      }
      const sinceMs = Date.parse(m.since);
      earliest = earliest === null ? sinceMs : Math.min(earliest, sinceMs);
      const w: Watch = { version: m.version, role, sinceMs, thresholds: card.thresholds, scoreReference: card.scoreReference, graceMs };
      if (role === 'canary') w.share = this.deps.policy.rollout.canary.share / 100;
      this.live.watch(w);
      wanted.add(m.version);
    }
    const champion = state.champion ?? this.championInForce(state);
    if (champion !== null && !wanted.has(champion)) {
      const card = await this.card(champion, state).catch(() => null);
      if (card) {
        const history = state.models.get(champion);
        // On probation its window is its own stage; else it is the comparison for the candidates' windows.
        const own = history !== undefined && this.onProbation(history, this.clock());
        const since = own || earliest === null ? Date.parse(history?.since ?? new Date(this.clock()).toISOString()) : earliest;
        this.live.watch({ version: champion, role: 'champion', sinceMs: since, thresholds: card.thresholds, scoreReference: card.scoreReference, graceMs });
        wanted.add(champion);
      }
    }
    for (const v of this.live.watched()) if (!wanted.has(v)) this.live.unwatch(v);
  }

  private async card(version: string, state: LifecycleState): Promise<CardInfo> {
    const cached = this.cards.get(version);
    if (cached) return cached;
    let file = cardPathOf(state.models.get(version));
    if (file === null) {
      const dir = this.deps.modelsDir ?? 'models';
      for (const name of (await readdir(dir)).filter((n) => n.endsWith('.card.json')).sort()) {
        const candidate = path.join(dir, name);
        const parsed = CardFigures.safeParse(JSON.parse(await readFile(candidate, 'utf8')));
        if (parsed.success && parsed.data.version === version) {
          file = candidate;
          break;
        }
      }
    }
    if (file === null) throw new Error(`no card for model ${version}: its history names none and no card in ${this.deps.modelsDir ?? 'models'} has that version`);
    const card = CardFigures.parse(JSON.parse(await readFile(file, 'utf8')));
    if (card.version !== version) throw new Error(`card ${file} is of ${card.version}, not ${version}`);
    const info: CardInfo = { path: file, thresholds: card.thresholds, scoreReference: card.referenceDistributions[SCORE_REFERENCE] ?? null };
    this.cards.set(version, info);
    return info;
  }

  private async publish(release: ModelRelease): Promise<void> {
    if (this.deps.publish) return this.deps.publish(release);
    this.producer ??= await this.deps.client.producer();
    await publishRelease(this.producer, this.deps.serdes.modelReleases, this.deps.catalogue.modelReleases.name, release);
  }

  /** Events carry the controller's clock, so stage periods and the history agree (and tests can inject time). */
  private at(): string {
    return new Date(this.clock()).toISOString();
  }

  private once(key: string, fn: () => void): void {
    if (this.told.has(key)) return;
    this.told.add(key);
    fn();
  }
}

function plainCheck(c: CheckResult): Record<string, unknown> {
  return { name: c.name, passed: c.passed, value: c.value, limit: c.limit, detail: c.detail };
}
