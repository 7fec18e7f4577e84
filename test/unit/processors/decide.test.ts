/**
 * The decision step: precedence and thresholds worked out by hand, the Decision record it writes,
 * and the rules → scoring → decision chain with the shipped rule file and the bootstrap model,
 * including a replay that must give byte-identical decisions apart from the wall-clock fields.
 */
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DecideProcessor, type Verdict, decide } from '../../../processors/decide.js';
import { ModelRegistry, specFromModelCard } from '../../../processors/modelRegistry.js';
import { RuleSetHolder, RulesProcessor } from '../../../processors/rules.js';
import { loadRuleSet } from '../../../processors/ruleSet.js';
import { ScoringProcessor } from '../../../processors/scoring.js';
import { type RiskContext, type RuleHit, newRiskContext } from '../../../processors/types.js';
import { EXAMPLES } from '../../../schemas/examples.js';
import { avroType } from '../../../schemas/load.js';
import type { Decision } from '../../../schemas/types.js';
import { Serdes } from '../../../topology/serde.js';
import { TopologyTestDriver } from '../../../topology/testDriver.js';
import { Topology } from '../../../topology/topology.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

const hit = (action: RuleHit['action'], reasonCode: string): RuleHit => ({ ruleId: reasonCode.toLowerCase(), reasonCode, action });
const DECLINE_RULE = hit('DECLINE', 'DEVICE_BLOCKED');
const REVIEW_RULE = hit('REVIEW', 'PEP_REVIEW');
const ALLOW_RULE = hit('ALLOW', 'TRUSTED_LOW_RISK_SMALL_AMOUNT');

describe('decide (review 0.3, decline 0.8)', () => {
  const thresholds = { review: 0.3, decline: 0.8 };
  const verdict = (score: number | null, ruleHits: RuleHit[] = [], reasonCodes: string[] = []): Verdict =>
    decide({ score, ruleHits, reasonCodes: [...ruleHits.map((h) => h.reasonCode), ...reasonCodes] }, thresholds);

  const cases: [string, Verdict, Verdict][] = [
    ['score just under review: plain approval, no reasons', verdict(0.2999), { decision: 'APPROVE', reasonCodes: [] }],
    ['score at review (inclusive)', verdict(0.3), { decision: 'REVIEW', reasonCodes: ['SCORE_ABOVE_REVIEW'] }],
    ['score just under decline', verdict(0.7999), { decision: 'REVIEW', reasonCodes: ['SCORE_ABOVE_REVIEW'] }],
    ['score at decline (inclusive)', verdict(0.8), { decision: 'DECLINE', reasonCodes: ['SCORE_ABOVE_DECLINE'] }],
    ['a DECLINE rule beats a low score', verdict(0.01, [DECLINE_RULE]), { decision: 'DECLINE', reasonCodes: ['DEVICE_BLOCKED'] }],
    ['a REVIEW rule with a low score', verdict(0.01, [REVIEW_RULE]), { decision: 'REVIEW', reasonCodes: ['PEP_REVIEW'] }],
    ['ALLOW lifts a model-only REVIEW', verdict(0.5, [ALLOW_RULE]), { decision: 'APPROVE', reasonCodes: ['SCORE_ABOVE_REVIEW', 'TRUSTED_LOW_RISK_SMALL_AMOUNT'] }],
    ['ALLOW cannot lift a REVIEW rule', verdict(0.01, [REVIEW_RULE, ALLOW_RULE]), { decision: 'REVIEW', reasonCodes: ['PEP_REVIEW', 'TRUSTED_LOW_RISK_SMALL_AMOUNT'] }],
    ['ALLOW cannot lift a decline score', verdict(0.85, [ALLOW_RULE]), { decision: 'DECLINE', reasonCodes: ['SCORE_ABOVE_DECLINE', 'TRUSTED_LOW_RISK_SMALL_AMOUNT'] }],
    ['ALLOW cannot lift a DECLINE rule', verdict(0.01, [ALLOW_RULE, DECLINE_RULE]), { decision: 'DECLINE', reasonCodes: ['DEVICE_BLOCKED', 'TRUSTED_LOW_RISK_SMALL_AMOUNT'] }],
    ['ALLOW on a low score: approval, the hit still recorded', verdict(0.1, [ALLOW_RULE]), { decision: 'APPROVE', reasonCodes: ['TRUSTED_LOW_RISK_SMALL_AMOUNT'] }],
    [
      'everything at once, codes in precedence order whatever the hit order',
      verdict(0.5, [ALLOW_RULE, REVIEW_RULE, DECLINE_RULE], ['KYC_MISSING']),
      { decision: 'DECLINE', reasonCodes: ['DEVICE_BLOCKED', 'PEP_REVIEW', 'SCORE_ABOVE_REVIEW', 'TRUSTED_LOW_RISK_SMALL_AMOUNT', 'KYC_MISSING'] },
    ],
    ['no score, no rule: approval that says why there was no score', verdict(null, [], ['MODEL_UNAVAILABLE']), { decision: 'APPROVE', reasonCodes: ['MODEL_UNAVAILABLE'] }],
    ['no score, REVIEW rule', verdict(null, [REVIEW_RULE], ['MODEL_ERROR']), { decision: 'REVIEW', reasonCodes: ['PEP_REVIEW', 'MODEL_ERROR'] }],
    ['no score with an ALLOW rule: nothing to lift', verdict(null, [ALLOW_RULE], ['MODEL_UNAVAILABLE']), { decision: 'APPROVE', reasonCodes: ['TRUSTED_LOW_RISK_SMALL_AMOUNT', 'MODEL_UNAVAILABLE'] }],
  ];
  for (const [label, actual, expected] of cases) it(label, () => expect(actual).toEqual(expected));
});

const CHALLENGE_RULE = hit('CHALLENGE', 'STEP_UP_NEW_DEVICE');

describe('decide with a challenge band [0.4, 0.8) (review 0.3, decline 0.8)', () => {
  const thresholds = { review: 0.3, decline: 0.8 };
  const band = { from: 0.4, to: 0.8 };
  const verdict = (score: number | null, ruleHits: RuleHit[] = []): Verdict => decide({ score, ruleHits, reasonCodes: ruleHits.map((h) => h.reasonCode) }, thresholds, band);

  const cases: [string, Verdict, Verdict][] = [
    ['under review: approval', verdict(0.2999), { decision: 'APPROVE', reasonCodes: [] }],
    ['review band below the challenge band', verdict(0.3999), { decision: 'REVIEW', reasonCodes: ['SCORE_ABOVE_REVIEW'] }],
    ['at the band start (inclusive)', verdict(0.4), { decision: 'CHALLENGE', reasonCodes: ['SCORE_IN_CHALLENGE_BAND'] }],
    ['just under decline', verdict(0.7999), { decision: 'CHALLENGE', reasonCodes: ['SCORE_IN_CHALLENGE_BAND'] }],
    ['decline beats the band', verdict(0.8), { decision: 'DECLINE', reasonCodes: ['SCORE_ABOVE_DECLINE'] }],
    ['a CHALLENGE rule on a low score', verdict(0.01, [CHALLENGE_RULE]), { decision: 'CHALLENGE', reasonCodes: ['STEP_UP_NEW_DEVICE'] }],
    ['a CHALLENGE rule outranks a model-only REVIEW', verdict(0.35, [CHALLENGE_RULE]), { decision: 'CHALLENGE', reasonCodes: ['STEP_UP_NEW_DEVICE', 'SCORE_ABOVE_REVIEW'] }],
    ['a REVIEW rule outranks a CHALLENGE rule', verdict(0.01, [CHALLENGE_RULE, REVIEW_RULE]), { decision: 'REVIEW', reasonCodes: ['PEP_REVIEW', 'STEP_UP_NEW_DEVICE'] }],
    ['a DECLINE rule outranks the band', verdict(0.5, [DECLINE_RULE]), { decision: 'DECLINE', reasonCodes: ['DEVICE_BLOCKED', 'SCORE_IN_CHALLENGE_BAND'] }],
    ['ALLOW lifts a model-only CHALLENGE', verdict(0.5, [ALLOW_RULE]), { decision: 'APPROVE', reasonCodes: ['SCORE_IN_CHALLENGE_BAND', 'TRUSTED_LOW_RISK_SMALL_AMOUNT'] }],
    ['ALLOW cannot lift a CHALLENGE rule', verdict(0.01, [ALLOW_RULE, CHALLENGE_RULE]), { decision: 'CHALLENGE', reasonCodes: ['STEP_UP_NEW_DEVICE', 'TRUSTED_LOW_RISK_SMALL_AMOUNT'] }],
    ['no score: only rules can challenge', verdict(null, [CHALLENGE_RULE]), { decision: 'CHALLENGE', reasonCodes: ['STEP_UP_NEW_DEVICE'] }],
  ];
  for (const [label, actual, expected] of cases) it(label, () => expect(actual).toEqual(expected));

  it('without a band no score challenges', () => {
    expect(decide({ score: 0.5, ruleHits: [], reasonCodes: [] }, thresholds).decision).toBe('REVIEW');
  });
});

const decisionSerde = Serdes.Json<Decision>();
const contextSerde = Serdes.Json<RiskContext>();
let driver: TopologyTestDriver | undefined;
let registry: ModelRegistry | undefined;
afterEach(async () => {
  await driver?.close();
  driver = undefined;
  await registry?.close();
  registry = undefined;
});

describe('DecideProcessor', () => {
  const strict = { review: 0.2, decline: 0.5 };
  const lenient = { review: 0.6, decline: 0.9 };

  async function start(initialWallClockTimeMs: number) {
    const topology = new Topology({ applicationId: 'decide' })
      .addSource('in', 'scored', { keySerde: Serdes.String, valueSerde: contextSerde })
      .addProcessor('decide', () => new DecideProcessor({ defaultThresholds: lenient }, (v) => (v === 'm-strict' ? strict : undefined)), 'in')
      .addSink('out', 'decisions', { keySerde: Serdes.String, valueSerde: decisionSerde }, 'decide');
    driver = await TopologyTestDriver.create(topology, { initialWallClockTimeMs });
    return {
      input: driver.createInputTopic('scored', Serdes.String, contextSerde),
      output: driver.createOutputTopic('decisions', Serdes.String, decisionSerde),
    };
  }

  const scored = (id: string, score: number | null, modelVersion: string | null, ingressAt: number): RiskContext => ({
    ...newRiskContext({ ...EXAMPLES.TokenizedTransaction, transactionId: id }, ingressAt),
    score,
    modelVersion,
    ruleSetVersion: '2026-11-25.1',
    features: { 'card.count_1m': 2, 'kyc.account_age_days': 400 },
    facts: { 'kyc.status': 'VERIFIED' },
    shadowScores: [{ modelVersion: 'm-next', score: 0.42 }],
    topContributions: [{ feature: 'card.count_1m', contribution: 0.1 }],
  });

  it('uses the scoring model thresholds by version, else the configured ones', async () => {
    const { input, output } = await start(10_000);
    // 0.55 is above the strict model's decline (0.5) but below the configured review (0.6); 0.6 is on it.
    await input.pipeInput('acct', scored('t1', 0.55, 'm-strict', 9_990), 5_000);
    await input.pipeInput('acct', scored('t2', 0.55, 'm-unknown', 9_990), 5_000);
    await input.pipeInput('acct', scored('t3', 0.6, 'm-unknown', 9_990), 5_000);
    expect(output.readValuesToList().map((d) => [d!.transactionId, d!.decision, d!.reasonCodes])).toEqual([
      ['t1', 'DECLINE', ['SCORE_ABOVE_DECLINE']],
      ['t2', 'APPROVE', []],
      ['t3', 'REVIEW', ['SCORE_ABOVE_REVIEW']],
    ]);
  });

  it('writes the Decision record: keyed by account token, event time, snapshot, wall-clock fields, valid Avro', async () => {
    const { input, output } = await start(10_000);
    const ctx = scored('t1', 0.3, 'm-strict', 9_990.25);
    ctx.features['device.age_days'] = Number.NaN;
    await input.pipeInput('some-other-key', ctx, ctx.txn.eventTime);
    const record = output.readRecord();
    const d = record.value!;
    expect(record.key).toBe(EXAMPLES.TokenizedTransaction.accountToken);
    expect(record.timestamp).toBe(EXAMPLES.TokenizedTransaction.eventTime);
    expect(d).toEqual({
      transactionId: 't1',
      accountToken: EXAMPLES.TokenizedTransaction.accountToken,
      cardToken: EXAMPLES.TokenizedTransaction.cardToken,
      eventTime: EXAMPLES.TokenizedTransaction.eventTime,
      decidedAt: 10_000,
      decision: 'REVIEW',
      score: 0.3,
      modelVersion: 'm-strict',
      shadowScores: [{ modelVersion: 'm-next', score: 0.42 }],
      ruleSetVersion: '2026-11-25.1',
      reasonCodes: ['SCORE_ABOVE_REVIEW'],
      // The NaN feature is left out: missing features are absent, never NaN.
      features: { 'card.count_1m': 2, 'kyc.account_age_days': 400 },
      facts: { 'kyc.status': 'VERIFIED' },
      topContributions: [{ feature: 'card.count_1m', contribution: 0.1 }],
      pipelineLatencyMs: 10_000 - 9_990.25,
    } satisfies Decision);
    expect(avroType('Decision').isValid(d)).toBe(true);
  });

  it('without a score: no model version, no contributions; without a rule step: rule set "none"', async () => {
    const { input, output } = await start(10_000);
    const ctx = { ...scored('t1', null, 'm-strict', 9_000), ruleSetVersion: null, reasonCodes: ['MODEL_ERROR'] };
    await input.pipeInput('acct', ctx, 5_000);
    const d = output.readValue()!;
    expect([d.decision, d.score, d.modelVersion, d.topContributions, d.ruleSetVersion, d.reasonCodes]).toEqual(['APPROVE', null, null, [], 'none', ['MODEL_ERROR']]);
    expect(avroType('Decision').isValid(d)).toBe(true);
  });
});

describe('rules, scoring and decision together', () => {
  /** Card testing from a blocked emulator, impossible travel: see the worked reason codes below. */
  const FRAUD: Record<string, number> = {
    'card.count_1m': 12, 'card.count_1h': 14, 'card.sum_1h': 4_200, 'account.count_24h': 16, 'account.sum_24h': 12_000,
    'account.distinct_merchants_24h': 12, 'account.distinct_countries_24h': 3, 'card.secs_since_prev': 4,
    'account.amount_zscore_30d': 5, 'travel.speed_kmh': 2_500, 'travel.impossible': 1, 'kyc.account_age_days': 5,
    'kyc.risk_tier': 2, 'kyc.pep': 0, 'kyc.sanctioned': 0, 'kyc.missing': 0, 'device.blocked': 1, 'device.emulator': 1,
    'device.rooted': 1, 'device.accounts_seen': 4, 'device.missing': 0, 'txn.amount_minor': 300, 'txn.card_present': 0,
    'txn.channel_ecom': 1, 'txn.hour_of_day': 3,
  };
  const LEGIT: Record<string, number> = {
    'card.count_1m': 0, 'card.count_1h': 1, 'card.sum_1h': 2_500, 'account.count_24h': 3, 'account.sum_24h': 9_000,
    'account.distinct_merchants_24h': 2, 'account.distinct_countries_24h': 1, 'card.secs_since_prev': 20_000,
    'account.amount_zscore_30d': -0.2, 'travel.speed_kmh': 5, 'travel.impossible': 0, 'kyc.account_age_days': 2_000,
    'kyc.risk_tier': 1, 'kyc.pep': 0, 'kyc.sanctioned': 0, 'kyc.missing': 0, 'device.missing': 1, 'device.blocked': 0,
    'device.emulator': 0, 'device.rooted': 0, 'device.accounts_seen': 0,
    'txn.amount_minor': 4_000, 'txn.card_present': 1, 'txn.channel_ecom': 0, 'txn.hour_of_day': 14,
  };

  const inputs = (): RiskContext[] => {
    const make = (id: string, features: Record<string, number>, facts: Record<string, string>, ingressAt: number) => {
      const ctx = newRiskContext({ ...EXAMPLES.TokenizedTransaction, transactionId: id, eventTime: 1_750_000_000_000 + ingressAt }, ingressAt);
      ctx.features = { ...features };
      ctx.facts = { ...facts };
      return ctx;
    };
    return [
      make('fraud', FRAUD, { 'kyc.status': 'VERIFIED', 'kyc.country': 'CH' }, 1),
      make('legit', LEGIT, { 'kyc.status': 'VERIFIED', 'kyc.country': 'CH' }, 2),
      make('pep', { ...LEGIT, 'kyc.pep': 1 }, { 'kyc.status': 'VERIFIED', 'kyc.country': 'CH' }, 3),
      make('suspended', LEGIT, { 'kyc.status': 'SUSPENDED', 'kyc.country': 'CH' }, 4),
    ];
  };

  async function run(wallClock: number): Promise<Decision[]> {
    registry = new ModelRegistry(pino({ level: 'silent' }));
    await registry.setChampion(await specFromModelCard(path.join(ROOT, 'models/bootstrap-v1.card.json')));
    const holder = new RuleSetHolder(await loadRuleSet(path.join(ROOT, 'rules/ruleset.json')));
    const reg = registry;
    const topology = new Topology({ applicationId: 'hot-path' })
      .addSource('in', 'ctx', { keySerde: Serdes.String, valueSerde: contextSerde })
      .addProcessor('rules', () => new RulesProcessor(holder), 'in')
      .addProcessor('score', () => new ScoringProcessor(reg, { explainTopK: 3 }), 'rules')
      .addProcessor('decide', () => new DecideProcessor({ defaultThresholds: { review: 0.5, decline: 0.9 } }, (v) => reg.thresholdsFor(v)), 'score')
      .addSink('out', 'decisions', { keySerde: Serdes.String, valueSerde: decisionSerde }, 'decide');
    driver = await TopologyTestDriver.create(topology, { initialWallClockTimeMs: wallClock });
    const input = driver.createInputTopic('ctx', Serdes.String, contextSerde);
    for (const ctx of inputs()) await input.pipeInput(ctx.txn.accountToken, ctx, ctx.txn.eventTime);
    const decisions = driver.createOutputTopic('decisions', Serdes.String, decisionSerde).readValuesToList() as Decision[];
    await driver.close();
    driver = undefined;
    await registry.close();
    registry = undefined;
    return decisions;
  }

  it('decides the worked cases', async () => {
    const [fraud, legit, pep, suspended] = await run(1_000);
    // fraud: DECLINE rules in file order (blocked device; card testing: 12 >= 5 in a minute at 3.00),
    // then the decline band, then the REVIEW rule (impossible travel). velocity-1h: 14 < 15 and
    // 42.00 < 5,000.00; amount-zscore: z 5 but 3.00 < 500.00; new-device-abroad: no device.age_days.
    expect(fraud!.decision).toBe('DECLINE');
    expect(fraud!.reasonCodes).toEqual(['DEVICE_BLOCKED', 'CARD_TESTING_BURST', 'SCORE_ABOVE_DECLINE', 'IMPOSSIBLE_TRAVEL']);
    expect(fraud!.topContributions).toHaveLength(3);
    expect([legit!.decision, legit!.reasonCodes, legit!.topContributions]).toEqual(['APPROVE', [], []]);
    expect([pep!.decision, pep!.reasonCodes]).toEqual(['REVIEW', ['PEP_REVIEW']]);
    expect([suspended!.decision, suspended!.reasonCodes]).toEqual(['DECLINE', ['KYC_REJECTED_OR_SUSPENDED']]);
    for (const d of [fraud, legit, pep, suspended]) {
      expect([d!.modelVersion, d!.ruleSetVersion]).toEqual(['bootstrap-v1', '2026-12-03.2']);
    }
  });

  it('replays to byte-identical decisions apart from decidedAt and pipelineLatencyMs', async () => {
    const first = await run(1_000);
    const second = await run(987_654);
    expect(first.map((d) => d.decidedAt)).not.toEqual(second.map((d) => d.decidedAt));
    const type = avroType('Decision');
    const stable = (d: Decision) => type.toBuffer({ ...d, decidedAt: 0, pipelineLatencyMs: 0 });
    expect(first).toHaveLength(4);
    for (let i = 0; i < first.length; i++) expect(stable(second[i]!).equals(stable(first[i]!))).toBe(true);
  });
});
