/**
 * The trainer's prequential folds, logistic-regression baseline, calibration and determinism
 * (training/train.py), run with the trainer's own Python on a seeded simulated export.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TreeExplainer } from '../../../processors/contributions.js';
import { mulberry32 as random } from '../../support/seededRandom.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const DAY = 86_400_000;
const START = Date.UTC(2026, 2, 2);
const DAYS = 70;
const MATURITY = 30 * DAY;

/** 7000 transactions over 70 days; fraud from an interaction (night AND high amount) and a burst count. */
function simulate(): object[] {
  const rand = random(16);
  const rows: object[] = [];
  for (let i = 0; i < 7000; i++) {
    const eventTime = START + Math.floor(rand() * DAYS * DAY);
    const hour = Math.floor(rand() * 24);
    const amount = Math.round(1000 + rand() * 9000);
    const burst = rand() < 0.1 ? 3 + Math.floor(rand() * 5) : Math.floor(rand() * 2);
    const logit = -4 + (hour < 5 && amount > 7000 ? 3.5 : 0) + 0.5 * burst;
    const label = rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    const labeledAt = label === 1 ? eventTime + Math.floor((3 + rand() * 20) * DAY) : eventTime + MATURITY;
    const features: Record<string, number> = { 'txn.hour_of_day': hour, 'txn.amount_minor': amount, 'card.count_1h': burst, 'txn.noise': rand() };
    if (rand() < 0.2) delete features['card.count_1h'];
    rows.push({
      transactionId: `t${i}`, accountToken: `a${Math.floor(rand() * 400)}`, eventTime, features, facts: {}, label,
      labelSource: label === 1 ? 'CHARGEBACK' : 'MATURITY', labeledAt, labelDelayMs: labeledAt - eventTime, isCorrection: false,
      decision: 'APPROVE', modelVersion: null, featureSetVersion: 'default-2',
    });
  }
  return rows;
}

interface Metrics { rows: number; fraud: number; aucRoc: number; averagePrecision: number; precisionAtK: { k: number; mean: number } }
interface FoldRow {
  fold: number; testFrom: string; testTo: string; trainTo: string; validFrom: string; testRows: number; testFraud: number; trees: number;
  calibration: { a: number; b: number; brierUncalibrated: number; brierCalibrated: number };
  candidate: Metrics; baseline: Metrics; parent: Metrics | null;
}
interface Card {
  sha256: string; treesSha256: string; feature_set_version: string | null;
  folds: FoldRow[];
  foldScheme: { matureUntil: string; skipped: unknown[]; gapDays: number };
  foldSummary: { candidate: { folds: number; averagePrecision: { mean: number; std: number; min: number } }; baseline: { averagePrecision: { mean: number; min: number } }; candidateBeatsBaselineOnAveragePrecision: number };
  search: { configs: { meanValidAveragePrecision: number }[]; chosen: number };
  calibration: { a: number; b: number; test: { brierUncalibrated: number; brierCalibrated: number } };
  featureImportance: { feature: string; gain: number; meanAbsShap: number }[];
}

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

function trainer(args: string[]): string {
  return execFileSync(PYTHON, ['train.py', ...args], { cwd: path.join(ROOT, 'training'), encoding: 'utf8' });
}

describe('trainer: prequential folds, logistic-regression baseline, calibration', () => {
  const rows = simulate();
  let dir: string;
  let input: string;
  let card: Card;
  let printed: string;

  beforeAll(async () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
    dir = await mkdtemp(path.join(tmpdir(), 'riskloop-folds-'));
    input = path.join(dir, 'examples.jsonl');
    await writeFile(input, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    printed = trainer(['--input', input, '--out-dir', path.join(dir, 'a'), '--version', 'v1', '--search-budget', '4', '--parent', path.join(ROOT, 'models/bootstrap-v1.onnx'),
      '--dump-predictions', path.join(dir, 'a', 'predictions.json')]);
    card = JSON.parse(await readFile(path.join(dir, 'a', 'v1.card.json'), 'utf8')) as Card;
    // The same, without the refit on fit + validation rows (the early-stopped models): calibration and refit tests compare.
    trainer(['--input', input, '--out-dir', path.join(dir, 'c'), '--version', 'v1', '--search-budget', '4', '--refit', 'off']);
  }, 600_000);

  it('draws 4 weekly folds that end at the maturity horizon, with the label-delay gap before each test week', () => {
    const latestLabel = Math.max(...rows.map((r) => (r as { labeledAt: number }).labeledAt));
    const matureUntil = Math.floor((latestLabel - MATURITY) / DAY) * DAY;
    expect(card.foldScheme.matureUntil).toBe(iso(matureUntil));
    expect(card.folds).toHaveLength(4);
    card.folds.forEach((f, k) => {
      const testTo = matureUntil - (3 - k) * 7 * DAY;
      expect(f.testTo).toBe(iso(testTo));
      expect(f.testFrom).toBe(iso(testTo - 7 * DAY));
      expect(f.trainTo).toBe(iso(testTo - 14 * DAY));
      expect(f.validFrom).toBe(iso(testTo - 21 * DAY));
      const inTest = rows.filter((r) => { const t = (r as { eventTime: number }).eventTime; return t >= testTo - 7 * DAY && t < testTo; });
      expect(f.testRows).toBe(inTest.length);
      expect(f.testFraud).toBe(inTest.filter((r) => (r as { label: number }).label === 1).length);
      for (const m of [f.candidate, f.baseline, f.parent!]) {
        expect(m.rows).toBe(inTest.length);
        expect(m.aucRoc).toBeGreaterThan(0.5);
        expect(m.precisionAtK.k).toBe(100);
      }
    });
    // No test week reaches past the horizon: every test transaction's legitimate label had time to arrive.
    expect(Date.parse(card.folds.at(-1)!.testTo)).toBeLessThanOrEqual(latestLabel - MATURITY);
  });

  it('reports the logistic-regression baseline beside the candidate, with mean, std and min over folds, and prints it', () => {
    const aps = card.folds.map((f) => f.candidate.averagePrecision);
    const mean = aps.reduce((a, b) => a + b, 0) / aps.length;
    expect(card.foldSummary.candidate.folds).toBe(4);
    expect(card.foldSummary.candidate.averagePrecision.mean).toBeCloseTo(mean, 12);
    expect(card.foldSummary.candidate.averagePrecision.min).toBe(Math.min(...aps));
    expect(card.foldSummary.candidate.averagePrecision.std).toBeCloseTo(Math.sqrt(aps.reduce((a, v) => a + (v - mean) ** 2, 0) / aps.length), 12);
    // The fraud here is an interaction (night AND high amount) a linear model cannot express.
    expect(card.foldSummary.candidateBeatsBaselineOnAveragePrecision).toBe(4);
    expect(card.foldSummary.baseline.averagePrecision.mean).toBeLessThan(mean);
    expect(printed).toContain('LR = logistic-regression baseline on the same folds');
    expect(printed).toMatch(/candidate beats LR on average precision in 4 of 4 folds/);
    expect(card.search.configs).toHaveLength(4);
    expect(card.feature_set_version).toBe('default-2');
    const byShap = card.featureImportance.map((r) => r.feature);
    expect(byShap.indexOf('txn.noise')).toBe(3);
  });

  it('calibrates on the validation slice, and the exported graph outputs the calibrated probability', async () => {
    expect(card.calibration.a).toBeGreaterThan(0);
    for (const f of card.folds) expect(f.calibration.brierCalibrated).toBeGreaterThan(0);
    // Platt's fitted logistic regression has an intercept: on its own slice the mean calibrated
    // probability equals the observed fraud rate. Checked on the exported ONNX graph of the model that
    // did not train on the slice (--refit off); the default refit trains on it and keeps that calibration.
    const early = JSON.parse(await readFile(path.join(dir, 'c', 'v1.card.json'), 'utf8')) as Card;
    expect(card.calibration.a).toBe(early.calibration.a);
    expect(card.calibration.b).toBe(early.calibration.b);
    const script = [
      'import json, sys, numpy as np',
      'from pathlib import Path',
      'from riskloop_training.examples import load_examples, feature_matrix',
      'from riskloop_training.onnx_export import open_session, onnx_scores',
      'from riskloop_training.split import DAY_MS, time_split',
      'e = load_examples(Path(sys.argv[1])); card = json.load(open(sys.argv[2]))',
      's = time_split(e.event_time, e.labels, 7, 7)',
      'valid = s.train & (e.event_time >= s.gap_from - 7 * DAY_MS)',
      'p = onnx_scores(open_session(Path(sys.argv[3])), feature_matrix(e, card["features"], valid))',
      'print(json.dumps([float(p.mean()), float(e.labels[valid].mean())]))',
    ].join('\n');
    const out = execFileSync(PYTHON, ['-c', script, input, path.join(dir, 'c', 'v1.card.json'), path.join(dir, 'c', 'v1.onnx')], { cwd: path.join(ROOT, 'training'), encoding: 'utf8' });
    const [predicted, observed] = JSON.parse(out) as [number, number];
    expect(predicted).toBeCloseTo(observed, 3);
  }, 120_000);

  it('by default refits each fold\'s model and the released one on fit + validation rows, with the early-stopped tree counts scaled by the rows', async () => {
    type Refit = { rows: number; fraud: number; treeScale: number; memberTrees: number[]; earlyStoppedTrees: number[] };
    const early = JSON.parse(await readFile(path.join(dir, 'c', 'v1.card.json'), 'utf8')) as Card & { hyperparameters: { refit: Refit | null; bag: { memberTrees: number[] } } };
    const released = (card as unknown as { hyperparameters: { refit: Refit; bag: { memberTrees: number[] }; n_estimators: number } }).hyperparameters;
    // The same search and early-stopped bag as --refit off; then each member again, on more rows, with more trees.
    expect(early.hyperparameters.refit).toBeNull();
    expect(released.refit.earlyStoppedTrees).toEqual(early.hyperparameters.bag.memberTrees);
    expect(released.refit.treeScale).toBeGreaterThan(1);
    expect(released.refit.memberTrees).toEqual(released.refit.earlyStoppedTrees.map((t) => Math.max(1, Math.round(t * released.refit.treeScale))));
    expect(released.bag.memberTrees).toEqual(released.refit.memberTrees);
    for (const [k, f] of (card.folds as (FoldRow & { refit: Refit; fitRows: number; validRows: number; fitFraud: number; validFraud: number })[]).entries()) {
      expect(f.refit.rows).toBe(f.fitRows + f.validRows);
      expect(f.refit.fraud).toBe(f.fitFraud + f.validFraud);
      expect(f.refit.treeScale).toBeCloseTo((f.fitRows + f.validRows) / f.fitRows, 5);
      expect(f.refit.earlyStoppedTrees).toEqual((early.folds[k] as unknown as { memberTrees: number[] }).memberTrees);
      // Same test rows and baseline; only the candidate's scores change.
      expect(f.baseline).toEqual(early.folds[k]!.baseline);
    }
  });

  it('exports the trees beside the ONNX: per row, sigmoid(base + path contributions) is the exported graph\'s calibrated score', async () => {
    const doc: unknown = JSON.parse(await readFile(path.join(dir, 'a', 'v1.trees.json'), 'utf8'));
    const dump = JSON.parse(await readFile(path.join(dir, 'a', 'predictions.json'), 'utf8')) as { featureNames: string[]; rows: { features: (number | null)[]; onnxScore: number }[] };
    const explainer = TreeExplainer.fromDocument(doc, dump.featureNames);
    const out = new Float64Array(dump.featureNames.length);
    expect(dump.rows.length).toBeGreaterThan(500);
    let worst = 0;
    for (const row of dump.rows) {
      const x = Float32Array.from(row.features, (v) => v ?? Number.NaN);
      const raw = explainer.contributionsInto(x, 0, out);
      expect(out.reduce((a, b) => a + b, explainer.baseValue)).toBeCloseTo(raw, 9);
      worst = Math.max(worst, Math.abs(1 / (1 + Math.exp(-raw)) - row.onnxScore));
    }
    expect(worst).toBeLessThan(1e-5);
  });

  it('by default releases a seed bag of 5 boosters, each early-stopped on its own, without the blend', () => {
    const h = (card as unknown as { hyperparameters: { bag: { members: number; seeds: number[]; memberTrees: number[] }; blend: unknown; n_estimators: number } }).hyperparameters;
    expect(h.bag.members).toBe(5);
    expect(h.bag.seeds).toEqual([20261125, 20261126, 20261127, 20261128, 20261129]);
    expect(h.bag.memberTrees).toHaveLength(5);
    expect(h.n_estimators).toBe(h.bag.memberTrees.reduce((a, b) => a + b, 0));
    expect(h.blend).toBeNull();
    for (const f of card.folds as (FoldRow & { memberTrees: number[] })[]) {
      expect(f.memberTrees).toHaveLength(5);
      expect(f.trees).toBe(f.memberTrees.reduce((a, b) => a + b, 0));
    }
  });

  it('is deterministic: the same input and seed give the same ONNX, trees file and fold figures', async () => {
    trainer(['--input', input, '--out-dir', path.join(dir, 'b'), '--version', 'v1', '--search-budget', '4', '--parent', path.join(ROOT, 'models/bootstrap-v1.onnx')]);
    const again = JSON.parse(await readFile(path.join(dir, 'b', 'v1.card.json'), 'utf8')) as Card;
    const sha = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');
    expect(await sha(path.join(dir, 'b', 'v1.onnx'))).toBe(card.sha256);
    expect(await sha(path.join(dir, 'b', 'v1.trees.json'))).toBe(card.treesSha256);
    expect(again.folds).toEqual(card.folds);
    expect(again.search).toEqual(card.search);
  }, 300_000);

  it('refuses examples from two feature sets unless told to mix them', async () => {
    const mixed = path.join(dir, 'mixed.jsonl');
    await writeFile(mixed, rows.map((r, i) => JSON.stringify(i % 2 ? { ...r, featureSetVersion: 'default-3' } : r)).join('\n') + '\n');
    expect(() => execFileSync(PYTHON, ['train.py', '--input', mixed, '--out-dir', path.join(dir, 'm')], { cwd: path.join(ROOT, 'training'), encoding: 'utf8', stdio: 'pipe' }))
      .toThrow(/more than one feature set \(default-2: 3500, default-3: 3500\)/);
  }, 120_000);
});
