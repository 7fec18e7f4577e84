/**
 * Automatic rollback on the real broker and PostgreSQL (issue 18, third "done when" test). The loop
 * runs with bootstrap-v1 as champion; a candidate (the same trees under another version, with
 * thresholds so low that it declines every payment: a miscalibrated model) is released as shadow
 * and a person promotes it straight into canary with `riskloop models promote`. The rollout
 * controller's canary checks see its decline rate (100 % of its decisions vs the policy's 20 %)
 * and roll it back by themselves: the candidate is retired on the model-releases topic, a
 * `rollback` event with the failed check and its figures lands on the lifecycle topic, its audit
 * mirror becomes a privileged_audit row in PostgreSQL, and the old champion decides again for the
 * canary's cards. Every transaction is decided exactly once across the switches.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { modelsAction } from '../../bin/commands/models.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { publishRelease, releaseFromCard } from '../../bin/modelRelease.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { ensureLifecycleTopic, lifecycleTopicName, LifecycleLog, readLifecycle, type LifecycleEvent } from '../../lifecycle/events.js';
import { loadPolicy } from '../../lifecycle/policy.js';
import { RolloutController } from '../../lifecycle/rollout.js';
import { AuditLog, auditTopicName, ensureAuditTopic, osPrincipal } from '../../ops/auditEvents.js';
import { AuditConsumer, AuditSink } from '../../ops/auditSink.js';
import { canaryBucket } from '../../processors/scoring.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import type { Decision, ModelRelease } from '../../schemas/types.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { testAppConfig, testAppEnv } from '../support/appConfig.js';
import { createAuditSchema, LOOP_DB } from '../support/auditDb.js';
import { brokers, uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { loopData } from '../support/loopData.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-rollback-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const logger = pino({ level: 'error' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

describe('staged rollout: automatic rollback', () => {
  it('rolls a canary back when a live check fails, records why in the audit trail, and the old champion decides again', async () => {
    const id = uniq('rollback');
    const env = testAppEnv(id, stateRoot, { LOG_LEVEL: 'error' });
    const c = testAppConfig(id, stateRoot, { LOG_LEVEL: 'error' });
    const lines: string[] = [];
    const io = { out: (l: string) => void lines.push(l), err: (l: string) => void lines.push(l), env };
    await ensureTopics(c, io, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const client = createKafkajsClient({ connection: c.kafka, clientId: `${id}-test`, logger });
    const lifecycleTopic = lifecycleTopicName(c.topicPrefix);
    const auditTopic = auditTopicName(c.topicPrefix);
    const admin = await client.admin();
    await ensureLifecycleTopic(admin, lifecycleTopic);
    await ensureAuditTopic(admin, auditTopic);
    await admin.disconnect();

    // The audit trail: privileged_audit in a schema of this test's own.
    const db = await createAuditSchema('rollout');
    const sink = new AuditSink({ connectionString: LOOP_DB, table: db.decisionTable, privilegedTable: db.privilegedTable }, logger);
    await sink.init();
    const auditConsumer = new AuditConsumer({ connection: c.kafka, applicationId: id, catalogue, serdes, logger, auditTopic }, sink);
    await auditConsumer.start();

    // The candidate: bootstrap-v1's trees under another version, declining from a score of 0.001.
    const version = `cand-${id}`;
    const cardPath = path.join(stateRoot, `${version}.card.json`);
    const card = JSON.parse(readFileSync('models/bootstrap-v1.card.json', 'utf8')) as Record<string, unknown>;
    writeFileSync(cardPath, JSON.stringify({ ...card, version, artifact: path.resolve('models/bootstrap-v1.onnx'), thresholds: { review: 0.0005, decline: 0.001 } }));

    const producer = await client.producer();
    const retrainerAudit = new AuditLog(producer, auditTopic, { principal: 'retrainer@test', authenticated: false, source: 'loop' });
    const retrainer = new LifecycleLog(producer, lifecycleTopic, retrainerAudit);
    const policy = await loadPolicy('models/lifecycle-policy.json');
    // Stage periods no test waits out: only a person (promote) or a failed check moves the candidate.
    policy.rollout = {
      ...policy.rollout,
      graceSeconds: 3,
      shadow: { minSeconds: 3600, minDecisions: 100_000 },
      canary: { share: 50, minSeconds: 3600, minDecisions: 100_000 },
      checks: { ...policy.rollout.checks, maxScorePsi: 10, maxDeclineRate: 0.2, maxReviewRate: 0.5, maxLatencyP99Ms: 60_000, maxErrorRate: 0.5 },
    };
    const base = { actor: 'retrainer@test', automatic: true, policyVersion: policy.version } as const;
    await retrainer.record({ ...base, version, type: 'candidate', stage: 'candidate', reason: 'test candidate', details: { cardPath, parent: 'bootstrap-v1', trigger: 'manual' } });
    await retrainer.record({ ...base, version, type: 'gate', stage: null, reason: 'gates passed (test)', details: { passed: true, checks: [] } });
    await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, await releaseFromCard(cardPath, 'shadow', { releasedBy: 'retrainer@test' }));
    await retrainer.record({ ...base, version, type: 'stage', stage: 'shadow', reason: 'gates passed', details: { from: 'candidate', to: 'shadow' } });

    const N = 3000;
    const data = loopData(new Tokenizer(c.tokenizer), { accounts: 300, transactions: N, invalidEvery: 0, chargebacks: 0, unknownChargebacks: 0 });
    const txns = data.transactions.map((r) => ({ key: r.key, value: serdes.transactions.serialize(r.value), timestamp: String(r.value.eventTime) }));
    const app = await buildRiskLoopApp(c, logger);
    await app.streams.start();
    const controllerAudit = new AuditLog(producer, auditTopic, { principal: 'controller@test', authenticated: false, source: 'loop' });
    const controller = new RolloutController({
      client,
      serdes,
      catalogue,
      lifecycle: new LifecycleLog(producer, lifecycleTopic, controllerAudit),
      policy,
      logger,
      actor: 'controller@test',
      minSamples: 100,
    });
    let ticking = true;
    const ticks = (async () => {
      while (ticking) {
        await controller.tick().catch((err: unknown) => console.error('tick failed', err));
        await sleep(500);
      }
    })();
    const events = () => readLifecycle(client, lifecycleTopic);
    try {
      await app.streams.waitForRunning(60_000);
      await controller.start();
      await until('the shadow installed', () => (app.models.current().shadows.some((m) => m.version === version) ? true : undefined), 30_000);

      // A person promotes the shadow into canary at once (the runbook's "skip the wait").
      expect(await modelsAction('promote', [version, '--reason', 'urgent: new fraud pattern'], io)).toBe(0);
      const canaryEvent = await until('the canary stage event', async () => (await events()).find((e) => e.version === version && e.stage === 'canary'), 30_000);
      expect(canaryEvent).toMatchObject({ type: 'stage', automatic: false, actor: osPrincipal(), details: { from: 'shadow', to: 'canary', share: 50 } });
      await until('the canary installed', () => (app.models.current().canary?.model.version === version ? true : undefined), 30_000);
      const canaryAt = Date.now();

      // Traffic: the canary decides for its half of the cards, and declines them all.
      await produce(brokers(), catalogue.transactions.name, txns.slice(0, 2000));
      const rollback = await until('the automatic rollback', async () => (await events()).find((e): e is LifecycleEvent => e.version === version && e.type === 'rollback'), 90_000);
      expect(rollback).toMatchObject({ stage: 'rolled-back', automatic: true, actor: 'controller@test', policyVersion: policy.version, details: { from: 'canary', restored: 'bootstrap-v1', failedCheck: { name: 'declineRate', passed: false, limit: 0.2 } } });
      const failed = rollback.details.failedCheck as { value: number };
      expect(failed.value).toBeGreaterThan(0.9);
      const figures = rollback.details.figures as { decisions: number; decisionMix: Record<string, number> };
      expect(figures.decisions).toBeGreaterThanOrEqual(100);
      expect(figures.decisionMix.DECLINE).toBe(figures.decisions);
      console.log(`rollback: ${rollback.reason}; figures ${JSON.stringify(figures)}`);
      console.log(`rollback ${((Date.parse(rollback.at) - canaryAt) / 1000).toFixed(1)} s after the canary was installed`);

      // The actuator: canary:50 by the person, then retired by the controller.
      const releases = await readTopic(brokers(), catalogue.modelReleases.name, { done: (r) => r.length >= 3, timeoutMs: 30_000 });
      await serdes.modelReleases.prefetch?.(releases.map((r) => r.value!));
      const modes = releases.map((r) => serdes.modelReleases.deserialize(r.value!) as ModelRelease).map((r) => [r.mode, r.releasedBy]);
      expect(modes).toEqual([['shadow', 'retrainer@test'], ['canary:50', osPrincipal()], ['retired', 'controller@test']]);
      await until('the canary gone from the loop', () => (app.models.current().canary === null ? true : undefined), 30_000);
      expect(app.models.current().champion?.version).toBe('bootstrap-v1');

      // The old champion decides again, for the canary's cards too.
      await produce(brokers(), catalogue.transactions.name, txns.slice(2000));
      const out = await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= N, timeoutMs: 90_000 });
      const settled = await readTopic(brokers(), catalogue.decisions.name, { idleMs: 2000, timeoutMs: 20_000 });
      const records = settled.length >= out.length ? settled : out;
      await serdes.decisions.prefetch?.(records.map((r) => r.value!));
      const decisions = records.map((r) => serdes.decisions.deserialize(r.value!) as Decision);
      expect(decisions).toHaveLength(N);
      expect(new Set(decisions.map((d) => d.transactionId)).size).toBe(N);
      const byCandidate = decisions.filter((d) => d.modelVersion === version);
      expect(byCandidate.length).toBeGreaterThanOrEqual(100);
      expect(byCandidate.every((d) => d.decision === 'DECLINE')).toBe(true);
      const last = new Set(data.transactions.slice(2000).map((t) => t.value.transactionId));
      const after = decisions.filter((d) => last.has(d.transactionId));
      expect(after.every((d) => d.modelVersion === 'bootstrap-v1')).toBe(true);
      const routed = after.filter((d) => canaryBucket(version, d.cardToken) < 0.5);
      expect(routed.length).toBeGreaterThan(200);
      console.log(`decisions: ${byCandidate.length} by ${version} (all DECLINE), ${after.length} after the rollback all by bootstrap-v1 (${routed.length} of them for canary cards)`);

      // The reason in the audit trail: PostgreSQL privileged_audit rows of the command and the rollback.
      type Row = { principal: string; action: string; target: string; outcome: string; details: Record<string, unknown> };
      const rows = await until(
        'the rollback row in privileged_audit',
        async () => {
          const r = (await sink.pool.query<Row>(`SELECT principal, action, target, outcome, details FROM ${db.privilegedTable} WHERE target = $1 ORDER BY "offset"`, [version])).rows;
          return r.some((x) => x.action === 'model.lifecycle.rollback') ? r : undefined;
        },
        30_000,
      );
      expect(rows.map((r) => [r.action, r.principal])).toEqual([
        ['model.lifecycle.candidate', 'retrainer@test'],
        ['model.lifecycle.gate', 'retrainer@test'],
        ['model.lifecycle.stage', 'retrainer@test'],
        ['model.lifecycle.command', osPrincipal()],
        ['model.lifecycle.stage', 'controller@test'],
        ['model.lifecycle.rollback', 'controller@test'],
      ]);
      const audited = rows.at(-1)!;
      expect(audited.outcome).toBe('ok');
      expect(audited.details).toMatchObject({ automatic: true, stage: 'rolled-back', restored: 'bootstrap-v1', lifecycleEventId: rollback.id, failedCheck: { name: 'declineRate', passed: false, limit: 0.2 } });
      expect(String(audited.details.reason)).toMatch(/^live check declineRate failed in canary/);
      const sql = await sink.pool.query<{ reason: string }>(`SELECT details->>'reason' AS reason FROM ${db.privilegedTable} WHERE action = 'model.lifecycle.rollback' AND details->'failedCheck'->>'name' = 'declineRate' AND target = $1`, [version]);
      expect(sql.rows).toHaveLength(1);
      console.log(`privileged_audit: ${sql.rows[0]!.reason}`);
    } finally {
      ticking = false;
      await ticks;
      await controller.stop();
      await producer.disconnect();
      await app.close();
      await auditConsumer.stop();
      await sink.close();
      await db.drop();
    }
  });
});
