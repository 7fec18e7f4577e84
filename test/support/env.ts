/** Connection settings for integration tests, provided by globalSetup (never defaulted here). */
import { inject } from 'vitest';

export function brokers(): string[] {
  return inject('kafkaBrokers').split(',');
}

export function schemaRegistryUrl(): string {
  return inject('schemaRegistryUrl');
}

/** A unique suffix so that tests on a shared broker never read each other's topics or groups. */
export function uniq(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
