/**
 * The main thread's side of a threaded loop (bin/riskLoopApp.ts mirrorThreads): a release reported
 * by several threads is applied once to the main registry (which feeds /metrics), in order; a rule
 * reload is passed on to every thread; the loop counters are the sum of the threads' reports and
 * keep a dead thread's counts after its replacement.
 */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { mirrorThreads } from '../../../bin/riskLoopApp.js';
import type { ModelRelease } from '../../../schemas/types.js';
import type { RuleSet } from '../../../processors/ruleSet.js';

class FakeThreads extends EventEmitter {
  readonly sent: unknown[] = [];
  broadcast(payload: unknown): void {
    this.sent.push(payload);
  }
}

const release = (version: string): ModelRelease => ({ version, artifact: new Uint8Array([7]) as Buffer, artifactPath: null, sha256: 'ab', featureNames: [], thresholds: { review: 0.5, decline: 0.9 } as ModelRelease['thresholds'], mode: 'champion', referenceDistributions: {}, releasedAt: 1, releasedBy: null });

describe('mirrorThreads', () => {
  it('applies each release once, in order, with its artifact as a Buffer', async () => {
    const threads = new FakeThreads();
    const applied: string[] = [];
    const models = {
      applyRelease: async (r: ModelRelease) => {
        expect(Buffer.isBuffer(r.artifact)).toBe(true);
        applied.push(r.version);
        return { accepted: true as const, retired: r.version };
      },
    };
    const rules = { load: async (): Promise<RuleSet> => ({ version: 'r2', rules: [] }) };
    mirrorThreads(threads, models, rules, pino({ level: 'silent' }));
    threads.emit('threadMessage', 0, { kind: 'release', release: release('v1') });
    threads.emit('threadMessage', 1, { kind: 'release', release: release('v1') });
    threads.emit('threadMessage', 1, { kind: 'release', release: release('v2') });
    threads.emit('threadMessage', 0, { kind: 'release', release: release('v2') });
    await new Promise((r) => setTimeout(r, 20));
    expect(applied).toEqual(['v1', 'v2']);
  });

  it('passes a rule reload on to the threads after it succeeded here', async () => {
    const threads = new FakeThreads();
    let fail = false;
    const rules = {
      load: async (_path: string): Promise<RuleSet> => {
        if (fail) throw new Error('invalid rule file');
        return { version: 'r2', rules: [] };
      },
    };
    mirrorThreads(threads, { applyRelease: async () => ({ accepted: true as const, retired: '' }) }, rules, pino({ level: 'silent' }));
    await rules.load('rules/ruleset.json');
    expect(threads.sent).toEqual([{ kind: 'rules', path: 'rules/ruleset.json' }]);
    fail = true;
    await expect(rules.load('rules/bad.json')).rejects.toThrow(/invalid/);
    expect(threads.sent).toHaveLength(1);
  });

  it("sums the threads' counters and keeps a replaced thread's", () => {
    const threads = new FakeThreads();
    const counters = mirrorThreads(threads, { applyRelease: async () => ({ accepted: true as const, retired: '' }) }, { load: async () => ({ version: 'r', rules: [] }) }, pino({ level: 'silent' }));
    const report = (n: number) => ({ misrouted: [['tx', n]], idempotency: { repeated: n, reused: 0, notReplayable: 0, retriesOfUndecided: 1 } });
    threads.emit('threadReport', 0, report(2));
    threads.emit('threadReport', 1, report(3));
    expect(counters.misrouted.entries()).toEqual([['tx', 5]]);
    expect(counters.idempotency.repeated).toBe(5);
    threads.emit('threadReplaced', 1);
    threads.emit('threadReport', 1, report(1));
    expect(counters.misrouted.get('tx')).toBe(6);
    expect(counters.idempotency.retriesOfUndecided).toBe(3);
    // Without a list no thread screens: no screening counters.
    expect(counters.screening).toBeNull();
  });

  it("sums the threads' screening counters when a list is configured", () => {
    const threads = new FakeThreads();
    const counters = mirrorThreads(threads, { applyRelease: async () => ({ accepted: true as const, retired: '' }) }, { load: async () => ({ version: 'r', rules: [] }) }, pino({ level: 'silent' }), true);
    const report = (screened: number, hits: number) => ({ misrouted: [], idempotency: { repeated: 0, reused: 0, notReplayable: 0, retriesOfUndecided: 0 }, screening: { screened, rescreened: 0, hits, unopenable: 0 } });
    threads.emit('threadReport', 0, report(4, 1));
    threads.emit('threadReport', 1, report(6, 0));
    expect(counters.screening).toMatchObject({ screened: 10, hits: 1, rescreened: 0 });
    threads.emit('threadReplaced', 0);
    threads.emit('threadReport', 0, report(1, 0));
    expect(counters.screening!.screened).toBe(11);
  });
});
