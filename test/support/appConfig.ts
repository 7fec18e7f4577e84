/**
 * The app configuration integration tests run the loop with: the real broker and registry from
 * globalSetup, topics and state of their own, the test tokenization keys, and the synthetic
 * bootstrap model pinned as champion and no shadow (tests assert on its version, whatever the app's
 * default cold start is).
 */
import path from 'node:path';
import { readAppConfig, type AppConfig } from '../../bin/config.js';
import { brokers, schemaRegistryUrl } from './env.js';
import { TEST_TOKENIZER_CONFIG } from './riskLoopFixture.js';

export function testAppConfig(id: string, stateRoot: string, env: Record<string, string> = {}): AppConfig {
  return readAppConfig(testAppEnv(id, stateRoot, env));
}

/** The same configuration as environment variables, for a `riskloop` child process. */
export function testAppEnv(id: string, stateRoot: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: brokers().join(','),
    SCHEMA_REGISTRY_URL: schemaRegistryUrl(),
    RISKLOOP_APP_ID: id,
    RISKLOOP_TOPIC_PREFIX: `${id}.`,
    RISKLOOP_GUARANTEE: 'exactly_once',
    RISKLOOP_STATE_DIR: path.join(stateRoot, id),
    RISKLOOP_ACCOUNT_TOKEN_KEY: TEST_TOKENIZER_CONFIG.accountTokenKey,
    RISKLOOP_CARD_KEYS: JSON.stringify(TEST_TOKENIZER_CONFIG.cardKeys),
    RISKLOOP_CARD_KEY_ID: TEST_TOKENIZER_CONFIG.currentCardKeyId,
    RISKLOOP_MODEL_CARD: 'models/bootstrap-v1.card.json',
    // No shadow model unless a test asks for one (the app's default cold start shadows sim-bootstrap-v1).
    RISKLOOP_SHADOW_MODEL_CARDS: '',
    LOG_LEVEL: 'warn',
    ...env,
  };
}
