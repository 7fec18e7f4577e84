/**
 * What the loop's main thread hands each stream thread (bin/riskLoopThread.ts): the AppConfig
 * survives the structured clone of postMessage with its secrets usable again (a Secret's private
 * field would otherwise be lost), each thread gets an instance id (state folder) of its own, and a
 * connection that cannot cross (an OAUTHBEARER token function) is refused at start.
 */
import { describe, expect, it } from 'vitest';
import { readAppConfig } from '../../../bin/config.js';
import { decodeThreadData, encodeThreadData, reviveRelease, threadInstanceId } from '../../../bin/riskLoopThread.js';
import { Secret } from '../../../topology/kafka/connection.js';
import type { ModelRelease } from '../../../schemas/types.js';

const env = {
  RISKLOOP_ACCOUNT_TOKEN_KEY: 'a'.repeat(64),
  RISKLOOP_CARD_KEYS: JSON.stringify([{ id: 'k1', key: 'b'.repeat(64) }]),
  RISKLOOP_CARD_KEY_ID: 'k1',
  RISKLOOP_STREAM_THREADS: '2',
  KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT',
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
  KAFKA_SASL_USERNAME: 'loop',
  KAFKA_SASL_PASSWORD: 'pw-123',
};

describe('stream thread data', () => {
  it('RISKLOOP_STREAM_THREADS is validated (default 1)', () => {
    expect(readAppConfig({ ...env, RISKLOOP_STREAM_THREADS: undefined }).numStreamThreads).toBe(1);
    expect(readAppConfig(env).numStreamThreads).toBe(2);
    expect(() => readAppConfig({ ...env, RISKLOOP_STREAM_THREADS: '0' })).toThrow(/numStreamThreads \(\$RISKLOOP_STREAM_THREADS\)/);
    expect(() => readAppConfig({ ...env, RISKLOOP_STREAM_THREADS: 'two' })).toThrow(/RISKLOOP_STREAM_THREADS/);
  });

  it('survives a structured clone with its secrets', () => {
    const config = readAppConfig(env);
    const cloned = structuredClone(encodeThreadData(config, { loop: { parts: 'hot' } }));
    const { config: back, opts } = decodeThreadData(cloned);
    expect(opts).toEqual({ loop: { parts: 'hot' } });
    const sasl = back.kafka.sasl;
    expect(sasl?.mechanism).toBe('SCRAM-SHA-512');
    if (sasl?.mechanism !== 'SCRAM-SHA-512') return;
    expect(sasl.password).toBeInstanceOf(Secret);
    expect(sasl.password.reveal()).toBe('pw-123');
    expect(back.tokenizer).toEqual(config.tokenizer);
    expect(back.numStreamThreads).toBe(2);
  });

  it('refuses an OAUTHBEARER connection, whose token provider cannot reach a worker', () => {
    const config = readAppConfig(env);
    const oauth = { ...config, kafka: { ...config.kafka, sasl: { mechanism: 'OAUTHBEARER' as const, token: async () => new Secret('t') } } };
    expect(() => encodeThreadData(oauth, {})).toThrow(/OAUTHBEARER/);
  });

  it('gives each thread its own instance id, and a release its Buffer back', () => {
    expect(threadInstanceId(undefined, 0)).toBe('thread-0');
    expect(threadInstanceId('pod-a', 1)).toBe('pod-a.thread-1');
    const release = { version: 'v1', artifact: Buffer.from([1, 2, 3]) } as unknown as ModelRelease;
    const revived = reviveRelease(structuredClone(release));
    expect(Buffer.isBuffer(revived.artifact)).toBe(true);
    expect([...revived.artifact!]).toEqual([1, 2, 3]);
  });
});
