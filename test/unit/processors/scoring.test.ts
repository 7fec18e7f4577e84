/**
 * The scoring step through the test driver with the committed models: micro-batching (one
 * inference call per model per flush), feature order from the model's metadata, fallbacks that
 * leave the decision to the rules, shadows, canary routing, explanations, and swaps between batches.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DecideProcessor } from '../../../processors/decide.js';
import { type LoadedModel, ModelRegistry, type ModelSpecInput, specFromModelCard } from '../../../processors/modelRegistry.js';
import { RuleSetHolder, RulesProcessor } from '../../../processors/rules.js';
import { parseRuleSet } from '../../../processors/ruleSet.js';
import { ScoringProcessor, type ScoringConfigInput, canaryBucket, routesToCanary } from '../../../processors/scoring.js';
import { type RiskContext, newRiskContext } from '../../../processors/types.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import type { Decision } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';

const MODELS = path.resolve(import.meta.dirname, '../../../models');
const orderBytes = readFileSync(path.join(MODELS, 'test-order.onnx'));
const orderSha = (JSON.parse(readFileSync(path.join(MODELS, 'test-order.card.json'), 'utf8')) as { sha256: string }).sha256;
const orderSpec = (over: Partial<ModelSpecInput> = {}): ModelSpecInput => ({
  version: 'test-order',
  artifact: orderBytes,
  sha256: orderSha,
  thresholds: { review: 0.5, decline: 0.8 },
  ...over,
});
const bootstrapSpec = () => specFromModelCard(path.join(MODELS, 'bootstrap-v1.card.json'));

/** Low risk on every bootstrap feature; no device (card present): flag plus zeros, as enrichment writes it. */
const LEGIT: Record<string, number> = {
  'card.count_1m': 0, 'card.count_1h': 1, 'card.sum_1h': 2_500, 'account.count_24h': 3, 'account.sum_24h': 9_000,
  'account.distinct_merchants_24h': 2, 'account.distinct_countries_24h': 1, 'card.secs_since_prev': 20_000,
  'account.amount_zscore_30d': -0.2, 'travel.speed_kmh': 5, 'travel.impossible': 0, 'kyc.account_age_days': 2_000,
  'kyc.risk_tier': 0, 'kyc.pep': 0, 'kyc.sanctioned': 0, 'kyc.missing': 0, 'device.missing': 1, 'device.blocked': 0,
  'device.emulator': 0, 'device.rooted': 0, 'device.accounts_seen': 0,
  'txn.amount_minor': 2_500, 'txn.card_present': 1, 'txn.channel_ecom': 0, 'txn.hour_of_day': 14,
};
/** Card testing from a blocked emulator on a five-day-old high-risk account, impossible travel, 3 a.m. */
const FRAUD: Record<string, number> = {
  'card.count_1m': 12, 'card.count_1h': 14, 'card.sum_1h': 4_200, 'account.count_24h': 16, 'account.sum_24h': 12_000,
  'account.distinct_merchants_24h': 12, 'account.distinct_countries_24h': 3, 'card.secs_since_prev': 4,
  'account.amount_zscore_30d': 5, 'travel.speed_kmh': 2_500, 'travel.impossible': 1, 'kyc.account_age_days': 5,
  'kyc.risk_tier': 2, 'kyc.pep': 0, 'kyc.sanctioned': 0, 'kyc.missing': 0, 'device.blocked': 1, 'device.emulator': 1,
  'device.rooted': 1, 'device.accounts_seen': 4, 'device.missing': 0, 'txn.amount_minor': 300, 'txn.card_present': 0,
  'txn.channel_ecom': 1, 'txn.hour_of_day': 3,
};

function context(id: string, features: Record<string, number>, cardToken = `ct_k1_${id}`): RiskContext {
  const ctx = newRiskContext({ ...EXAMPLES.TokenizedTransaction, transactionId: id, cardToken }, 1_000);
  ctx.features = { ...features };
  return ctx;
}

const json = Serdes.Json<RiskContext>();
let driver: TopologyTestDriver | undefined;
let registry: ModelRegistry | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
  await registry?.close();
  registry = undefined;
  vi.restoreAllMocks();
});

async function scoringTopology(reg: ModelRegistry, config: ScoringConfigInput = {}) {
  const topology = new Topology({ applicationId: 'scoring' })
    .addSource('in', 'ctx', { keySerde: Serdes.String, valueSerde: json })
    .addProcessor('score', () => new ScoringProcessor(reg, config), 'in')
    .addSink('out', 'scored', { keySerde: Serdes.String, valueSerde: json }, 'score');
  driver = await TopologyTestDriver.create(topology);
  return driver.createOutputTopic('scored', Serdes.String, json);
}

let offset = 0;
/**
 * Hands the task several records at once and processes them, as one poll of the Kafka runtime
 * would: process() runs them all, then calls flush() once. (pipeInput processes one record at a time.)
 */
async function pipeBatch(contexts: RiskContext[]): Promise<void> {
  const task = driver!.streamTasks()[0]!;
  task.addRecords(contexts.map((c) => ({
    topic: 'ctx', partition: 0, offset: offset++, timestamp: c.txn.eventTime, key: Buffer.from(c.txn.accountToken), value: json.serialize(c), headers: {},
  })));
  expect(await task.process()).toBe(contexts.length);
}

/** Scores rows directly, one call per row, for comparison with the batched path. */
async function scoreAlone(reg: ModelRegistry, model: LoadedModel, features: Record<string, number>): Promise<number> {
  const row = Float32Array.from(model.featureNames, (n) => features[n] ?? Number.NaN);
  return (await reg.score(model, row, 1))[0]!;
}

describe('ScoringProcessor with the bootstrap model', () => {
  it('scores a clearly fraudulent transaction above the decline threshold and a clearly legitimate one below review', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await bootstrapSpec());
    const output = await scoringTopology(registry, { explainTopK: 0 });
    await pipeBatch([context('legit', LEGIT), context('fraud', FRAUD)]);
    const [legit, fraud] = output.readValuesToList();
    const { review, decline } = registry.current().champion!.thresholds;
    expect(legit!.score!).toBeLessThan(review);
    expect(fraud!.score!).toBeGreaterThanOrEqual(decline);
    expect([legit!.modelVersion, fraud!.modelVersion]).toEqual(['bootstrap-v1', 'bootstrap-v1']);
  });

  it('makes exactly one inference call for a batch of N records, and forwards them in arrival order with the scores of one-by-one runs', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await bootstrapSpec());
    const output = await scoringTopology(registry, { explainTopK: 0 });
    // Ten records between legit and fraud: feature k moves from the legit to the fraud value for the first k features.
    const names = Object.keys(FRAUD);
    const contexts = Array.from({ length: 10 }, (_, k) => {
      const features = { ...LEGIT };
      for (const n of names.slice(0, k * 2)) features[n] = FRAUD[n]!;
      return context(`t${k}`, features);
    });
    const runsBefore = registry.stats.runs;
    await pipeBatch(contexts);
    expect(registry.stats.runs - runsBefore).toBe(1);
    expect(registry.stats.rows).toBe(10);

    const scored = output.readValuesToList();
    expect(scored.map((c) => c!.txn.transactionId)).toEqual(contexts.map((c) => c.txn.transactionId));
    const champion = registry.current().champion!;
    for (const [k, c] of contexts.entries()) expect(scored[k]!.score).toBe(await scoreAlone(registry, champion, c.features));

    // A second batch is a second call.
    await pipeBatch(contexts.slice(0, 3));
    expect(registry.stats.runs - runsBefore).toBe(1 + 10 + 1);
  });

  it('feeds a missing feature as NaN to a model that handles missing values', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await bootstrapSpec());
    const output = await scoringTopology(registry, { explainTopK: 0 });
    const withoutZ = { ...FRAUD };
    delete withoutZ['account.amount_zscore_30d'];
    await pipeBatch([context('no-z', withoutZ)]);
    const [scored] = output.readValuesToList();
    expect(scored!.score).toBe(await scoreAlone(registry, registry.current().champion!, withoutZ));
    expect(scored!.reasonCodes).toEqual([]);
  });
});

describe('feature order', () => {
  it('comes from the model metadata, not from the order of the context features', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(orderSpec());
    const output = await scoringTopology(registry);
    // Inserted a, b, c; the model's order is c, a, b with weights 0.1, 0.01, 0.001, so the score is
    // 0.1*1 + 0.01*2 + 0.001*3 = 0.123. Fed in insertion order it would be 0.1*2 + 0.01*3 + 0.001*1 = 0.231.
    await pipeBatch([context('ordered', { 'order.a': 2, 'order.b': 3, 'order.c': 1 })]);
    const [scored] = output.readValuesToList();
    expect(scored!.score).toBeCloseTo(0.123, 6);
  });

  it('does not feed NaN to a model that does not handle missing values: MODEL_FEATURES_MISSING, no score', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(orderSpec());
    const output = await scoringTopology(registry);
    await pipeBatch([context('partial', { 'order.a': 2, 'order.c': 1 }), context('full', { 'order.a': 0, 'order.b': 0, 'order.c': 5 })]);
    const [partial, full] = output.readValuesToList();
    expect([partial!.score, partial!.modelVersion, partial!.reasonCodes]).toEqual([null, null, ['MODEL_FEATURES_MISSING']]);
    expect(full!.score).toBeCloseTo(0.5, 6);
    expect(registry.stats.rows).toBe(1);
  });
});

describe('fallbacks: the rules decide alone', () => {
  const pepRules = parseRuleSet({
    version: '2026-11-25.1',
    rules: [{ id: 'pep', description: 'x', when: { feature: 'kyc.pep', op: '==', value: 1 }, action: 'REVIEW', reasonCode: 'PEP_REVIEW' }],
  });

  async function chain(reg: ModelRegistry) {
    const decisionSerde = Serdes.Json<Decision>();
    const topology = new Topology({ applicationId: 'chain' })
      .addSource('in', 'ctx', { keySerde: Serdes.String, valueSerde: json })
      .addProcessor('rules', () => new RulesProcessor(new RuleSetHolder(pepRules)), 'in')
      .addProcessor('score', () => new ScoringProcessor(reg), 'rules')
      .addProcessor('decide', () => new DecideProcessor({ defaultThresholds: { review: 0.5, decline: 0.9 } }, (v) => reg.thresholdsFor(v)), 'score')
      .addSink('out', 'decisions', { keySerde: Serdes.String, valueSerde: decisionSerde }, 'decide');
    driver = await TopologyTestDriver.create(topology);
    return driver.createOutputTopic('decisions', Serdes.String, decisionSerde);
  }

  it('no model installed: MODEL_UNAVAILABLE, no score, and the decision follows the rules', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    const output = await chain(registry);
    await pipeBatch([context('pep', { ...FRAUD, 'kyc.pep': 1 }), context('clean', FRAUD)]);
    const [pep, clean] = output.readValuesToList();
    expect([pep!.decision, pep!.score, pep!.modelVersion, pep!.reasonCodes]).toEqual(['REVIEW', null, null, ['PEP_REVIEW', 'MODEL_UNAVAILABLE']]);
    // FRAUD's features would decline with a model; without one, no rule fires, so it is approved.
    expect([clean!.decision, clean!.reasonCodes]).toEqual(['APPROVE', ['MODEL_UNAVAILABLE']]);
    expect(registry.stats.runs).toBe(0);
  });

  it('inference fails: MODEL_ERROR for that batch, and the next batch is scored again', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await bootstrapSpec());
    const output = await chain(registry);
    vi.spyOn(registry, 'score').mockRejectedValueOnce(new Error('onnxruntime: out of memory'));
    await pipeBatch([context('a', FRAUD), context('b', { ...LEGIT, 'kyc.pep': 1 })]);
    await pipeBatch([context('c', FRAUD)]);
    const [a, b, c] = output.readValuesToList();
    expect([a!.decision, a!.score, a!.reasonCodes]).toEqual(['APPROVE', null, ['MODEL_ERROR']]);
    expect([b!.decision, b!.reasonCodes]).toEqual(['REVIEW', ['PEP_REVIEW', 'MODEL_ERROR']]);
    expect([c!.decision, c!.modelVersion]).toEqual(['DECLINE', 'bootstrap-v1']);
    expect(c!.reasonCodes[0]).toBe('SCORE_ABOVE_DECLINE');
  });
});

describe('shadow and canary', () => {
  /** Features for both models: the bootstrap's and the order model's. */
  const both = (id: string, bootstrap: Record<string, number>, digits: [number, number, number], card?: string) =>
    context(id, { ...bootstrap, 'order.c': digits[0], 'order.a': digits[1], 'order.b': digits[2] }, card);

  it('a shadow is scored and recorded but never decides', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(orderSpec());
    await registry.setShadow(await bootstrapSpec());
    const output = await scoringTopology(registry, { explainTopK: 0 });
    // The champion says 0.001 (approve); the shadow would decline.
    await pipeBatch([both('s1', FRAUD, [0, 0, 1]), both('s2', LEGIT, [0, 0, 2])]);
    const [s1, s2] = output.readValuesToList();
    const shadow = registry.current().shadows[0]!;
    expect(s1!.score).toBeCloseTo(0.001, 6);
    expect(s1!.modelVersion).toBe('test-order');
    expect(s1!.shadowScores).toEqual([{ modelVersion: 'bootstrap-v1', score: await scoreAlone(registry, shadow, FRAUD) }]);
    expect(s1!.shadowScores[0]!.score).toBeGreaterThan(0.9);
    expect(s2!.shadowScores).toEqual([{ modelVersion: 'bootstrap-v1', score: await scoreAlone(registry, shadow, LEGIT) }]);
    // One run for the champion, one for the shadow, whatever the batch size.
    expect(registry.stats.runsByVersion.get('test-order')).toBe(1);
    expect(registry.stats.runsByVersion.get('bootstrap-v1')).toBe(1 + 2);
  });

  it('a canary decides for a stable share of cards, chosen by a hash of the card token', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await bootstrapSpec());
    await registry.setCanary(orderSpec({ version: 'canary-order' }), 0.2);
    const canary = registry.current().canary!;

    const cards = Array.from({ length: 1_000 }, (_, i) => `ct_k1_card${i}`);
    const routed = cards.filter((c) => routesToCanary(canary, c));
    // Binomial(1000, 0.2): sd 12.6, so 0.2 +- 0.05 is about four sd.
    expect(routed.length / cards.length).toBeGreaterThan(0.15);
    expect(routed.length / cards.length).toBeLessThan(0.25);
    // Stable: the same answer every time, from the card alone (a fresh computation agrees).
    expect(cards.filter((c) => canaryBucket('canary-order', c) < 0.2)).toEqual(routed);
    // Another canary version draws another cohort.
    const otherCohort = cards.filter((c) => canaryBucket('canary-order-2', c) < 0.2);
    expect(otherCohort).not.toEqual(routed);

    const output = await scoringTopology(registry, { explainTopK: 0 });
    const inCanary = routed[0]!;
    const notInCanary = cards.find((c) => !routed.includes(c))!;
    await pipeBatch([both('x1', LEGIT, [3, 0, 0], inCanary), both('y1', LEGIT, [3, 0, 0], notInCanary)]);
    await pipeBatch([both('y2', FRAUD, [4, 0, 0], notInCanary), both('x2', FRAUD, [4, 0, 0], inCanary)]);
    const byId = new Map(output.readValuesToList().map((c) => [c!.txn.transactionId, c!]));
    expect(['x1', 'x2', 'y1', 'y2'].map((id) => byId.get(id)!.modelVersion)).toEqual(['canary-order', 'canary-order', 'bootstrap-v1', 'bootstrap-v1']);
    expect(byId.get('x2')!.score).toBeCloseTo(0.4, 6);
    // Two batches, each with a canary run and a champion run.
    expect(registry.stats.runsByVersion.get('canary-order')).toBe(2);
    expect(registry.stats.runsByVersion.get('bootstrap-v1')).toBe(2);
  });
});

describe('explanations (occlusion)', () => {
  it('explains risky records only, in one extra run, with contributions that are score minus the score at the reference value', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await bootstrapSpec());
    const output = await scoringTopology(registry, { explainTopK: 3 });
    await pipeBatch([context('fraud', FRAUD), context('legit', LEGIT)]);
    expect(registry.stats.runs).toBe(2);
    const [fraud, legit] = output.readValuesToList();
    expect(legit!.topContributions).toEqual([]);

    const top = fraud!.topContributions;
    expect(top).toHaveLength(3);
    const magnitudes = top.map((c) => Math.abs(c.contribution));
    expect([...magnitudes].sort((a, b) => b - a)).toEqual(magnitudes);
    const champion = registry.current().champion!;
    const reference = champion.referenceValues!;
    for (const { feature, contribution } of top) {
      expect(Object.keys(FRAUD)).toContain(feature);
      const perturbed = await scoreAlone(registry, champion, { ...FRAUD, [feature]: reference[feature]! });
      expect(contribution).toBe(fraud!.score! - perturbed);
    }
    // No feature left out of the top three moves the score more than the third one does.
    for (const feature of Object.keys(FRAUD).filter((f) => !top.some((c) => c.feature === f))) {
      const perturbed = await scoreAlone(registry, champion, { ...FRAUD, [feature]: reference[feature]! });
      expect(Math.abs(fraud!.score! - perturbed)).toBeLessThanOrEqual(magnitudes[2]!);
    }
  });

  it('explains a low score that a REVIEW or DECLINE rule caught, and nothing when explainTopK is 0', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await bootstrapSpec());
    const output = await scoringTopology(registry, { explainTopK: 2 });
    const caught = context('caught', LEGIT);
    caught.ruleHits = [{ ruleId: 'pep', reasonCode: 'PEP_REVIEW', action: 'REVIEW' }];
    const allowed = context('allowed', LEGIT);
    allowed.ruleHits = [{ ruleId: 'trusted', reasonCode: 'TRUSTED', action: 'ALLOW' }];
    await pipeBatch([caught, allowed]);
    const [c, a] = output.readValuesToList();
    expect(c!.topContributions.length).toBeGreaterThan(0);
    expect(c!.topContributions.length).toBeLessThanOrEqual(2);
    expect(a!.topContributions).toEqual([]);

    await driver!.close();
    const quiet = await scoringTopology(registry, { explainTopK: 0 });
    const runs = registry.stats.runs;
    await pipeBatch([context('fraud', FRAUD)]);
    expect(registry.stats.runs - runs).toBe(1);
    expect(quiet.readValuesToList()[0]!.topContributions).toEqual([]);
  });
});

describe('swaps between batches', () => {
  it('a champion installed while a batch is being scored applies from the next batch; the running batch keeps its models', async () => {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await bootstrapSpec());
    const next = await registry.load(orderSpec());
    if (!next.accepted) throw new Error(next.reason);
    const output = await scoringTopology(registry, { explainTopK: 3 });

    const realScore = registry.score.bind(registry);
    let swapped = false;
    vi.spyOn(registry, 'score').mockImplementation(async (model, data, rows) => {
      if (!swapped) {
        swapped = true;
        await registry!.setChampion(next.model); // lands between the score run and the explanation run
      }
      return realScore(model, data, rows);
    });

    const fraudWithDigits = { ...FRAUD, 'order.c': 9, 'order.a': 0, 'order.b': 0 };
    await pipeBatch([context('b1-1', fraudWithDigits), context('b1-2', fraudWithDigits)]);
    expect(registry.current().champion!.version).toBe('test-order');
    await pipeBatch([context('b2-1', fraudWithDigits)]);

    const [a, b, c] = output.readValuesToList();
    expect([a!.modelVersion, b!.modelVersion, c!.modelVersion]).toEqual(['bootstrap-v1', 'bootstrap-v1', 'test-order']);
    // The explanation ran on the swapped-out model's session, which the batch's lease kept open.
    expect(a!.topContributions).toHaveLength(3);
    expect(c!.score).toBeCloseTo(0.9, 6);
  });
});
