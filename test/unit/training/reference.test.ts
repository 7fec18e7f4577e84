/**
 * The score reference of a model card (training/riskloop_training/reference.py, run with the
 * trainer's own Python) against the live side that bins scores on it (ops/psi.ts through
 * lifecycle/liveChecks.ts LiveWindow): the same scores must give PSI ≈ 0, also when the hot path
 * computes a tied score a float32 step off the trainer's (onnxruntime-node and onnxruntime in
 * Python differ so on 0.3-11 % of a model's rows, always the same way for the same score). A demo
 * rolled a good candidate back on score PSI 0.53 and let the next run's through at 0.026: its
 * quantile edges sat on its most common scores, and whether a one-step difference fell below an
 * edge decided the figure.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { scoreSnapshots } from '../../../lifecycle/gates.js';
import { LiveWindow } from '../../../lifecycle/liveChecks.js';
import { ModelRegistry } from '../../../processors/modelRegistry.js';
import { binCounts, psi } from '../../../ops/psi.js';
import type { Decision, ReferenceHistogram } from '../../../schemas/types.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');

function python(script: string, input: unknown): unknown {
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { cwd: path.join(ROOT, 'training'), encoding: 'utf8', input: JSON.stringify(input) }));
}

/** reference.py's histogram of `values` (read as float32 when `float32`, as the trainer's scores and features are). */
function histogram(values: readonly number[], opts: { bins: number; tolerance?: number; float32?: boolean; score?: boolean }): ReferenceHistogram {
  return python(
    [
      'import json, sys, numpy as np',
      'from riskloop_training.reference import histogram, reference_distributions',
      'a = json.load(sys.stdin)',
      'v = np.array(a["values"], dtype=np.float32 if a["float32"] else np.float64)',
      // The score goes through reference_distributions, as train.py stores it on the card.
      'h = reference_distributions(np.zeros((len(v), 0)), [], v)["__score__"] if a["score"] else histogram(v.astype(float), bins=a["bins"], tolerance=a["tolerance"])',
      'print(json.dumps(h))',
    ].join('\n'),
    { values, bins: opts.bins, tolerance: opts.tolerance ?? 0, float32: opts.float32 ?? false, score: opts.score ?? false },
  ) as ReferenceHistogram;
}

const f32 = (v: number): number => Math.fround(v);
/** The float32 next to v (v a float32) downwards or upwards: one step of the hot path's difference. */
function step(v: number, dir: -1 | 1): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setFloat32(0, v);
  buf.setInt32(0, buf.getInt32(0) + (v > 0 ? dir : -dir));
  return buf.getFloat32(0);
}

/**
 * Scores like a small boosted model's on a test week (the demo candidate lgbm-20261203-124504: 341
 * distinct scores in 7669 rows, 61 % on one): a few leaf sums carry most of the rows, a continuous
 * tail the rest. Float32, as onnxruntime outputs them.
 */
function treeScores(): number[] {
  const masses: [number, number][] = [[0.001856088638, 4712], [0.001702845097, 560], [0.001840293407, 355], [0.001831412315, 346], [0.00329220295, 258], [0.001916766167, 157], [0.001848161221, 112], [0.00432318449, 76]];
  const out: number[] = [];
  for (const [v, n] of masses) for (let i = 0; i < n; i++) out.push(f32(v));
  // A seeded continuous tail (fraud-ish scores) and a few low ones.
  let x = 12345;
  const rand = (): number => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < 1000; i++) out.push(f32(0.002 + rand() ** 3 * 0.99));
  for (let i = 0; i < 90; i++) out.push(f32(0.0001 + rand() * 0.0015));
  return out;
}

function shadowPsi(reference: ReferenceHistogram, scores: readonly number[]): number | null {
  const w = new LiveWindow({ version: 'cand', role: 'shadow', sinceMs: 0, thresholds: { review: 0.5, decline: 0.9 }, scoreReference: reference, graceMs: 0 });
  scores.forEach((score, i) => w.addDecision({ transactionId: `tx-${i}`, cardToken: `c-${i}`, decidedAt: 1 + i, decision: 'APPROVE', score: 0.01, modelVersion: 'champ', shadowScores: [{ modelVersion: 'cand', score }], reasonCodes: [], pipelineLatencyMs: 1 } satisfies Partial<Decision>));
  return w.figures().scorePsi;
}

describe('score reference (reference.py) binned live (ops/psi.ts, LiveWindow)', () => {
  beforeAll(() => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
  });

  it('gives PSI 0 for the same scores, and for tied scores a float32 step off the trainer\'s', () => {
    const scores = treeScores();
    const ref = histogram(scores, { bins: 20, score: true, float32: true });
    // Numpy's bins of the same sample: what the card records must be what the live side counts.
    expect(binCounts(ref, scores).map((c) => c / scores.length)).toEqual(ref.proportions);
    expect(shadowPsi(ref, scores)).toBe(0);
    // No edge on a score: the common scores sat on the quantile edges and moved bins with one step.
    const distinct = new Set(scores);
    expect(ref.edges.slice(1, -1).filter((e) => distinct.has(e))).toEqual([]);
    // The hot path one float32 step below (above) the trainer on every score.
    for (const dir of [-1, 1] as const) expect(shadowPsi(ref, scores.map((s) => step(s, dir)))!).toBeLessThan(1e-9);
    // 2^-23 below or above, the difference measured (onnxruntime-node vs Python, plain boosters) at
    // any score: the demo's candidate had 17 rows of 0.0074918866 computed 2^-23 lower; had that
    // been an edge value, as 0.001856 was with 61 % of the rows, the PSI would have been 4.3.
    for (const d of [-(2 ** -23), 2 ** -23]) expect(shadowPsi(ref, scores.map((s) => f32(s + d)))!).toBeLessThan(1e-3);
  }, 60_000);

  it('moves an edge off a gap that has a common score within the score tolerance (to the next safe gap)', () => {
    // 60 % on one value and 20 % on a value 1e-7 above it: no edge can separate them reliably.
    const scores = [...Array<number>(600).fill(f32(0.0011583)), ...Array<number>(200).fill(f32(0.0011584)), ...Array.from({ length: 200 }, (_, i) => f32(0.01 + i * 0.001))];
    const ref = histogram(scores, { bins: 20, tolerance: 1e-6, float32: true });
    expect(ref.edges.filter((e) => e > 0.0011583 && e < 0.0011584)).toEqual([]);
    expect(ref.proportions[0]).toBeCloseTo(0.8, 12);
    // The common score computed 2^-23 higher live: past the midpoint of a 1e-7 gap.
    const live = scores.map((s, i) => (i < 600 ? f32(s + 2 ** -23) : s));
    expect(shadowPsi(ref, live)).toBeLessThan(1e-9);
    // Without the tolerance the two values keep separate bins (right for features: exact values),
    // and the same live scores move 60 % of the sample across the edge.
    const exact = histogram(scores, { bins: 20, float32: true });
    expect(exact.proportions.slice(0, 2)).toEqual([0.6, 0.2]);
    expect(shadowPsi(exact, live)!).toBeGreaterThan(1);
  }, 60_000);

  it('bins a float64 live feature like the float32 training value it was rounded to', () => {
    // Training rounds features to float32 (the model's input type); live snapshots carry the
    // float64. float32(0.1) = 0.10000000149 > 0.1: with the edge on the training value the live
    // 0.1 fell into the bin below.
    const live = [...Array<number>(100).fill(0.05), ...Array<number>(400).fill(0.1), ...Array<number>(300).fill(0.7), ...Array.from({ length: 200 }, (_, i) => 1 + i / 7)];
    const ref = histogram(live, { bins: 10, float32: true });
    expect(binCounts(ref, live.map(f32)).map((c) => c / live.length)).toEqual(ref.proportions);
    expect(psi(ref.proportions, binCounts(ref, live))).toBeLessThan(1e-9);
    // Without a tolerance the bins hold what numpy's quantile bins held (less the empty ones two
    // quantiles in one gap made): only the edges moved.
    const numpy = python(
      ['import json, sys, numpy as np', 'v = np.array(json.load(sys.stdin), dtype=np.float32).astype(float)', 'c, _ = np.histogram(v, bins=np.unique(np.quantile(v, np.linspace(0, 1, 11))))', 'print(json.dumps([float(x) / len(v) for x in c]))'].join('\n'),
      live,
    );
    expect(ref.proportions).toEqual((numpy as number[]).filter((p) => p > 0));
  }, 60_000);

  it('a small boosted model: its test rows scored by onnxruntime-node give PSI 0 against the reference the trainer stores', async () => {
    // The trainer's own export path (LightGBM -> ONNX, Platt baked in, onnx_scores ->
    // reference_distributions) on seeded rows with few distinct values, so the scores tie.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-reference-'));
    try {
      const out = python(
        [
          'import json, sys, numpy as np, lightgbm as lgb',
          'from riskloop_training.onnx_export import lightgbm_to_onnx, bake_platt, open_session, onnx_scores',
          'from riskloop_training.reference import reference_distributions',
          'a = json.load(sys.stdin); r = np.random.default_rng(11); n = 6000',
          'amount = np.round(np.exp(r.normal(4, 1, n)), 2)',
          'x = np.column_stack([r.integers(0, 4, n), r.integers(0, 24, n), amount]).astype(np.float32)',
          'y = (r.random(n) < 1 / (1 + np.exp(-(-5 + 0.8 * x[:, 0] + 1.5 * (x[:, 1] < 5))))).astype(int)',
          'b = lgb.train({"objective": "binary", "num_leaves": 7, "learning_rate": 0.1, "min_data_in_leaf": 50, "verbose": -1, "seed": 1}, lgb.Dataset(x[:4000], y[:4000]), 15)',
          'model = bake_platt(lightgbm_to_onnx(b, "ref-test", ["f.count", "f.hour", "f.amount"]), 0.9, -0.2)',
          'path = a["dir"] + "/ref-test.onnx"; open(path, "wb").write(model.SerializeToString())',
          'test = x[4000:]; s = onnx_scores(open_session(path), test)',
          'ref = reference_distributions(test, ["f.count", "f.hour", "f.amount"], s)',
          'vals, counts = np.unique(s, return_counts=True)',
          'print(json.dumps({"path": path, "reference": ref, "rows": [{"f.count": float(v[0]), "f.hour": float(v[1]), "f.amount": float(m)} for v, m in zip(test, amount[4000:])], "commonest": float(counts.max() / len(s)), "distinct": len(vals)}))',
        ].join('\n'),
        { dir },
      ) as { path: string; reference: Record<string, ReferenceHistogram>; rows: Record<string, number>[]; commonest: number; distinct: number };
      expect(out.distinct).toBeLessThan(200);
      expect(out.commonest).toBeGreaterThan(0.05);
      const registry = new ModelRegistry(pino({ level: 'silent' }));
      const sha256 = createHash('sha256').update(readFileSync(out.path)).digest('hex');
      const loaded = await registry.load({ version: 'ref-test', artifactPath: out.path, sha256, thresholds: { review: 0.5, decline: 0.9 }, featureNames: ['f.count', 'f.hour', 'f.amount'] });
      if (!loaded.accepted) throw new Error(loaded.reason);
      const scores = (await scoreSnapshots(registry, loaded.model, out.rows)) as number[];
      expect(scores.every((v) => typeof v === 'number')).toBe(true);
      expect(shadowPsi(out.reference.__score__!, scores)!, 'score PSI, onnxruntime-node vs the reference').toBeLessThan(1e-3);
      // The live snapshots carry the float64 amounts the trainer rounded to float32 (the scorer's
      // Float32Array rounds them the same way, so the scores above are the trainer's rows').
      const amounts = out.rows.map((r) => r['f.amount']!);
      const ref = out.reference['f.amount']!;
      expect(psi(ref.proportions, binCounts(ref, amounts)), 'amount PSI, float64 live values').toBeLessThan(1e-3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

