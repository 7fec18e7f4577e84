/**
 * The whole loop against a broker whose only client listener is SASL_SSL (SCRAM-SHA-512, a CA made
 * at start): a secured stack of its own (stack.sh, RISKLOOP_KAFKA_SECURITY=sasl_ssl) on ports that
 * do not clash with the shared stack, the schema registry on it, `riskloop run` as a process with
 * the client settings the stack writes, transactions produced over the secured connection, and
 * decisions read back over it; the SDK's decide() over it too. Then the refusals: a wrong password is refused with an error that
 * names the user and the cause and not the secret, and a plaintext client gets nowhere.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../bin/commands/topicsEnsure.js';
import { RiskloopClient, clientConfigFromEnv } from '../../sdk/index.js';
import { KAFKA_ENV, kafkaConnectionFromEnv } from '../../bin/kafkaConnection.js';
import { Tokenizer } from '../../processors/tokenizer.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { createSerdes } from '../../schemas/createSerdes.js';
import type { Decision } from '../../schemas/types.js';
import { kafkajsConnectionOptions, type KafkaConnection } from '../../topology/kafka/connection.js';
import { testAppConfig, testAppEnv } from '../support/appConfig.js';
import { uniq } from '../support/env.js';
import { loopData } from '../support/loopData.js';
import { RunInstance } from '../support/runInstance.js';

const { Kafka, logLevel } = kafkajs;
const run$ = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'riskloop-secure-'));
const stackDir = path.join(tmp, 'stack');
const PORTS = { KAFKA_PORT: '29092', KAFKA_CONTROLLER_PORT: '29093', REGISTRY_PORT: '28081' };
const stackEnv = { ...process.env, RISKLOOP_STACK_DIR: stackDir, ...PORTS, RISKLOOP_KAFKA_SECURITY: 'sasl_ssl', RISKLOOP_NO_DOCKER: '1', STACK_READY_TIMEOUT: '120' };
const stack = (verb: string) => run$('bash', [path.join(root, 'stack/stack.sh'), verb], { cwd: root, env: stackEnv, timeout: 180_000 });

/** The variables the stack wrote for clients (`export K=V` lines), as any shell that sources it sees them. */
function clientEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of readFileSync(path.join(stackDir, 'kafka-client.env'), 'utf8').matchAll(/^export (\w+)=(.*)$/gm)) out[m[1]!] = m[2]!;
  return out;
}

let secured: Record<string, string>;
let connection: KafkaConnection;
let password: string;
let loop: RunInstance | undefined;

beforeAll(async () => {
  const up = await stack('up');
  expect(up.stdout).toMatch(/kafka ready on 127\.0\.0\.1:29092 \(secured: SASL_SSL only/);
  // Blank first: Kafka settings this run's own environment may carry (an external broker's) must not mix in.
  const blank = Object.fromEntries(KAFKA_ENV.map((name) => [name, '']));
  secured = { ...blank, ...clientEnv(), SCHEMA_REGISTRY_URL: `http://127.0.0.1:${PORTS.REGISTRY_PORT}` };
  connection = kafkaConnectionFromEnv(secured);
  password = readFileSync(secured.KAFKA_SASL_PASSWORD_FILE!, 'utf8').trim();
}, 240_000);

afterAll(async () => {
  await loop?.term(30_000);
  await stack('down').catch((err: unknown) => console.error(`secured stack down failed: ${String(err)}`));
  rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('Kafka with SASL_SSL only (SCRAM-SHA-512)', () => {
  it('stack status names the secured mode', async () => {
    const { stdout } = await stack('status');
    expect(stdout).toMatch(/kafka: running .* on 127\.0\.0\.1:29092, secured: SASL_SSL only, SCRAM-SHA-512/);
    expect(stdout).toMatch(/schema registry: running/);
    // The broker's only client listener is SASL_SSL; the controller stays on loopback PLAINTEXT.
    const props = readFileSync(path.join(stackDir, 'server.properties'), 'utf8');
    expect(props).toMatch(/^listeners=SASL_SSL:\/\/127\.0\.0\.1:29092,CONTROLLER:\/\/127\.0\.0\.1:29093$/m);
  });

  it('runs the loop and the registry over it: transactions in, decisions out, no password in logs, argv or metrics', async () => {
    const id = uniq('secure');
    const env = testAppEnv(id, path.join(tmp, 'state'), { ...secured, LOG_LEVEL: 'info' });
    const config = testAppConfig(id, path.join(tmp, 'state'), secured);
    expect(config.kafka.securityProtocol).toBe('SASL_SSL');
    await ensureTopics(config, { out: () => undefined, err: (l) => console.error(l), env });
    const catalogue = buildCatalogue({ prefix: config.topicPrefix, partitions: config.partitions });
    // The registry stores schemas in its topic on the secured broker: registering proves it writes there.
    const serdes = await createSerdes(new SchemaRegistry({ host: secured.SCHEMA_REGISTRY_URL! }), catalogue);

    loop = new RunInstance('secure-loop', env);
    await loop.start();
    await loop.waitReady(120_000);

    const N = 300;
    const data = loopData(new Tokenizer(config.tokenizer), { accounts: 50, transactions: N, invalidEvery: 0, chargebacks: 0, unknownChargebacks: 0 });
    const kafka = new Kafka({ clientId: 'secure-test', ...kafkajsConnectionOptions(connection), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: catalogue.transactions.name,
      messages: data.transactions.map((r) => ({ key: r.key, value: serdes.transactions.serialize(r.value), timestamp: String(r.value.eventTime) })),
    });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${id}-reader` });
    const decided = new Set<string>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: catalogue.decisions.name, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${decided.size}/${N} decisions after 120 s; ${loop!.tail()}`)), 120_000);
        void consumer.run({
          eachBatch: async ({ batch }) => {
            const values = batch.messages.flatMap((m) => (m.value ? [m.value] : []));
            await serdes.decisions.prefetch?.(values);
            for (const v of values) decided.add((serdes.decisions.deserialize(v) as Decision).transactionId);
            if (decided.size >= N) {
              clearTimeout(timer);
              resolve();
            }
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
    expect(decided).toEqual(data.validIds);

    // A service on the SDK, configured from the same environment (kafkaConnectionFromEnv inside), gets its decision.
    const sdk = new RiskloopClient(clientConfigFromEnv(env, { clientId: 'secure-sdk' }));
    try {
      await sdk.connect();
      const t = { ...data.transactions[0]!.value, transactionId: `${id}-sdk` };
      expect((await sdk.decide(t, { deadlineMs: 60_000 })).transactionId).toBe(t.transactionId);
    } finally {
      await sdk.close();
    }
    expect(loop.reached('ERROR')).toBe(false);

    // The secret stays out of everything the process shows.
    const metrics = await fetch(`http://127.0.0.1:${loop.port}/metrics`).then((r) => r.text(), () => '');
    const cmdline = readFileSync(`/proc/${loop.pid}/cmdline`, 'utf8');
    const registryLog = readFileSync(path.join(stackDir, 'logs', 'registry.log'), 'utf8');
    for (const text of [JSON.stringify(loop.logs), loop.stderr, metrics, cmdline, registryLog]) expect(text).not.toContain(password);
    expect(loop.logs.length).toBeGreaterThan(0);
  });

  it('refuses a wrong password with an error that names the user and the cause, not the secret', async () => {
    const wrong = 'not-the-password-5f3a';
    const wrongFile = path.join(tmp, 'wrong.password');
    writeFileSync(wrongFile, `${wrong}\n`);
    const result = await run$(process.execPath, ['--import', 'tsx', path.join(root, 'bin/riskloop.ts'), 'topics', 'list', '--prefix', 'riskloop.'], {
      cwd: root,
      env: { ...process.env, ...secured, KAFKA_SASL_PASSWORD_FILE: wrongFile },
      timeout: 60_000,
    }).then(
      () => undefined,
      (err: { code: number; stderr: string; stdout: string }) => err,
    );
    expect(result, 'the command must fail').toBeDefined();
    expect(result!.code).toBe(1);
    expect(result!.stderr).toMatch(/Kafka SASL authentication failed for user "riskloop" \(SCRAM-SHA-512\) at 127\.0\.0\.1:29092/);
    expect(result!.stderr + result!.stdout).not.toContain(wrong);
    expect(result!.stderr + result!.stdout).not.toContain(password);

    // A library client gets KafkaJS' own SASL error, which does not carry the password either.
    const admin = new Kafka({ clientId: 'wrong', ...kafkajsConnectionOptions(kafkaConnectionFromEnv({ ...secured, KAFKA_SASL_PASSWORD_FILE: wrongFile })), logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
    const err = (await admin.connect().then(() => undefined, (e: unknown) => e)) as Error | undefined;
    await admin.disconnect();
    expect(err?.name).toBe('KafkaJSSASLAuthenticationError');
    expect(err?.message).not.toContain(wrong);

    // The loop itself stops at start with the same explanation (exit 1), instead of retrying a login that cannot work.
    const id = uniq('secure-wrong');
    const refused = new RunInstance('secure-wrong', testAppEnv(id, path.join(tmp, 'state'), { ...secured, KAFKA_SASL_PASSWORD_FILE: wrongFile }));
    await refused.start();
    await refused.waitExit(60_000);
    expect(refused.exit?.code).toBe(1);
    const fatal = refused.logs.filter((l) => l.level >= 60).map((l) => String(l.err));
    expect(fatal.join('\n')).toMatch(/Kafka SASL authentication failed for user "riskloop" \(SCRAM-SHA-512\)/);
    expect(JSON.stringify(refused.logs) + refused.stderr).not.toContain(wrong);
  });

  it('gives a plaintext client nothing', async () => {
    const admin = new Kafka({ clientId: 'plain', brokers: connection.brokers, logLevel: logLevel.NOTHING, connectionTimeout: 3000, requestTimeout: 5000, retry: { retries: 1 } }).admin();
    const t0 = Date.now();
    const outcome = await admin.connect().then(
      () => admin.listTopics().then(() => 'listed topics', (e: Error) => e),
      (e: Error) => e,
    );
    await admin.disconnect();
    expect(outcome).toBeInstanceOf(Error);
    expect(Date.now() - t0).toBeLessThan(60_000);
  });
});
