/**
 * Gives integration tests a real Kafka broker and schema registry, in this order:
 *  1. KAFKA_BROKERS / SCHEMA_REGISTRY_URL from the environment, when set;
 *  2. testcontainers (Apache Kafka + Confluent Schema Registry), when a Docker engine answers;
 *  3. the local stack (stack/stack.sh up), which needs no Docker.
 * If none comes up, setup throws and every integration test fails: nothing is skipped.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function dockerEngineAnswers(): Promise<boolean> {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

async function fromTestcontainers(): Promise<{ brokers: string; registry: string; stop: () => Promise<void> }> {
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const { GenericContainer, Network, Wait } = await import('testcontainers');
  const network = await new Network().start();
  const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.7.1').withKraft().withNetwork(network).withNetworkAliases('kafka').start();
  const registry = await new GenericContainer('confluentinc/cp-schema-registry:7.7.1')
    .withNetwork(network)
    .withEnvironment({
      SCHEMA_REGISTRY_HOST_NAME: 'schema-registry',
      SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS: 'PLAINTEXT://kafka:9092',
      SCHEMA_REGISTRY_LISTENERS: 'http://0.0.0.0:8081',
    })
    .withExposedPorts(8081)
    .withWaitStrategy(Wait.forHttp('/subjects', 8081))
    .start();
  return {
    brokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    registry: `http://${registry.getHost()}:${registry.getMappedPort(8081)}`,
    stop: async () => {
      await registry.stop();
      await kafka.stop();
      await network.stop();
    },
  };
}

/**
 * PostgreSQL for the audit-trail test (stack/postgres.sh, Debian's packages; stack/setup.sh installs
 * them), unless RISKLOOP_AUDIT_DB names a database. Started whatever the broker's source, so the
 * audit test never depends on a server someone else left running; it fails the run if it cannot.
 */
function auditDatabase(): void {
  if (process.env.RISKLOOP_AUDIT_DB) return;
  const port = process.env.PG_PORT ?? '5432';
  try {
    execFileSync('bash', [path.join(root, 'stack/postgres.sh'), 'up'], { stdio: 'inherit', timeout: 120_000 });
  } catch {
    throw new Error('globalSetup: PostgreSQL did not start (stack/postgres.sh up printed why above; bash stack/setup.sh installs it)');
  }
  // Read by the forks this process starts (test/integration/opsAudit.test.ts).
  process.env.RISKLOOP_AUDIT_DB = `postgres://riskloop:riskloop@127.0.0.1:${port}/riskloop`;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let brokers = process.env.KAFKA_BROKERS;
  let registry = process.env.SCHEMA_REGISTRY_URL;
  let teardown = async (): Promise<void> => {};
  if (!brokers || !registry) {
    if (!process.env.RISKLOOP_NO_DOCKER && (await dockerEngineAnswers())) {
      const c = await fromTestcontainers();
      brokers = c.brokers;
      registry = c.registry;
      teardown = c.stop;
    } else {
      // Throws (and so fails the run) if the stack cannot start; stack.sh prints why.
      execFileSync('bash', [path.join(root, 'stack/stack.sh'), 'up'], { stdio: 'inherit', timeout: 300_000 });
      brokers = `127.0.0.1:${process.env.KAFKA_PORT ?? 9092}`;
      registry = `http://127.0.0.1:${process.env.REGISTRY_PORT ?? 8081}`;
    }
  }
  auditDatabase();
  console.error(`globalSetup: node ${process.version}, broker ${brokers}, registry ${registry}, audit db ${process.env.RISKLOOP_AUDIT_DB?.replace(/\/\/[^@]*@/, '//')}`);
  project.provide('kafkaBrokers', brokers);
  project.provide('schemaRegistryUrl', registry);
  process.env.KAFKA_BROKERS = brokers;
  process.env.SCHEMA_REGISTRY_URL = registry;
  return teardown;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
    schemaRegistryUrl: string;
  }
}
