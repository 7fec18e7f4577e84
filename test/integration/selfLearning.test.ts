/**
 * Issue 18's first "done when", on the real broker: the loop learns by itself.
 *
 * Simulated card traffic whose fraud shifts during the run (simulator/fraud/driftingPattern.ts:
 * big night-time electronics purchases on farm devices early, small afternoon transfers and
 * crypto on the victim's own phone late; here weighted up so the shift dominates the fraud) goes
 * through the running loop, whose champion at start, models/sim-bootstrap-v1, learned from the
 * early pattern only (its card: one simulator week, 25 frauds). Labels arrive as they would in
 * life (chargebacks and analyst outcomes after their payment; negatives by maturity).
 *
 * Then the retraining service runs, and nobody touches anything: it must train a candidate from
 * the training topic up to a label cut-off, pass every gate, release it as shadow, and its rollout
 * controller must take it to canary and to champion while traffic flows. The weeks after the
 * candidate's data (the shifted ones) are decided by the new champion, and both models are scored
 * on those weeks' decision snapshots: the new champion's average precision must beat the old
 * one's. Across all three switches every transaction gets exactly one non-duplicate decision.
 *
 * Event time is not wall time: the simulator gives weeks in seconds, so the test's policy counts
 * stage periods in seconds and decisions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import kafkajs from 'kafkajs';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../bin/config.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { modelsCommand } from '../../bin/commands/models.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { RetrainProcess } from '../../bin/retrainProcess.js';
import { ensureLifecycleTopic, foldLifecycle, lifecycleTopicName, readLifecycle, type LifecycleEvent } from '../../lifecycle/events.js';
import { loadCandidate, scoreSnapshots } from '../../lifecycle/gates.js';
import { parsePolicy, type LifecyclePolicyInput } from '../../lifecycle/policy.js';
import { auditTopicName, ensureAuditTopic } from '../../ops/auditEvents.js';
import { AuditConsumer, AuditSink } from '../../ops/auditSink.js';
import { ModelRegistry } from '../../processors/modelRegistry.js';
import { Nodes } from '../../processors/riskLoop.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { createRegistryClient } from '../../schemas/registryClient.js';
import type { Decision } from '../../schemas/types.js';
import { simulate } from '../../simulator/index.js';
import { SIMULATED_TOPICS, type SimulatedRecords } from '../../simulator/simulate.js';
import { produceSimulation } from '../../simulator/sinks/kafka.js';
import { kafkajsConnectionOptions } from '../../topology/kafka/connection.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { testAppConfig, testAppEnv } from '../support/appConfig.js';
import { createAuditSchema, LOOP_DB } from '../support/auditDb.js';

const { Kafka, logLevel } = kafkajs;
const DAY = 86_400_000;
const START = Date.parse('2026-01-05T00:00:00Z');
const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-selflearn-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const logger = pino({ level: 'error' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => console.log(`[selfLearning ${new Date().toISOString().slice(11, 19)}] ${line}`);

/** Average precision as scikit-learn computes it: precision at each distinct score threshold, weighted by the recall it adds. */
function averagePrecision(rows: readonly { score: number; fraud: boolean }[]): number {
  const positives = rows.filter((r) => r.fraud).length;
  if (positives === 0) return Number.NaN;
  const sorted = [...rows].sort((a, b) => b.score - a.score);
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    let tpHere = 0;
    while (j < sorted.length && sorted[j]!.score === sorted[i]!.score) {
      if (sorted[j]!.fraud) tpHere++;
      j++;
    }
    tp += tpHere;
    seen = j;
    ap += (tpHere / positives) * (tp / seen);
    i = j;
  }
  return ap;
}

/** The policy the test runs under: the committed policy's shape, stage periods in seconds and decisions (event time runs weeks per minute here). */
const POLICY: LifecyclePolicyInput = {
  version: 'selflearning-test-1',
  // First candidate at once (no candidate yet); no second one within the test.
  retrain: { everySeconds: 3600, minNewLabels: 0, onDriftAlert: false, minExamples: 2000, minPositives: 30, trainer: { testDays: 7, gapDays: 0, folds: 1, searchBudget: 2, trees: 300, threads: 1, init: 'lr' } },
  gates: {
    // The test week holds about 42 frauds: its average precision moves by ±0.05-0.1 from run to run
    // (candidates 0.40-0.61 against the champion's 0.47 seen), so the gate asks for no more than
    // "not clearly worse"; whether the candidate is better is judged below on the shifted weeks.
    apMargin: -0.1,
    aucMargin: -0.02,
    precisionAtKMargin: -0.05,
    k: 20,
    maxFalsePositiveRate: 0.05,
    maxReviewRate: 0.08,
    maxScoreP99Micros: 50_000,
    benchmarkDecisions: 300,
    // The review-rate delta is judged on segments from 100 decisions; here the largest delta is the
    // 200-1 000 band's, about 196 decisions, and with one recipe (--init lr) it moved 0.041-0.082 over
    // six runs on 2026-12-04 (the loop's timing changes what the champion saw), so 0.08 failed one
    // run in six. 0.10 still stops a candidate that reviews a band's payments very differently.
    replay: { days: 7, minDecisions: 300, minSegmentDecisions: 100, maxDeclineRateDelta: 0.05, maxReviewRateDelta: 0.1, maxChallengeRateDelta: 0.05 },
  },
  rollout: {
    shadow: { minSeconds: 2, minDecisions: 400 },
    canary: { share: 50, minSeconds: 2, minDecisions: 200 },
    // The shadow's sample here is about 1.5 days of post-shift traffic (a week is a minute) against
    // the candidate's pre-shift test week: a real shift plus a weekday mix, which the score PSI
    // rightly flags (0.12-0.46 across runs; a run rolled the candidate back at 0.25). This test is
    // about the loop learning through a shift, so the PSI bound is loose; its judging is tested in
    // test/unit/lifecycle and rolloutRollback.test.ts.
    checks: { maxScorePsi: 1.0, maxDeclineRate: 0.05, maxReviewRate: 0.1, maxLatencyP99Ms: 5000, maxErrorRate: 0.01, minPrecision: 0.0, minLabelledForPrecision: 100 },
  },
};

/** Decoded decisions of the run, as they arrive. */
class Decisions {
  readonly all: Decision[] = [];
  private readonly consumer;
  constructor(kafka: InstanceType<typeof Kafka>, private readonly topic: string, private readonly serde: { deserialize(b: Buffer): Decision; prefetch?(b: readonly Buffer[]): Promise<void> }) {
    this.consumer = kafka.consumer({ groupId: `selflearn-${randomUUID()}`, maxWaitTimeInMs: 100 });
  }
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachBatch: async ({ batch }) => {
        const values = batch.messages.flatMap((m) => (m.value ? [m.value] : []));
        await this.serde.prefetch?.(values);
        for (const v of values) this.all.push(this.serde.deserialize(v));
      },
    });
  }
  async until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${this.all.length} decisions so far)`);
      await sleep(100);
    }
  }
  stop(): Promise<void> {
    return this.consumer.disconnect();
  }
}

const empty = (): SimulatedRecords => Object.fromEntries(SIMULATED_TOPICS.map((t) => [t, []])) as unknown as SimulatedRecords;


describe('the loop learns by itself', () => {
  it('retrains on drifting traffic, passes the gates, goes shadow → canary → champion without a person; the new champion wins on the shifted weeks; no decision lost or doubled', async () => {
    const id = `selflearn-${Date.now().toString(36)}`;
    const OLD = 'sim-bootstrap-v1';
    const APP_ENV = {
      LOG_LEVEL: 'error',
      // The champion at start learned the early pattern only.
      RISKLOOP_MODEL_CARD: `models/${OLD}.card.json`,
      // A payment without a label for a week is a legitimate example (the simulated issuer's
      // cardholders are mostly alerted by its app: chargebacks come within days, below).
      RISKLOOP_LABEL_MATURITY_DAYS: '7',
    };
    const c: AppConfig = testAppConfig(id, stateRoot, APP_ENV);
    await ensureTopics(c, { out: () => undefined, err: console.error, env: process.env }, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(createRegistryClient(c.registry), catalogue);
    const tokenizer = new Tokenizer(c.tokenizer);
    const policy = parsePolicy(POLICY, 'the test policy');

    // Nine simulated weeks. The candidate's data ends around week 7 (its label cut-off; its test
    // week is the one before the maturity horizon); weeks 8 and 9 are the shifted weeks.
    const DAYS = 63;
    const TRAIN_UNTIL_DAY = 49;
    const sim = simulate(
      {
        seed: 18,
        days: DAYS,
        customers: 120,
        start: '2026-01-05',
        labelTailDays: 0,
        // The shifting pattern carries most of the fraud; the others stay as background.
        fraud: { drifting: { incidentsPerThousandAccountDays: 12 } },
        // Most cardholders are alerted by their bank's app and dispute within days.
        labels: { chargebackDelay: { alertedShare: 0.85, alertedMedianDays: 2 } },
      },
      { keyFor: (a) => tokenizer.accountToken(a) },
    );
    const records = sim.records;
    const byPattern = Object.fromEntries(Object.entries(sim.summary.fraud.byPattern).map(([k, v]) => [k, v.transactions]));
    log(`simulated ${records.transactions.length} transactions, ${sim.summary.fraud.transactions} fraud ${JSON.stringify(byPattern)}, ${records.chargebacks.length} chargebacks, ${records.analystOutcomes.length} analyst outcomes`);
    const truth = new Map(sim.truth.map((t) => [t.transactionId, t]));

    const kafka = new Kafka({ clientId: 'selflearn', ...kafkajsConnectionOptions(c.kafka), logLevel: logLevel.NOTHING });
    const decisions = new Decisions(kafka, catalogue.decisions.name, serdes.decisions);
    const sink = { brokers: c.brokers, connection: c.kafka, registryUrl: c.schemaRegistryUrl, registry: c.registry, catalogue, ratePerSecond: null, clientId: 'selflearn' };
    const app = await buildRiskLoopApp(c, logger);

    // The topics the service writes (it creates them too; here first so the audit sink can follow
    // the audit topic from the start), its policy file, and PostgreSQL's audit trail.
    const client = createKafkajsClient({ connection: c.kafka, clientId: `${id}-test`, logger });
    const admin = await client.admin();
    const lifecycleTopic = lifecycleTopicName(c.topicPrefix);
    const auditTopic = auditTopicName(c.topicPrefix);
    await ensureLifecycleTopic(admin, lifecycleTopic);
    await ensureAuditTopic(admin, auditTopic);
    await admin.disconnect();
    const modelsDir = path.join(stateRoot, id, 'models');
    await mkdir(modelsDir, { recursive: true });
    const policyFile = path.join(stateRoot, id, 'lifecycle-policy.json');
    await writeFile(policyFile, JSON.stringify(policy, null, 2));
    const service = new RetrainProcess();
    const db = await createAuditSchema('selflearn');
    const auditSink = new AuditSink({ connectionString: LOOP_DB, table: db.decisionTable, privilegedTable: db.privilegedTable }, logger);
    const auditConsumer = new AuditConsumer({ connection: c.kafka, applicationId: id, catalogue, serdes, logger, auditTopic }, auditSink);

    // Traffic in event-time chunks. Labels (chargebacks, analyst outcomes) go out at the end of the
    // chunk their timestamp falls in, once their payments are decided (a label that overtook its
    // decision would find no snapshot), and the next chunk waits until the label join has taken
    // them in: then whether a label beats its payment's maturity depends on event time alone, not
    // on which topic the loop happened to fetch first, and the training data is the same every run.
    const decided = new Set<string>();
    let seen = 0;
    const isDecided = (txId: string): boolean => {
      for (; seen < decisions.all.length; seen++) decided.add(decisions.all[seen]!.transactionId);
      return decided.has(txId);
    };
    const joined = (): number => {
      app.streams.publishTaskMetrics();
      return app.streams.metrics
        .snapshot()
        .filter((m) => m.name === 'riskloop_processor_records_in' && m.labels.processor === Nodes.labelJoin)
        .reduce((sum, m) => sum + m.value, 0);
    };
    let pendingLabels: Pick<SimulatedRecords, 'chargebacks' | 'analystOutcomes'> = { chargebacks: [], analystOutcomes: [] };
    let sentTransactions = 0;
    let sentLabels = 0;
    const sendDays = async (fromDay: number, toDay: number): Promise<void> => {
      const inRange = <T extends { timestamp: number }>(rows: T[]) => rows.filter((r) => r.timestamp >= START + fromDay * DAY && r.timestamp < START + toDay * DAY);
      const txns = inRange(records.transactions);
      await produceSimulation({ ...empty(), kyc: inRange(records.kyc), deviceSignals: inRange(records.deviceSignals), transactions: txns }, sink);
      sentTransactions += txns.length;
      await decisions.until(() => decisions.all.length >= sentTransactions, 180_000, `decisions up to day ${toDay}`);
      const labels = { chargebacks: [...pendingLabels.chargebacks, ...inRange(records.chargebacks)], analystOutcomes: [...pendingLabels.analystOutcomes, ...inRange(records.analystOutcomes)] };
      const ready = { chargebacks: labels.chargebacks.filter((r) => isDecided(r.value.transactionId)), analystOutcomes: labels.analystOutcomes.filter((r) => isDecided(r.value.transactionId)) };
      pendingLabels = { chargebacks: labels.chargebacks.filter((r) => !isDecided(r.value.transactionId)), analystOutcomes: labels.analystOutcomes.filter((r) => !isDecided(r.value.transactionId)) };
      await produceSimulation({ ...empty(), ...ready }, sink);
      sentLabels += ready.chargebacks.length + ready.analystOutcomes.length;
      const deadline = Date.now() + 60_000;
      while (joined() < sentLabels) {
        if (Date.now() > deadline) throw new Error(`the label join took in ${joined()} of ${sentLabels} labels`);
        await sleep(100);
      }
    };
    const history = async () => foldLifecycle(await readLifecycle(client, lifecycleTopic));
    /** The service's candidate: the first model a candidate event names. */
    const candidateOf = async (): Promise<string | null> => [...(await history()).models.values()].find((m) => m.events.some((e) => e.type === 'candidate'))?.version ?? null;
    const stageOf = async (version: string): Promise<string | null> => (await history()).models.get(version)?.stage ?? null;

    try {
      await auditSink.init();
      await auditConsumer.start();
      // KYC and devices dated before the run come first.
      await produceSimulation({ ...empty(), kyc: records.kyc.filter((r) => r.timestamp < START), deviceSignals: records.deviceSignals.filter((r) => r.timestamp < START) }, sink);
      await app.streams.start();
      await decisions.start();
      await app.streams.waitForRunning(120_000);

      // 1. The loop runs with its starting champion: seven weeks of payments and their labels.
      const t0 = Date.now();
      for (let d = 0; d < TRAIN_UNTIL_DAY; d += 7) await sendDays(d, d + 7);
      log(`phase 1: ${decisions.all.length} decisions in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      expect(decisions.all.every((d) => d.modelVersion === OLD)).toBe(true);

      // 2. The retraining service starts; from here on nobody intervenes. The candidate trains and
      //    meets the gates while the traffic waits (event time is compressed: a pause is no gap).
      service.start(['--policy', policyFile, '--models-dir', modelsDir, '--check-seconds', '2', '--tick-seconds', '1'], { ...process.env, ...testAppEnv(id, stateRoot, APP_ENV) }, (line) => log(`riskloop retrain | ${line}`));
      const t1 = Date.now();
      let NEW: string | null = null;
      let stage: string | null = null;
      while (Date.now() - t1 < 240_000 && service.running) {
        NEW ??= await candidateOf();
        stage = NEW === null ? null : await stageOf(NEW);
        if (stage !== null && stage !== 'candidate') break;
        await sleep(1000);
      }
      log(`candidate ${NEW ?? '-'} ${stage ?? 'not trained'} after ${((Date.now() - t1) / 1000).toFixed(0)} s`);
      expect(stage, `the candidate should be in shadow; riskloop retrain stderr: ${service.stderr.slice(-3000)}`).toBe('shadow');
      const CAND = NEW!;

      // 3. The traffic goes on a day at a time; the controller advances the candidate as its live
      //    checks hold. The champion switch must come before the shifted weeks end.
      //    The test's traffic comes in bursts (a day in a second or two), which live checks built
      //    for steady traffic read differently in two ways, both handled here rather than by
      //    burning shifted days: the controller ignores a stage's first GRACE_MS of decisions (the
      //    loops are still picking the release up), so a day is not sent inside it; and the
      //    controller runs in its own process and may lag on a loaded machine, so once this side
      //    sees a stage's sample (its minDecisions after the grace) the next day waits for the
      //    controller's verdict (up to a minute). A controller that never advances still fails.
      const GRACE_MS = 10_000; // the policy's rollout.graceSeconds (models/lifecycle-policy.json leaves the default, 10)
      const sampleIn = async (): Promise<{ stage: string | null; since: number; enough: boolean }> => {
        const m = (await history()).models.get(CAND);
        if (!m || (m.stage !== 'shadow' && m.stage !== 'canary')) return { stage: m?.stage ?? null, since: 0, enough: false };
        const since = Date.parse(m.since);
        const after = decisions.all.filter((d) => d.decidedAt >= since + GRACE_MS);
        const n = m.stage === 'shadow' ? after.length : after.filter((d) => d.modelVersion === CAND).length;
        const period = m.stage === 'shadow' ? policy.rollout.shadow : policy.rollout.canary;
        return { stage: m.stage, since, enough: n >= period.minDecisions && Date.now() - since >= period.minSeconds * 1000 };
      };
      let day = TRAIN_UNTIL_DAY;
      while (day < DAYS && (await stageOf(CAND)) !== 'champion') {
        const before = await sampleIn();
        if (before.stage !== null && Date.now() < before.since + GRACE_MS) await sleep(before.since + GRACE_MS + 500 - Date.now());
        await sendDays(day, day + 1);
        day++;
        await sleep(1500);
        const at = await sampleIn();
        if (at.enough) {
          const waited = Date.now();
          while (Date.now() - waited < 60_000 && (await stageOf(CAND)) === at.stage) await sleep(500);
          log(`day ${day}: ${at.stage} had its sample; the controller moved on after ${((Date.now() - waited) / 1000).toFixed(1)} s`);
        }
      }
      const championDay = day;
      log(`candidate champion by day ${championDay}; ${decisions.all.length} decisions`);
      expect(await stageOf(CAND), `riskloop retrain stderr: ${service.stderr.slice(-3000)}`).toBe('champion');
      expect(championDay, 'the switch must leave shifted days for the new champion to decide').toBeLessThan(DAYS - 3);
      for (let i = 0; i < 100 && app.models.current().champion?.version !== CAND; i++) await sleep(100);
      if (day < DAYS) await sendDays(day, DAYS);
      expect(await service.stop(), 'riskloop retrain exits 0 on SIGTERM').toBe(0);

      // No person: every event automatic, in order candidate → gate passed → shadow → canary → champion.
      const events: LifecycleEvent[] = await readLifecycle(client, lifecycleTopic);
      const cand = events.filter((e) => e.version === CAND);
      log(`lifecycle: ${cand.map((e) => `${e.type}${e.stage ? `→${e.stage}` : ''}`).join(', ')}`);
      expect(events.every((e) => e.automatic)).toBe(true);
      expect(events.some((e) => e.type === 'command' || e.type === 'rollback')).toBe(false);
      expect(cand.map((e) => `${e.type}:${e.stage ?? ''}`)).toEqual(['candidate:candidate', 'gate:', 'stage:shadow', 'stage:canary', 'stage:champion']);
      const [candidate, gate] = cand;
      expect(candidate!.details).toMatchObject({ parent: OLD, trigger: 'schedule' });
      expect(Date.parse(candidate!.details.labelCutoff as string)).toBeLessThanOrEqual(START + TRAIN_UNTIL_DAY * DAY);
      expect(gate!.details.passed).toBe(true);
      const checks = gate!.details.checks as { name: string; passed: boolean; value: number | null; limit: number | null }[];
      log(`gates: ${checks.map((k) => `${k.name} ${k.value === null ? '-' : +k.value.toFixed(4)} (limit ${k.limit ?? '-'})`).join('; ')}`);
      expect(checks.length).toBeGreaterThanOrEqual(5);
      expect(checks.every((k) => k.passed)).toBe(true);
      // The old champion is retired by the switch (the controller adopted it as champion first).
      const state = foldLifecycle(events);
      expect([state.champion, state.previousChampion]).toEqual([CAND, OLD]);

      // Decisions: every payment exactly one non-duplicate decision across the three switches.
      const settled = decisions.all.length;
      await sleep(3000);
      expect(decisions.all.length, 'no decision after the last one was counted').toBe(settled);
      const firsts = decisions.all.filter((d) => !d.duplicate);
      const ids = firsts.map((d) => d.transactionId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(new Set(records.transactions.map((r) => r.value.transactionId)));
      const versions = new Map<string, number>();
      for (const d of firsts) versions.set(d.modelVersion ?? 'rules', (versions.get(d.modelVersion ?? 'rules') ?? 0) + 1);
      log(`deciding versions: ${JSON.stringify(Object.fromEntries(versions))}`);
      expect(new Set(versions.keys())).toEqual(new Set([OLD, CAND]));
      // The last payments are decided by the new champion alone.
      const lastDay = firsts.filter((d) => d.eventTime >= START + (DAYS - 1) * DAY);
      expect(lastDay.length).toBeGreaterThan(50);
      expect(lastDay.every((d) => d.modelVersion === CAND)).toBe(true);

      // The shifted weeks: both models on the same decision snapshots, against the simulator's truth.
      const shifted = firsts.filter((d) => d.eventTime >= START + TRAIN_UNTIL_DAY * DAY);
      const registry = new ModelRegistry(logger);
      const score = async (cardPath: string): Promise<(number | null)[]> => {
        const loaded = await loadCandidate(registry, cardPath);
        if (!('model' in loaded)) throw new Error(`cannot load ${cardPath}: ${loaded.reason}`);
        return scoreSnapshots(registry, loaded.model, shifted.map((d) => d.features));
      };
      const newScores = await score(path.join(modelsDir, `${CAND}.card.json`));
      const oldScores = await score(`models/${OLD}.card.json`);
      // Offline scores of the new champion are the ones it decided with.
      const decidedByNew = shifted.map((d, i) => [d, newScores[i]] as const).filter(([d]) => d.modelVersion === CAND && d.score !== null);
      expect(decidedByNew.length).toBeGreaterThan(500);
      for (const [d, s] of decidedByNew) expect(Math.abs(d.score! - s!)).toBeLessThan(1e-5);
      const rows = (scores: (number | null)[]) => shifted.map((d, i) => ({ score: scores[i] ?? 0, fraud: truth.get(d.transactionId)?.fraud ?? false }));
      const apNew = averagePrecision(rows(newScores));
      const apOld = averagePrecision(rows(oldScores));
      const fraud = rows(newScores).filter((r) => r.fraud).length;
      log(`shifted weeks (days ${TRAIN_UNTIL_DAY}-${DAYS}, ${shifted.length} payments, ${fraud} fraud): average precision new ${apNew.toFixed(3)} vs old ${apOld.toFixed(3)}`);
      expect(fraud).toBeGreaterThan(30);
      expect(apNew).toBeGreaterThan(apOld);

      // Lineage in the audit trail: one privileged_audit row per lifecycle event.
      const pg = auditSink.pool;
      let audited: { action: string; target: string; outcome: string; details: Record<string, unknown> }[] = [];
      for (let i = 0; i < 100; i++) {
        audited = (await pg.query(`SELECT action, target, outcome, details FROM ${db.privilegedTable} WHERE action LIKE 'model.lifecycle.%' ORDER BY "offset"`)).rows;
        if (audited.length >= events.length) break;
        await sleep(200);
      }
      expect(audited.map((r) => `${r.action} ${r.target}`)).toEqual(events.map((e) => `model.lifecycle.${e.type} ${e.version}`));
      expect(audited.find((r) => r.action === 'model.lifecycle.candidate')!.details).toMatchObject({ parent: OLD, trigger: 'schedule', automatic: true });

      // `riskloop models` tells the story.
      const out: string[] = [];
      const env = { ...process.env, KAFKA_BROKERS: c.brokers.join(','), SCHEMA_REGISTRY_URL: c.schemaRegistryUrl, RISKLOOP_TOPIC_PREFIX: c.topicPrefix };
      expect(await modelsCommand(['--models-dir', modelsDir], { out: (l) => out.push(l), err: (l) => out.push(l), env })).toBe(0);
      log(`riskloop models:\n${out.join('\n')}`);
      expect(out[0]).toBe(`champion: ${CAND}   previous: ${OLD}`);
      expect(out.join('\n')).toMatch(new RegExp(`^${CAND} {2}champion since .* by controller@`, 'm'));
      expect(out.join('\n')).toMatch(new RegExp(`gates passed \\d+/\\d+ {3}report .*${CAND}\\.gates\\.json`));
    } finally {
      await service.stop().catch(() => undefined);
      await decisions.stop().catch(() => undefined);
      await app.close().catch(() => undefined);
      await auditConsumer.stop().catch(() => undefined);
      await auditSink.close().catch(() => undefined);
      await db.drop().catch(() => undefined);
    }
  }, 600_000);
});
