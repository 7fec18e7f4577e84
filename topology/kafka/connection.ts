/**
 * How a process reaches Kafka: bootstrap brokers plus the security of the connection (TLS, SASL),
 * as one validated value every client is built from. The library side only: the value is made
 * from already-read material (PEM text, a password); reading the environment and files is the
 * caller's (bin/kafkaConnection.ts does it for riskloop's processes and the SDK).
 *
 * Secrets (the SASL password, a client key) are held in `Secret`, which shows as "[redacted]" when
 * logged, JSON-serialised (pino included), inspected or turned into a string, so a connection can
 * be logged or put in an error without leaking them. The KafkaJS options made from it read the
 * password through a non-enumerable getter for the same reason: KafkaJS keeps the `sasl` object it
 * is given and reads `password` from it on every login, and nothing that walks its own properties
 * (JSON, pino, a spread) finds the password.
 */
import { inspect } from 'node:util';
import type { KafkaConfig, SASLOptions } from 'kafkajs';
import { z } from 'zod';

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

const REDACTED = '[redacted]';

/** A secret string that never shows itself: only `reveal()` gives the value. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return REDACTED;
  }
  toString(): string {
    return REDACTED;
  }
  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

export type KafkaSasl =
  | { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: Secret }
  /** The token is asked for on every (re)authentication, so a refreshed token is picked up. */
  | { mechanism: 'OAUTHBEARER'; token: () => Promise<Secret> };

export interface KafkaTls {
  /** PEM certificates of the CAs to trust; absent: Node's default CAs (a managed Kafka's public CA). */
  ca?: string;
  /** mTLS: the client certificate chain (PEM) and its private key (PEM). */
  cert?: string;
  key?: Secret;
}

export interface KafkaConnection {
  brokers: string[];
  securityProtocol: SecurityProtocol;
  /** Present exactly when the protocol is SSL or SASL_SSL. */
  tls?: KafkaTls;
  /** Present exactly when the protocol is SASL_PLAINTEXT or SASL_SSL. */
  sasl?: KafkaSasl;
}

const SecretValue = z.instanceof(Secret);
const Broker = z.string().regex(/^[^\s:]+:\d+$/, 'broker must be host:port');

export const KafkaConnectionSchema = z
  .object({
    brokers: z.array(Broker).min(1),
    securityProtocol: z.enum(SECURITY_PROTOCOLS).default('PLAINTEXT'),
    tls: z
      .object({
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: SecretValue.optional(),
      })
      .optional(),
    sasl: z
      .discriminatedUnion('mechanism', [
        z.object({ mechanism: z.enum(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512']), username: z.string().min(1), password: SecretValue }),
        z.object({ mechanism: z.literal('OAUTHBEARER'), token: z.custom<() => Promise<Secret>>((v) => typeof v === 'function', 'token must be a function') }),
      ])
      .optional(),
  })
  .superRefine((c, ctx) => {
    const usesTls = c.securityProtocol === 'SSL' || c.securityProtocol === 'SASL_SSL';
    const usesSasl = c.securityProtocol === 'SASL_PLAINTEXT' || c.securityProtocol === 'SASL_SSL';
    if (usesSasl && !c.sasl) ctx.addIssue({ code: 'custom', path: ['sasl'], message: `${c.securityProtocol} needs SASL settings (mechanism, username, password)` });
    if (!usesSasl && c.sasl) ctx.addIssue({ code: 'custom', path: ['sasl'], message: `SASL settings given but the security protocol is ${c.securityProtocol}` });
    if (!usesTls && c.tls && (c.tls.ca || c.tls.cert || c.tls.key)) ctx.addIssue({ code: 'custom', path: ['tls'], message: `TLS settings given but the security protocol is ${c.securityProtocol}` });
    if (c.tls && Boolean(c.tls.cert) !== Boolean(c.tls.key)) ctx.addIssue({ code: 'custom', path: ['tls', c.tls.cert ? 'key' : 'cert'], message: 'a client certificate and its key go together' });
  });
export type KafkaConnectionInput = z.input<typeof KafkaConnectionSchema>;

/** Validates a connection; issues name the field and never the value. */
export function kafkaConnection(input: KafkaConnectionInput): KafkaConnection {
  const parsed = KafkaConnectionSchema.safeParse(input);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'connection'}: ${i.message}`).join('; ');
    throw new Error(`invalid kafka connection: ${msg}`);
  }
  const c = parsed.data;
  const usesTls = c.securityProtocol === 'SSL' || c.securityProtocol === 'SASL_SSL';
  const out: KafkaConnection = { brokers: c.brokers, securityProtocol: c.securityProtocol };
  if (usesTls) out.tls = c.tls ?? {};
  if (c.sasl) out.sasl = c.sasl as KafkaSasl;
  return out;
}

/** Plain brokers, no TLS, no SASL: the local stack's default and tests'. */
export function plaintextConnection(brokers: string[]): KafkaConnection {
  return kafkaConnection({ brokers });
}

/** What can be said about a connection in a log line or an error: no secrets. */
export function describeConnection(c: KafkaConnection): string {
  const sasl = c.sasl ? ` ${c.sasl.mechanism}${'username' in c.sasl ? ` as ${c.sasl.username}` : ''}` : '';
  return `${c.brokers.join(',')} (${c.securityProtocol}${sasl})`;
}

/**
 * The `brokers`, `ssl` and `sasl` options of `new Kafka()`. Hand the result straight to KafkaJS:
 * it carries the password (behind a getter that JSON and pino do not see).
 */
export function kafkajsConnectionOptions(c: KafkaConnection): Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'brokers' | 'ssl' | 'sasl'> = { brokers: [...c.brokers] };
  if (c.tls) {
    const { ca, cert, key } = c.tls;
    const tls: Record<string, unknown> = { rejectUnauthorized: true };
    if (ca) tls.ca = [ca];
    if (cert) tls.cert = cert;
    // Enumerable, unlike the password: KafkaJS hands `ssl` to tls.connect() through Object.assign,
    // which copies enumerable properties only.
    if (key) tls.key = key.reveal();
    out.ssl = tls;
  }
  if (c.sasl) {
    const sasl = c.sasl;
    if (sasl.mechanism === 'OAUTHBEARER') {
      out.sasl = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: (await sasl.token()).reveal() }) };
    } else {
      const options: Record<string, unknown> = { mechanism: sasl.mechanism.toLowerCase(), username: sasl.username };
      Object.defineProperty(options, 'password', { get: () => sasl.password.reveal(), enumerable: false });
      out.sasl = options as unknown as SASLOptions;
    }
  }
  return out;
}

/**
 * A KafkaJS error in words an operator acts on. KafkaJS' own texts for a refused login and a
 * broker that speaks TLS to a plaintext client do not say which user or what to check.
 */
export function explainKafkaError(err: unknown, c: KafkaConnection): string {
  const e = err as { name?: string; message?: string; cause?: unknown } | undefined;
  const names: string[] = [];
  const messages: string[] = [];
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const x = cur as { name?: string; message?: string; cause?: unknown; originalError?: unknown };
    if (x.name) names.push(x.name);
    if (x.message) messages.push(x.message);
    cur = x.cause ?? x.originalError;
  }
  const text = messages.join(' / ');
  if (names.includes('KafkaJSSASLAuthenticationError') || /SASL .*authentication failed|Authentication failed/i.test(text)) {
    const who = c.sasl && 'username' in c.sasl ? `for user "${c.sasl.username}" ` : '';
    return `Kafka SASL authentication failed ${who}(${c.sasl?.mechanism ?? 'no mechanism'}) at ${c.brokers.join(',')}: wrong username or password, or the user has no credentials for this mechanism (check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE)`;
  }
  if (/self[- ]signed|unable to verify|certificate|ERR_TLS|altnames/i.test(text)) {
    return `Kafka TLS handshake with ${c.brokers.join(',')} failed: ${text} (check KAFKA_SSL_CA_FILE and that the broker's certificate names this host)`;
  }
  if (/Closed connection|ECONNRESET|socket hang up/i.test(text) && (c.securityProtocol === 'PLAINTEXT' || c.securityProtocol === 'SASL_PLAINTEXT')) {
    return `Kafka at ${describeConnection(c)}: ${text} (the broker closed the connection: if its listener expects TLS, set KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL)`;
  }
  return `Kafka at ${describeConnection(c)}: ${text || String(err)}`;
}
