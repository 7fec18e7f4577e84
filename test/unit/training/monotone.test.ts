/**
 * The trainer's default monotone constraint (training/riskloop_training/gbm.py MONOTONE_MARKERS): the released
 * graph's score never falls as an amount-to-own-mean ratio rises, even when the training data has a dip in it,
 * while the unconstrained trees (--monotone off) follow the dip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 as random } from '../../support/seededRandom.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const DAY = 86_400_000;

/** 6000 payments over 63 days; fraud rises with the ratio but is also common at ratios just below 1 (a dip to learn). */
function simulate(): object[] {
  const rand = random(61);
  const start = Date.UTC(2026, 2, 2);
  const rows: object[] = [];
  for (let i = 0; i < 6000; i++) {
    const eventTime = start + Math.floor(rand() * 63 * DAY);
    const ratio = 0.2 + rand() * 5;
    const count = Math.floor(rand() * 6);
    const logit = -5 + 0.8 * ratio + 0.3 * count + (ratio > 0.7 && ratio < 1.1 ? 2.5 : 0);
    const label = rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    const labeledAt = label === 1 ? eventTime + Math.floor((2 + rand() * 5) * DAY) : eventTime + 14 * DAY;
    rows.push({
      transactionId: `t${i}`, accountToken: `a${Math.floor(rand() * 300)}`, eventTime,
      features: { 'card.amount_to_mean_30d': ratio, 'card.count_24h': count }, facts: {}, label,
      labelSource: label === 1 ? 'CHARGEBACK' : 'MATURITY', labeledAt, labelDelayMs: labeledAt - eventTime, isCorrection: false,
      decision: 'APPROVE', modelVersion: null, featureSetVersion: 'default-2',
    });
  }
  return rows;
}

/** Per model: the exported graph's score over a sweep of the ratio (count fixed at 2), and the card's constrained features. */
const SWEEP = [
  'import json, sys, numpy as np',
  'from pathlib import Path',
  'from riskloop_training.onnx_export import open_session, onnx_scores',
  'out = {}',
  'for d in sys.argv[1:]:',
  '    card = json.load(open(Path(d) / "m.card.json")); f = card["features"]',
  '    x = np.zeros((200, len(f)), dtype=np.float32); x[:, f.index("card.count_24h")] = 2',
  '    x[:, f.index("card.amount_to_mean_30d")] = np.linspace(0.2, 5.2, 200)',
  '    out[d] = {"scores": onnx_scores(open_session(Path(d) / "m.onnx"), x).astype(float).tolist(), "monotone": card["hyperparameters"]["monotoneIncreasing"]}',
  'print(json.dumps(out))',
].join('\n');

describe('trainer: monotone amount ratios (the default)', () => {
  let dir: string;
  beforeAll(async () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
    dir = await mkdtemp(path.join(tmpdir(), 'riskloop-monotone-'));
    const input = path.join(dir, 'examples.jsonl');
    await writeFile(input, simulate().map((r) => JSON.stringify(r)).join('\n') + '\n');
    for (const [sub, extra] of [['on', []], ['off', ['--monotone', 'off']]] as const) {
      execFileSync(PYTHON, ['train.py', '--input', input, '--out-dir', path.join(dir, sub), '--version', 'm', '--search-budget', '1', '--bag', '3', ...extra],
        { cwd: path.join(ROOT, 'training'), encoding: 'utf8' });
    }
  }, 300_000);

  it('the released graph never scores a higher ratio lower; without the constraint it follows the dip', async () => {
    const out = JSON.parse(execFileSync(PYTHON, ['-c', SWEEP, path.join(dir, 'on'), path.join(dir, 'off')], { cwd: path.join(ROOT, 'training'), encoding: 'utf8' })) as
      Record<string, { scores: number[]; monotone: string[] }>;
    const on = out[path.join(dir, 'on')]!, off = out[path.join(dir, 'off')]!;
    expect(on.monotone).toEqual(['card.amount_to_mean_30d']);
    expect(off.monotone).toEqual([]);
    const drops = (s: number[]) => s.slice(1).reduce((worst, v, i) => Math.max(worst, s[i]! - v), 0);
    expect(drops(on.scores)).toBe(0);
    expect(drops(off.scores)).toBeGreaterThan(0.001);
    // Still a model of the data: the highest ratios score well above the lowest.
    expect(on.scores.at(-1)!).toBeGreaterThan(on.scores[0]! * 5);
    const card = JSON.parse(await readFile(path.join(dir, 'on', 'm.card.json'), 'utf8')) as { metrics: { onnxBoosterMaxAbsDiff: number } };
    expect(card.metrics.onnxBoosterMaxAbsDiff).toBeLessThan(1e-5);
  });
});
