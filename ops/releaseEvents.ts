/**
 * Model and rule-set releases as this process saw them: counted (applied / refused, for the
 * "release refused" alert), stamped (riskloop_release_timestamp_seconds, for Grafana annotations)
 * and kept as a short list of events (the page's chart annotations).
 *
 * Model outcomes come from the ModelRegistry's applyRelease: the registry has no listener of its
 * own, so `observeModelReleases` wraps that one method on the instance (the registry's code stays
 * untouched; every release of the releases topic goes through it). Changes of the model set that
 * do not come through a release (the start-up champion) are noticed by `sample()` comparing the
 * set in force. Rule sets: the version at start and every reload through the ops server.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ModelRegistry } from '../processors/modelRegistry.js';
import type { ModelRelease, ReferenceHistogram } from '../schemas/types.js';

export type ReleaseKind = 'model' | 'rules';

export interface ReleaseEvent {
  /** Wall clock (ms) when this process applied or refused it. */
  at: number;
  kind: ReleaseKind;
  version: string;
  /** Model: the release mode or role (champion, shadow, canary:N, retired); rules: "reload" or "start". */
  mode: string;
  outcome: 'applied' | 'refused';
  reason: string | null;
}

const MAX_EVENTS = 200;

/**
 * Created with the loop (bin/riskLoopApp.ts), before the runtime replays the releases topic at
 * start, so those outcomes count too; the ops server registers its metrics later.
 */
export class ReleaseEvents {
  private readonly list: ReleaseEvent[] = [];
  private readonly counts = new Map<string, number>();
  private readonly stamps = new Map<string, { kind: ReleaseKind; version: string; mode: string; at: number }>();
  /** Reference distributions (score and features) of every model version a release brought. */
  private readonly references = new Map<string, ModelRelease['referenceDistributions']>();
  private lastModelSet = '';

  constructor(private readonly clock: () => number = Date.now) {}

  register(registry: Registry): void {
    const self = this;
    new Counter({
      name: 'riskloop_releases_total',
      help: 'Model releases and rule-set loads this process applied or refused, by kind (model, rules) and outcome (applied, refused).',
      labelNames: ['kind', 'outcome'],
      registers: [registry],
      collect() {
        this.reset();
        // Every pair from the start, zeros included: increase() needs a sample before the first refusal.
        for (const kind of ['model', 'rules'] as const) for (const outcome of ['applied', 'refused'] as const) this.inc({ kind, outcome }, self.counts.get(`${kind}|${outcome}`) ?? 0);
      },
    });
    new Gauge({
      name: 'riskloop_release_timestamp_seconds',
      help: 'When (Unix seconds) this process put a model release or rule set in force, by kind, version and mode; Grafana annotations use the value as the time.',
      labelNames: ['kind', 'version', 'mode'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of self.stamps.values()) this.set({ kind: s.kind, version: s.version, mode: s.mode }, Math.floor(s.at / 1000));
      },
    });
  }

  record(e: Omit<ReleaseEvent, 'at'> & { at?: number }): void {
    const event: ReleaseEvent = { ...e, at: e.at ?? this.clock() };
    const key = `${event.kind}|${event.outcome}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (event.outcome === 'applied') this.stamps.set(`${event.kind}|${event.version}|${event.mode}`, { kind: event.kind, version: event.version, mode: event.mode, at: event.at });
    this.list.push(event);
    if (this.list.length > MAX_EVENTS) this.list.splice(0, this.list.length - MAX_EVENTS);
  }

  noteReferences(version: string, refs: ModelRelease['referenceDistributions']): void {
    if (Object.keys(refs).length > 0) this.references.set(version, refs);
  }

  reference(version: string, subject: string): ReferenceHistogram | undefined {
    return this.references.get(version)?.[subject];
  }

  /**
   * The model set in force (version/role pairs): a change not seen as a release (the champion at
   * start) becomes an event, without counting as a release.
   */
  noteModelSet(models: readonly { version: string; role: string }[]): void {
    const key = models.map((m) => `${m.role}=${m.version}`).sort().join(' ');
    if (key === this.lastModelSet) return;
    const before = new Set(this.lastModelSet.split(' '));
    this.lastModelSet = key;
    const at = this.clock();
    for (const m of models) {
      if (before.has(`${m.role}=${m.version}`)) continue;
      if (this.list.some((e) => e.kind === 'model' && e.version === m.version && e.outcome === 'applied')) continue;
      this.stamps.set(`model|${m.version}|${m.role}`, { kind: 'model', version: m.version, mode: m.role, at });
      this.list.push({ at, kind: 'model', version: m.version, mode: m.role, outcome: 'applied', reason: null });
    }
  }

  events(since = 0): ReleaseEvent[] {
    return this.list.filter((e) => e.at >= since);
  }
}

/** Counts and stamps every release the registry applies or refuses from now on. */
export function observeModelReleases(models: ModelRegistry, events: ReleaseEvents): void {
  const apply = models.applyRelease.bind(models);
  models.applyRelease = async (release, referenceValues) => {
    const outcome = await apply(release, referenceValues);
    if (outcome.accepted) events.noteReferences(release.version, release.referenceDistributions);
    events.record({ kind: 'model', version: release.version, mode: release.mode, outcome: outcome.accepted ? 'applied' : 'refused', reason: outcome.accepted ? null : outcome.reason });
    return outcome;
  };
}
