/**
 * Sanctions screening in the running loop (`riskloop run` builds it with buildRiskLoopApp): with
 * RISKLOOP_SANCTIONS_LIST_FILE pointing at the shipped sample OFAC list, a KYC record whose holder
 * name is a transliterated, reordered variant of a listed person makes that account's next payment
 * a DECLINE with the screening reason code, a screening hit appears on the screening-hits topic,
 * and the holder name is in no topic the loop wrote (the kyc input topic itself excepted).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { buildRiskLoopApp } from '../../bin/riskLoopApp.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import type { Decision, KycRecord } from '../../schemas/types.js';
import { testAppConfig } from '../support/appConfig.js';
import { brokers, uniq } from '../support/env.js';
import { produce, readTopic } from '../support/kafkaIo.js';
import { testTransaction } from '../support/riskLoopFixture.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-screening-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const io = { out: () => undefined, err: (l: string) => console.error(l), env: process.env };

// Listed (fictional) as "PETROV, Ivan Sergeyevich" in screening/lists/sample-ofac-sdn.csv.
const HOLDER = 'Иван Сергеевич Петров';

describe('sanctions screening in the running loop', () => {
  it('declines the payments of a listed holder, publishes the hit, and keeps the name out of the topics', { timeout: 180_000 }, async () => {
    const id = uniq('screening');
    const c = testAppConfig(id, stateRoot, { RISKLOOP_GUARANTEE: 'at_least_once', RISKLOOP_SANCTIONS_LIST_FILE: 'screening/lists/sample-ofac-sdn.csv' });
    await ensureTopics(c, io, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: c.topicPrefix, partitions: c.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: c.schemaRegistryUrl }), catalogue);
    const tokenizer = new Tokenizer(c.tokenizer);
    const now = Date.now();
    const kyc = (accountId: string, holderName: string): KycRecord => ({
      accountToken: tokenizer.accountToken(accountId),
      entityType: 'PERSON',
      status: 'VERIFIED',
      riskTier: 'LOW',
      accountOpenedAt: now - 400 * 86_400_000,
      pep: false,
      sanctioned: false,
      watchlistHits: 0,
      country: 'DE',
      updatedAt: now - 60_000,
      holderName,
    });
    const listed = kyc('ACC-LISTED', HOLDER);
    const clean = kyc('ACC-CLEAN', 'Johanna Beispielfrau');

    const app = await buildRiskLoopApp(c, pino({ level: 'warn' }));
    await app.streams.start();
    try {
      await produce(brokers(), catalogue.kyc.name, [listed, clean].map((k) => ({ key: k.accountToken, value: serdes.kyc.serialize(k) })));
      // The hit on its topic says the KYC rows were processed: payments after it see them (stream-table join).
      const hits = await readTopic(brokers(), catalogue.screeningHits.name, { done: (r) => r.length >= 1, timeoutMs: 90_000 });
      expect(hits.length).toBeGreaterThanOrEqual(1);
      const hit = serdes.screeningHits.deserialize(hits[0]!.value!) as { accountToken: string };
      expect(hit.accountToken).toBe(listed.accountToken);
      // What /metrics exports (riskloop_screening_events_total): two names screened, one hit.
      expect(app.counters.screening).toMatchObject({ screened: 2, hits: 1 });
      await new Promise((r) => setTimeout(r, 1000));
      const payments = [
        testTransaction({ transactionId: `${id}-listed`, eventTime: now - 5_000, accountId: 'ACC-LISTED' }),
        testTransaction({ transactionId: `${id}-clean`, eventTime: now - 4_000, accountId: 'ACC-CLEAN' }),
      ];
      await produce(brokers(), catalogue.transactions.name, payments.map((t) => ({ key: tokenizer.accountToken(t.accountId), value: serdes.transactions.serialize(t) })));
      const decisions = (await readTopic(brokers(), catalogue.decisions.name, { done: (r) => r.length >= 2, timeoutMs: 90_000 })).map((r) => serdes.decisions.deserialize(r.value!) as Decision);
      const byId = new Map(decisions.map((d) => [d.transactionId, d]));
      expect(byId.get(`${id}-listed`)?.decision).toBe('DECLINE');
      expect(byId.get(`${id}-listed`)?.reasonCodes.some((r) => r.startsWith('SANCTIONS_SCREENING'))).toBe(true);
      expect(byId.get(`${id}-clean`)?.reasonCodes.some((r) => r.startsWith('SANCTIONS_SCREENING'))).toBe(false);

      // The holder's name in no topic the loop wrote: neither as given nor transliterated (any-ascii
      // gives "Sergeevich", the list spells "Sergeyevich"). A hit names the matched list entry, which
      // is public list data, so the listed spelling may appear there and only there.
      const holderForms = ['Петров', 'Сергеевич', 'Sergeevich', 'SERGEEVICH'];
      for (const topic of [catalogue.decisions, catalogue.screeningHits, catalogue.deadLetters].map((t) => t.name)) {
        const listedMayAppear = topic === catalogue.screeningHits.name;
        for (const r of await readTopic(brokers(), topic, { idleMs: 1500, readUncommitted: true })) {
          for (const needle of [...holderForms, ...(listedMayAppear ? [] : ['Petrov', 'PETROV'])]) expect(r.value?.includes(Buffer.from(needle)), `${needle} in ${topic}`).toBe(false);
        }
      }
    } finally {
      await app.close();
    }
  });
});
