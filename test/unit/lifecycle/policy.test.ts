/**
 * The lifecycle policy file (lifecycle/policy.ts): the shipped models/lifecycle-policy.json is valid,
 * defaults fill only the optional refinements, and a bad file is refused whole with the field named.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy, parsePolicy, PolicyError } from '../../../lifecycle/policy.js';

const SHIPPED = path.resolve(import.meta.dirname, '../../../models/lifecycle-policy.json');
let dir: string;
let shipped: Record<string, unknown>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'riskloop-policy-'));
  shipped = JSON.parse(await readFile(SHIPPED, 'utf8')) as Record<string, unknown>;
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** A deep copy of the shipped policy with one change made by `edit`. */
function variant(edit: (p: any) => void): unknown { // any: a test pokes arbitrary (also invalid) shapes into the document
  const copy = structuredClone(shipped);
  edit(copy);
  return copy;
}

describe('lifecycle policy', () => {
  it('the shipped file loads, with its version and the three blocks', async () => {
    const policy = await loadPolicy(SHIPPED);
    expect(policy.version).toBe('lifecycle-policy-1');
    expect(policy.gates.k).toBe(100);
    expect(policy.gates.replay.segment).toBe('amountBand');
    expect(policy.rollout.canary.share).toBe(10);
    expect(policy.retrain.trainer.testDays).toBe(7);
  });

  it('fills the refinements with their defaults when a file leaves them out', () => {
    const policy = parsePolicy(
      variant((p) => {
        delete p.retrain.trainer;
        delete p.gates.benchmarkDecisions;
        p.gates.replay = { days: 3, maxDeclineRateDelta: 0.01, maxReviewRateDelta: 0.02 };
      }),
    );
    expect(policy.retrain.trainer).toEqual({});
    expect(policy.gates.benchmarkDecisions).toBe(2000);
    expect(policy.gates.replay).toEqual({
      days: 3,
      segment: 'amountBand',
      amountBandEdges: [1000, 5000, 20000, 100000],
      minDecisions: 200,
      minSegmentDecisions: 100,
      maxDeclineRateDelta: 0.01,
      maxReviewRateDelta: 0.02,
      maxChallengeRateDelta: 0.02,
    });
  });

  it('names every bad field', () => {
    const bad = variant((p) => {
      p.gates.maxReviewRate = 1.5;
      p.rollout.canary.share = 0;
      delete p.retrain.minPositives;
    });
    expect(() => parsePolicy(bad, 'p.json')).toThrow(PolicyError);
    let message = '';
    try {
      parsePolicy(bad, 'p.json');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^p\.json: invalid lifecycle policy: /);
    expect(message).toContain('gates.maxReviewRate');
    expect(message).toContain('rollout.canary.share');
    expect(message).toContain('retrain.minPositives');
  });

  it('refuses unknown fields (a misspelt gate must not be ignored)', () => {
    expect(() => parsePolicy(variant((p) => (p.gates.apMrgin = 0.1)))).toThrow(/gates: Unrecognized key.*apMrgin/);
    expect(() => parsePolicy(variant((p) => (p.retrain.trainer.topK = 50)))).toThrow(/retrain\.trainer: Unrecognized key.*topK/);
  });

  it('refuses amount band edges that do not increase, and an unknown segment', () => {
    expect(() => parsePolicy(variant((p) => (p.gates.replay.amountBandEdges = [5000, 1000])))).toThrow(/gates\.replay\.amountBandEdges: amount band edges must increase/);
    expect(() => parsePolicy(variant((p) => (p.gates.replay.segment = 'mcc')))).toThrow(/gates\.replay\.segment/);
  });

  it('says which file could not be read or parsed', async () => {
    await expect(loadPolicy(path.join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: cannot read the lifecycle policy/);
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, '{"version": ');
    await expect(loadPolicy(broken)).rejects.toThrow(/broken\.json: not JSON/);
  });
});
