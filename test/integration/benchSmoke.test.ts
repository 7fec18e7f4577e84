/**
 * The benchmarks are not part of the tests (their figures come from `npm run bench`), but each one
 * must keep running: this runs every benchmark once on a tiny input against the real broker and
 * checks that it wrote its result file with figures in it. Soak needs 3.5 minutes even here: its
 * first 2 minutes are warm-up by design, and growth is judged on the samples after it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { brokers, schemaRegistryUrl } from '../support/env.js';

const results = mkdtempSync(path.join(os.tmpdir(), 'riskloop-bench-smoke-'));
afterAll(() => rmSync(results, { recursive: true, force: true }));

const BENCHMARKS = ['passthrough', 'loop-alo', 'loop-eos', 'loop-hot', 'loop-side', 'latency', 'score', 'restore', 'soak'];

describe('benchmarks (smoke, tiny inputs)', () => {
  it('each benchmark runs and writes its figures', { timeout: 600_000 }, async () => {
    // Asynchronous on purpose: a synchronous child would block this worker's RPC for minutes.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', ...BENCHMARKS,
        '--customers', '20', '--days', '2', '--warmup', '0',
        '--rates', '40', '--rate-seconds', '5', '--restore-keys', '2000', '--soak-rate', '20', '--minutes', '3.5'],
      { env: { ...process.env, KAFKA_BROKERS: brokers().join(','), SCHEMA_REGISTRY_URL: schemaRegistryUrl(), BENCH_RESULTS_DIR: results, BENCH_STATE_ROOT: path.join(results, 'state') } },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-6000)));
    child.stderr.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-6000)));
    const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(status, `bench/run.ts failed:\n${output}`).toBe(0);
    for (const name of BENCHMARKS) {
      const json = JSON.parse(readFileSync(path.join(results, `${name}.json`), 'utf8')) as { benchmark: string; commit: string; results: unknown };
      expect(json.benchmark, name).toBe(name);
      expect(JSON.stringify(json.results), name).toMatch(/\d/);
    }
  });
});
