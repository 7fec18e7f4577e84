/**
 * Entry point of riskloop's schema registry (started by stack/stack.sh):
 *   KAFKA_BROKERS=127.0.0.1:9092 [KAFKA_SECURITY_PROTOCOL=... see bin/kafkaConnection.ts] [REGISTRY_PORT=8081] [REGISTRY_HOST=127.0.0.1] [REGISTRY_TOPIC=_schemas]
 *   node --import tsx registry/main.ts
 * SIGTERM or SIGINT closes the HTTP server and the Kafka clients, then exits 0.
 */
import { type RegistryConfig, registryConfigFromEnv } from './config.js';
import { startRegistry } from './index.js';
import { createLogger } from './logging.js';
import { explainKafkaError, plaintextConnection } from '../topology/kafka/connection.js';

/** A stop that takes longer than this is abandoned: better a hard exit than a hung process. */
const STOP_TIMEOUT_MS = 20_000;

function loadConfig(): RegistryConfig {
  try {
    return registryConfigFromEnv(process.env);
  } catch (err) {
    // No logger yet: its level is part of the config that just failed.
    console.error(`schema registry: ${(err as Error).message}`);
    process.exit(1);
  }
}

const config = loadConfig();
const logger = createLogger(config);

try {
  const registry = await startRegistry(config, {
    logger,
    onFatal: () => {
      // Stale answers are worse than none: exit so the stack sees the registry down.
      process.exit(1);
    },
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    setTimeout(() => {
      logger.error('stop took too long; exiting');
      process.exit(1);
    }, STOP_TIMEOUT_MS).unref();
    registry.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  // Password rotation without a restart (registry/README.md): re-read the users file.
  process.on('SIGHUP', () => {
    registry.reloadUsers().catch((err: unknown) => logger.error({ err: (err as Error).message }, 'users file not reloaded; the old users stay'));
  });
  process.on('SIGINT', stop);
} catch (err) {
  // A refused SASL login or a TLS failure in words that name the user and what to check (never the password).
  logger.fatal({ err }, `schema registry failed to start: ${explainKafkaError(err, config.connection ?? plaintextConnection(config.brokers))}`);
  process.exit(1);
}
