/**
 * Rough state-store throughput, not a test: `npx tsx bench/state.ts [count]`.
 * Times `count` puts (default 200 000, random key order, default cache size, logged), one flush,
 * `count` gets of the same keys, and one full scan, for the RocksDB and the in-memory store.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Stores } from '../state/stores.js';
import type { ChangeRecord, ChangelogSink } from '../state/types.js';
import { Serdes } from '../topology/serde.js';

const count = Number(process.argv[2] ?? 200_000);

/** Counts what a Kafka producer would be handed, so logging costs what it would at least cost. */
class CountingSink implements ChangelogSink {
  records = 0;
  send(_store: string, change: ChangeRecord): void {
    void change;
    this.records++;
  }
}

function shuffledKeys(n: number): string[] {
  const keys = Array.from({ length: n }, (_, i) => `acct-${String(i).padStart(8, '0')}`);
  let seed = 7;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = seed % (i + 1);
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  return keys;
}

async function time<T>(fn: () => T | Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await fn();
  return [result, performance.now() - start];
}

const rate = (ms: number) => `${Math.round((count / ms) * 1000).toLocaleString('en-US')}/s`;

async function bench(persistent: boolean): Promise<void> {
  const taskDir = await mkdtemp(join(tmpdir(), 'riskloop-bench-'));
  const sink = new CountingSink();
  const store = Stores.keyValue('bench', Serdes.String, Serdes.Json<{ score: number; n: number }>(), { persistent }).build();
  await store.open({ taskDir, taskId: '0_0', changelog: sink });
  const keys = shuffledKeys(count);
  try {
    const [, putMs] = await time(() => {
      for (let i = 0; i < keys.length; i++) store.put(keys[i]!, { score: i % 100, n: i });
    });
    const [, flushMs] = await time(() => store.flush());
    const [found, getMs] = await time(() => {
      let hits = 0;
      for (const key of keys) if (store.get(key) !== undefined) hits++;
      return hits;
    });
    const [scanned, scanMs] = await time(() => {
      let n = 0;
      for (const entry of store.all()) n += entry.value.n >= 0 ? 1 : 0;
      return n;
    });
    if (found !== count || scanned !== count || sink.records !== count) {
      throw new Error(`bench sanity failed: ${found} found, ${scanned} scanned, ${sink.records} logged of ${count}`);
    }
    const name = persistent ? 'rocksdb' : 'memory';
    console.log(
      `${name.padEnd(8)} ${count} puts ${putMs.toFixed(0)} ms (${rate(putMs)}, incl. early flushes) | ` +
        `final flush ${flushMs.toFixed(0)} ms | ${count} gets ${getMs.toFixed(0)} ms (${rate(getMs)}) | ` +
        `full scan ${scanMs.toFixed(0)} ms (${rate(scanMs)})`,
    );
  } finally {
    await store.close();
    await rm(taskDir, { recursive: true, force: true });
  }
}

await bench(true);
await bench(false);
