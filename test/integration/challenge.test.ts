/**
 * Step-up on the real broker and registry (issue 20.2): the decisions topic already has the schema
 * an old consumer was built with (no CHALLENGE) under FULL compatibility; the loop starts, registers
 * the evolved schema (the registry must accept it), challenges a large online payment, and a FAILED
 * challenge result published on the challenge-results topic becomes a fraud training example with
 * label source CHALLENGE; the gateway reports that result over HTTP (curl → POST
 * /v1/challenge-results of the decision API). The old consumer is Python confluent-kafka with the previous schema as
 * its reader schema (test/outside/consume_old_schema.py): it still reads every decision, CHALLENGE
 * as the enum default REVIEW.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseApiConfig } from '../../api/config.js';
import { startDecisionApi } from '../../api/server.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { SCHEMAS } from '../../schemas/index.js';
import type { Decision, TrainingExample } from '../../schemas/types.js';
import { testAppConfig } from '../support/appConfig.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { outsidePython, runOutsideScript } from '../support/outsideClient.js';
import { TEST_TOKENIZER_CONFIG, testTransaction } from '../support/riskLoopFixture.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-challenge-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };

/** The Decision schema before CHALLENGE: the current one without the symbol. */
const previousDecisionSchema = JSON.stringify(SCHEMAS.Decision).replace(/"DECLINE","CHALLENGE"/g, '"DECLINE"');

async function registry(method: string, urlPath: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${schemaRegistryUrl()}${urlPath}`, {
    method,
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // `any`: registry answers differ per endpoint; each use names the field it reads.
  return { status: res.status, json: (await res.json()) as any };
}

describe('step-up on the real broker', () => {
  it('challenges, turns a failed challenge into a fraud label, and old consumers still read the decisions', { timeout: 240_000 }, async () => {
    const python = outsidePython();
    const id = uniq('challenge');
    const c = testAppConfig(id, stateRoot, { RISKLOOP_GUARANTEE: 'at_least_once' });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const subject = `${catalogue.decisions.name}-value`;

    // The topic's history before the change: the old schema, and FULL compatibility (old readers must read new data).
    expect((await registry('PUT', `/config/${subject}`, { compatibility: 'FULL' })).status).toBe(200);
    const v1 = await registry('POST', `/subjects/${subject}/versions`, { schema: previousDecisionSchema });
    expect(v1.status, JSON.stringify(v1.json)).toBe(200);
    const check = await registry('POST', `/compatibility/subjects/${subject}/versions/latest?verbose=true`, { schema: JSON.stringify(SCHEMAS.Decision) });
    expect(check.json).toMatchObject({ is_compatible: true });

    await ensureTopics(c, io, { keepHistory: true });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const tokenizer = new Tokenizer(c.tokenizer);
    const account = tokenizer.accountToken('ACC-STEP-UP');
    const now = Date.now();
    const payments = [
      testTransaction({ transactionId: `${id}-big`, eventTime: now - 5_000, accountId: 'ACC-STEP-UP', amountMinor: 250_000, channel: 'ECOM', cardPresent: false, terminalId: null, lat: null, lon: null }),
      testTransaction({ transactionId: `${id}-small`, eventTime: now - 4_000, accountId: 'ACC-STEP-UP' }),
    ];

    const app = await buildRiskLoopApp(c, pino({ level: 'warn' }));
    await app.streams.start();
    try {
      await produce(brokers(), catalogue.transactions.name, payments.map((t) => ({ key: account, value: serdes.transactions.serialize(t) })));
      const decided = await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= 2, timeoutMs: 90_000 });
      const decisions = decided.map((r) => serdes.decisions.deserialize(r.value!) as Decision);
      const big = decisions.find((d) => d.transactionId === `${id}-big`)!;
      expect(big.decision).toBe('CHALLENGE');
      expect(big.reasonCodes).toContain('STEP_UP_LARGE_AMOUNT');
      expect(decisions.find((d) => d.transactionId === `${id}-small`)!.decision).not.toBe('CHALLENGE');

      // The registry now holds the evolved schema as version 2 of the subject, accepted under FULL.
      expect((await registry('GET', `/subjects/${subject}/versions`)).json).toEqual([1, 2]);

      // The gateway reports the failed 3-D Secure through the decision API, with curl as its HTTP client.
      const token = 'gateway-token-0123456789abcdef01234567';
      const api = await startDecisionApi(
        parseApiConfig({ port: 0, keys: JSON.stringify([{ id: 'gateway', token }]) }),
        { brokers: brokers(), schemaRegistryUrl: schemaRegistryUrl(), topicPrefix: c.topicPrefix, accountTokenKey: TEST_TOKENIZER_CONFIG.accountTokenKey, clientId: 'challenge-test' },
        { logger: pino({ level: 'silent' }) },
      );
      try {
        // Asynchronously: the API server answers on this process's event loop.
        const curl = async (body: object): Promise<string[]> => {
          const args = ['-sS', '--max-time', '30', '-w', '\n%{http_code}', '-H', `Authorization: Bearer ${token}`, '-H', 'content-type: application/json', '--data-binary', JSON.stringify(body), `${api.url}/v1/challenge-results`];
          return (await promisify(execFile)('curl', args, { encoding: 'utf8' })).stdout.split('\n');
        };
        const [badBody, badStatus] = await curl({ transactionId: `${id}-big`, accountId: 'ACC-STEP-UP', result: 'MAYBE' });
        expect([badStatus, JSON.parse(badBody!).error]).toEqual(['400', 'INVALID_REQUEST']);
        const [okBody, okStatus] = await curl({ transactionId: `${id}-big`, accountId: 'ACC-STEP-UP', result: 'FAILED', method: 'THREE_DS', completedAt: now });
        expect(okStatus).toBe('202');
        expect(JSON.parse(okBody!)).toMatchObject({ transactionId: `${id}-big`, offset: 0 });
      } finally {
        await api.close();
      }
      const examples = (await readTopic(brokers(), catalogue.trainingExamples.name, { done: (r) => r.length >= 1, timeoutMs: 90_000 })).map(
        (r) => serdes.trainingExamples.deserialize(r.value!) as TrainingExample,
      );
      expect(examples.map((e) => [e.transactionId, e.label, e.labelSource, e.decision, e.labeledAt])).toEqual([[`${id}-big`, 1, 'CHALLENGE', 'CHALLENGE', now]]);

      const old = await runOutsideScript<{ records: { transactionId: string; decision: string; fields: string[] }[] }>(python, 'consume_old_schema.py', {
        bootstrap: brokers().join(','),
        registry: schemaRegistryUrl(),
        topic: catalogue.decisions.name,
        reader_schema: previousDecisionSchema,
        expect: 2,
        timeout_s: 60,
      });
      const byId = new Map(old.records.map((r) => [r.transactionId, r.decision]));
      expect(byId.get(`${id}-big`)).toBe('REVIEW');
      expect(byId.get(`${id}-small`)).toBe(decisions.find((d) => d.transactionId === `${id}-small`)!.decision);
    } finally {
      await app.close();
    }
  });
});
