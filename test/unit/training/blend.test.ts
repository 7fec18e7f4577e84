/**
 * The trainer's default recipe (training/riskloop_training/blend.py, gbm.fit_bagged, train.py): a seed
 * bag of boosters blended in log-odds with the logistic regression, the weight chosen on the
 * validation slice, all written as one LightGBM booster and one ONNX graph. Run with the trainer's
 * own Python.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 as random } from '../../support/seededRandom.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const DAY = 86_400_000;

function python(script: string, args: string[] = []): unknown {
  return JSON.parse(execFileSync(PYTHON, ['-c', script, ...args], { cwd: path.join(ROOT, 'training'), encoding: 'utf8' }));
}

// Seeded rows: a count (20% missing), an hour, a continuous amount; fraud from an interaction the
// trees find (night AND high amount) and a linear count term the regression finds.
const SETUP = [
  'import json, numpy as np',
  'from sklearn.metrics import average_precision_score as ap',
  'from riskloop_training.gbm import fit, fit_bagged, linear_stage',
  'from riskloop_training.blend import BLEND_WEIGHTS, average, blend, choose_weight',
  'from riskloop_training.onnx_export import lightgbm_to_onnx, bake_platt, open_session, onnx_scores',
  'from riskloop_training.explain import trees_document',
  'r = np.random.default_rng(7); n = 6000',
  'count = r.integers(0, 8, n).astype(float); hour = r.integers(0, 24, n).astype(float); amount = np.exp(r.normal(8, 1, n))',
  'y = (r.random(n) < 1 / (1 + np.exp(-(-5 + 0.5 * count + 2.5 * ((hour < 5) & (amount > 4000)))))).astype(int)',
  'count[r.random(n) < 0.2] = np.nan',
  'x = np.column_stack([count, hour, amount]).astype(np.float32)',
  'cfg = {"num_leaves": 15, "min_child_samples": 30, "learning_rate": 0.05, "feature_fraction": 1.0, "class_weight": "none"}',
  'fitx, fity, vx, vy = x[:4000], y[:4000], x[4000:5000], y[4000:5000]',
].join('\n');

describe('trainer: seed bag and blend with the regression, as one tree ensemble', () => {
  beforeAll(() => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
  });

  it('is one booster scoring w * mean(bag) + (1 - w) * regression; its ONNX export (Platt baked) and its contributions give the same score, NaN included', () => {
    const out = python([
      SETUP,
      'bag = fit_bagged(cfg, fitx, fity, vx, vy, 11, 1, 300, 3); stage = linear_stage(fitx, fity)',
      'members = [fit(cfg, fitx, fity, vx, vy, 11 + i, 1, 300, None, {"bagging_fraction": 0.8, "bagging_freq": 1, "feature_fraction": 0.8}).booster for i in range(3)]',
      'blank = x.copy(); blank[r.random(blank.shape) < 0.3] = np.nan',
      'mean = np.mean([m.predict(blank, raw_score=True) for m in members], axis=0)',
      'res = {"memberTrees": bag.member_trees, "trees": bag.trees, "bagVsMembers": float(np.abs(bag.booster.predict(blank, raw_score=True) - mean).max()),',
      '       "membersDiffer": float(np.abs(members[0].predict(blank, raw_score=True) - members[1].predict(blank, raw_score=True)).max())}',
      'for w in (0.0, 0.4, 1.0):',
      '    model = blend(stage, bag.booster, w)',
      '    raw = model.predict(blank, raw_score=True)',
      '    want = w * mean + (1 - w) * stage.predict(blank)',
      '    session = open_session(bake_platt(lightgbm_to_onnx(model, "b", ["a", "b", "c"]), 0.8, -0.4).SerializeToString())',
      '    onnx = np.abs(onnx_scores(session, blank) - 1 / (1 + np.exp(-(0.8 * raw - 0.4)))).max()',
      '    shap = np.abs(model.predict(blank[:300], pred_contrib=True).sum(axis=1) - raw[:300]).max()',
      '    doc = trees_document(model, "b", ["a", "b", "c"], 0.8, -0.4)',
      '    res[f"{w:.1f}"] = {"trees": model.num_trees(), "sum": float(np.abs(raw - want).max()), "onnx": float(onnx), "shap": float(shap)}',
      'res["stageTrees"] = len(stage)',
      'print(json.dumps(res))',
    ].join('\n')) as Record<string, { trees: number; sum: number; onnx: number; shap: number }> & { memberTrees: number[]; trees: number; bagVsMembers: number; membersDiffer: number; stageTrees: number };
    expect(out.memberTrees).toHaveLength(3);
    expect(out.trees).toBe(out.memberTrees.reduce((a, b) => a + b, 0));
    // The bag's members differ (own seed, subsampling) and the bag is exactly their mean.
    expect(out.membersDiffer).toBeGreaterThan(1e-3);
    expect(out.bagVsMembers).toBeLessThan(1e-9);
    expect(out.stageTrees).toBe(3);
    expect(out['0.0']!.trees).toBe(out.stageTrees); // weight 0: the regression's trees alone
    expect(out['0.4']!.trees).toBe(out.stageTrees + out.trees);
    expect(out['1.0']!.trees).toBe(out.trees); // weight 1: the bag alone
    for (const w of ['0.0', '0.4', '1.0']) {
      expect(out[w]!.sum).toBeLessThan(1e-9);
      expect(out[w]!.onnx).toBeLessThan(1e-6);
      expect(out[w]!.shap).toBeLessThan(1e-9);
    }
  }, 180_000);

  it('chooses the weight on the validation rows: the best validation AP, ties to the trees', () => {
    const out = python([
      SETUP,
      'f = fit(cfg, fitx, fity, vx, vy, 11, 1, 300); stage = linear_stage(fitx, fity)',
      'tv, lv = f.booster.predict(vx, raw_score=True), stage.predict(vx)',
      'w, by = choose_weight(vy, tv, lv)',
      'mine = {f"{k:.1f}": ap(vy, k * tv + (1 - k) * lv) for k in BLEND_WEIGHTS}',
      // Identical members: every weight ties, and the trees win the tie.
      'w_tie, _ = choose_weight(vy, lv, lv)',
      // Reversed roles: the regression's scores as the "trees" and pure noise as the regression.
      'w_noise, _ = choose_weight(vy, tv, r.normal(size=len(vy)))',
      'print(json.dumps({"w": w, "by": by, "mine": mine, "tie": w_tie, "noise": w_noise}))',
    ].join('\n')) as { w: number; by: Record<string, number>; mine: Record<string, number>; tie: number; noise: number };
    expect(Object.keys(out.by)).toHaveLength(11);
    for (const [k, v] of Object.entries(out.mine)) expect(out.by[k]).toBeCloseTo(v, 12);
    const best = Math.max(...Object.values(out.mine));
    expect(out.mine[out.w.toFixed(1)]).toBe(best);
    expect(out.tie).toBe(1);
    expect(out.noise).toBeGreaterThanOrEqual(0.8);
  }, 120_000);
});

/** Fraud whose form changes in the last weeks: the interaction the trees learn early, a linear count
 * term later, so that the weight the validation slice picks and the one the last weeks would pick
 * differ — a trainer that chose on the test period would show it. */
function regimeChange(): object[] {
  const rand = random(29);
  const start = Date.UTC(2026, 2, 2);
  const rows: object[] = [];
  for (let i = 0; i < 9000; i++) {
    const eventTime = start + Math.floor(rand() * 70 * DAY);
    const late = eventTime >= start + 56 * DAY; // the gap and the test period (the last 14 days)
    const hour = Math.floor(rand() * 24);
    const amount = Math.round(1000 + rand() * 9000);
    const count = Math.floor(rand() * 8);
    const logit = late ? -6 + 0.7 * count : -4.5 + (hour < 5 && amount > 7000 ? 4 : 0) + 0.15 * count;
    const label = rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    const labeledAt = label === 1 ? eventTime + Math.floor((3 + rand() * 10) * DAY) : eventTime + 30 * DAY;
    rows.push({
      transactionId: `t${i}`, accountToken: `a${Math.floor(rand() * 300)}`, eventTime,
      features: { 'txn.hour_of_day': hour, 'txn.amount_minor': amount, 'card.count_1h': count }, facts: {}, label,
      labelSource: label === 1 ? 'CHARGEBACK' : 'MATURITY', labeledAt, labelDelayMs: labeledAt - eventTime, isCorrection: false,
      decision: 'APPROVE', modelVersion: null, featureSetVersion: 'default-2',
    });
  }
  return rows;
}

describe('trainer: the released blend', () => {
  it('records in the card the weight with the best validation AP, recomputed here from the exported graph; the graph scores as the booster', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'riskloop-blend-'));
    const input = path.join(dir, 'examples.jsonl');
    await writeFile(input, regimeChange().map((r) => JSON.stringify(r)).join('\n') + '\n');
    // --refit off: the graph is then the blend as chosen (trees and regression of the fit rows), so the trees' log-odds
    // can be recovered from it below; the refit retrains both on fit + validation rows at the same weight.
    execFileSync(PYTHON, ['train.py', '--input', input, '--out-dir', dir, '--version', 'b1', '--search-budget', '1', '--bag', '3', '--blend', 'valid', '--refit', 'off'],
      { cwd: path.join(ROOT, 'training'), encoding: 'utf8' });
    // From the ONNX graph alone: logit(p) = a * (w * trees + (1 - w) * regression) + b, the regression
    // being the one the trainer fits on the final fit rows; so the trees' log-odds are recovered and
    // every weight's average precision recomputed, on the validation slice and on the test period.
    const script = [
      'import json, sys, numpy as np',
      'from pathlib import Path',
      'from sklearn.metrics import average_precision_score as ap',
      'from riskloop_training.examples import load_examples, feature_matrix',
      'from riskloop_training.gbm import linear_stage',
      'from riskloop_training.blend import BLEND_WEIGHTS',
      'from riskloop_training.onnx_export import open_session, onnx_scores',
      'from riskloop_training.split import DAY_MS, time_split',
      'e = load_examples(Path(sys.argv[1])); card = json.load(open(sys.argv[2])); session = open_session(Path(sys.argv[3]))',
      's = time_split(e.event_time, e.labels, 7, 7)',
      'valid = s.train & (e.event_time >= s.gap_from - 7 * DAY_MS); fit_rows = s.train & ~valid',
      'stage = linear_stage(feature_matrix(e, card["features"], fit_rows), e.labels[fit_rows])',
      'blend = card["hyperparameters"]["blend"]; w = blend["weight"]; a, b = card["calibration"]["a"], card["calibration"]["b"]',
      'def per_weight(mask):',
      '    x = feature_matrix(e, card["features"], mask); p = onnx_scores(session, x).astype(np.float64)',
      '    raw = (np.log(p) - np.log1p(-p) - b) / a; lin = stage.predict(x)',
      '    trees = (raw - (1 - w) * lin) / w',
      '    return {f"{k:.1f}": float(ap(e.labels[mask], k * trees + (1 - k) * lin)) for k in BLEND_WEIGHTS}',
      'print(json.dumps({"blend": blend, "valid": per_weight(valid), "test": per_weight(s.test), "bag": card["hyperparameters"]["bag"],',
      '  "parity": card["metrics"]["onnxBoosterMaxAbsDiff"], "folds": [f["blend"] for f in card["folds"]]}))',
    ].join('\n');
    const out = python(script, [input, path.join(dir, 'b1.card.json'), path.join(dir, 'b1.onnx')]) as {
      blend: { weight: number; validAveragePrecision: Record<string, number> }; valid: Record<string, number>; test: Record<string, number>;
      bag: { members: number; memberTrees: number[] }; parity: number; folds: { weight: number; validAveragePrecision: Record<string, number> }[];
    };
    const argmax = (by: Record<string, number>) => Object.entries(by).reduce((best, [k, v]) => (v > best[1] || (v === best[1] && Number(k) > Number(best[0])) ? [k, v] : best), ['-1', -Infinity])[0];
    // The setting is discriminating: the test period would pick another weight than the validation slice.
    expect(argmax(out.test)).not.toBe(argmax(out.valid));
    expect(out.blend.weight).toBeGreaterThan(0);
    expect(out.blend.weight.toFixed(1)).toBe(argmax(out.valid));
    expect(out.blend.weight.toFixed(1)).toBe(argmax(out.blend.validAveragePrecision));
    for (const [k, v] of Object.entries(out.valid)) expect(out.blend.validAveragePrecision[k]).toBeCloseTo(v, 3);
    for (const f of out.folds) expect(f.weight.toFixed(1)).toBe(argmax(f.validAveragePrecision));
    expect(out.bag.members).toBe(3);
    expect(out.bag.memberTrees).toHaveLength(3);
    expect(out.parity).toBeLessThan(1e-5);
  }, 300_000);
});
