/**
 * Hot model rollout on the real broker: a release on the model-releases topic switches the running
 * loop to the new model between records — decisions before carry the old version, after it the new
 * one, none lost or decided twice — and a corrupt release is refused while the old model decides.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { testAppConfig } from '../support/appConfig.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { publishRelease, releaseFromCard } from '../../bin/modelRelease.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import type { Decision } from '../../schemas/types.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { brokers, uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { loopData } from '../support/loopData.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-release-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const logger = pino({ level: 'error' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('model releases', () => {
  it('switch the running loop atomically, lose nothing, and refuse a corrupt release', async () => {
    const id = uniq('release');
    const c = testAppConfig(id, stateRoot, { LOG_LEVEL: 'error' });
    await ensureTopics(c, { out: () => undefined, err: console.error, env: process.env }, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const N = 6000;
    const data = loopData(new Tokenizer(c.tokenizer), { accounts: 300, transactions: N, invalidEvery: 0, chargebacks: 0, unknownChargebacks: 0 });
    const txns = data.transactions.map((r) => ({ key: r.key, value: serdes.transactions.serialize(r.value), timestamp: String(r.value.eventTime) }));
    const client = createKafkajsClient({ connection: c.kafka, clientId: 'release-test', logger });
    const producer = await client.producer();
    const app = await buildRiskLoopApp(c, logger);
    await app.streams.start();
    try {
      await app.streams.waitForRunning(60_000);
      // Traffic flows while the release lands.
      const third = N / 3;
      await produce(brokers(), catalogue.transactions.name, txns.slice(0, third));
      await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= third, timeoutMs: 60_000 });
      const feeding = (async () => {
        for (let i = third; i < 2 * third; i += 250) {
          await produce(brokers(), catalogue.transactions.name, txns.slice(i, i + 250));
          await sleep(50);
        }
      })();
      // Same artifact under a new version: what changes is which version decides.
      const v2 = { ...(await releaseFromCard('models/bootstrap-v1.card.json', 'champion')), version: 'bootstrap-v1-r2' };
      await sleep(300);
      await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, v2);
      await feeding;
      for (let i = 0; i < 100 && app.models.current().champion?.version !== 'bootstrap-v1-r2'; i++) await sleep(100);
      expect(app.models.current().champion?.version).toBe('bootstrap-v1-r2');

      // A release whose bytes do not match its checksum.
      const corrupt = { ...(await releaseFromCard('models/bootstrap-v1.card.json', 'champion')), version: 'bad-v3', sha256: '0'.repeat(64) };
      await publishRelease(producer, serdes.modelReleases, catalogue.modelReleases.name, corrupt);
      await sleep(1500);
      await produce(brokers(), catalogue.transactions.name, txns.slice(2 * third));

      const out = await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= N, timeoutMs: 120_000 });
      const settled = await readTopic(brokers(), catalogue.decisions.name, { idleMs: 2000, timeoutMs: 20_000 });
      const records = settled.length >= out.length ? settled : out;
      await serdes.decisions.prefetch?.(records.map((r) => r.value!));
      const decisions = records.map((r) => ({ partition: r.partition, offset: r.offset, d: serdes.decisions.deserialize(r.value!) as Decision }));
      const ids = decisions.map((x) => x.d.transactionId);
      expect(ids).toHaveLength(N);
      expect(new Set(ids).size).toBe(N);
      const versions = new Set(decisions.map((x) => x.d.modelVersion));
      expect(versions).toEqual(new Set(['bootstrap-v1', 'bootstrap-v1-r2']));
      // Per partition, in output order: once the new version decides, the old one never does again.
      for (let p = 0; p < c.partitions; p++) {
        const seq = decisions.filter((x) => x.partition === p).sort((a, b) => a.offset - b.offset).map((x) => x.d.modelVersion);
        const firstNew = seq.indexOf('bootstrap-v1-r2');
        if (firstNew >= 0) expect(seq.slice(firstNew).every((v) => v === 'bootstrap-v1-r2')).toBe(true);
      }
      // Everything produced after the corrupt release was decided by the model that stayed.
      const last = new Set(data.transactions.slice(2 * third).map((t) => t.value.transactionId));
      expect(decisions.filter((x) => last.has(x.d.transactionId)).every((x) => x.d.modelVersion === 'bootstrap-v1-r2')).toBe(true);
      expect(app.models.current().champion?.version).toBe('bootstrap-v1-r2');
    } finally {
      await producer.disconnect();
      await app.close();
    }
  });
});
