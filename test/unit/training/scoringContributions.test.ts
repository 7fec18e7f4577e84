/**
 * A model from `training/train.py` scores through the registry and the scoring step with per-decision
 * tree contributions: the trees file beside the ONNX is loaded, each scored decision carries its top
 * contributions (base + all contributions = logit(score)), and the decision step names the features
 * that raised a banded score as MODEL_TOP_FEATURE reason codes. The trees travel in the ONNX metadata;
 * a trees file beside an older artifact is used only if it reproduces the model.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DecideProcessor } from '../../../processors/decide.js';
import { ModelRegistry, specFromModelCard } from '../../../processors/modelRegistry.js';
import { ScoringProcessor } from '../../../processors/scoring.js';
import { type RiskContext, newRiskContext } from '../../../processors/types.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import type { Decision } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';
import { mulberry32 as random } from '../../support/seededRandom.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const PYTHON = path.join(ROOT, '.venv/bin/python');
const DAY = 86_400_000;

const json = Serdes.Json<RiskContext>();
let driver: TopologyTestDriver | undefined;
let registry: ModelRegistry | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
  await registry?.close();
  registry = undefined;
});

describe('tree contributions on decisions', () => {
  let dir: string;
  let cardPath: string;

  beforeAll(async () => {
    if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run bash stack/setup.sh`);
    dir = await mkdtemp(path.join(tmpdir(), 'riskloop-contrib-'));
    const rand = random(17);
    const start = Date.UTC(2026, 3, 6);
    const lines: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const eventTime = start + Math.floor(rand() * 49 * DAY);
      const burst = rand() < 0.1 ? 3 + Math.floor(rand() * 6) : Math.floor(rand() * 2);
      const blocked = rand() < 0.05 ? 1 : 0;
      const features: Record<string, number> = { 'card.count_1h': burst, 'device.blocked': blocked, 'txn.noise': rand() };
      const label = rand() < 1 / (1 + Math.exp(-(-4 + 0.7 * burst + 2.5 * blocked))) ? 1 : 0;
      const labeledAt = eventTime + (label ? 5 : 20) * DAY;
      lines.push(JSON.stringify({ transactionId: `c${i}`, accountToken: `a${i % 300}`, eventTime, features, label, labelSource: label ? 'CHARGEBACK' : 'MATURITY', labeledAt, labelDelayMs: labeledAt - eventTime, isCorrection: false }));
    }
    await writeFile(path.join(dir, 'examples.jsonl'), lines.join('\n') + '\n');
    execFileSync(PYTHON, ['train.py', '--input', path.join(dir, 'examples.jsonl'), '--out-dir', path.join(dir, 'm'), '--version', 'explained', '--search-budget', '1', '--folds', '0'], { cwd: path.join(ROOT, 'training'), encoding: 'utf8' });
    cardPath = path.join(dir, 'm', 'explained.card.json');
  }, 120_000);

  async function decisions(reg: ModelRegistry, contexts: RiskContext[]): Promise<Decision[]> {
    const topology = new Topology({ applicationId: 'contrib' })
      .addSource('in', 'ctx', { keySerde: Serdes.String, valueSerde: json })
      .addProcessor('score', () => new ScoringProcessor(reg, { explainTopK: 0 }), 'in')
      .addProcessor('decide', () => new DecideProcessor({ defaultThresholds: { review: 0.5, decline: 0.9 } }, (v) => reg.thresholdsFor(v)), 'score')
      .addSink('out', 'decisions', { keySerde: Serdes.String, valueSerde: Serdes.Json<Decision>() }, 'decide');
    driver = await TopologyTestDriver.create(topology);
    const input = driver.createInputTopic('ctx', Serdes.String, json);
    const output = driver.createOutputTopic('decisions', Serdes.String, Serdes.Json<Decision>());
    for (const c of contexts) await input.pipeInput(c.txn.accountToken, c);
    return output.readValuesToList().filter((d): d is Decision => d !== null);
  }

  function context(id: string, features: Record<string, number>): RiskContext {
    const ctx = newRiskContext({ ...EXAMPLES.TokenizedTransaction, transactionId: id }, 1_000);
    ctx.features = features;
    return ctx;
  }

  it('puts the top 3 contributions on each scored decision, summing with the base value to logit(score), and reason codes on banded ones', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    expect((await registry.setChampion(await specFromModelCard(cardPath))).accepted).toBe(true);
    const champion = registry.current().champion!;
    expect(champion.explainer).not.toBeNull();
    const [risky, plain] = await decisions(registry, [
      context('risky', { 'card.count_1h': 8, 'device.blocked': 1, 'txn.noise': 0.5 }),
      context('plain', { 'card.count_1h': 0, 'device.blocked': 0 }),
    ]);
    expect(risky!.decision).not.toBe('APPROVE');
    expect(risky!.contributions).toHaveLength(3);
    // Largest magnitude first; the card-testing burst is the planted signal that dominates.
    const magnitudes = risky!.contributions!.map((c) => Math.abs(c.contribution));
    expect([...magnitudes].sort((a, b) => b - a)).toEqual(magnitudes);
    expect(risky!.contributions![0]!.feature).toBe('card.count_1h');
    expect(risky!.contributions![0]!.contribution).toBeGreaterThan(1);
    expect(risky!.contributions!.find((c) => c.feature === 'card.count_1h')!.value).toBe(8);
    const positive = risky!.contributions!.filter((c) => c.contribution > 0).map((c) => `MODEL_TOP_FEATURE:${c.feature}`);
    expect(positive.length).toBeGreaterThan(0);
    expect(risky!.reasonCodes).toEqual(expect.arrayContaining(positive));

    // The full attribution reproduces the score the ONNX graph computed.
    const explainer = champion.explainer!;
    const row = Float32Array.from(champion.featureNames, (f) => ({ 'card.count_1h': 8, 'device.blocked': 1, 'txn.noise': 0.5 })[f] ?? Number.NaN);
    const all = new Float64Array(row.length);
    const raw = explainer.contributionsInto(row, 0, all);
    expect(1 / (1 + Math.exp(-raw))).toBeCloseTo(risky!.score!, 5);
    for (const c of risky!.contributions!) expect(c.contribution).toBe(all[champion.featureNames.indexOf(c.feature)]);

    expect(plain!.decision).toBe('APPROVE');
    expect(plain!.reasonCodes.filter((r) => r.startsWith('MODEL_TOP_FEATURE:'))).toEqual([]);
    // A missing feature is reported with value null.
    expect(plain!.contributions!.filter((c) => c.feature === 'txn.noise').every((c) => c.value === null)).toBe(true);
  });

  it('carries the trees inside the ONNX, so a release with inline artifact bytes explains its decisions too', async () => {
    const spec = await specFromModelCard(cardPath);
    registry = new ModelRegistry(pino({ level: 'silent' }));
    const bytes = await readFile(spec.artifactPath!);
    expect((await registry.setChampion({ ...spec, artifactPath: null, artifact: bytes })).accepted).toBe(true);
    expect(registry.current().champion!.explainer).not.toBeNull();
    const [d] = await decisions(registry, [context('inline', { 'card.count_1h': 8, 'device.blocked': 1 })]);
    expect(d!.contributions).toHaveLength(3);
  });

  it('without embedded trees, uses the file beside the artifact only if it reproduces the model', async () => {
    const other = path.join(dir, 'other');
    // The same model with its riskloop_trees metadata removed (as a model exported before it existed).
    const strip = [
      'import hashlib, json, sys, onnx',
      'm = onnx.load(sys.argv[1]); keep = [(p.key, p.value) for p in m.metadata_props if p.key != "riskloop_trees"]',
      'del m.metadata_props[:]',
      '[m.metadata_props.add(key=k, value=v) for k, v in keep]',
      'b = m.SerializeToString(); open(sys.argv[2], "wb").write(b)',
      'card = json.load(open(sys.argv[3])); card["sha256"] = hashlib.sha256(b).hexdigest(); json.dump(card, open(sys.argv[4], "w"))',
    ].join('\n');
    execFileSync('mkdir', ['-p', other]);
    execFileSync(PYTHON, ['-c', strip, path.join(dir, 'm', 'explained.onnx'), path.join(other, 'explained.onnx'), cardPath, path.join(other, 'explained.card.json')]);
    const treesText = await readFile(path.join(dir, 'm', 'explained.trees.json'), 'utf8');

    registry = new ModelRegistry(pino({ level: 'silent' }));
    expect((await registry.setChampion(await specFromModelCard(path.join(other, 'explained.card.json')))).accepted).toBe(true);
    expect(registry.current().champion!.explainer).toBeNull();
    await registry.close();

    await writeFile(path.join(other, 'explained.trees.json'), treesText);
    registry = new ModelRegistry(pino({ level: 'silent' }));
    expect((await registry.setChampion(await specFromModelCard(path.join(other, 'explained.card.json')))).accepted).toBe(true);
    expect(registry.current().champion!.explainer).not.toBeNull();
    await registry.close();

    const doc = JSON.parse(treesText) as { baseValue: number };
    await writeFile(path.join(other, 'explained.trees.json'), JSON.stringify({ ...doc, baseValue: doc.baseValue + 1 }));
    registry = new ModelRegistry(pino({ level: 'silent' }));
    expect((await registry.setChampion(await specFromModelCard(path.join(other, 'explained.card.json')))).accepted).toBe(true);
    expect(registry.current().champion!.explainer).toBeNull();
    const [d] = await decisions(registry, [context('x', { 'card.count_1h': 8, 'device.blocked': 1 })]);
    expect(d!.score).not.toBeNull();
    expect(d!.contributions ?? null).toBeNull();
  }, 120_000);
});
