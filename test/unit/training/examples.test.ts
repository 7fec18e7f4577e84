/**
 * The trainer's choice of the label that counts per transaction (training/riskloop_training/
 * examples.py), run with the trainer's own Python: the venv stack/setup.sh builds before the tests.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const DAY = 86_400_000;

function example(transactionId: string, label: 0 | 1, labelSource: string, labeledAt: number, isCorrection: boolean): object {
  return { transactionId, accountToken: 'at_x', eventTime: 0, features: { 'amount': 1 }, label, labelSource, labeledAt, labelDelayMs: labeledAt, isCorrection };
}

async function labelsOf(lines: object[]): Promise<Record<string, [number, string]>> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
  const file = path.join(await mkdtemp(path.join(tmpdir(), 'riskloop-examples-')), 'examples.jsonl');
  await writeFile(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const script = [
    'import json, sys',
    'from pathlib import Path',
    'from riskloop_training.examples import load_examples',
    'e = load_examples(Path(sys.argv[1]))',
    'print(json.dumps({t: [int(l), s] for t, l, s in zip(e.transaction_ids, e.labels, e.label_source)}))',
  ].join('\n');
  const out = execFileSync(PYTHON, ['-c', script, file], { cwd: path.join(ROOT, 'training'), encoding: 'utf8' });
  return JSON.parse(out) as Record<string, [number, string]>;
}

describe('trainer: which label counts', () => {
  it('keeps a fraud chargeback dated before the maturity deadline that corrects the maturity negative, in either line order', async () => {
    // The maturity punctuator emitted the negative at the deadline (day 60); the chargeback, reported
    // on day 50 but processed later, arrives as a correction with the earlier labeledAt.
    const negative = example('t1', 0, 'MATURITY', 60 * DAY, false);
    const chargeback = example('t1', 1, 'CHARGEBACK', 50 * DAY, true);
    expect((await labelsOf([negative, chargeback])).t1).toEqual([1, 'CHARGEBACK']);
    expect((await labelsOf([chargeback, negative])).t1).toEqual([1, 'CHARGEBACK']);
  });

  it('between explicit labels, the later labeledAt wins whatever the line order', async () => {
    const chargeback = example('t2', 1, 'CHARGEBACK', 20 * DAY, false);
    const analyst = example('t2', 0, 'ANALYST', 30 * DAY, true);
    expect((await labelsOf([chargeback, analyst])).t2).toEqual([0, 'ANALYST']);
    expect((await labelsOf([analyst, chargeback])).t2).toEqual([0, 'ANALYST']);
  });

  it('a correction beats the explicit label it corrects even when that label is dated later', async () => {
    // An analyst said LEGITIMATE on day 30; a fraud chargeback reported on day 20 was processed
    // after it, so the label join wrote it as a correction (latest processed explicit label wins).
    const analyst = example('t3', 0, 'ANALYST', 30 * DAY, false);
    const chargeback = example('t3', 1, 'CHARGEBACK', 20 * DAY, true);
    expect((await labelsOf([analyst, chargeback])).t3).toEqual([1, 'CHARGEBACK']);
    expect((await labelsOf([chargeback, analyst])).t3).toEqual([1, 'CHARGEBACK']);
  });

  it('between corrections, the later in topic order wins whatever their labeledAt; other transactions are unaffected', async () => {
    // Maturity (day 60), then a chargeback dated day 50 (correction), then an analyst LEGITIMATE
    // verdict dated day 40 processed last (correction of the correction).
    const lines = [
      example('t4', 0, 'MATURITY', 60 * DAY, false),
      example('t5', 1, 'CHARGEBACK', 9 * DAY, false),
      example('t4', 1, 'CHARGEBACK', 50 * DAY, true),
      example('t4', 0, 'ANALYST', 40 * DAY, true),
    ];
    const labels = await labelsOf(lines);
    expect(labels.t4).toEqual([0, 'ANALYST']);
    expect(labels.t5).toEqual([1, 'CHARGEBACK']);
  });
});
