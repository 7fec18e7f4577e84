/**
 * How riskloop's processes reach the schema registry: URL, basic auth as Confluent's clients send it
 * (`basic.auth.user.info` = `user:password`) and, for https, the CA to trust. Read once from the
 * environment next to the rest of the configuration, then passed to createRegistryClient.
 *
 *   SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO        user:password (or the _FILE variant, one line)
 *   SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_FILE   a file holding user:password (preferred: not in the environment of the process)
 *   SCHEMA_REGISTRY_CA_FILE                     PEM CA bundle for an https registry
 *
 * The password is never printed: the settings serialise (JSON, util.inspect) with the user only.
 */
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { inspect } from 'node:util';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';

/** The variables registryClientFromEnv reads besides SCHEMA_REGISTRY_URL (for handing on to child processes). */
export const REGISTRY_ENV = ['SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO', 'SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_FILE', 'SCHEMA_REGISTRY_CA_FILE'] as const;

export interface RegistryClientSettings {
  url: string;
  auth?: { username: string; password: string };
  /** PEM CA bundle for https; absent: Node's default trust store. */
  ca?: Buffer;
}

/** The settings as they may be shown: user name and whether a CA is set, never the password. */
function redacted(s: RegistryClientSettings): Record<string, unknown> {
  return { url: s.url, user: s.auth?.username, ca: s.ca === undefined ? undefined : 'set' };
}

function hidePassword(s: RegistryClientSettings): RegistryClientSettings {
  Object.defineProperty(s, 'toJSON', { value: () => redacted(s), enumerable: false });
  Object.defineProperty(s, inspect.custom, { value: () => redacted(s), enumerable: false });
  return s;
}

/**
 * Reads the registry client settings for `url` (already validated with the rest of the config).
 * Errors name the variable and what is wrong with it, never its value.
 */
export function registryClientFromEnv(env: Readonly<Record<string, string | undefined>>, url: string): RegistryClientSettings {
  const settings: RegistryClientSettings = { url };
  const inline = env.SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO;
  const file = env.SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_FILE;
  if (inline && file) {
    throw new Error('set SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO or SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_FILE, not both');
  }
  let userInfo: string | undefined;
  let source = 'SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO';
  if (inline) userInfo = inline;
  if (file) {
    source = 'SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO_FILE';
    userInfo = readSecretFile(file, source).replace(/\r?\n$/, '');
  }
  if (userInfo !== undefined) {
    const colon = userInfo.indexOf(':');
    if (colon <= 0 || colon === userInfo.length - 1) throw new Error(`${source} must hold user:password (user and password both non-empty)`);
    settings.auth = { username: userInfo.slice(0, colon), password: userInfo.slice(colon + 1) };
  }
  const caFile = env.SCHEMA_REGISTRY_CA_FILE;
  if (caFile) {
    if (!url.startsWith('https:')) throw new Error('SCHEMA_REGISTRY_CA_FILE is set but SCHEMA_REGISTRY_URL is not https');
    settings.ca = readSecretFile(caFile, 'SCHEMA_REGISTRY_CA_FILE', false);
    if (!settings.ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) {
      throw new Error(`SCHEMA_REGISTRY_CA_FILE ${caFile} holds no PEM certificate`);
    }
  }
  return hidePassword(settings);
}

function readSecretFile(path: string, variable: string): string;
function readSecretFile(path: string, variable: string, asText: false): Buffer;
function readSecretFile(path: string, variable: string, asText = true): string | Buffer {
  try {
    const data = readFileSync(path);
    return asText ? data.toString('utf8') : data;
  } catch (err) {
    throw new Error(`${variable} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

/** Settings for a URL with nothing else (tests and tools on the local stack). */
export function plainRegistryClient(url: string): RegistryClientSettings {
  return { url };
}

/** The Confluent client (@kafkajs/confluent-schema-registry) with the settings' auth and CA. */
export function createRegistryClient(settings: RegistryClientSettings): SchemaRegistry {
  return new SchemaRegistry({
    host: settings.url,
    ...(settings.auth === undefined ? {} : { auth: { username: settings.auth.username, password: settings.auth.password } }),
    ...(settings.ca === undefined ? {} : { agent: new HttpsAgent({ ca: settings.ca, keepAlive: true }) }),
  });
}
