/**
 * The privileged-action audit trail end to end, on the real broker and PostgreSQL: a model release
 * (`riskloop release`), ops logins (refused and accepted) and a rule reload through the ops
 * server's HTTP API, a replay (`riskloop replay`), and schema registrations on the registry (an
 * admin's accepted, an anonymous one refused) each produce an event on the audit-events
 * topic; the audit consumer writes them into privileged_audit, one row each with principal, action,
 * target and outcome. Then, connected as the loop's role, UPDATE, DELETE and TRUNCATE of both audit
 * tables fail with permission errors, and the owner's UPDATE/DELETE are refused by the trigger.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { readAppConfig } from '../../bin/config.js';
import { releaseCommand } from '../../bin/commands/release.js';
import { replayCommand } from '../../bin/commands/replay.js';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { AuditLog, auditTopicName, cliPrincipal, ensureAuditTopic, osPrincipal } from '../../ops/auditEvents.js';
import { AuditConsumer, AuditSink } from '../../ops/auditSink.js';
import { DecisionMetrics } from '../../ops/decisionMetrics.js';
import { hashPassword, parseOpsAuthConfig } from '../../ops/opsAuth.js';
import { RuntimeMetricsBridge } from '../../ops/runtimeMetrics.js';
import { OpsServer } from '../../ops/server.js';
import { RuleSetHolder } from '../../processors/rules.js';
import { hashPassword as registryHash } from '../../registry/auth.js';
import { parseRegistryConfig, startRegistry } from '../../registry/index.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import { createKafkajsClient } from '../../topology/kafka/kafkajsClient.js';
import { testAppEnv } from '../support/appConfig.js';
import { createAuditSchema, LOOP_DB, OWNER_DB } from '../support/auditDb.js';
import { brokers, uniq } from '../support/env.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-paudit-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));
const logger = pino({ level: 'error' });

interface Row {
  principal: string;
  authenticated: boolean;
  source: string;
  from: string;
  action: string;
  target: string;
  outcome: string;
  details: Record<string, unknown>;
  topic: string;
  offset: string;
}

describe('privileged-action audit', () => {
  it('records releases, rule reloads, replays and logins in privileged_audit, which the loop role cannot alter', async () => {
    const id = uniq('paudit');
    const env = testAppEnv(id, stateRoot);
    const lines: string[] = [];
    const io = { out: (l: string) => void lines.push(l), err: (l: string) => void lines.push(l), env };
    const config = readAppConfig(env);
    await ensureTopics(config, io, { keepHistory: true });
    const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
    const serdes = await createSerdes(new SchemaRegistry({ host: config.schemaRegistryUrl }), catalogue);
    const topic = auditTopicName(config.topicPrefix);

    const db = await createAuditSchema('paudit');
    const sink = new AuditSink({ connectionString: LOOP_DB, table: db.decisionTable, privilegedTable: db.privilegedTable }, logger);
    await sink.init();
    const client = createKafkajsClient({ connection: config.kafka, clientId: `${id}-test`, logger });
    const admin = await client.admin();
    await ensureAuditTopic(admin, topic);
    await admin.disconnect();
    const consumer = new AuditConsumer({ connection: config.kafka, applicationId: id, catalogue, serdes, logger, auditTopic: topic }, sink);
    await consumer.start();
    const producer = await client.producer();

    const rulesPath = path.join(stateRoot, `${id}-rules.json`);
    writeFileSync(rulesPath, readFileSync('rules/ruleset.json'));
    const holder = await RuleSetHolder.fromFile(rulesPath);
    const registry = new Registry();
    const ops = OpsServer.create(
      {
        port: 0,
        auth: parseOpsAuthConfig({ users: [{ name: 'ops-admin', role: 'admin', password: await hashPassword('ops-admin-password') }], failureDelayMs: 0 }),
      },
      {
        registry,
        bridge: new RuntimeMetricsBridge(registry, () => []),
        decisions: new DecisionMetrics(registry, () => []),
        streams: {},
        logger,
        rules: { holder, path: rulesPath },
        audit: new AuditLog(producer, topic, { principal: osPrincipal(), authenticated: false, source: 'ops' }),
      },
    );
    const { port } = await ops.start();
    const base = `http://127.0.0.1:${port}`;
    try {
      // 1. A model release through the CLI command.
      expect(await releaseCommand(['--card', 'models/bootstrap-v1.card.json', '--mode', 'shadow'], io)).toBe(0);

      // 2. Logins (one refused, one accepted) and a rule reload through the ops HTTP API.
      const login = (password: string) =>
        fetch(`${base}/login`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: 'ops-admin', password }).toString() });
      expect((await login('wrong-password-1')).status).toBe(401);
      const ok = await login('ops-admin-password');
      expect(ok.status).toBe(303);
      const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
      const file = JSON.parse(readFileSync(rulesPath, 'utf8')) as { version: string };
      writeFileSync(rulesPath, JSON.stringify({ ...file, version: '2099-01-02.1' }));
      const reload = await fetch(`${base}/api/rules/reload`, { method: 'POST', headers: { cookie } });
      expect(reload.status).toBe(200);
      expect(holder.current().version).toBe('2099-01-02.1');

      // 3. A replay of an (empty) range through the CLI command.
      const replayId = `r${Date.now().toString(36)}`;
      expect(await replayCommand(['--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z', '--id', replayId], io)).toBe(0);

      // 4. Schema registrations on the registry, which writes to the same topic: an admin's, and
      //    an anonymous attempt (refused with 401).
      const registryUsers = path.join(stateRoot, `${id}-registry-users.json`);
      writeFileSync(registryUsers, JSON.stringify({ users: [{ name: 'schema-admin', role: 'admin', password: await registryHash('schema-admin-password') }] }));
      const schemaRegistry = await startRegistry(parseRegistryConfig({ brokers: brokers(), port: 0, topic: `_schemas-${id}`, auditTopic: topic, usersFile: registryUsers, logLevel: 'silent' }));
      const subject = `${id}-value`;
      try {
        const register = (headers: Record<string, string>) =>
          fetch(`${schemaRegistry.url}/subjects/${subject}/versions`, {
            method: 'POST',
            headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', ...headers },
            body: JSON.stringify({ schema: JSON.stringify({ type: 'record', name: 'Audited', fields: [{ name: 'a', type: 'string' }] }) }),
          });
        expect((await register({})).status).toBe(401);
        expect((await register({ authorization: `Basic ${Buffer.from('schema-admin:schema-admin-password').toString('base64')}` })).status).toBe(200);
      } finally {
        await schemaRegistry.close();
      }

      // One row per action, from the topic, with who/what/outcome.
      const expected = [
        ['model.release', 'bootstrap-v1', 'ok'],
        ['ops.login', 'ops-server', 'denied'],
        ['ops.login', 'ops-server', 'ok'],
        ['ruleset.reload', '2099-01-02.1', 'ok'],
        ['replay.start', replayId, 'ok'],
        ['replay.finish', replayId, 'ok'],
        ['schema.register', subject, 'denied'],
        ['schema.register', subject, 'ok'],
      ];
      const deadline = Date.now() + 60_000;
      let rows: Row[] = [];
      while (Date.now() < deadline) {
        rows = (await sink.pool.query<Row>(`SELECT principal, authenticated, source, "from", action, target, outcome, details, topic, "offset"::text FROM ${db.privilegedTable} ORDER BY "offset"`)).rows;
        if (rows.length >= expected.length) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(rows.map((r) => [r.action, r.target, r.outcome])).toEqual(expected);
      const cli = cliPrincipal(config.kafka);
      const byAction = (a: string, outcome = 'ok') => rows.find((r) => r.action === a && r.outcome === outcome)!;
      expect(byAction('model.release')).toMatchObject({ principal: cli.principal, authenticated: cli.authenticated, source: 'cli', topic });
      expect(byAction('model.release').details).toMatchObject({ mode: 'shadow', releasedBy: cli.principal, topic: catalogue.modelReleases.name });
      expect(byAction('ops.login', 'denied')).toMatchObject({ principal: 'ops-admin', authenticated: false, source: 'ops' });
      expect(byAction('ops.login')).toMatchObject({ principal: 'ops-admin', authenticated: true, source: 'ops' });
      expect(byAction('ruleset.reload')).toMatchObject({ principal: 'ops-admin', authenticated: true, source: 'ops' });
      expect(byAction('ruleset.reload').details).toMatchObject({ version: '2099-01-02.1', previousVersion: file.version, path: rulesPath });
      expect(byAction('ops.login').from).toMatch(/127\.0\.0\.1/);
      expect(byAction('replay.start')).toMatchObject({ principal: cli.principal, source: 'cli' });
      expect(byAction('replay.start').details).toMatchObject({ applicationId: `${id}-replay-${replayId}` });
      expect(byAction('schema.register')).toMatchObject({ principal: 'schema-admin', authenticated: true, source: 'registry' });
      expect(byAction('schema.register', 'denied')).toMatchObject({ authenticated: false, source: 'registry' });
      // Nothing secret in the trail.
      const all = JSON.stringify(rows);
      for (const s of ['ops-admin-password', 'wrong-password-1', 'schema-admin-password']) expect(all).not.toContain(s);

      // A redelivery inserts nothing (idempotent on the event id).
      const again = await sink.pool.query(`SELECT count(*)::int AS n FROM ${db.privilegedTable}`);
      expect(again.rows[0].n).toBe(expected.length);

      // Append-only: the loop's role may not change or remove a row of either table.
      const loop = new pg.Client({ connectionString: LOOP_DB });
      await loop.connect();
      try {
        for (const table of [db.privilegedTable, db.decisionTable]) {
          for (const sql of [`UPDATE ${table} SET recorded_at = now()`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
            await expect(loop.query(sql), sql).rejects.toMatchObject({ code: '42501', message: expect.stringMatching(/permission denied for table/) });
          }
        }
      } finally {
        await loop.end();
      }
      // Not even the owner changes a row without a DDL change first: the trigger refuses.
      const owner = new pg.Client({ connectionString: OWNER_DB });
      await owner.connect();
      try {
        for (const sql of [`UPDATE ${db.privilegedTable} SET outcome = 'ok'`, `DELETE FROM ${db.privilegedTable}`, `TRUNCATE ${db.privilegedTable}`]) {
          await expect(owner.query(sql), sql).rejects.toMatchObject({ message: expect.stringMatching(/append-only/) });
        }
      } finally {
        await owner.end();
      }
      const after = await sink.pool.query(`SELECT count(*)::int AS n FROM ${db.privilegedTable}`);
      expect(after.rows[0].n).toBe(expected.length);
    } finally {
      await ops.close();
      await producer.disconnect();
      await consumer.stop();
      await sink.close();
      await db.drop();
    }
  }, 240_000);
});
