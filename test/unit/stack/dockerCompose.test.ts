/**
 * docker-compose.yml has never run here (no Docker engine on these machines), so what can be
 * checked without one is checked: the file parses as YAML, and it describes the same stack as
 * stack/stack.sh and stack/postgres.sh (Kafka version from stack/pom.xml, ports, listeners, the
 * audit database's credentials), so a user with Docker gets what the tests were run against.
 */
import { readFileSync } from 'node:fs';
import { auditSchemaSql } from '../../../ops/auditSchema.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (f: string): string => readFileSync(path.join(root, f), 'utf8');

interface Service {
  image: string;
  ports?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
}
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const { kafka, 'schema-registry': registry, postgres } = compose.services;
const env = (s: Service | undefined, k: string): string => String(s?.environment?.[k] ?? '');

describe('docker-compose.yml', () => {
  it('has the three services, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['kafka', 'postgres', 'schema-registry']);
    for (const [name, s] of Object.entries(compose.services)) expect(s.healthcheck?.test.length, `${name} healthcheck`).toBeGreaterThan(0);
  });

  it('runs the Kafka version stack/pom.xml resolves, on the local stack ports', () => {
    const pomVersion = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(read('stack/pom.xml'))?.[1];
    expect(pomVersion).toBeDefined();
    expect(kafka!.image).toBe(`apache/kafka:${pomVersion}`);
    expect(kafka!.ports).toEqual(['127.0.0.1:9092:9092']);
    expect(registry!.ports).toEqual(['127.0.0.1:8081:8081']);
    expect(postgres!.ports).toEqual(['127.0.0.1:5432:5432']);
  });

  it('wires the KRaft listeners consistently', () => {
    const listeners = new Map(env(kafka, 'KAFKA_LISTENERS').split(',').map((l) => [l.split('://')[0]!, l.split(':').at(-1)!]));
    const protocols = new Map(env(kafka, 'KAFKA_LISTENER_SECURITY_PROTOCOL_MAP').split(',').map((p) => p.split(':') as [string, string]));
    for (const name of listeners.keys()) expect(protocols.has(name), `${name} in the protocol map`).toBe(true);
    expect(listeners.get('PLAINTEXT')).toBe('9092');
    expect(env(kafka, 'KAFKA_ADVERTISED_LISTENERS')).toContain('PLAINTEXT://127.0.0.1:9092');
    expect(listeners.has(env(kafka, 'KAFKA_INTER_BROKER_LISTENER_NAME'))).toBe(true);
    expect(listeners.has(env(kafka, 'KAFKA_CONTROLLER_LISTENER_NAMES'))).toBe(true);
    // The controller quorum names this node on the controller listener's port.
    expect(env(kafka, 'KAFKA_CONTROLLER_QUORUM_VOTERS')).toBe(`${env(kafka, 'KAFKA_NODE_ID')}@kafka:${listeners.get('CONTROLLER')}`);
    // The registry reaches the broker on the internal listener, once the broker is healthy.
    const internal = /INTERNAL:\/\/([^,]+)/.exec(env(kafka, 'KAFKA_ADVERTISED_LISTENERS'))?.[1];
    expect(env(registry, 'SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS')).toBe(`PLAINTEXT://${internal}`);
    expect(registry!.depends_on).toEqual({ kafka: { condition: 'service_healthy' } });
    // Topics are created by `riskloop topics create`, as on the local stack.
    expect(env(kafka, 'KAFKA_AUTO_CREATE_TOPICS_ENABLE')).toBe('false');
  });

  it('gives the audit database the credentials the local one has (opt-in profile)', () => {
    expect(postgres!.profiles).toEqual(['postgres']);
    const script = read('stack/postgres.sh');
    // postgres.sh creates each role with its own name as password: the owner and the loop role.
    expect(script).toContain(`for role in ${env(postgres, 'POSTGRES_USER')} riskloop; do`);
    expect(script).toContain(`CREATE ROLE $role LOGIN PASSWORD '$role'`);
    expect(env(postgres, 'POSTGRES_PASSWORD')).toBe(env(postgres, 'POSTGRES_USER'));
    expect(script).toContain(`CREATE DATABASE ${env(postgres, 'POSTGRES_DB')} OWNER ${env(postgres, 'POSTGRES_USER')}`);
    expect(read('stack/postgres-init/00-loop-role.sql')).toContain("CREATE ROLE riskloop LOGIN PASSWORD 'riskloop'");
  });

  it('creates the same append-only audit tables as stack/postgres.sh (one definition: ops/auditSchema.ts)', () => {
    const generated = read('stack/postgres-init/10-audit-schema.sql').split('\n').filter((l) => !l.startsWith('--')).join('\n');
    expect(generated.trim()).toBe(auditSchemaSql({ loopRole: 'riskloop' }).trim());
  });
});
