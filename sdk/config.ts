/**
 * The client's configuration, validated once with zod when the client is made. The partitioning
 * key (`accountTokenKey`) is a secret: it is decoded here, kept in the client, and never logged
 * or put in an error (zod issues are reported by path and message only).
 */
import { z } from 'zod';
import { kafkaConnectionFromEnv } from '../bin/kafkaConnection.js';
import { SecretKey } from '../processors/tokenizer.js';
import type { KafkaConnection } from '../topology/kafka/connection.js';
import { registryClientFromEnv } from '../schemas/registryClient.js';

// CHALLENGE as a static fallback: step the customer up when the loop is late, instead of guessing.
const DecisionAction = z.enum(['APPROVE', 'REVIEW', 'DECLINE', 'CHALLENGE']);

/**
 * What decide() does when the deadline passes without the loop's decision:
 *  - `error` (the default): reject with DecisionTimeoutError. The caller's own stand-in policy
 *    decides; nothing that looks like a risk assessment is invented for it.
 *  - `static`: resolve with a fixed outcome and reason DEADLINE_FALLBACK.
 *  - `rules`: resolve with the rule set evaluated locally on the transaction alone (amount,
 *    channel, card present, MCC, country...). Rules that need history (velocity, KYC, devices)
 *    read missing inputs and never fire, exactly as in the loop; no rule firing means APPROVE
 *    unless `noHit` says otherwise. Reason codes: DEADLINE_FALLBACK, then the rules that fired.
 */
export const OnDeadline = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('error') }),
  z.object({ mode: z.literal('static'), decision: DecisionAction }),
  z.object({ mode: z.literal('rules'), rulesPath: z.string().min(1).default('rules/ruleset.json'), noHit: DecisionAction.default('APPROVE') }),
]);
export type OnDeadline = z.output<typeof OnDeadline>;

export const RiskloopClientConfig = z.object({
  brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'broker must be host:port')).min(1).optional(),
  /**
   * How to reach Kafka with TLS/SASL: the value every riskloop process uses (kafkaConnectionFromEnv()
   * reads it from KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* ...). Wins over `brokers`, `ssl` and `sasl`.
   */
  connection: z.custom<KafkaConnection>((v) => typeof v === 'object' && v !== null && Array.isArray((v as KafkaConnection).brokers), 'connection must be a KafkaConnection').optional(),
  schemaRegistryUrl: z.string().url(),
  /** Basic auth for the registry (Confluent's USER_INFO), when it asks for it. */
  schemaRegistryAuth: z.object({ username: z.string(), password: z.string() }).optional(),
  /** PEM CA bundle for an https registry (SCHEMA_REGISTRY_CA_FILE). */
  schemaRegistryCa: z.instanceof(Buffer).optional(),
  /** The loop's topic prefix (RISKLOOP_TOPIC_PREFIX). */
  topicPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/).default('riskloop.'),
  /** The loop's account-token key (RISKLOOP_ACCOUNT_TOKEN_KEY): hex or base64, >= 32 bytes. Secret. */
  accountTokenKey: SecretKey,
  clientId: z.string().regex(/^[A-Za-z0-9._-]+$/).default('riskloop-sdk'),
  /** KafkaJS `ssl` and `sasl` options, passed through as given (see docs/decision-api.md); prefer `connection`. */
  ssl: z.unknown().optional(),
  sasl: z.unknown().optional(),
  /**
   * How the reply consumer reads decisions. read_committed (default) only answers with decisions
   * whose loop transaction committed, i.e. the decision that is recorded, labelled and trained on;
   * under exactly_once that adds up to one commit interval to every reply. read_uncommitted
   * answers as soon as the decision is written, at the risk (on a loop crash) of answering with a
   * decision that is then aborted and re-made.
   */
  replyIsolation: z.enum(['read_committed', 'read_uncommitted']).default('read_committed'),
  /** decide()'s deadline when the call does not give one. */
  defaultDeadlineMs: z.number().int().positive().max(60_000).default(1000),
  onDeadline: OnDeadline.default({ mode: 'error' }),
  /** How long connect() waits for the reply consumer to be positioned. */
  connectTimeoutMs: z.number().int().positive().default(30_000),
}).refine((c) => c.connection !== undefined || c.brokers !== undefined, { message: 'give connection or brokers', path: ['brokers'] });
export type RiskloopClientConfigInput = z.input<typeof RiskloopClientConfig>;
export type RiskloopClientConfig = z.output<typeof RiskloopClientConfig>;

/** The configuration from the same environment variables the loop reads, overridable by `extra`. */
export function clientConfigFromEnv(env: Readonly<Record<string, string | undefined>>, extra: Partial<RiskloopClientConfigInput> = {}): RiskloopClientConfigInput {
  // SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO(_FILE), SCHEMA_REGISTRY_CA_FILE: as every riskloop process reads them.
  const registry = registryClientFromEnv(env, env.SCHEMA_REGISTRY_URL ?? 'http://127.0.0.1:8081');
  const out: Record<string, unknown> = {
    // Brokers, TLS and SASL, validated here (files read once); errors name the variable, never a value.
    connection: kafkaConnectionFromEnv(env),
    schemaRegistryUrl: registry.url,
    topicPrefix: env.RISKLOOP_TOPIC_PREFIX ?? 'riskloop.',
    accountTokenKey: env.RISKLOOP_ACCOUNT_TOKEN_KEY,
  };
  if (env.RISKLOOP_SDK_REPLY_ISOLATION) out.replyIsolation = env.RISKLOOP_SDK_REPLY_ISOLATION;
  if (registry.auth) out.schemaRegistryAuth = registry.auth;
  if (registry.ca) out.schemaRegistryCa = registry.ca;
  return { ...(out as RiskloopClientConfigInput), ...extra };
}

export function parseClientConfig(input: RiskloopClientConfigInput): RiskloopClientConfig {
  const parsed = RiskloopClientConfig.safeParse(input);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new Error(`invalid riskloop client config: ${msg}`);
  }
  return parsed.data;
}
