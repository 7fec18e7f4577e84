/**
 * A model release that does not fit its topic, on the real broker: `riskloop release` reads the
 * model-releases topic's max.message.bytes from the broker and refuses a release record past it
 * with both sizes, before any transaction starts, so nothing reaches the topic; once the topic takes
 * larger records the same card is released. (The retrainer judges the same figure as its
 * `releaseSize` gate: test/unit/lifecycle/gates.test.ts.)
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { releaseCommand } from '../../bin/commands/release.js';
import { readClientConfig } from '../../bin/config.js';
import { buildCatalogue } from '../../schemas/catalogue.js';
import { testAppEnv } from '../support/appConfig.js';
import { brokers, uniq } from '../support/env.js';

const stateRoot = mkdtempSync(path.join(os.tmpdir(), 'riskloop-rsize-'));
afterAll(() => rmSync(stateRoot, { recursive: true, force: true }));

describe('riskloop release and the release topic size limit', () => {
  it('refuses a release record larger than the topic takes, with the sizes, and publishes nothing', async () => {
    const id = uniq('rsize');
    const env = testAppEnv(id, stateRoot);
    const lines: string[] = [];
    const io = { out: (l: string) => void lines.push(l), err: (l: string) => void lines.push(`ERR ${l}`), env };
    const topic = buildCatalogue({ prefix: readClientConfig(env).topicPrefix }).modelReleases.name;
    const artifactBytes = statSync('models/bootstrap-v1.onnx').size;
    const admin = new Kafka({ brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      // A limit below the artifact (54 KB): the record cannot fit, whatever the rest of it weighs.
      const small = Math.floor(artifactBytes / 2);
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'max.message.bytes', value: String(small) }] }], waitForLeaders: true });

      expect(await releaseCommand(['--card', 'models/bootstrap-v1.card.json', '--mode', 'shadow'], io)).toBe(1);
      const refusal = lines.find((l) => l.startsWith('ERR '));
      expect(refusal).toMatch(/bootstrap-v1 not released: release record 0\.\d\d MiB \(artifact inline\) exceeds .*model-releases's 0\.0\d MiB \(max\.message\.bytes less batch overhead\): it could not be published/);
      expect((await admin.fetchTopicOffsets(topic))[0]!.high).toBe('0');

      // The limit is the broker's, read at release time: raised, the same card goes out.
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(16 * 1024 * 1024) }] }] });
      lines.length = 0;
      expect(await releaseCommand(['--card', 'models/bootstrap-v1.card.json', '--mode', 'shadow'], io)).toBe(0);
      expect(lines.join('\n')).toMatch(/released bootstrap-v1 as shadow/);
      // The commit markers land just after commit() returns: wait for the record to become readable.
      await expect.poll(async () => Number((await admin.fetchTopicOffsets(topic))[0]!.high), { timeout: 15_000 }).toBeGreaterThan(0);
    } finally {
      const ours = (await admin.listTopics()).filter((t) => t.startsWith(`${id}.`));
      await admin.deleteTopics({ topics: ours }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
