/**
 * `riskloop train` end to end: simulated training examples with a planted fraud signal go to a real
 * training-examples topic (Avro through the registry, an aborted transaction at the end), the
 * command exports the topic and trains with the Python trainer in .venv, and the test checks what
 * it wrote against values worked out here: the split counts after corrections, the metrics
 * recomputed from the trainer's own predictions, ONNX scores in onnxruntime-node against the
 * booster's to 1e-5, the metadata, loading through ModelRegistry, and byte-identical retraining
 * from the same examples in another order.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import ort from 'onnxruntime-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../bin/commands/train.js';
import { ModelRegistry, readOnnxMetadata, specFromModelCard } from '../../processors/modelRegistry.js';
import { AvroSerde, SCHEMAS, buildCatalogue, type TrainingExample } from '../../schemas/index.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';
import { createTopics, kafkaFor, produce } from '../support/kafkaIo.js';
import { mulberry32 as random } from '../support/seededRandom.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 5);
const SIM_DAYS = 42;
const TRANSACTIONS = 9000;
const ACCOUNTS = 700;
const PARENT = path.join(ROOT, 'models/bootstrap-v1.onnx');

interface Simulated {
  /** In the order the label join would write them: a superseded label before its correction. */
  written: TrainingExample[];
  /** The label that stands per transaction (the latest). */
  final: Map<string, TrainingExample>;
}

/**
 * Transactions over six weeks; fraud ~ Bernoulli(sigmoid(logit)) of blocked devices, card-testing
 * bursts, impossible travel and unusual amounts, with bootstrap feature names so the parent model
 * has something to score. Some features are missing from some snapshots, `txn.noise` carries no
 * signal, and 3% of transactions get a first label that a later one overturns.
 */
function simulate(seed: number): Simulated {
  const rand = random(seed);
  const normal = () => rand() + rand() + rand() + rand() - 2;
  const written: TrainingExample[] = [];
  const final = new Map<string, TrainingExample>();
  for (let i = 0; i < TRANSACTIONS; i++) {
    const accountToken = `acct-${String(Math.floor(rand() * ACCOUNTS)).padStart(4, '0')}`;
    const eventTime = START + Math.floor(rand() * SIM_DAYS * DAY);
    const blocked = rand() < 0.04 ? 1 : 0;
    const burst = rand() < 0.08 ? 3 + Math.floor(rand() * 8) : Math.floor(rand() * 2);
    const features: Record<string, number> = {
      'device.blocked': blocked,
      'card.count_1m': burst,
      'txn.amount_minor': Math.round(Math.exp(Math.log(4000) + normal())),
      'txn.hour_of_day': Math.floor(rand() * 24),
      'txn.noise': rand(),
    };
    let logit = -4.3 + 3.0 * blocked + 0.45 * Math.min(burst, 8);
    if (rand() < 0.7) {
      features['travel.impossible'] = rand() < 0.03 ? 1 : 0;
      logit += 2.5 * features['travel.impossible'];
    }
    if (rand() < 0.85) {
      features['account.amount_zscore_30d'] = 1.5 * normal();
      logit += 0.6 * Math.max(features['account.amount_zscore_30d'], 0);
    }
    const label = rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0;
    // featureSetVersion as the label join writes it for snapshots from before feature sets (the Avro default, decoded back as null).
    const base = { transactionId: `tx-${i}`, accountToken, eventTime, features, facts: { 'kyc.status': 'VERIFIED' }, modelVersion: 'bootstrap-v1', decision: 'APPROVE' as const, featureSetVersion: null };
    let example: TrainingExample;
    if (rand() < 0.03) {
      const firstAt = eventTime + 3 * DAY;
      written.push({ ...base, label: label === 1 ? 0 : 1, labelSource: label === 1 ? 'ANALYST' : 'CHARGEBACK', labeledAt: firstAt, labelDelayMs: firstAt - eventTime, isCorrection: false });
      const at = eventTime + 12 * DAY;
      example = { ...base, label, labelSource: 'ANALYST', labeledAt: at, labelDelayMs: at - eventTime, isCorrection: true };
    } else {
      const at = label === 1 ? eventTime + Math.floor((5 + rand() * 35) * DAY) : eventTime + 60 * DAY;
      example = { ...base, label, labelSource: label === 1 ? 'CHARGEBACK' : 'MATURITY', labeledAt: at, labelDelayMs: at - eventTime, isCorrection: false };
    }
    written.push(example);
    final.set(example.transactionId, example);
  }
  return { written, final };
}

/** ROC AUC as the Mann-Whitney U statistic with average ranks for ties (what roc_auc_score computes). */
function aucRoc(labels: number[], scores: number[]): number {
  const order = scores.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(scores.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  const positives = labels.filter((l) => l === 1).length;
  const negatives = labels.length - positives;
  const rankSum = labels.reduce((sum, l, i) => sum + (l === 1 ? ranks[i]! : 0), 0);
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Average precision: sum over distinct thresholds of (recall step) x precision, ties taken together. */
function averagePrecision(labels: number[], scores: number[]): number {
  const order = scores.map((s, i) => [s, labels[i]!] as const).sort((a, b) => b[0] - a[0]);
  const positives = labels.filter((l) => l === 1).length;
  let tp = 0;
  let fp = 0;
  let lastRecall = 0;
  let ap = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    for (; j < order.length && order[j]![0] === order[i]![0]; j++) order[j]![1] === 1 ? tp++ : fp++;
    const recall = tp / positives;
    ap += (recall - lastRecall) * (tp / (tp + fp));
    lastRecall = recall;
    i = j;
  }
  return ap;
}

/** numpy's default ('linear') quantile. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  return sorted[lo]! + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? 0) - sorted[lo]!);
}

interface DumpRow {
  transactionId: string;
  unit: string;
  eventTime: number;
  label: number;
  features: (number | null)[];
  score: number;
  onnxScore: number;
}
interface Dump {
  version: string;
  featureNames: string[];
  rows: DumpRow[];
}
interface DayPrecision {
  day: string;
  units: number;
  fraudUnits: number;
  k: number;
  fraudInTopK: number;
  precision: number | null;
}
interface Evaluation {
  rows: number;
  fraud: number;
  aucRoc: number;
  averagePrecision: number;
  precisionAtK: { k: number; unit: string; mean: number | null; perDay: DayPrecision[] };
}
interface Card {
  version: string;
  artifact: string;
  sha256: string;
  features: string[];
  missingValues: string;
  dataWindow: string;
  split: Record<string, number | string>;
  data: { examplesRead: number; supersededByCorrections: number; transactions: number; precisionUnit: string };
  metrics: Evaluation & { holdoutAuc: number; onnxBoosterMaxAbsDiff: number };
  parentModel: { version: string; sha256: string } | null;
  parentMetrics: (Evaluation & { rowsNotScored: number }) | null;
  thresholds: { review: number; decline: number };
  thresholdPolicy: { reviewAlertRate: number; declineAlertRate: number };
  referenceValues: Record<string, number>;
  referenceDistributions: Record<string, { edges: number[]; proportions: number[] }>;
  trainedAt: string;
  trainingSeconds: number;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), env: {} } };
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

describe('riskloop train', () => {
  const sim = simulate(20260105);
  const prefix = `${uniq('trainer')}.`;
  const topic = buildCatalogue({ prefix }).trainingExamples.name;
  const version = 'lgbm-test-1';
  let dir: string;
  let run: { code: number; out: string[]; err: string[] };
  let card: Card;
  let dump: Dump;
  let modelBytes: Buffer;

  // Split boundaries as the trainer must draw them: UTC midnights, test = last 7 days, gap = 7 days before.
  const finals = [...sim.final.values()];
  const lastEvent = Math.max(...finals.map((e) => e.eventTime));
  const testTo = (Math.floor(lastEvent / DAY) + 1) * DAY;
  const testFrom = testTo - 7 * DAY;
  const gapFrom = testFrom - 7 * DAY;
  const inTrain = finals.filter((e) => e.eventTime < gapFrom);
  const inTest = finals.filter((e) => e.eventTime >= testFrom && e.eventTime < testTo);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'riskloop-trainer-'));
    await createTopics(brokers(), [{ topic, partitions: 3 }]);
    const serde = await new AvroSerde<TrainingExample>({ registry: new SchemaRegistry({ host: schemaRegistryUrl() }), topic, schema: SCHEMAS.TrainingExample }).init();
    // Avro doubles hold Infinity; the export must write it as null (missing), as the scorer treats it.
    const withInfinity = sim.written.map((e) => (e.transactionId === 'tx-0' ? { ...e, features: { ...e.features, 'txn.noise': Number.POSITIVE_INFINITY } } : e));
    await produce(brokers(), topic, withInfinity.map((e) => ({ key: e.accountToken, value: serde.serialize(e) })));
    // An aborted transaction last: its examples are not training data, and the topic ends on a control marker.
    const producer = kafkaFor(brokers()).producer({ transactionalId: uniq('trainer-tx'), idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const tx = await producer.transaction();
    const aborted = { ...sim.written[0]!, transactionId: 'aborted-0', label: 1 as const };
    await tx.send({ topic, messages: [{ key: aborted.accountToken, value: serde.serialize(aborted) }] });
    await tx.abort();
    await producer.disconnect();

    const c = capture();
    const code = await train(
      [
        '--from-topic', '--prefix', prefix, '--brokers', brokers().join(','), '--schema-registry', schemaRegistryUrl(),
        '--export-to', path.join(dir, 'export.jsonl'),
        '--out-dir', path.join(dir, 'models'), '--version', version, '--parent', PARENT,
        '--dump-predictions', path.join(dir, 'predictions.json'),
      ],
      c.io,
    );
    run = { code, out: c.out, err: c.err };
    if (code !== 0) throw new Error(`train exited ${code}:\n${[...c.out, ...c.err].join('\n')}`);
    card = JSON.parse(await readFile(path.join(dir, 'models', `${version}.card.json`), 'utf8')) as Card;
    dump = JSON.parse(await readFile(path.join(dir, 'predictions.json'), 'utf8')) as Dump;
    modelBytes = await readFile(path.join(dir, 'models', `${version}.onnx`));
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exports the committed examples of the topic, Infinity as null, nothing from the aborted transaction', async () => {
    const lines = (await readFile(path.join(dir, 'export.jsonl'), 'utf8')).trimEnd().split('\n');
    expect(lines).toHaveLength(sim.written.length);
    const exported = lines.map((l) => JSON.parse(l) as TrainingExample);
    expect(exported.some((e) => e.transactionId === 'aborted-0')).toBe(false);
    const byKey = (e: TrainingExample) => `${e.transactionId}/${e.labeledAt}`;
    const expected = new Map(sim.written.map((e) => [byKey(e), e]));
    for (const e of exported) {
      const want = expected.get(byKey(e))!;
      if (e.transactionId === 'tx-0' && e.labeledAt === want.labeledAt) {
        expect(e.features['txn.noise']).toBeNull();
        expect({ ...e, features: { ...e.features, 'txn.noise': want.features['txn.noise'] } }).toEqual(want);
      } else {
        expect(e).toEqual(want);
      }
    }
    expect(run.out.some((l) => l.includes(`exported ${sim.written.length} examples from ${topic} (3 partitions)`))).toBe(true);
  });

  it('keeps the latest label per transaction and splits by event time with a gap', () => {
    expect(card.data.examplesRead).toBe(sim.written.length);
    expect(card.data.supersededByCorrections).toBe(sim.written.length - sim.final.size);
    expect(card.data.transactions).toBe(sim.final.size);
    expect(card.split.trainTo).toBe(new Date(gapFrom).toISOString().replace('.000Z', 'Z'));
    expect(card.split.testFrom).toBe(new Date(testFrom).toISOString().replace('.000Z', 'Z'));
    expect(card.split.trainRows).toBe(inTrain.length);
    expect(card.split.trainFraud).toBe(inTrain.filter((e) => e.label === 1).length);
    expect(card.split.testRows).toBe(inTest.length);
    expect(card.split.testFraud).toBe(inTest.filter((e) => e.label === 1).length);
    expect(card.split.gapRows).toBe(sim.final.size - inTrain.length - inTest.length);
    // The dump holds exactly the test rows, with their final (corrected) labels.
    expect(dump.rows.map((r) => r.transactionId).sort()).toEqual(inTest.map((e) => e.transactionId).sort());
    for (const r of dump.rows) expect(r.label).toBe(sim.final.get(r.transactionId)!.label);
  });

  it('trains on the union of snapshot features, sorted, and learns the planted signal', () => {
    const union = [...new Set(finals.flatMap((e) => Object.keys(e.features)))].sort();
    expect(card.features).toEqual(union);
    expect(dump.featureNames).toEqual(union);
    expect(card.metrics.aucRoc).toBeGreaterThan(0.7);
    expect(card.metrics.aucRoc).toBeLessThanOrEqual(1);
    expect(card.metrics.holdoutAuc).toBe(card.metrics.aucRoc);
    expect(card.metrics.averagePrecision).toBeGreaterThan(inTest.filter((e) => e.label === 1).length / inTest.length);
    expect(card.metrics.averagePrecision).toBeLessThanOrEqual(1);
    expect(card.metrics.onnxBoosterMaxAbsDiff).toBeLessThan(1e-5);
  });

  it('reports AUC, average precision and account precision@100 per day that recompute from its own predictions', () => {
    const labels = dump.rows.map((r) => r.label);
    const scores = dump.rows.map((r) => r.onnxScore);
    expect(card.metrics.aucRoc).toBeCloseTo(aucRoc(labels, scores), 12);
    expect(card.metrics.averagePrecision).toBeCloseTo(averagePrecision(labels, scores), 12);

    const k = card.metrics.precisionAtK;
    expect(k.k).toBe(100);
    expect(k.unit).toBe('account');
    const days = Array.from({ length: 7 }, (_, d) => isoDay(testFrom + d * DAY));
    expect(k.perDay.map((d) => d.day)).toEqual(days);
    for (const day of k.perDay) {
      const best = new Map<string, { score: number; fraud: number }>();
      for (const r of dump.rows.filter((row) => isoDay(row.eventTime) === day.day)) {
        const held = best.get(r.unit) ?? { score: -Infinity, fraud: 0 };
        best.set(r.unit, { score: Math.max(held.score, r.onnxScore), fraud: Math.max(held.fraud, r.label) });
      }
      const top = [...best].sort((a, b) => b[1].score - a[1].score || (a[0] < b[0] ? -1 : 1)).slice(0, 100);
      const hits = top.filter(([, v]) => v.fraud === 1).length;
      expect(day.units).toBe(best.size);
      expect(day.k).toBe(Math.min(100, best.size));
      expect(day.fraudInTopK).toBe(hits);
      expect(day.precision).toBeCloseTo(hits / top.length, 12);
    }
    const mean = k.perDay.reduce((s, d) => s + d.precision!, 0) / k.perDay.length;
    expect(k.mean).toBeCloseTo(mean, 12);
  });

  it('scores the parent model on the same test rows and prints both side by side', () => {
    expect(card.parentModel?.version).toBe('bootstrap-v1');
    const parent = card.parentMetrics!;
    expect(parent.rows).toBe(inTest.length);
    expect(parent.fraud).toBe(card.metrics.fraud);
    expect(parent.rowsNotScored).toBe(0);
    for (const v of [parent.aucRoc, parent.averagePrecision, parent.precisionAtK.mean!]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    expect(parent.aucRoc).not.toBe(card.metrics.aucRoc);
    const auc = run.out.find((l) => l.trim().startsWith('AUC ROC'))!;
    expect(auc).toContain(card.metrics.aucRoc.toFixed(4));
    expect(auc).toContain(parent.aucRoc.toFixed(4));
  });

  it('sets thresholds at the target alert rates of the test scores', () => {
    const scores = dump.rows.map((r) => r.onnxScore);
    expect(card.thresholds.review).toBeCloseTo(quantile(scores, 1 - card.thresholdPolicy.reviewAlertRate), 6);
    expect(card.thresholds.decline).toBeCloseTo(quantile(scores, 1 - card.thresholdPolicy.declineAlertRate), 6);
    expect(card.thresholds.review).toBeLessThanOrEqual(card.thresholds.decline);
  });

  it('writes an ONNX file whose metadata names the features and whose scores in onnxruntime-node match the booster to 1e-5', async () => {
    const meta = readOnnxMetadata(modelBytes);
    expect(JSON.parse(meta.get('feature_names')!)).toEqual(card.features);
    expect(meta.get('model_version')).toBe(version);
    expect(meta.get('missing_values')).toBe('nan');
    expect(sha256(modelBytes)).toBe(card.sha256);

    const session = await ort.InferenceSession.create(modelBytes);
    try {
      const width = dump.featureNames.length;
      const data = Float32Array.from(dump.rows.flatMap((r) => r.features.map((v) => (v === null ? Number.NaN : v))));
      expect(data.some(Number.isNaN)).toBe(true);
      const output = (await session.run({ features: new ort.Tensor('float32', data, [dump.rows.length, width]) }, ['probabilities'])).probabilities!;
      const probabilities = output.data as Float32Array;
      let worst = 0;
      dump.rows.forEach((r, i) => (worst = Math.max(worst, Math.abs(probabilities[i * 2 + 1]! - r.score))));
      expect(worst).toBeLessThan(1e-5);
    } finally {
      await session.release();
    }
  });

  it('loads through ModelRegistry from its card (sha256, feature order, thresholds) and scores like the trainer', async () => {
    const registry = new ModelRegistry(pino({ level: 'silent' }));
    try {
      const outcome = await registry.setChampion(await specFromModelCard(path.join(dir, 'models', `${version}.card.json`)));
      if (!outcome.accepted) throw new Error(outcome.reason);
      expect(outcome.model.featureNames).toEqual(card.features);
      expect(outcome.model.handlesMissing).toBe(true);
      expect(registry.thresholdsFor(version)).toEqual(card.thresholds);
      const rows = dump.rows.slice(0, 50);
      const data = Float32Array.from(rows.flatMap((r) => r.features.map((v) => (v === null ? Number.NaN : v))));
      const scores = await registry.score(outcome.model, data, rows.length);
      rows.forEach((r, i) => expect(Math.abs(scores[i]! - r.score)).toBeLessThan(1e-5));
    } finally {
      await registry.close();
    }
  });

  it('writes a Markdown card with the window, the metrics of both models and the thresholds', async () => {
    const md = await readFile(path.join(dir, 'models', `${version}.card.md`), 'utf8');
    expect(md).toContain(`# Model card: ${version}`);
    expect(md).toContain(card.dataWindow);
    expect(md).toContain(`| AUC ROC | ${card.metrics.aucRoc.toFixed(4)} | ${card.parentMetrics!.aucRoc.toFixed(4)} |`);
    expect(md).toContain(card.thresholds.review.toFixed(6));
  });

  it('trains the same bytes from the same examples in another order (corrections decided by labeledAt, not position)', async () => {
    const reversed = (await readFile(path.join(dir, 'export.jsonl'), 'utf8')).trimEnd().split('\n').reverse();
    await writeFile(path.join(dir, 'reversed.jsonl'), reversed.join('\n') + '\n');
    const c = capture();
    const code = await train(['--input', path.join(dir, 'reversed.jsonl'), '--out-dir', path.join(dir, 'again'), '--version', version, '--parent', PARENT], c.io);
    expect(code, c.err.join('\n')).toBe(0);
    const again = await readFile(path.join(dir, 'again', `${version}.onnx`));
    expect(sha256(again)).toBe(card.sha256);
    const againCard = JSON.parse(await readFile(path.join(dir, 'again', `${version}.card.json`), 'utf8')) as Card;
    expect(againCard.metrics).toEqual(card.metrics);
    expect(againCard.split).toEqual(card.split);
  });

  it('warns when test transactions are younger than the maturity window at the latest label', async () => {
    // The topic as it would look 20 days after the last transaction: later labels have not happened yet.
    const cutoff = lastEvent + 20 * DAY;
    const known = new Map<string, TrainingExample>();
    for (const e of sim.written) if (e.labeledAt <= cutoff && (known.get(e.transactionId)?.labeledAt ?? -1) < e.labeledAt) known.set(e.transactionId, e);
    const rows = [...known.values()];
    const to = (Math.floor(Math.max(...rows.map((e) => e.eventTime)) / DAY) + 1) * DAY;
    const horizon = Math.max(...rows.map((e) => e.labeledAt)) - 60 * DAY;
    const immature = rows.filter((e) => e.eventTime >= to - 7 * DAY && e.eventTime < to && e.eventTime > horizon).length;
    expect(immature).toBeGreaterThan(0);

    await writeFile(path.join(dir, 'early.jsonl'), sim.written.filter((e) => e.labeledAt <= cutoff).map((e) => JSON.stringify(e)).join('\n') + '\n');
    const c = capture();
    expect(await train(['--input', path.join(dir, 'early.jsonl'), '--out-dir', path.join(dir, 'early'), '--version', 'early'], c.io)).toBe(0);
    const early = JSON.parse(await readFile(path.join(dir, 'early', 'early.card.json'), 'utf8')) as Card & { warnings: string[] };
    expect(early.warnings).toHaveLength(1);
    expect(early.warnings[0]).toContain(`${immature} test transactions are younger than the maturity window (60 d)`);
    expect(c.out.some((l) => l.startsWith('  warning:'))).toBe(true);
  });

  it('fails clearly, writing nothing, when a split is empty or has no fraud', async () => {
    const input = path.join(dir, 'export.jsonl');
    const empty = capture();
    expect(await train(['--input', input, '--out-dir', path.join(dir, 'empty'), '--test-days', '30', '--gap-days', '14'], empty.io)).toBe(2);
    expect(empty.err.join('\n')).toMatch(/the train period \(before .*\) has no examples/);

    // Every test-period label legitimate: nothing to measure.
    const noFraud = finals.map((e) => (e.eventTime >= testFrom ? { ...e, label: 0 } : e));
    await writeFile(path.join(dir, 'no-fraud.jsonl'), noFraud.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const none = capture();
    expect(await train(['--input', path.join(dir, 'no-fraud.jsonl'), '--out-dir', path.join(dir, 'none')], none.io)).toBe(2);
    expect(none.err.join('\n')).toMatch(/the test period .* has \d+ examples but no fraud label/);

    const bad = capture();
    expect(await train(['--input', input, '--from-topic'], bad.io)).toBe(2);
    expect(bad.err.join('\n')).toContain('give exactly one of --input and --from-topic');
    expect(existsSync(path.join(dir, 'empty'))).toBe(false);
    expect(existsSync(path.join(dir, 'none'))).toBe(false);
  });
});
