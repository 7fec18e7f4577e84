/**
 * Starts one schema registry instance: reads the schemas topic to its end, then serves HTTP.
 * Several instances on the same broker and topic agree on every id (see store.ts).
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { type AnonymousAccess, Authenticator, loadUsersFile, type RegistryUser } from './auth.js';
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
  /**
   * Re-reads REGISTRY_USERS_FILE (main.ts: on SIGHUP), for password rotation without a restart.
   * A file that does not load leaves the users as they were and rejects with the reason.
   */
  reloadUsers(): Promise<number>;
}

export interface StartOptions {
  logger?: Logger;
  /** The topic reader died for good; the instance can no longer answer correctly. */
  onFatal?: (err: Error) => void;
}

export async function startRegistry(config: RegistryConfig, options: StartOptions = {}): Promise<RunningRegistry> {
  const logger = options.logger ?? createLogger(config);
  const authenticator = accessControl(config, logger);
  const tls = tlsOptions(config);
  const store = new KafkaSchemaStore(config, logger, options.onFatal);
  try {
    await store.start();
  } catch (err) {
    await store.close();
    throw err;
  }
  const listener = createRouter(new SchemaRegistryService(store), authenticator, (e) => store.appendAudit(e)).listener(logger);
  const server = tls === undefined ? http.createServer(listener) : https.createServer(tls, listener);
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
  const url = `${tls === undefined ? 'http' : 'https'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  logger.info({ url, topic: config.topic, brokers: config.brokers }, 'schema registry listening');

  let closing: Promise<void> | undefined;
  return {
    url,
    reloadUsers: async () => {
      if (config.usersFile === undefined) throw new Error('no REGISTRY_USERS_FILE to reload');
      const users = loadUsersFile(config.usersFile);
      authenticator.replaceUsers(users);
      logger.info({ users: users.length }, 'users file reloaded');
      return users.length;
    },
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

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/**
 * Users and anonymous access. Without a users file the registry is open, which keeps the local
 * stack and `npm run demo` working on a fresh machine with nothing to set up — but only on a
 * loopback address, and with a warning; anywhere else it refuses to start unless
 * REGISTRY_ALLOW_ANONYMOUS says so explicitly.
 */
function accessControl(config: RegistryConfig, logger: Logger): Authenticator {
  const users: RegistryUser[] = config.usersFile === undefined ? [] : loadUsersFile(config.usersFile);
  let anonymous: AnonymousAccess;
  if (config.allowAnonymous !== undefined) anonymous = config.allowAnonymous;
  else if (config.usersFile !== undefined) anonymous = 'none';
  else if (LOOPBACK.test(config.host)) anonymous = 'admin';
  else {
    throw new Error(
      `the registry listens on ${config.host} without REGISTRY_USERS_FILE: set a users file ` +
        '(registry/README.md), or REGISTRY_ALLOW_ANONYMOUS=read|write|admin to run it open on purpose',
    );
  }
  if (anonymous !== 'none') {
    logger.warn(
      { anonymous, users: users.length, host: config.host },
      `ANONYMOUS ACCESS: callers without credentials get the ${anonymous} role` +
        (config.usersFile === undefined ? ' (no REGISTRY_USERS_FILE; loopback only)' : ''),
    );
  } else {
    logger.info({ users: users.length }, 'basic auth required for every request');
  }
  return new Authenticator(users, anonymous);
}

function tlsOptions(config: RegistryConfig): { cert: Buffer; key: Buffer } | undefined {
  if (config.tlsCertFile === undefined && config.tlsKeyFile === undefined) return undefined;
  if (config.tlsCertFile === undefined || config.tlsKeyFile === undefined) {
    throw new Error('REGISTRY_TLS_CERT_FILE and REGISTRY_TLS_KEY_FILE go together');
  }
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`registry TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  };
  return { cert: read(config.tlsCertFile, 'certificate'), key: read(config.tlsKeyFile, 'key') };
}
