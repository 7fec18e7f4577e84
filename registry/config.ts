/**
 * The schema registry's configuration: validated once, then passed to startRegistry.
 * Environment variable names follow the stack script (stack/stack.sh), not Confluent's
 * SCHEMA_REGISTRY_* names, because riskloop's stack is the only thing that starts this registry.
 */
import { z } from 'zod';
import { kafkaConnectionFromEnv } from '../bin/kafkaConnection.js';
import type { KafkaConnection } from '../topology/kafka/connection.js';

export const RegistryConfigSchema = z.object({
  brokers: z.array(z.string().min(1)).min(1, 'at least one Kafka broker is needed'),
  /** TLS/SASL to Kafka (bin/kafkaConnection.ts: KAFKA_SECURITY_PROTOCOL...); absent: plaintext to `brokers`. */
  connection: z.custom<KafkaConnection>((v) => typeof v === 'object' && v !== null).optional(),
  /** 0 lets the OS pick a free port (tests start extra instances this way). */
  port: z.number().int().min(0).max(65_535).default(8081),
  host: z.string().min(1).default('127.0.0.1'),
  /** The compacted topic that holds every schema, config change and delete. */
  topic: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name holds 1-249 letters, digits, . _ -')
    .default('_schemas'),
  /** Where each registry write (and each denied or failed write attempt) is recorded (registry/audit.ts). */
  auditTopic: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name holds 1-249 letters, digits, . _ -')
    .default('riskloop.audit-events'),
  /** Users and roles for HTTP basic auth (registry/auth.ts); absent: no users, anonymous access only. */
  usersFile: z.string().min(1).optional(),
  /**
   * What callers without credentials may do. Default: `none` with a users file; without one,
   * `admin` on a loopback host (the local stack and tests) and a refusal to start elsewhere.
   */
  allowAnonymous: z.enum(['none', 'read', 'write', 'admin']).optional(),
  /** HTTPS instead of HTTP when both are given (PEM files). */
  tlsCertFile: z.string().min(1).optional(),
  tlsKeyFile: z.string().min(1).optional(),
  /** Upper bound for one request that has to go through the topic (Confluent: kafkastore.timeout.ms). */
  timeoutMs: z.number().int().positive().default(30_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Identifies this instance in Kafka client ids and logs; defaults to host:port and the pid. */
  instanceId: z.string().min(1).optional(),
});

export type RegistryConfigInput = z.input<typeof RegistryConfigSchema>;
export type RegistryConfig = z.output<typeof RegistryConfigSchema>;

export function parseRegistryConfig(input: RegistryConfigInput): RegistryConfig {
  const parsed = RegistryConfigSchema.safeParse(input);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
    throw new Error(`invalid schema registry config: ${msg}`);
  }
  return parsed.data;
}

const EnvSchema = z.object({
  KAFKA_BROKERS: z.string({ error: 'KAFKA_BROKERS is required (comma-separated host:port list)' }).min(1),
  REGISTRY_PORT: z.coerce.number().optional(),
  REGISTRY_HOST: z.string().optional(),
  REGISTRY_TOPIC: z.string().optional(),
  REGISTRY_AUDIT_TOPIC: z.string().optional(),
  REGISTRY_USERS_FILE: z.string().optional(),
  REGISTRY_ALLOW_ANONYMOUS: z.enum(['none', 'read', 'write', 'admin']).optional(),
  REGISTRY_TLS_CERT_FILE: z.string().optional(),
  REGISTRY_TLS_KEY_FILE: z.string().optional(),
  REGISTRY_TIMEOUT_MS: z.coerce.number().optional(),
  REGISTRY_LOG_LEVEL: z.string().optional(),
});

/** Maps environment variables onto RegistryConfig; empty variables count as unset. */
export function registryConfigFromEnv(env: NodeJS.ProcessEnv): RegistryConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const msg = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid schema registry environment: ${msg}`);
  }
  const e = parsed.data;
  return parseRegistryConfig({
    brokers: e.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter((b) => b.length > 0),
    // The same connection settings as every riskloop process; errors name the variable, never a value.
    connection: kafkaConnectionFromEnv(env, e.KAFKA_BROKERS),
    port: e.REGISTRY_PORT,
    host: e.REGISTRY_HOST,
    topic: e.REGISTRY_TOPIC,
    auditTopic: e.REGISTRY_AUDIT_TOPIC,
    usersFile: e.REGISTRY_USERS_FILE,
    allowAnonymous: e.REGISTRY_ALLOW_ANONYMOUS,
    tlsCertFile: e.REGISTRY_TLS_CERT_FILE,
    tlsKeyFile: e.REGISTRY_TLS_KEY_FILE,
    timeoutMs: e.REGISTRY_TIMEOUT_MS,
    // Checked by the enum in RegistryConfigSchema, which names the allowed levels in its error.
    logLevel: e.REGISTRY_LOG_LEVEL as RegistryConfigInput['logLevel'],
  });
}
