/**
 * A run as files: one JSONL file per topic (one `{"key","timestamp","value"}` object per line, in
 * timestamp order), truth.jsonl (one line per transaction, in the order of transactions.jsonl)
 * and summary.json. JSON.stringify is deterministic for these plain objects (fixed key order,
 * shortest round-trip number formatting), so equal runs give byte-identical files.
 */
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import type { SimulatedTopic, SimulationResult } from '../simulate.js';
import { SIMULATED_TOPICS } from '../simulate.js';

export const TOPIC_FILES: Readonly<Record<SimulatedTopic, string>> = {
  kyc: 'kyc.jsonl',
  deviceSignals: 'device-signals.jsonl',
  transactions: 'transactions.jsonl',
  chargebacks: 'chargebacks.jsonl',
  analystOutcomes: 'analyst-outcomes.jsonl',
};
export const TRUTH_FILE = 'truth.jsonl';
export const SUMMARY_FILE = 'summary.json';

/** Lines are joined into chunks of about this many characters before each write. */
const CHUNK_CHARS = 1 << 20;

async function writeLines(file: string, items: readonly unknown[]): Promise<void> {
  const handle = await open(file, 'w');
  try {
    let chunk = '';
    for (const item of items) {
      chunk += JSON.stringify(item) + '\n';
      if (chunk.length >= CHUNK_CHARS) {
        await handle.write(chunk);
        chunk = '';
      }
    }
    if (chunk.length > 0) await handle.write(chunk);
  } finally {
    await handle.close();
  }
}

/** Writes every file of the run into `dir` (created if missing) and returns their paths. */
export async function writeSimulationFiles(result: SimulationResult, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const topic of SIMULATED_TOPICS) {
    const file = path.join(dir, TOPIC_FILES[topic]);
    await writeLines(file, result.records[topic]);
    written.push(file);
  }
  const truthFile = path.join(dir, TRUTH_FILE);
  await writeLines(truthFile, result.truth);
  written.push(truthFile);
  const summaryFile = path.join(dir, SUMMARY_FILE);
  const handle = await open(summaryFile, 'w');
  try {
    await handle.write(JSON.stringify(result.summary, null, 2) + '\n');
  } finally {
    await handle.close();
  }
  written.push(summaryFile);
  return written;
}
