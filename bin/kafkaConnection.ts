/**
 * The Kafka connection of every riskloop process (loop, registry, CLI, SDK services, bench), read
 * once from the environment at start and validated here. Security settings come only from the
 * environment and files, never from flags (they would show in `ps`); only the broker list may be
 * given by a flag. Files are read here, once: a process picks up a new password or certificate
 * when it restarts (docs/operations.md, "Kafka connection security").
 *
 *   KAFKA_BROKERS               host:port,... (default 127.0.0.1:9092)
 *   KAFKA_SECURITY_PROTOCOL     PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
 *   KAFKA_SSL_CA_FILE           PEM CA(s) to trust (default: Node's public CAs)
 *   KAFKA_SSL_CERT_FILE/KEY_FILE  mTLS client certificate and key (PEM), both or neither
 *   KAFKA_SASL_MECHANISM        PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER
 *   KAFKA_SASL_USERNAME         PLAIN/SCRAM user
 *   KAFKA_SASL_PASSWORD_FILE    file holding the password (preferred), or KAFKA_SASL_PASSWORD
 *   KAFKA_SASL_OAUTHBEARER_TOKEN_FILE  OAUTHBEARER: a file holding the current token, read again on
 *                               every authentication (whatever refreshes the file rotates the token)
 *
 * Errors name the variable and never the value.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { kafkaConnection, SASL_MECHANISMS, Secret, SECURITY_PROTOCOLS, type KafkaConnection, type KafkaConnectionInput } from '../topology/kafka/connection.js';

export const KAFKA_ENV = [
  'KAFKA_BROKERS',
  'KAFKA_SECURITY_PROTOCOL',
  'KAFKA_SSL_CA_FILE',
  'KAFKA_SSL_CERT_FILE',
  'KAFKA_SSL_KEY_FILE',
  'KAFKA_SASL_MECHANISM',
  'KAFKA_SASL_USERNAME',
  'KAFKA_SASL_PASSWORD',
  'KAFKA_SASL_PASSWORD_FILE',
  'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE',
] as const;

export const DEFAULT_BROKERS = '127.0.0.1:9092';

export class KafkaConnectionConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid Kafka connection settings:\n  ${problems.join('\n  ')}`);
    this.name = 'KafkaConnectionConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const set = (env: Env, name: string): string | undefined => {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
};

function readText(file: string, variable: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    problems.push(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    return undefined;
  }
}

/** A password or token file holds the secret on its first line; a trailing newline is not part of it. */
const firstLine = (s: string): string => s.replace(/\r?\n[\s\S]*$/, '');

/**
 * The connection from the environment. `brokers` (a `--brokers` flag) wins over KAFKA_BROKERS.
 * Throws KafkaConnectionConfigError listing every problem, by variable name.
 */
export function kafkaConnectionFromEnv(env: Env = process.env, brokers?: string[] | string): KafkaConnection {
  const problems: string[] = [];
  const brokerList = (Array.isArray(brokers) ? brokers.join(',') : (brokers ?? set(env, 'KAFKA_BROKERS') ?? DEFAULT_BROKERS))
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
  if (brokerList.length === 0 || brokerList.some((b) => !/^[^\s:]+:\d+$/.test(b))) problems.push('KAFKA_BROKERS: must be host:port[,host:port...]');

  const protocolText = (set(env, 'KAFKA_SECURITY_PROTOCOL') ?? 'PLAINTEXT').toUpperCase();
  const protocol = (SECURITY_PROTOCOLS as readonly string[]).includes(protocolText) ? (protocolText as (typeof SECURITY_PROTOCOLS)[number]) : undefined;
  if (!protocol) problems.push(`KAFKA_SECURITY_PROTOCOL: must be one of ${SECURITY_PROTOCOLS.join(', ')}`);
  const usesTls = protocol === 'SSL' || protocol === 'SASL_SSL';
  const usesSasl = protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';

  const input: KafkaConnectionInput = { brokers: brokerList, securityProtocol: protocol ?? 'PLAINTEXT' };

  const caFile = set(env, 'KAFKA_SSL_CA_FILE');
  const certFile = set(env, 'KAFKA_SSL_CERT_FILE');
  const keyFile = set(env, 'KAFKA_SSL_KEY_FILE');
  if (protocol && !usesTls) {
    for (const [v, name] of [[caFile, 'KAFKA_SSL_CA_FILE'], [certFile, 'KAFKA_SSL_CERT_FILE'], [keyFile, 'KAFKA_SSL_KEY_FILE']] as const) {
      if (v) problems.push(`${name}: set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use TLS (use SSL or SASL_SSL)`);
    }
  }
  if (usesTls) {
    const tls: NonNullable<KafkaConnectionInput['tls']> = {};
    if (caFile) {
      const ca = readText(caFile, 'KAFKA_SSL_CA_FILE', problems);
      if (ca !== undefined && !ca.includes('-----BEGIN CERTIFICATE-----')) problems.push(`KAFKA_SSL_CA_FILE: ${caFile} holds no PEM certificate`);
      else if (ca !== undefined) tls.ca = ca;
    }
    if (certFile && !keyFile) problems.push('KAFKA_SSL_KEY_FILE: required with KAFKA_SSL_CERT_FILE (mTLS needs the certificate and its key)');
    if (keyFile && !certFile) problems.push('KAFKA_SSL_CERT_FILE: required with KAFKA_SSL_KEY_FILE (mTLS needs the certificate and its key)');
    if (certFile && keyFile) {
      const cert = readText(certFile, 'KAFKA_SSL_CERT_FILE', problems);
      const key = readText(keyFile, 'KAFKA_SSL_KEY_FILE', problems);
      if (cert !== undefined && !cert.includes('-----BEGIN CERTIFICATE-----')) problems.push(`KAFKA_SSL_CERT_FILE: ${certFile} holds no PEM certificate`);
      if (key !== undefined && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) problems.push(`KAFKA_SSL_KEY_FILE: ${keyFile} holds no PEM private key`);
      if (cert !== undefined && key !== undefined) {
        tls.cert = cert;
        tls.key = new Secret(key);
      }
    }
    input.tls = tls;
  }

  const mechanismText = set(env, 'KAFKA_SASL_MECHANISM')?.toUpperCase();
  const username = set(env, 'KAFKA_SASL_USERNAME');
  // Empty counts as unset, as for every variable here (an empty password is no password).
  const passwordEnv = set(env, 'KAFKA_SASL_PASSWORD');
  const passwordFile = set(env, 'KAFKA_SASL_PASSWORD_FILE');
  const tokenFile = set(env, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE');
  if (protocol && !usesSasl) {
    const given = (
      [
        [mechanismText, 'KAFKA_SASL_MECHANISM'],
        [username, 'KAFKA_SASL_USERNAME'],
        [passwordEnv, 'KAFKA_SASL_PASSWORD'],
        [passwordFile, 'KAFKA_SASL_PASSWORD_FILE'],
        [tokenFile, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE'],
      ] as const
    ).filter(([v]) => v !== undefined);
    for (const [, name] of given) problems.push(`${name}: set, but KAFKA_SECURITY_PROTOCOL=${protocol} does not use SASL (use SASL_SSL or SASL_PLAINTEXT)`);
  }
  if (usesSasl) {
    const mechanism = mechanismText && (SASL_MECHANISMS as readonly string[]).includes(mechanismText) ? (mechanismText as (typeof SASL_MECHANISMS)[number]) : undefined;
    if (!mechanismText) problems.push(`KAFKA_SASL_MECHANISM: required with KAFKA_SECURITY_PROTOCOL=${protocol} (one of ${SASL_MECHANISMS.join(', ')})`);
    else if (!mechanism) problems.push(`KAFKA_SASL_MECHANISM: must be one of ${SASL_MECHANISMS.join(', ')}`);
    if (mechanism === 'OAUTHBEARER') {
      if (!tokenFile) problems.push('KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: required with KAFKA_SASL_MECHANISM=OAUTHBEARER');
      else if (readText(tokenFile, 'KAFKA_SASL_OAUTHBEARER_TOKEN_FILE', problems) !== undefined) {
        input.sasl = {
          mechanism,
          token: async () => {
            const token = firstLine(await readFile(tokenFile, 'utf8')).trim();
            if (!token) throw new Error(`KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: ${tokenFile} is empty`);
            return new Secret(token);
          },
        };
      }
      for (const [v, name] of [[passwordEnv, 'KAFKA_SASL_PASSWORD'], [passwordFile, 'KAFKA_SASL_PASSWORD_FILE']] as const) {
        if (v !== undefined) problems.push(`${name}: not used with OAUTHBEARER (the token comes from KAFKA_SASL_OAUTHBEARER_TOKEN_FILE)`);
      }
    } else if (mechanism) {
      if (!username) problems.push(`KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM=${mechanism}`);
      if (tokenFile) problems.push(`KAFKA_SASL_OAUTHBEARER_TOKEN_FILE: only used with KAFKA_SASL_MECHANISM=OAUTHBEARER`);
      let password: string | undefined;
      if (passwordEnv !== undefined && passwordFile) problems.push('KAFKA_SASL_PASSWORD_FILE: give the password either in KAFKA_SASL_PASSWORD or in KAFKA_SASL_PASSWORD_FILE, not both');
      else if (passwordFile) {
        const text = readText(passwordFile, 'KAFKA_SASL_PASSWORD_FILE', problems);
        if (text !== undefined) password = firstLine(text);
        if (text !== undefined && !password) problems.push(`KAFKA_SASL_PASSWORD_FILE: ${passwordFile} is empty`);
      } else if (passwordEnv !== undefined) {
        password = passwordEnv;
      } else problems.push(`KAFKA_SASL_PASSWORD_FILE: required with KAFKA_SASL_MECHANISM=${mechanism} (or KAFKA_SASL_PASSWORD)`);
      if (username && password) input.sasl = { mechanism, username, password: new Secret(password) };
    }
  }

  if (problems.length) throw new KafkaConnectionConfigError(problems);
  try {
    return kafkaConnection(input);
  } catch (err) {
    throw new KafkaConnectionConfigError([(err as Error).message]);
  }
}
