/**
 * The ONNX export and float32 thresholds (training/riskloop_training/onnx_export.py float32_thresholds):
 * LightGBM compares in double, the ONNX TreeEnsemble with float32 thresholds rounded to nearest, so a
 * threshold between two float32 values can send a float32 feature value equal to its rounding the other
 * way. The trainer replaces every threshold by the largest float32 below it before exporting.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');

const SCRIPT = [
  'import json, re, numpy as np, lightgbm as lgb',
  'from riskloop_training.onnx_export import float32_thresholds, lightgbm_to_onnx, open_session, onnx_scores',
  'rng = np.random.default_rng(1); x = rng.random((2000, 2)).astype(np.float32); y = (x[:, 0] > 0.5).astype(int)',
  'b = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "seed": 1, "deterministic": True}, lgb.Dataset(x, y), 3)',
  'text = re.sub(r"^tree_sizes=.*\\n", "", b.model_to_string(), flags=re.M)',
  'assert re.search(r"^split_feature=0\\b", text, re.M)',
  // The first tree's root threshold moved to 3/4 of the way between two float32 values: it rounds up to `hi`.
  'lo = np.float32(0.5); hi = np.nextafter(lo, np.float32(1)); t = float(lo) + 0.75 * (float(hi) - float(lo))',
  'text = re.sub(r"^threshold=\\S+", "threshold=" + repr(t), text, count=1, flags=re.M); b = lgb.Booster(model_str=text)',
  'edge = np.array([[hi, 0.3], [lo, 0.3]], dtype=np.float32); rows = np.vstack([x, edge])',
  'def graph(m): return onnx_scores(open_session(lightgbm_to_onnx(m, "t", ["f0", "f1"]).SerializeToString()), rows).astype(float)',
  'fixed = float32_thresholds(b)',
  'print(json.dumps({"rawDiff": float(np.abs(graph(b) - b.predict(rows)).max()), "fixedDiff": float(np.abs(graph(fixed) - fixed.predict(rows)).max()),',
  '  "boosterChange": float(np.abs(fixed.predict(rows) - b.predict(rows)).max()), "edgeApart": float(abs(b.predict(edge)[0] - b.predict(edge)[1]))}))',
].join('\n');

describe('trainer: ONNX thresholds as float32', () => {
  it('a threshold between two float32 values: the plain export mis-routes the value above it, the float32 thresholds do not, and the booster scores the same', () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
    const out = JSON.parse(execFileSync(PYTHON, ['-c', SCRIPT], { cwd: path.join(ROOT, 'training'), encoding: 'utf8' })) as
      { rawDiff: number; fixedDiff: number; boosterChange: number; edgeApart: number };
    // The two edge rows sit on either side of the split for LightGBM, so routing one of them wrongly shows.
    expect(out.edgeApart).toBeGreaterThan(0.01);
    expect(out.rawDiff).toBeGreaterThan(0.01);
    expect(out.fixedDiff).toBeLessThan(1e-6);
    expect(out.boosterChange).toBe(0);
  }, 60_000);
});
