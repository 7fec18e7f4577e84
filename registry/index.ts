/**
 * Starts one schema registry instance: reads the schemas topic to its end, then serves HTTP.
 * Several instances on the same broker and topic agree on every id (see store.ts).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { RegistryConfig } from './config.js';
import { createLogger } from './logging.js';
import { createRouter } from './server.js';
import { SchemaRegistryService } from './service.js';
import { KafkaSchemaStore } from './store.js';

export { parseRegistryConfig, registryConfigFromEnv, type RegistryConfig, type RegistryConfigInput } from './config.js';

export interface RunningRegistry {
  /** Base URL, e.g. http://127.0.0.1:8081 (with the real port when config.port was 0). */
  url: string;
  /** Stops answering, lets requests under way finish, then disconnects from Kafka. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** The topic reader died for good; the instance can no longer answer correctly. */
  onFatal?: (err: Error) => void;
}

export async function startRegistry(config: RegistryConfig, options: StartOptions = {}): Promise<RunningRegistry> {
  const logger = options.logger ?? createLogger(config);
  const store = new KafkaSchemaStore(config, logger, options.onFatal);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  const server = http.createServer(createRouter(new SchemaRegistryService(store)).listener(logger));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await store.close();
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url, topic: config.topic, brokers: config.brokers }, 'schema registry listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () => {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          // Keep-alive connections would hold close() open until their clients hang up.
          server.closeIdleConnections();
        });
        await store.close();
        logger.info({ url }, 'schema registry stopped');
      })();
      return closing;
    },
  };
}
