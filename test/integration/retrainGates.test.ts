/**
 * A deliberately bad candidate is stopped by a gate, on the real broker (issue 18).
 *
 * The loop runs with bootstrap-v1 as champion (also released as champion on the model-releases
 * topic, where the retrainer finds it) and decides real traffic, so the decisions topic holds real
 * feature snapshots for the replay gate. The training-examples topic holds six weeks of examples
 * with a planted fraud signal whose TRAIN-period labels are shuffled (a permutation: same fraud
 * count, no signal) while the test period keeps its true labels. `riskloop retrain --once` (in
 * process, the command itself) sees the label volume, exports, trains the candidate with the
 * champion as parent, runs the gates and must stop it: exit 3, a `gate` event with stage
 * `rejected` naming the failed check with its figures (which recompute from the card), no release
 * of it on the model-releases topic, and the champion still deciding new traffic with no shadow.
 * Then an analyst's corrections restore the true labels: the next `--once` step is triggered by
 * them (labelled after the first candidate's cut-off), passes all 14 gates, is released as shadow
 * (release first, `stage` event second), and the running loop scores it in shadow while the
 * champion keeps deciding.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { retrainCommand } from '../../bin/commands/retrain.js';
import { publishRelease, releaseFromCard } from '../../bin/modelRelease.js';
import { buildRiskLoopApp, type RiskLoopApp } from '../../bin/riskLoopApp.js';
import { LifecycleLog, lifecycleTopicName, readLifecycle, type LifecycleEvent } from '../../lifecycle/events.js';
import type { GateCheck, GateReport } from '../../lifecycle/gates.js';
import { loadPolicy, parsePolicy } from '../../lifecycle/policy.js';
import { Retrainer } from '../../lifecycle/retrainer.js';
import { auditTopicName } from '../../ops/auditEvents.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes, type TopicSerdes } from '../../schemas/createSerdes.js';
import type { Alert, Decision, TrainingExample } from '../../schemas/types.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { readClientConfig } from '../../bin/config.js';
import { testAppConfig, testAppEnv } from '../support/appConfig.js';
import { brokers, uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { loopData } from '../support/loopData.js';
import { mulberry32 } from '../support/seededRandom.js';

const DAY = 86_400_000;
const START = Date.UTC(2026, 0, 5);
const SIM_DAYS = 42;
const EXAMPLES = 8000;
const VERSION = 'shuffled-labels-v1';
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-retrain-gates-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const logger = pino({ level: 'error' });

/**
 * Examples with a planted signal on bootstrap-v1's feature names (so the champion has something to
 * score); the labels of the first four weeks (train period and gap) are permuted among themselves.
 */
function examples(seed: number): { written: TrainingExample[]; corrections: TrainingExample[] } {
  const rand = mulberry32(seed);
  const normal = () => rand() + rand() + rand() + rand() - 2;
  const rows: { eventTime: number; accountToken: string; features: Record<string, number>; label: 0 | 1 }[] = [];
  for (let i = 0; i < EXAMPLES; i++) {
    const blocked = rand() < 0.04 ? 1 : 0;
    const burst = rand() < 0.08 ? 3 + Math.floor(rand() * 8) : Math.floor(rand() * 2);
    const zscore = 1.5 * normal();
    const features = { 'device.blocked': blocked, 'card.count_1m': burst, 'account.amount_zscore_30d': zscore, 'txn.amount_minor': Math.round(Math.exp(Math.log(4000) + normal())), 'txn.hour_of_day': Math.floor(rand() * 24) };
    const logit = -4.6 + 3.2 * blocked + 0.5 * Math.min(burst, 8) + 0.6 * Math.max(zscore, 0);
    rows.push({ eventTime: START + Math.floor(rand() * SIM_DAYS * DAY), accountToken: `acct-${String(Math.floor(rand() * 700)).padStart(4, '0')}`, features, label: rand() < 1 / (1 + Math.exp(-logit)) ? 1 : 0 });
  }
  const early = rows.filter((r) => r.eventTime < START + 28 * DAY);
  const truth = new Map(rows.map((r, i) => [r, { i, label: r.label }]));
  const labels = early.map((r) => r.label);
  for (let i = labels.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [labels[i], labels[j]] = [labels[j]!, labels[i]!];
  }
  early.forEach((r, i) => (r.label = labels[i]!));
  const example = (i: number, r: (typeof rows)[number], label: 0 | 1, labeledAt: number, correction: boolean): TrainingExample => ({
    transactionId: `ex-${i}`, accountToken: r.accountToken, eventTime: r.eventTime, features: r.features, facts: { 'kyc.status': 'VERIFIED' }, label,
    labelSource: correction ? 'ANALYST' : label === 1 ? 'CHARGEBACK' : 'MATURITY', labeledAt, labelDelayMs: labeledAt - r.eventTime, modelVersion: 'bootstrap-v1', decision: 'APPROVE', isCorrection: correction, featureSetVersion: null,
  });
  const written = rows.map((r, i) => example(i, r, r.label, r.label === 1 ? r.eventTime + 20 * DAY : r.eventTime + 60 * DAY, false));
  // An analyst review restores the true label of every shuffled example, after its first label.
  // Its label clock runs on: the corrections are labelled a day after every first label.
  const after = Math.max(...written.map((e) => e.labeledAt)) + DAY;
  const corrections = early.map((r, k) => example(truth.get(r)!.i, r, truth.get(r)!.label, after + k, true));
  return { written, corrections };
}

async function decisionsOf(serdes: TopicSerdes, topic: string, done: (ds: Decision[]) => boolean): Promise<Decision[]> {
  let decoded: Decision[] = [];
  await readTopic(brokers(), topic, {
    timeoutMs: 90_000,
    done: (records) => {
      decoded = records.flatMap((r) => (r.value ? [r.value] : [])).map((v) => serdes.decisions.deserialize(v));
      return done(decoded);
    },
  });
  return decoded;
}

describe('riskloop retrain --once: a candidate trained on shuffled labels, then one on corrected labels', () => {
  const id = uniq('retrain-gates');
  const config = testAppConfig(id, stateRoot, { LOG_LEVEL: 'error' });
  const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
  const modelsDir = path.join(stateRoot, 'models');
  const { written, corrections } = examples(20261203);
  const out: string[] = [];
  let serdes: TopicSerdes;
  let app: RiskLoopApp;
  let exitCode: number;
  let events: LifecycleEvent[];
  let txns: { key: string; value: Buffer; timestamp: string }[];
  let policyPath: string;
  let client: ReturnType<typeof createKafkajsClient>;

  beforeAll(async () => {
    await ensureTopics(config, { out: () => undefined, err: console.error, env: process.env }, { keepHistory: true });
    serdes = await createSerdes(new SchemaRegistry({ host: config.schemaRegistryUrl }), catalogue);
    const data = loopData(new Tokenizer(config.tokenizer), { accounts: 200, transactions: 1100, invalidEvery: 0, chargebacks: 0, unknownChargebacks: 0 });
    txns = data.transactions.map((r) => ({ key: r.key, value: serdes.transactions.serialize(r.value), timestamp: String(r.value.eventTime) }));
    await produce(brokers(), catalogue.kyc.name, data.kyc.map((r) => ({ key: r.key, value: serdes.kyc.serialize(r.value) })));

    // The champion, as the loops obey it: released on the model-releases topic.
    client = createKafkajsClient({ connection: config.kafka, clientId: 'retrain-gates-test', logger });
    const producer = await client.producer();
    await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, await releaseFromCard('models/bootstrap-v1.card.json', 'champion', { releasedBy: 'test' }));
    await producer.disconnect();

    app = await buildRiskLoopApp(config, logger);
    await app.streams.start();
    await app.streams.waitForRunning(60_000);
    await produce(brokers(), catalogue.transactions.name, txns.slice(0, 900));
    await produce(brokers(), catalogue.trainingExamples.name, written.map((e) => ({ key: e.accountToken, value: serdes.trainingExamples.serialize(e) })));
    await decisionsOf(serdes, catalogue.decisions.name, (ds) => ds.length >= 900);

    const policy = await loadPolicy('models/lifecycle-policy.json');
    const testPolicy = {
      ...policy,
      version: 'lifecycle-policy-test',
      retrain: { ...policy.retrain, minNewLabels: 3000, minExamples: 1000, minPositives: 20, trainer: { testDays: 7, gapDays: 7, folds: 1, searchBudget: 1, trees: 100 } },
      gates: { ...policy.gates, benchmarkDecisions: 300, replay: { ...policy.gates.replay, minDecisions: 100, minSegmentDecisions: 50 } },
    };
    policyPath = path.join(stateRoot, 'policy.json');
    await writeFile(policyPath, JSON.stringify(testPolicy));
    exitCode = await retrainCommand(['--once', '--policy', policyPath, '--models-dir', modelsDir, '--version', VERSION], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
      env: testAppEnv(id, stateRoot, { LOG_LEVEL: 'warn' }),
    });
    events = (await readLifecycle(client, lifecycleTopicName(config.topicPrefix))).filter((e) => e.version === VERSION);
  }, 240_000);

  afterAll(async () => {
    await app?.close();
  });

  it('trains on the label trigger and is stopped by the average-precision gate, with its figures', async () => {
    expect(exitCode, out.join('\n')).toBe(3);
    expect(events.map((e) => [e.type, e.stage])).toEqual([['candidate', 'candidate'], ['gate', 'rejected']]);
    const [candidate, gate] = events as [LifecycleEvent, LifecycleEvent];
    expect(candidate.details.trigger).toBe('labels');
    expect(candidate.reason).toMatch(new RegExp(`^trained on labels: ${written.length} examples labelled after the start \\(>= 3000\\)$`));
    expect(candidate).toMatchObject({ automatic: true, policyVersion: 'lifecycle-policy-test' });
    expect(candidate.actor).toMatch(/^retrainer@/);
    expect(candidate.details.parent).toBe('bootstrap-v1');
    // Lineage: the export's hash always; the export itself only with --keep-exports.
    expect(candidate.details.exportSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(candidate.details.exportPath).toBeUndefined();

    const card = JSON.parse(await readFile(path.join(modelsDir, `${VERSION}.card.json`), 'utf8')) as {
      metrics: { averagePrecision: number; aucRoc: number };
      parentModel: { version: string };
      parentMetrics: { averagePrecision: number; aucRoc: number };
      gateReport: string;
      retrainCost: Record<string, number>;
    };
    expect(card.parentModel.version).toBe('bootstrap-v1');
    const checks = gate.details.checks as GateCheck[];
    const ap = checks.find((c) => c.name === 'averagePrecision')!;
    expect(ap.passed).toBe(false);
    expect(ap.value).toBeCloseTo(card.metrics.averagePrecision - card.parentMetrics.averagePrecision, 12);
    expect(ap.value!).toBeLessThan(0.005);
    expect(ap.limit).toBe(0.005);
    expect(ap.detail).toContain(`candidate ${card.metrics.averagePrecision.toFixed(4)} vs champion bootstrap-v1 ${card.parentMetrics.averagePrecision.toFixed(4)}`);
    expect(gate.details.passed).toBe(false);
    expect(gate.reason).toMatch(/^stopped by \d+ gate\(s\): .*averagePrecision -?\d/);
    // Learned nothing: its ranking is near chance while the champion's is not.
    expect(card.metrics.aucRoc).toBeLessThan(card.parentMetrics.aucRoc);

    const report = JSON.parse(await readFile(path.join(modelsDir, card.gateReport), 'utf8')) as GateReport;
    expect(card.gateReport).toBe(`${VERSION}.gates.json`);
    expect(report.checks).toEqual(checks);
    expect(report.passed).toBe(false);
    // The replay ran over the champion's real decisions and re-made them from their reason codes.
    const recovered = checks.find((c) => c.name === 'replayRuleHitsRecovered')!;
    expect(recovered.passed).toBe(true);
    expect(report.replay!.decisions).toBeGreaterThanOrEqual(100);
    expect(report.replay!.reproduced).toBe(report.replay!.reproducible);
    expect(out.some((l) => l.startsWith(`${VERSION} (labels): stopped by `) && l.includes('averagePrecision'))).toBe(true);
  });

  it('reports the cost of the retrain: wall time, CPU of the service and the trainer, examples and bytes', async () => {
    const [candidate] = events as [LifecycleEvent];
    const cost = candidate.details.cost as Record<string, number>;
    expect(cost.examples).toBe(written.length);
    expect(cost.bytes).toBeGreaterThan(written.length * 100);
    expect(cost.trainerCpuMs).toBeGreaterThan(500);
    expect(cost.cpuMs).toBe(cost.trainerCpuMs! + cost.serviceCpuMs!);
    expect(cost.wallMs).toBeGreaterThanOrEqual(cost.exportMs! + cost.trainMs!);
    expect(candidate.details.labelCutoff).toBe(new Date(Math.max(...written.map((e) => e.labeledAt))).toISOString());
    const card = JSON.parse(await readFile(path.join(modelsDir, `${VERSION}.card.json`), 'utf8')) as { retrainCost: unknown; split: { testTo: string } };
    expect(card.retrainCost).toEqual(cost);
    // The test period ends at the maturity horizon: cut-off − 60 d (RISKLOOP_LABEL_MATURITY_DAYS default), at a UTC midnight.
    const horizon = Date.parse(candidate.details.labelCutoff as string) - 60 * DAY;
    expect(Date.parse(card.split.testTo)).toBe(Math.floor(horizon / DAY) * DAY);
    expect((await stat(path.join(modelsDir, `${VERSION}.onnx`))).size).toBeGreaterThan(0);
  });

  it('releases nothing for it, mirrors both events to the audit topic, and the champion keeps deciding', async () => {
    const releases = await readTopic(brokers(), catalogue.modelReleases.name, { idleMs: 1500, timeoutMs: 15_000 });
    expect(releases.map((r) => r.key)).toEqual(['bootstrap-v1']);
    const audit = await readTopic(brokers(), auditTopicName(config.topicPrefix), { idleMs: 1500, timeoutMs: 15_000 });
    const actions = audit.map((r) => JSON.parse(r.value!.toString('utf8')) as { action: string; target: string }).filter((a) => a.target === VERSION).map((a) => a.action);
    expect(actions).toEqual(['model.lifecycle.candidate', 'model.lifecycle.gate']);

    await produce(brokers(), catalogue.transactions.name, txns.slice(900, 1000));
    const later = new Set(txns.slice(900, 1000).map((t) => serdes.transactions.deserialize(t.value).transactionId));
    const decisions = await decisionsOf(serdes, catalogue.decisions.name, (ds) => ds.filter((d) => later.has(d.transactionId)).length >= later.size);
    const after = decisions.filter((d) => later.has(d.transactionId));
    expect(after).toHaveLength(later.size);
    expect(after.every((d) => d.modelVersion === 'bootstrap-v1' || d.modelVersion === null)).toBe(true);
    expect(after.filter((d) => d.modelVersion === 'bootstrap-v1').length).toBeGreaterThan(later.size / 2);
    expect(after.some((d) => d.shadowScores.some((s) => s.modelVersion === VERSION))).toBe(false);
    expect(app.models.current().champion?.version).toBe('bootstrap-v1');
    expect(app.models.current().shadows).toHaveLength(0);
  });

  describe('then an analyst corrects the shuffled labels: the next step trains a good candidate', () => {
    const GOOD = 'corrected-labels-v2';
    const out2: string[] = [];
    let code2: number;
    let good: LifecycleEvent[];

    beforeAll(async () => {
      await produce(brokers(), catalogue.trainingExamples.name, corrections.map((e) => ({ key: e.accountToken, value: serdes.trainingExamples.serialize(e) })));
      code2 = await retrainCommand(['--once', '--policy', policyPath, '--models-dir', modelsDir, '--version', GOOD, '--keep-exports', path.join(stateRoot, 'exports')], {
        out: (l) => out2.push(l),
        err: (l) => out2.push(l),
        env: testAppEnv(id, stateRoot, { LOG_LEVEL: 'warn' }),
      });
      good = (await readLifecycle(client, lifecycleTopicName(config.topicPrefix))).filter((e) => e.version === GOOD);
    }, 180_000);

    it('is triggered by the corrected labels, passes every gate, and goes out as shadow', async () => {
      expect(code2, out2.join('\n')).toBe(0);
      expect(good.map((e) => [e.type, e.stage])).toEqual([['candidate', 'candidate'], ['gate', null], ['stage', 'shadow']]);
      const [candidate, gate, stage] = good as [LifecycleEvent, LifecycleEvent, LifecycleEvent];
      const firstCutoff = new Date(Math.max(...written.map((e) => e.labeledAt))).toISOString();
      expect(candidate.reason).toBe(`trained on labels: ${corrections.length} examples labelled after the cut-off ${firstCutoff} of ${VERSION} (>= 3000)`);
      expect(candidate.details.labelCutoff).toBe(new Date(Math.max(...corrections.map((e) => e.labeledAt))).toISOString());
      // --keep-exports: the rows it learned from, kept under its version, matching the event's hash.
      const kept = path.join(stateRoot, 'exports', `${GOOD}.training-examples.jsonl`);
      expect(candidate.details.exportPath).toBe(kept);
      const keptBytes = await readFile(kept);
      expect(createHash('sha256').update(keptBytes).digest('hex')).toBe(candidate.details.exportSha256);
      expect(keptBytes.toString('utf8').trim().split('\n')).toHaveLength(candidate.details.examples as number);
      const card = JSON.parse(await readFile(path.join(modelsDir, `${GOOD}.card.json`), 'utf8')) as { metrics: { averagePrecision: number }; parentMetrics: { averagePrecision: number } };
      const ap = (gate.details.checks as GateCheck[]).find((c) => c.name === 'averagePrecision')!;
      expect(ap.value).toBeCloseTo(card.metrics.averagePrecision - card.parentMetrics.averagePrecision, 12);
      expect(ap.value!).toBeGreaterThanOrEqual(0.005);
      expect(gate.details.passed).toBe(true);
      expect(gate.reason).toBe('all 14 gates passed against bootstrap-v1');
      expect(stage.details).toEqual({ from: 'candidate', to: 'shadow' });
      expect(out2[0]).toBe(`${GOOD} (labels): gates passed, released as shadow (champion bootstrap-v1, policy lifecycle-policy-test)`);

      const releases = await readTopic(brokers(), catalogue.modelReleases.name, { idleMs: 1500, timeoutMs: 15_000 });
      expect(releases.map((r) => r.key)).toEqual(['bootstrap-v1', GOOD]);
      const release = serdes.modelReleases.deserialize(releases[1]!.value!);
      expect(release.mode).toBe('shadow');
      expect(release.releasedBy).toMatch(/^retrainer@/);
    });

    it('the running loop scores it in shadow while the champion keeps deciding', async () => {
      for (let i = 0; i < 150 && !app.models.current().shadows.some((m) => m.version === GOOD); i++) await new Promise((r) => setTimeout(r, 200));
      expect(app.models.current().shadows.map((m) => m.version)).toEqual([GOOD]);
      await produce(brokers(), catalogue.transactions.name, txns.slice(1000));
      const last = new Set(txns.slice(1000).map((t) => serdes.transactions.deserialize(t.value).transactionId));
      const decisions = (await decisionsOf(serdes, catalogue.decisions.name, (ds) => ds.filter((d) => last.has(d.transactionId)).length >= last.size)).filter((d) => last.has(d.transactionId));
      expect(decisions).toHaveLength(last.size);
      expect(decisions.every((d) => d.modelVersion !== GOOD)).toBe(true);
      expect(decisions.every((d) => d.shadowScores.some((s) => s.modelVersion === GOOD))).toBe(true);
      expect(app.models.current().champion?.version).toBe('bootstrap-v1');
    });
  });

  it('triggers: nothing due right after a candidate; the schedule a week on; a drift alert at once', async () => {
    const producer = await client.producer();
    try {
      const policy = parsePolicy(JSON.parse(await readFile(policyPath, 'utf8')));
      const now = Date.now();
      const retrainer = (clock: () => number) =>
        new Retrainer({
          config: readClientConfig(testAppEnv(id, stateRoot)), policy, client, serdes, catalogue, producer, logger, modelsDir, python: 'unused', clock,
          lifecycle: new LifecycleLog(producer, lifecycleTopicName(config.topicPrefix), null),
        });
      // Every label on the topic is at or before the last candidate's cut-off; it was trained moments ago.
      expect(await retrainer(() => now).due()).toBeNull();
      const weekOn = await retrainer(() => now + policy.retrain.everySeconds * 1000 + 60_000).due();
      expect(weekOn?.trigger).toBe('schedule');
      expect(weekOn?.reason).toMatch(/^\d+ s since corrected-labels-v2 \(every 604800 s\)$/);

      const alert = (raisedAt: number): Alert => ({ kind: 'SCORE_DRIFT_PSI', subject: '__score__', value: 0.41, threshold: 0.25, windowStart: raisedAt - 3_600_000, windowEnd: raisedAt, raisedAt, details: {} });
      // An alert raised before the last candidate is no reason to retrain; one raised after it is.
      await produce(brokers(), catalogue.alerts.name, [{ key: '__score__', value: serdes.alerts.serialize(alert(now - DAY)) }]);
      expect(await retrainer(() => now).due()).toBeNull();
      await produce(brokers(), catalogue.alerts.name, [{ key: '__score__', value: serdes.alerts.serialize(alert(now)) }]);
      expect(await retrainer(() => now).due()).toEqual({ trigger: 'drift', reason: 'SCORE_DRIFT_PSI on __score__: PSI 0.410 > 0.25' });
      const without = parsePolicy({ ...policy, retrain: { ...policy.retrain, onDriftAlert: false } });
      expect(await new Retrainer({ config: readClientConfig(testAppEnv(id, stateRoot)), policy: without, client, serdes, catalogue, producer, logger, modelsDir, python: 'unused', clock: () => now, lifecycle: new LifecycleLog(producer, lifecycleTopicName(config.topicPrefix), null) }).due()).toBeNull();
    } finally {
      await producer.disconnect();
    }
  });
});
