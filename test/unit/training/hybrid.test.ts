/**
 * The trainer's hybrid first stage (training/riskloop_training/hybrid.py): the logistic regression
 * written as per-feature trees that LightGBM boosts from. Run with the trainer's own Python.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');

function python(script: string): unknown {
  return JSON.parse(execFileSync(PYTHON, ['-c', script], { cwd: path.join(ROOT, 'training'), encoding: 'utf8' }));
}

// Seeded rows: a count (6 values, 20% missing), an hour (24 values, never missing), a continuous
// amount (binned: more than LINEAR_BINS values) and a constant column; fraud from count and hour.
const SETUP = [
  'import json, numpy as np, lightgbm as lgb',
  'from riskloop_training.baseline import fit_baseline',
  'from riskloop_training.hybrid import LinearStage, merge, LINEAR_BINS',
  'from riskloop_training.gbm import fit, linear_stage',
  'from riskloop_training.onnx_export import lightgbm_to_onnx, bake_platt, open_session, onnx_scores',
  'r = np.random.default_rng(5); n = 4000',
  'count = r.integers(0, 6, n).astype(float); hour = r.integers(0, 24, n).astype(float); amount = np.exp(r.normal(8, 1, n))',
  'y = (r.random(n) < 1 / (1 + np.exp(-(-4 + 0.6 * count + 1.5 * (hour < 5))))).astype(int)',
  'count[r.random(n) < 0.2] = np.nan',
  'x = np.column_stack([count, hour, amount, np.full(n, 3.0)]).astype(np.float32)',
  'pipe = fit_baseline(x, y); stage = LinearStage(pipe, x)',
  'lr = pipe.decision_function(x.astype(np.float64))',
].join('\n');

describe('trainer: the logistic regression as the boosting\'s first stage', () => {
  beforeAll(() => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
  });

  it('equals the regression on training rows whose features have few values, missing ones included, and imputes the median for a missing value never seen missing', () => {
    const out = python([
      SETUP,
      // Without the binned amount the stage is the regression exactly: compare the regression's own
      // amount term back in.
      'j = 2; inter, slope, centre, missing, present, median = __import__("riskloop_training.hybrid", fromlist=["x"]).regression_terms(pipe, 4)',
      'amount_term = slope[j] * (x[:, j].astype(np.float64) - centre[j])',
      '_, thresholds, values, _, _, _, _ = next(t for t in stage.trees if t[0] == j)',
      'binned_amount = values[np.searchsorted(thresholds, x[:, j], side="left")]',
      'exact = (stage.predict(x) - binned_amount) - (lr - amount_term)',
      'hour_nan = x.copy(); hour_nan[:, 1] = np.nan',
      'at_median = x.copy(); at_median[:, 1] = median[1]',
      'print(json.dumps({"trees": len(stage), "features": stage.features, "exact": float(np.abs(exact).max()),',
      '  "countsMissing": int(np.isnan(x[:, 0]).sum()),',
      '  "lrVsStage": float(np.abs(stage.predict(x) - lr).mean()),',
      '  "hourNan": float(np.abs(stage.predict(hour_nan) - stage.predict(at_median)).max())}))',
    ].join('\n')) as { trees: number; features: number[]; exact: number; countsMissing: number; lrVsStage: number; hourNan: number };
    // The constant column gets no tree (a constant folded into the intercept).
    expect(out.features).toEqual([0, 1, 2]);
    expect(out.countsMissing).toBeGreaterThan(500);
    expect(out.exact).toBeLessThan(1e-9);
    // The binned continuous feature stays close to the regression on its training rows.
    expect(out.lrVsStage).toBeLessThan(0.05);
    expect(out.hourNan).toBeLessThan(1e-12);
  }, 120_000);

  it('merges with the boosted trees into one booster whose ONNX export scores it, NaN included', () => {
    const out = python([
      SETUP,
      'cfg = {"num_leaves": 15, "min_child_samples": 50, "learning_rate": 0.05, "feature_fraction": 1.0, "class_weight": "none"}',
      'f = fit(cfg, x[:3000], y[:3000], x[3000:], y[3000:], 1, 1, 200, linear_stage(x[:3000], y[:3000]))',
      'blank = x.copy(); blank[r.random(blank.shape) < 0.3] = np.nan',
      'raw = f.booster.predict(blank, raw_score=True)',
      'session = open_session(bake_platt(lightgbm_to_onnx(f.booster, "h", ["a", "b", "c", "d"]), 1.2, -0.3).SerializeToString())',
      'diff = np.abs(onnx_scores(session, blank) - 1 / (1 + np.exp(-(1.2 * raw - 0.3)))).max()',
      'print(json.dumps({"linear": f.linear_trees, "boosted": f.trees, "total": f.booster.num_trees(), "onnx": float(diff)}))',
    ].join('\n')) as { linear: number; boosted: number; total: number; onnx: number };
    expect(out.linear).toBe(3);
    expect(out.total).toBe(out.linear + out.boosted);
    expect(out.onnx).toBeLessThan(1e-6);
  }, 120_000);
});
