/**
 * riskloop's schema registry as Confluent's own client sees it: the Python SchemaRegistryClient of
 * confluent-kafka (test/outside/registry_contract.py, venv from test/outside/setup.sh) calls each
 * endpoint the way it does for Confluent's registry, with basic auth (`basic.auth.user.info`), against
 * a registry started here on the real broker with a users file (admin, writer, reader) and its own
 * schemas and audit topics. Then the audit topic is read back: one event per write, per denied and
 * per failed attempt, with the principal and no secret.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../ops/auditEvents.js';
import { hashPassword } from '../../registry/auth.js';
import { parseRegistryConfig, type RunningRegistry, startRegistry } from '../../registry/index.js';
import { createRegistryClient, registryClientFromEnv } from '../../schemas/registryClient.js';
import { brokers, uniq } from '../support/env.js';
import { outsidePython, runOutsideScript } from '../support/outsideClient.js';

// `any`: the script's answers are whatever the client returned; each assertion names its shape.
function runContract(python: string, job: object): Promise<Record<string, any>> {
  return runOutsideScript<Record<string, any>>(python, 'registry_contract.py', job);
}

async function readAudit(topic: string, atLeast: number): Promise<{ events: AuditEvent[]; raw: string }> {
  const kafka = new Kafka({ clientId: 'registry-confluent-test', brokers: brokers(), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniq('registry-audit-reader') });
  const events: AuditEvent[] = [];
  let raw = '';
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const text = message.value?.toString('utf8') ?? '';
      raw += text;
      const e = JSON.parse(text) as AuditEvent;
      expect(message.key?.toString()).toBe(e.id);
      events.push(e);
    },
  });
  const deadline = Date.now() + 30_000;
  // Waits a little past `atLeast` so that an event too many would be seen too.
  while (events.length < atLeast && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 1_000));
  await consumer.disconnect();
  return { events, raw };
}

describe('schema registry with Confluent’s Python client (basic auth, roles, audit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'registry-confluent-'));
  const password = () => randomBytes(18).toString('base64url');
  const users = { admin: password(), writer: password(), reader: password() };
  const topic = uniq('_schemas-confluent');
  const auditTopic = uniq('audit-registry');
  const prefix = uniq('contract');
  let registry: RunningRegistry;
  let result: Record<string, any>;
  let registryLog = '';

  beforeAll(async () => {
    const usersFile = join(dir, 'users.json');
    writeFileSync(
      usersFile,
      JSON.stringify({
        users: [
          { name: 'admin', role: 'admin', password: await hashPassword(users.admin) },
          { name: 'writer', role: 'write', password: await hashPassword(users.writer) },
          { name: 'reader', role: 'read', password: await hashPassword(users.reader) },
        ],
      }),
    );
    const logger = pino({ level: 'debug' }, { write: (line: string) => void (registryLog += line) });
    registry = await startRegistry(parseRegistryConfig({ brokers: brokers(), port: 0, topic, auditTopic, usersFile }), { logger });
    result = await runContract(outsidePython(), {
      url: registry.url,
      admin: `admin:${users.admin}`,
      writer: `writer:${users.writer}`,
      reader: `reader:${users.reader}`,
      prefix,
      avsc: 'schemas/Transaction.avsc',
    });
  }, 600_000);

  afterAll(async () => {
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tx = () => `${prefix}.transactions-value`;
  const other = () => `${prefix}.other-value`;
  const err = (status: number, code: number) => ({ error: expect.objectContaining({ status, code }) });

  it('gives Transaction.avsc in Java’s attribute order, reversed, or normalized the existing id and version', () => {
    expect(result.java_differs_from_repo).toBe(true);
    const id = result.register_repo;
    expect(id).toBeGreaterThan(0);
    expect(result.register_java).toBe(id);
    expect(result.register_reversed).toBe(id);
    expect(result.register_java_normalized).toBe(id);
    expect(result.versions_tx).toEqual([1]);
    expect(result.lookup_java).toEqual({ id, version: 1, subject: tx() });
    expect(result.lookup_java_normalized).toEqual({ id, version: 1 });
    expect(result.get_schema_by_id).toBe('Transaction');
    expect(result.get_latest).toEqual({ id, version: 1 });
    expect(result.get_latest_with_metadata_none).toEqual({ id, version: 1 });
    expect(result.get_latest_with_metadata_owner).toEqual(err(404, 40403));
  });

  it('lists subjects and schemas by prefix, pages them, and serves contexts, ids and GUIDs', () => {
    expect(result.subjects_prefix).toEqual([other(), tx()]);
    expect(result.subjects_prefix_none).toEqual([]);
    expect(result.subjects_prefix_paged).toEqual([tx()]);
    expect(result.schemas_prefix.status).toBe(200);
    const listed = result.schemas_prefix.body as { subject: string; version: number; id: number; schema: string; guid: string }[];
    expect(listed.map((s) => [s.subject, s.version])).toEqual([[other(), 1], [tx(), 1]]);
    expect(listed[0]!.guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(result.schema_by_guid).toBe('Payment');
    expect(result.ids_by_guid.body).toEqual([{ context: '.', id: listed[0]!.id }]);
    expect(result.schema_by_id_raw.body.guid).toBe(listed[1]!.guid);
    expect(result.schema_by_unknown_guid).toMatchObject({ status: 404, body: { error_code: 40403 } });
    expect(result.contexts).toEqual(['.']);
    expect(JSON.parse(result.schema_by_id_raw.body.schema).name).toBe('Transaction');
    expect(result.schema_versions_of_id).toEqual([{ subject: tx(), version: 1 }]);
    expect(result.subjects_of_id).toEqual([tx()]);
  });

  it('serves compatibility config and tests, and refuses an incompatible schema with 409', () => {
    expect(result.set_compat_subject).toEqual({ compatibility: 'FULL' });
    expect(result.get_compat_subject).toBe('FULL');
    expect(result.test_compat_v2).toBe(true);
    expect(result.test_compat_breaking).toBe(false);
    expect(result.register_breaking).toEqual(err(409, 40901));
    expect(result.register_v2).toBeGreaterThan(result.register_other);
    // The v2 latestOnly listing happened before v2: one version, the first.
    expect(result.schemas_latest_only.body.map((s: { version: number }) => s.version)).toEqual([1]);
    expect(result.versions_other).toEqual([1, 2]);
  });

  it('answers modes as Confluent documents them; READONLY refuses writes with 42205', () => {
    expect(result.global_mode).toBe('READWRITE');
    expect(result.subject_mode_unset).toEqual(err(404, 40409));
    expect(result.set_subject_mode_readonly).toBe('READONLY');
    expect(result.subject_mode_readonly).toBe('READONLY');
    expect(result.register_in_readonly).toEqual(err(422, 42205));
    expect(result.delete_in_readonly).toEqual(err(422, 42205));
    expect(result.set_compat_in_readonly).toEqual(err(422, 42205));
    expect(result.set_subject_mode_bogus).toEqual(err(422, 42204));
    expect(result.delete_subject_mode).toBe('READONLY');
    expect(result.subject_mode_after_delete).toEqual(err(404, 40409));
    // Confluent's ModeResource: deleting a mode that is not set is 40401.
    expect(result.delete_subject_mode_again).toEqual(err(404, 40401));
  });

  it('IMPORT mode: only for an empty subject, keeps the given id and version, refuses an id taken by another schema', () => {
    expect(result.register_with_id_readwrite).toMatchObject({ status: 422, body: { error_code: 42205 } });
    expect(result.set_import_nonempty).toEqual(err(422, 42205));
    expect(result.set_import_empty).toBe('IMPORT');
    expect(result.import_register).toMatchObject({ status: 200, body: { id: 900001 } });
    expect(result.import_without_id).toMatchObject({ status: 422, body: { error_code: 42205, message: expect.stringContaining('not in read-write mode') } });
    expect(result.import_conflicting_id).toMatchObject({ status: 422, body: { error_code: 42207 } });
    expect(result.import_versions).toEqual([3]);
    expect(result.import_by_id).toBe('Payment');
    expect(result.import_back_to_readwrite).toBe('READWRITE');
    // Ids handed out after an import stay above the imported one.
    expect(result.register_after_import).toBeGreaterThan(900001);
  });

  it('lets the read role read and refuses writes: 403 for users lacking the role, 401 without valid credentials', () => {
    expect(result.reader_register).toEqual(err(403, 40301));
    expect(result.reader_set_compat).toEqual(err(403, 40301));
    expect(result.reader_set_global_compat).toEqual(err(403, 40301));
    expect(result.reader_delete).toEqual(err(403, 40301));
    expect(result.reader_set_mode).toEqual(err(403, 40301));
    expect(result.writer_delete).toEqual(err(403, 40301));
    expect(result.writer_set_compat).toEqual(err(403, 40301));
    expect(result.anonymous_read).toEqual(err(401, 40101));
    expect(result.anonymous_register).toEqual(err(401, 40101));
    expect(result.wrong_password_read).toEqual(err(401, 40101));
    expect(result.unknown_user_read).toEqual(err(401, 40101));
    expect(result.raw_no_credentials).toMatchObject({ status: 401, body: { error_code: 40101 } });
    expect(result.raw_no_credentials.www_authenticate).toMatch(/^Basic realm=/);
    expect(result.raw_reader_delete).toMatchObject({ status: 403, body: { error_code: 40301 } });
    // Deletes by the admin work, soft then permanent.
    expect(result.delete_version_1).toBe(1);
    expect(result.delete_subject_other).toEqual([2]);
    expect(result.delete_subject_other_permanent).toEqual([1, 2]);
    expect(result.subjects_after_delete).toEqual([`${prefix}.imported-value`, tx()]);
  });

  it('records every write, denied and failed attempt in the audit topic, with the principal and no secret', async () => {
    const { events, raw } = await readAudit(auditTopic, 32);
    // 14 writes that changed something, 9 denied attempts, 9 failed ones (registry_contract.py).
    expect(events).toHaveLength(32);
    const seen = events.map((e) => `${e.action} ${e.target === tx() ? 'tx' : e.target === other() ? 'other' : e.target} ${e.outcome} ${e.principal}`);
    // Exactly one register of tx: the three re-registrations of the same schema wrote nothing.
    expect(seen.filter((s) => s.startsWith('schema.register tx'))).toEqual(['schema.register tx ok writer']);
    expect(seen).toEqual(
      expect.arrayContaining([
        'schema.register other ok admin',
        'config.update other ok admin',
        'schema.register other failed admin', // 409
        'schema.register other ok writer', // v2
        'mode.update other ok admin',
        'schema.delete other failed admin', // read-only
        'mode.update other failed admin', // bad mode
        'mode.delete other ok admin',
        'config.update other denied reader',
        'config.update (global) denied reader',
        'schema.delete other denied reader',
        'mode.update other denied reader',
        'schema.delete other denied writer',
        'config.update other denied writer',
        'schema.delete other ok admin',
      ]),
    );
    expect(seen.filter((s) => s.endsWith('denied anonymous'))).toEqual([
      expect.stringMatching(/^schema\.register .*anon-value denied anonymous$/),
    ]);
    expect(seen.filter((s) => s.startsWith('schema.register') && s.includes('reader-value'))).toEqual([
      expect.stringMatching(/denied reader$/),
    ]);
    for (const e of events) {
      // The shared format the PostgreSQL sink reads (ops/auditEvents.ts), field for field.
      expect(AuditEvent.safeParse(e).success).toBe(true);
      expect(e.source).toBe('registry');
      expect(e.from).toMatch(/127\.0\.0\.1/);
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
      expect(e.authenticated).toBe(e.principal !== 'anonymous');
    }
    const ok = events.find((e) => e.action === 'schema.register' && e.outcome === 'ok' && e.target === tx());
    expect(ok?.details).toMatchObject({ id: result.register_repo, version: 1 });
    // No password, and no password hash, in any event or in the registry's log.
    for (const secret of Object.values(users)) {
      expect(raw).not.toContain(secret);
      expect(registryLog).not.toContain(secret);
    }
    expect(raw).not.toContain('scrypt$');
    expect(registryLog).not.toContain('scrypt$');
  });
});

describe('riskloop’s own registry client: basic auth from a file, https with SCHEMA_REGISTRY_CA_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'registry-tls-'));
  const writerPassword = randomBytes(18).toString('base64url');
  const readerPassword = randomBytes(18).toString('base64url');
  let registry: RunningRegistry;

  beforeAll(async () => {
    // A self-signed certificate for 127.0.0.1 (openssl from the OS; Debian's ca-certificates needs it).
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ], { stdio: 'ignore' });
    writeFileSync(join(dir, 'users.json'), JSON.stringify({
      users: [
        { name: 'producer', role: 'write', password: await hashPassword(writerPassword) },
        { name: 'loop', role: 'read', password: await hashPassword(readerPassword) },
      ],
    }));
    writeFileSync(join(dir, 'producer.userinfo'), `producer:${writerPassword}\n`);
    writeFileSync(join(dir, 'loop.userinfo'), `loop:${readerPassword}\n`);
    writeFileSync(join(dir, 'wrong.userinfo'), 'loop:not-the-password\n');
    registry = await startRegistry(
      parseRegistryConfig({
        brokers: brokers(), port: 0, topic: uniq('_schemas-tls'), auditTopic: uniq('audit-registry-tls'),
        usersFile: join(dir, 'users.json'), tlsCertFile: join(dir, 'cert.pem'), tlsKeyFile: join(dir, 'key.pem'),
      }),
      { logger: pino({ level: 'silent' }) },
    );
  }, 120_000);

  afterAll(async () => {
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const settings = (userInfoFile: string, withCa = true) =>
    registryClientFromEnv(
      {
        SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_FILE: join(dir, userInfoFile),
        ...(withCa ? { SCHEMA_REGISTRY_CA_FILE: join(dir, 'cert.pem') } : {}),
      },
      registry.url,
    );

  it('registers as the producer, decodes as the loop (read role), over https', async () => {
    expect(registry.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const subject = uniq('tls-value');
    const schema = { type: 'record', name: 'Ping', namespace: 'riskloop.test', fields: [{ name: 'n', type: 'long' }] };
    const producer = createRegistryClient(settings('producer.userinfo'));
    const { id } = await producer.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
    const wire = await producer.encode(id, { n: 42 });
    const loop = createRegistryClient(settings('loop.userinfo'));
    expect(await loop.decode(wire)).toEqual({ n: 42 });
    // The read role cannot register.
    const refused = await loop.register({ type: SchemaType.AVRO, schema: JSON.stringify({ ...schema, name: 'Pong' }) }, { subject: uniq('tls-value') }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(refused?.message).toMatch(/not authorized|403/);
  });

  it('fails clearly without the CA and with a wrong password, and never shows the password', async () => {
    const noCa = await createRegistryClient(settings('loop.userinfo', false)).getLatestSchemaId('x').then(() => undefined, (e: Error) => e);
    expect(String(noCa?.message ?? noCa)).toMatch(/self[- ]signed|certificate/i);
    const wrong = settings('wrong.userinfo');
    const err = await createRegistryClient(wrong).getLatestSchemaId('x').then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/Unauthorized|401/);
    expect(err?.message).not.toContain('not-the-password');
    // The settings never print the password, whichever way they are shown.
    expect(JSON.stringify(wrong)).not.toContain('not-the-password');
    expect(inspect(wrong)).not.toContain('not-the-password');
    expect(JSON.stringify(wrong)).toContain('loop');
    expect(() => registryClientFromEnv({ SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: 'no-colon-secret' }, registry.url)).toThrow(
      /must hold user:password/,
    );
    try {
      registryClientFromEnv({ SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: 'no-colon-secret' }, registry.url);
    } catch (e) {
      expect((e as Error).message).not.toContain('no-colon-secret');
    }
  });

  it('rotates a password without a restart: reloadUsers (SIGHUP) takes the new hash, a broken file keeps the old users', async () => {
    const subject = uniq('rotate-value');
    const read = (file: string) => createRegistryClient(settings(file)).getLatestSchemaId(subject).then(() => 200, (e: { status?: number }) => e.status);
    expect(await read('loop.userinfo')).toBe(404); // authenticated; the subject does not exist
    const rotated = randomBytes(18).toString('base64url');
    writeFileSync(join(dir, 'users.json'), JSON.stringify({
      users: [
        { name: 'producer', role: 'write', password: await hashPassword(writerPassword) },
        { name: 'loop', role: 'read', password: await hashPassword(rotated) },
      ],
    }));
    expect(await registry.reloadUsers()).toBe(2);
    expect(await read('loop.userinfo')).toBe(401);
    writeFileSync(join(dir, 'loop-rotated.userinfo'), `loop:${rotated}\n`);
    expect(await read('loop-rotated.userinfo')).toBe(404);
    writeFileSync(join(dir, 'users.json'), '{"users": [{"name": "loop", "role": "read", "password": "plain-text"}]}');
    await expect(registry.reloadUsers()).rejects.toThrow(/scrypt hash/);
    expect(await read('loop-rotated.userinfo')).toBe(404);
  });
});

describe('anonymous access only as configured', () => {
  it('refuses to start open on a non-loopback address, and says what to set', async () => {
    const err = await startRegistry(parseRegistryConfig({ brokers: brokers(), port: 0, host: '0.0.0.0', topic: uniq('_schemas-open') }), {
      logger: pino({ level: 'silent' }),
    }).then(
      async (r) => {
        await r.close();
        return undefined;
      },
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/REGISTRY_USERS_FILE.*REGISTRY_ALLOW_ANONYMOUS/);
  });

  it('with a users file and REGISTRY_ALLOW_ANONYMOUS=read: anonymous reads work, writes get 401, the start warns; the global mode as admin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registry-anon-'));
    writeFileSync(join(dir, 'users.json'), JSON.stringify({ users: [{ name: 'ops', role: 'admin', password: await hashPassword('x'.repeat(24)) }] }));
    let log = '';
    const registry = await startRegistry(
      parseRegistryConfig({
        brokers: brokers(), port: 0, topic: uniq('_schemas-anon'), auditTopic: uniq('audit-registry-anon'),
        usersFile: join(dir, 'users.json'), allowAnonymous: 'read',
      }),
      { logger: pino({ level: 'info' }, { write: (line: string) => void (log += line) }) },
    );
    try {
      expect(log).toMatch(/ANONYMOUS ACCESS: callers without credentials get the read role/);
      expect((await fetch(`${registry.url}/subjects`)).status).toBe(200);
      const put = await fetch(`${registry.url}/config`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"compatibility":"NONE"}' });
      expect(put.status).toBe(401);
      expect(put.headers.get('www-authenticate')).toMatch(/^Basic /);
      const asOps = await fetch(`${registry.url}/config`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`ops:${'x'.repeat(24)}`).toString('base64')}` },
        body: '{"compatibility":"FULL"}',
      });
      expect(asOps.status).toBe(200);
      expect(await asOps.json()).toEqual({ compatibility: 'FULL' });
      // The global mode: READONLY refuses every registration, a subject inherits it unless it has its own.
      const ops = { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`ops:${'x'.repeat(24)}`).toString('base64')}` };
      const putAsOps = (path: string, body: object) => fetch(`${registry.url}${path}`, { method: 'PUT', headers: ops, body: JSON.stringify(body) });
      expect(await (await putAsOps('/mode', { mode: 'READONLY' })).json()).toEqual({ mode: 'READONLY' });
      expect(await (await fetch(`${registry.url}/mode/any-subject?defaultToGlobal=true`)).json()).toEqual({ mode: 'READONLY' });
      const schema = JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'a', type: 'int' }] });
      const refused = await fetch(`${registry.url}/subjects/any-subject/versions`, { method: 'POST', headers: ops, body: JSON.stringify({ schema }) });
      expect(refused.status).toBe(422);
      expect(await refused.json()).toMatchObject({ error_code: 42205 });
      expect(await (await putAsOps('/mode/any-subject', { mode: 'READWRITE' })).json()).toEqual({ mode: 'READWRITE' });
      const allowed = await fetch(`${registry.url}/subjects/any-subject/versions`, { method: 'POST', headers: ops, body: JSON.stringify({ schema }) });
      expect(allowed.status).toBe(200);
      expect(await (await putAsOps('/mode', { mode: 'READWRITE' })).json()).toEqual({ mode: 'READWRITE' });
      expect(await (await fetch(`${registry.url}/mode`)).json()).toEqual({ mode: 'READWRITE' });
      // DELETE /mode: back to the default; answers the mode it had.
      expect(await (await fetch(`${registry.url}/mode`, { method: 'DELETE', headers: ops })).json()).toEqual({ mode: 'READWRITE' });
      expect((await fetch(`${registry.url}/mode`, { method: 'DELETE', headers: ops })).status).toBe(404);
    } finally {
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
