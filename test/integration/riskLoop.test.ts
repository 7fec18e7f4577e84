/**
 * The risk loop on the real broker and registry, under exactly_once: 50k transactions with KYC,
 * device signals and chargebacks give one decision per valid transaction, one dead letter per
 * invalid one (with its reason), and one training example per chargeback of a decided
 * transaction. Then a replay of a range, twice, gives identical decisions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppConfig } from '../../bin/config.js';
import { testAppConfig } from '../support/appConfig.js';
import { replayRange } from '../../bin/replay.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes, type TopicSerdes } from '../../schemas/createSerdes.js';
import { avroType } from '../../schemas/load.js';
import type { Decision, DeadLetter, TrainingExample } from '../../schemas/types.js';
import { brokers, uniq } from '../support/env.js';
import { produce, readTopic, type ReadRecord } from '../support/kafkaIo.js';
import { loopData } from '../support/loopData.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-loop-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };
// Ingress logs each rejected record at warn; this test rejects hundreds on purpose.
const logger = pino({ level: 'error' });

function config(id: string): AppConfig {
  return testAppConfig(id, stateRoot);
}

async function decode<T>(serde: TopicSerdes[keyof TopicSerdes], records: ReadRecord[]): Promise<T[]> {
  const values = records.map((r) => r.value!);
  await serde.prefetch?.(values);
  return values.map((v) => serde.deserialize(v) as T);
}

/** The decision with its wall-clock fields zeroed, as Avro bytes: what a replay must reproduce. */
function stable(d: Decision): string {
  return avroType('Decision').toBuffer({ ...d, decidedAt: 0, pipelineLatencyMs: 0 }).toString('base64');
}

describe('risk loop on the real broker', () => {
  const id = uniq('loop');
  const cfg = () => config(id);
  const N = 50_000;

  it(`decides ${N} transactions exactly once, dead-letters invalid ones, and writes training examples (exactly_once)`, async () => {
    const c = cfg();
    await ensureTopics(c, io, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const data = loopData(new Tokenizer(c.tokenizer), { accounts: 2000, transactions: N, invalidEvery: 100, chargebacks: 300, unknownChargebacks: 20 });
    const enc = <T>(serde: { serialize(v: T, topic?: string): Buffer }, topic: string, rows: { key: string; value: T }[], ts: (v: T) => number) =>
      rows.map((r) => ({ key: r.key, value: serde.serialize(r.value, topic), timestamp: String(ts(r.value)) }));
    await produce(brokers(), catalogue.kyc.name, enc(serdes.kyc, catalogue.kyc.name, data.kyc, (v) => v.updatedAt));
    await produce(brokers(), catalogue.deviceSignals.name, enc(serdes.deviceSignals, catalogue.deviceSignals.name, data.devices, (v) => v.eventTime));

    const app = await buildRiskLoopApp(c, logger);
    await app.streams.start();
    try {
      await produce(brokers(), catalogue.transactions.name, enc(serdes.transactions, catalogue.transactions.name, data.transactions, (v) => v.eventTime), 5000);
      const decisionRecords = await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= data.validIds.size, timeoutMs: 170_000 });
      // Chargebacks come after their transactions were decided, as in life (weeks later).
      await produce(brokers(), catalogue.chargebacks.name, enc(serdes.chargebacks, catalogue.chargebacks.name, data.chargebacks, (v) => v.reportedAt));
      const expectedLetters = data.invalid.size + data.unknownChargebacks;
      const letterRecords = await readTopic(brokers(), catalogue.deadLetters.name, { done: (r) => r.length >= expectedLetters, timeoutMs: 90_000 });
      const trainingRecords = await readTopic(brokers(), catalogue.trainingExamples.name, { done: (r) => r.length >= 300, timeoutMs: 90_000 });
      // Let anything extra (a duplicate would be a bug) arrive before counting.
      const settled = await readTopic(brokers(), catalogue.decisions.name, { idleMs: 3000, timeoutMs: 30_000 });

      const decisions = await decode<Decision>(serdes.decisions, settled.length >= decisionRecords.length ? settled : decisionRecords);
      const ids = decisions.map((d) => d.transactionId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(new Set(ids)).toEqual(data.validIds);
      expect(decisions.every((d) => d.modelVersion === 'bootstrap-v1' && d.score !== null)).toBe(true);
      const byType = { APPROVE: 0, REVIEW: 0, DECLINE: 0, CHALLENGE: 0 };
      for (const d of decisions) byType[d.decision]++;
      console.log(`loop: ${decisions.length} decisions ${JSON.stringify(byType)}, p50 pipeline ${decisions.map((d) => d.pipelineLatencyMs).sort((a, b) => a - b)[decisions.length >> 1]} ms`);

      const letters = await decode<DeadLetter>(serdes.deadLetters, letterRecords);
      expect(letters).toHaveLength(expectedLetters);
      const reasons = new Map<string, number>();
      for (const l of letters) reasons.set(l.reason, (reasons.get(l.reason) ?? 0) + 1);
      const expectedReasons = new Map<string, number>([['UNKNOWN_TRANSACTION', data.unknownChargebacks]]);
      for (const r of data.invalid.values()) expectedReasons.set(r, (expectedReasons.get(r) ?? 0) + 1);
      expect(reasons).toEqual(expectedReasons);
      // No PAN in clear in any dead letter.
      for (const l of letters) expect(/4111111\d{9}/.test(l.value?.toString('latin1') ?? '')).toBe(false);

      const examples = await decode<TrainingExample>(serdes.trainingExamples, trainingRecords);
      expect(examples).toHaveLength(300);
      const decided = new Map(decisions.map((d) => [d.transactionId, d]));
      for (const e of examples) {
        expect(e.label).toBe(1);
        expect(e.labelSource).toBe('CHARGEBACK');
        // Point in time: the features are the decision's snapshot, bit for bit.
        expect(e.features).toEqual(decided.get(e.transactionId)!.features);
      }
    } finally {
      await app.close();
    }
  });

  it('replays a range twice into fresh application ids with identical decisions', async () => {
    const c = cfg();
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue, { register: false });
    const from = Date.UTC(2026, 9, 1);
    const to = from + 2 * 86_400_000; // the first 2 of 10 days: ~10k transactions
    const runs: Map<string, string>[] = [];
    for (const replayId of ['a', 'b']) {
      const result = await replayRange(c, { fromMs: from, toMs: to, replayId }, logger, io);
      console.log(`replay ${replayId}: ${JSON.stringify(result)}`);
      const out = await readTopic(brokers(), `${result.topicPrefix}decisions`, { idleMs: 3000, timeoutMs: 60_000 });
      const decisions = await decode<Decision>(serdes.decisions, out);
      runs.push(new Map(decisions.map((d) => [d.transactionId, stable(d)])));
      expect(result.copied.transactions).toBeGreaterThan(9000);
      expect(decisions.length).toBe(new Set(decisions.map((d) => d.transactionId)).size);
    }
    expect(runs[0]!.size).toBeGreaterThan(9000);
    expect(runs[1]).toEqual(runs[0]);
  });
});
