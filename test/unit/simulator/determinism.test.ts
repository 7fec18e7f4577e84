/**
 * Same seed and config → byte-identical files; another seed → different ones; and the derived
 * streams keep parts independent: changing the fraud rates leaves the legitimate traffic alone.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { accountTokenOf } from '../../../processors/tokenizer.js';
import { simulate, type SimulationResult } from '../../../simulator/simulate.js';
import { writeSimulationFiles } from '../../../simulator/sinks/files.js';

const KEY = Buffer.alloc(32, 0x5a);
const keyFor = (id: string): string => accountTokenOf(KEY, id);
const SMALL = { customers: 300, days: 14 } as const;
const dirs: string[] = [];

async function filesOf(result: SimulationResult): Promise<Map<string, string>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'riskloop-sim-'));
  dirs.push(dir);
  await writeSimulationFiles(result, dir);
  const hashes = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) {
    hashes.set(name, createHash('sha256').update(await readFile(path.join(dir, name))).digest('hex'));
  }
  return hashes;
}

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('simulator determinism', () => {
  it('writes byte-identical files for the same seed and config', async () => {
    const first = await filesOf(simulate({ ...SMALL, seed: 99 }, { keyFor }));
    const second = await filesOf(simulate({ ...SMALL, seed: 99 }, { keyFor }));
    expect([...first.keys()]).toEqual([
      'analyst-outcomes.jsonl',
      'chargebacks.jsonl',
      'device-signals.jsonl',
      'kyc.jsonl',
      'summary.json',
      'transactions.jsonl',
      'truth.jsonl',
    ]);
    expect(second).toEqual(first);
  });

  it('writes different files for another seed', async () => {
    const a = await filesOf(simulate({ ...SMALL, seed: 1 }, { keyFor }));
    const b = await filesOf(simulate({ ...SMALL, seed: 2 }, { keyFor }));
    for (const name of ['transactions.jsonl', 'kyc.jsonl', 'device-signals.jsonl', 'truth.jsonl', 'summary.json']) {
      expect(b.get(name), name).not.toBe(a.get(name));
    }
  });

  it('keeps the legitimate traffic of a seed when only the fraud rates change', () => {
    const legit = (r: SimulationResult): string[] => {
      const fraudIds = new Set(r.truth.filter((t) => t.fraud).map((t) => t.transactionId));
      // Ids embed the config's hash, so compare contents without them.
      return r.records.transactions
        .filter((t) => !fraudIds.has(t.value.transactionId))
        .map((t) => JSON.stringify({ ...t.value, transactionId: '' }));
    };
    const base = simulate({ ...SMALL, seed: 5 }, { keyFor });
    const moreFraud = simulate({ ...SMALL, seed: 5, fraudScale: 3 }, { keyFor });
    expect(moreFraud.summary.fraud.transactions).toBeGreaterThan(base.summary.fraud.transactions);
    expect(legit(moreFraud)).toEqual(legit(base));
  });
});
