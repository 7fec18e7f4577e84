/**
 * The Kafka connection from the environment: every variable validated with errors that name it and
 * never its value, and a password that does not show when the connection or the config that holds
 * it is logged, JSON-serialised or inspected.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { inspect } from 'node:util';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { readAppConfig } from '../../../bin/config.js';
import { KafkaConnectionConfigError, kafkaConnectionFromEnv } from '../../../bin/kafkaConnection.js';
import { describeConnection, explainKafkaError, kafkajsConnectionOptions, kafkaConnection, Secret } from '../../../topology/kafka/connection.js';
import { clientConfigFromEnv, parseClientConfig } from '../../../sdk/config.js';
import { parseStreamsConfig } from '../../../topology/kafka/config.js';
import { TEST_TOKENIZER_CONFIG } from '../../support/riskLoopFixture.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-conn-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PASSWORD = 'pa55-Very-Secret-xyzzy';
const file = (name: string, text: string): string => {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
};
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const PASSWORD_FILE = file('password', `${PASSWORD}\n`);
const KEY = file('client.key', '-----BEGIN PRIVATE KEY-----\nKEYMATERIAL-secret\n-----END PRIVATE KEY-----\n');

const SASL_SSL = {
  KAFKA_BROKERS: 'b1:9094,b2:9094',
  KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
  KAFKA_SSL_CA_FILE: CA,
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
  KAFKA_SASL_USERNAME: 'riskloop',
  KAFKA_SASL_PASSWORD_FILE: PASSWORD_FILE,
};

function problems(env: Record<string, string>): string[] {
  try {
    kafkaConnectionFromEnv(env);
  } catch (err) {
    expect(err).toBeInstanceOf(KafkaConnectionConfigError);
    const e = err as KafkaConnectionConfigError;
    // Whatever went wrong, the secret is not in the text.
    expect(e.message).not.toContain(PASSWORD);
    return e.problems;
  }
  throw new Error('expected the settings to be refused');
}

describe('kafkaConnectionFromEnv', () => {
  it('defaults to plaintext 127.0.0.1:9092 and takes brokers from a flag over KAFKA_BROKERS', () => {
    expect(kafkaConnectionFromEnv({})).toEqual({ brokers: ['127.0.0.1:9092'], securityProtocol: 'PLAINTEXT' });
    expect(kafkaConnectionFromEnv({ KAFKA_BROKERS: 'a:1' }, ['c:3']).brokers).toEqual(['c:3']);
    expect(kafkajsConnectionOptions(kafkaConnectionFromEnv({}))).toEqual({ brokers: ['127.0.0.1:9092'] });
  });

  it('builds SASL_SSL with SCRAM from a password file (first line, no newline) and a CA file', () => {
    const c = kafkaConnectionFromEnv(SASL_SSL);
    expect(c.securityProtocol).toBe('SASL_SSL');
    expect(c.brokers).toEqual(['b1:9094', 'b2:9094']);
    expect(c.tls?.ca).toContain('BEGIN CERTIFICATE');
    expect(c.sasl?.mechanism).toBe('SCRAM-SHA-512');
    const k = kafkajsConnectionOptions(c);
    expect(k.ssl).toMatchObject({ rejectUnauthorized: true, ca: [c.tls!.ca] });
    const sasl = k.sasl as unknown as { mechanism: string; username: string; password: string };
    expect(sasl.mechanism).toBe('scram-sha-512');
    expect(sasl.username).toBe('riskloop');
    // KafkaJS reads it by property access; nothing that walks the object sees it.
    expect(sasl.password).toBe(PASSWORD);
    expect(Object.keys(sasl)).not.toContain('password');
    expect(JSON.stringify(k)).not.toContain(PASSWORD);
    expect(JSON.stringify({ ...sasl })).not.toContain(PASSWORD);
  });

  it('takes KAFKA_SASL_PASSWORD, PLAIN over SASL_PLAINTEXT, and mTLS cert + key', () => {
    const plain = kafkaConnectionFromEnv({ KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext', KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD });
    expect(plain.tls).toBeUndefined();
    expect(kafkajsConnectionOptions(plain).ssl).toBeUndefined();
    expect((kafkajsConnectionOptions(plain).sasl as { password: string }).password).toBe(PASSWORD);
    const mtls = kafkaConnectionFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: CA, KAFKA_SSL_CERT_FILE: CA, KAFKA_SSL_KEY_FILE: KEY });
    expect(mtls.sasl).toBeUndefined();
    expect(kafkajsConnectionOptions(mtls).ssl).toMatchObject({ cert: mtls.tls!.cert, key: expect.stringContaining('KEYMATERIAL') });
    expect(JSON.stringify(mtls)).not.toContain('KEYMATERIAL');
  });

  it('reads an OAUTHBEARER token from its file on every authentication', async () => {
    const tokenFile = file('token', 'token-one\n');
    const c = kafkaConnectionFromEnv({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'OAUTHBEARER', KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: tokenFile });
    const provider = (kafkajsConnectionOptions(c).sasl as { oauthBearerProvider: () => Promise<{ value: string }> }).oauthBearerProvider;
    expect(await provider()).toEqual({ value: 'token-one' });
    writeFileSync(tokenFile, 'token-two\n');
    expect(await provider()).toEqual({ value: 'token-two' });
  });

  it('refuses inconsistent settings, naming the variable and never the value', () => {
    expect(problems({ KAFKA_SECURITY_PROTOCOL: 'TLS' })).toEqual([expect.stringMatching(/^KAFKA_SECURITY_PROTOCOL: must be one of/)]);
    expect(problems({ KAFKA_BROKERS: 'no-port' })).toEqual([expect.stringMatching(/^KAFKA_BROKERS:/)]);
    expect(problems({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' })).toEqual([expect.stringMatching(/^KAFKA_SASL_MECHANISM: required/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SASL_MECHANISM: 'GSSAPI' })).toEqual([expect.stringMatching(/^KAFKA_SASL_MECHANISM: must be one of/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SASL_USERNAME: '' })).toEqual([expect.stringMatching(/^KAFKA_SASL_USERNAME: required/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SASL_PASSWORD_FILE: '' })).toEqual([expect.stringMatching(/^KAFKA_SASL_PASSWORD_FILE: required/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SASL_PASSWORD: PASSWORD })).toEqual([expect.stringMatching(/^KAFKA_SASL_PASSWORD_FILE: give the password either/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SASL_PASSWORD_FILE: path.join(dir, 'missing') })).toEqual([expect.stringMatching(/^KAFKA_SASL_PASSWORD_FILE: cannot read .*missing \(ENOENT\)/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SASL_PASSWORD_FILE: file('empty', '\n') })).toEqual([expect.stringMatching(/^KAFKA_SASL_PASSWORD_FILE: .* is empty/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SSL_CA_FILE: path.join(dir, 'nope.pem') })).toEqual([expect.stringMatching(/^KAFKA_SSL_CA_FILE: cannot read/)]);
    // A password file given as the CA: refused without echoing the file's content.
    expect(problems({ ...SASL_SSL, KAFKA_SSL_CA_FILE: PASSWORD_FILE })).toEqual([expect.stringMatching(/^KAFKA_SSL_CA_FILE: .* holds no PEM certificate/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SSL_CERT_FILE: CA })).toEqual([expect.stringMatching(/^KAFKA_SSL_KEY_FILE: required with KAFKA_SSL_CERT_FILE/)]);
    expect(problems({ ...SASL_SSL, KAFKA_SSL_KEY_FILE: KEY })).toEqual([expect.stringMatching(/^KAFKA_SSL_CERT_FILE: required with KAFKA_SSL_KEY_FILE/)]);
    expect(problems({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD })).toEqual([
      expect.stringMatching(/^KAFKA_SASL_USERNAME: set, but KAFKA_SECURITY_PROTOCOL=PLAINTEXT does not use SASL/),
      expect.stringMatching(/^KAFKA_SASL_PASSWORD: set, but/),
    ]);
    expect(problems({ KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: PASSWORD, KAFKA_SSL_CA_FILE: CA })).toEqual([
      expect.stringMatching(/^KAFKA_SSL_CA_FILE: set, but KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT does not use TLS/),
    ]);
    expect(problems({ ...SASL_SSL, KAFKA_SASL_MECHANISM: 'OAUTHBEARER' })).toEqual([
      expect.stringMatching(/^KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: required/),
      expect.stringMatching(/^KAFKA_SASL_PASSWORD_FILE: not used with OAUTHBEARER/),
    ]);
  });

  it('KafkaStreams takes a connection, or brokers as a plaintext shorthand, not both', () => {
    const secured = kafkaConnectionFromEnv(SASL_SSL);
    expect(parseStreamsConfig({ applicationId: 'a', connection: secured }).connection).toBe(secured);
    expect(parseStreamsConfig({ applicationId: 'a', brokers: ['x:1'] }).connection).toEqual({ brokers: ['x:1'], securityProtocol: 'PLAINTEXT' });
    expect(() => parseStreamsConfig({ applicationId: 'a', brokers: ['x:1'], connection: secured })).toThrow(/give either connection or brokers/);
    expect(() => parseStreamsConfig({ applicationId: 'a' })).toThrow(/give either connection or brokers/);
  });

  it('the library value checks the same cross-field rules', () => {
    expect(() => kafkaConnection({ brokers: ['a:1'], securityProtocol: 'SASL_SSL' })).toThrow(/sasl: SASL_SSL needs SASL settings/);
    expect(() => kafkaConnection({ brokers: ['a:1'], securityProtocol: 'SSL', tls: { cert: 'x' } })).toThrow(/tls.key: a client certificate and its key go together/);
    expect(() => kafkaConnection({ brokers: ['a:1'], sasl: { mechanism: 'PLAIN', username: 'u', password: new Secret(PASSWORD) } })).toThrow(/SASL settings given but the security protocol is PLAINTEXT/);
  });
});

describe('the password stays out of logs, JSON, inspection and errors', () => {
  const appEnv = {
    ...SASL_SSL,
    RISKLOOP_ACCOUNT_TOKEN_KEY: TEST_TOKENIZER_CONFIG.accountTokenKey,
    RISKLOOP_CARD_KEYS: JSON.stringify(TEST_TOKENIZER_CONFIG.cardKeys),
    RISKLOOP_CARD_KEY_ID: TEST_TOKENIZER_CONFIG.currentCardKeyId,
  };

  it('when the whole app config is logged with pino, serialised, inspected or stringified', () => {
    const config = readAppConfig(appEnv);
    expect(config.kafka.sasl && 'password' in config.kafka.sasl && config.kafka.sasl.password.reveal()).toBe(PASSWORD);
    let logged = '';
    const logger = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, cb) => ((logged += chunk.toString()), cb()) }));
    logger.info({ config }, 'starting');
    logger.info({ kafka: config.kafka, options: kafkajsConnectionOptions(config.kafka) }, 'kafka');
    expect(logged).toContain('riskloop');
    expect(logged).toContain('[redacted]');
    for (const text of [logged, JSON.stringify(config), inspect(config, { depth: 10, showHidden: false }), String(config.kafka.sasl && 'password' in config.kafka.sasl ? config.kafka.sasl.password : ''), `${describeConnection(config.kafka)}`]) {
      expect(text).not.toContain(PASSWORD);
    }
  });

  it('in the SDK config built from the same environment', () => {
    const parsed = parseClientConfig(clientConfigFromEnv(SASL_SSL, { accountTokenKey: TEST_TOKENIZER_CONFIG.accountTokenKey }));
    expect(parsed.connection?.securityProtocol).toBe('SASL_SSL');
    expect(JSON.stringify(parsed.connection)).not.toContain(PASSWORD);
  });

  it('in the explanation of a refused login, which names the user and the cause', () => {
    const c = kafkaConnectionFromEnv(SASL_SSL);
    const kafkajsError = Object.assign(new Error('SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512'), {
      name: 'KafkaJSSASLAuthenticationError',
    });
    const text = explainKafkaError(kafkajsError, c);
    expect(text).toMatch(/SASL authentication failed for user "riskloop" \(SCRAM-SHA-512\)/);
    expect(text).not.toContain(PASSWORD);
  });
});
