/**
 * The SDK used the way another Node project would: a fresh project folder with riskloop in its
 * node_modules, importing `riskloop/sdk` (package.json "exports"), run by tsx from a child process.
 * It derives the account token and partition of an account, and reaches the real broker and registry.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { Tokenizer } from '../../processors/tokenizer.js';
import { partitionForKey } from '../../topology/murmur2.js';
import { brokers, schemaRegistryUrl, uniq } from '../support/env.js';
import { createTopics } from '../support/kafkaIo.js';
import { buildCatalogue, catalogueTopics } from '../../schemas/catalogue.js';
import { TEST_TOKENIZER_CONFIG } from '../support/riskLoopFixture.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'riskloop-sdk-consumer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('imports riskloop/sdk from another project, derives tokens and partitions as the loop does, and connects', async () => {
  const prefix = `${uniq('sdkpkg')}.`;
  const catalogue = buildCatalogue({ prefix });
  await createTopics(brokers(), catalogueTopics(catalogue).map((t) => ({ topic: t.name, partitions: t.partitions, config: t.configs })));
  mkdirSync(path.join(dir, 'node_modules'));
  symlinkSync(root, path.join(dir, 'node_modules', 'riskloop'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'payment-service', type: 'module', private: true }));
  writeFileSync(
    path.join(dir, 'main.ts'),
    `import { RiskloopClient, InvalidInputError } from 'riskloop/sdk';
const client = new RiskloopClient({ brokers: process.env.BROKERS!.split(','), schemaRegistryUrl: process.env.REGISTRY!, topicPrefix: process.env.PREFIX!, accountTokenKey: process.env.KEY! });
await client.connect();
const bad = await client.decide({ transactionId: 't1' } as never).catch((e: unknown) => e);
console.log(JSON.stringify({ token: client.accountToken('ACC-000042'), partition: client.partitionOfAccount('ACC-000042'), invalid: bad instanceof InvalidInputError }));
await client.close();
`,
  );
  const { stdout } = await promisify(execFile)(path.join(root, 'node_modules', '.bin', 'tsx'), ['main.ts'], {
    cwd: dir,
    timeout: 60_000,
    env: { ...process.env, BROKERS: brokers().join(','), REGISTRY: schemaRegistryUrl(), PREFIX: prefix, KEY: TEST_TOKENIZER_CONFIG.accountTokenKey },
  });
  const out = JSON.parse(stdout.trim().split('\n').pop()!) as { token: string; partition: number; invalid: boolean };
  const expected = new Tokenizer(TEST_TOKENIZER_CONFIG).accountToken('ACC-000042');
  expect(out.token).toBe(expected);
  expect(out.partition).toBe(partitionForKey(Buffer.from(expected), catalogue.transactions.partitions));
  expect(out.invalid).toBe(true);
});
