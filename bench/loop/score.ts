/**
 * `score`: ONNX inference cost per transaction, in-process, with the bootstrap model through the
 * ModelRegistry (the same session options and call the scorer makes), at batch sizes 1, 16, 64,
 * 256. Rows are real-looking feature vectors drawn from a seeded generator; each size runs a
 * warm-up, then enough calls for at least `minMs` and `minCalls`. Reports µs per call and per row.
 */
import pino from 'pino';
import { ModelRegistry, specFromModelCard } from '../../processors/modelRegistry.js';
import { type BenchEnv, percentile, writeResult } from './common.js';

export interface ScoreRow {
  batch: number;
  calls: number;
  usPerCallP50: number;
  usPerCallP99: number;
  usPerTransaction: number;
}

export async function scoreBench(env: BenchEnv, opts: { batches?: number[]; minMs?: number; minCalls?: number; card?: string } = {}): Promise<ScoreRow[]> {
  const batches = opts.batches ?? [1, 16, 64, 256];
  const minMs = opts.minMs ?? 3000;
  const minCalls = opts.minCalls ?? 500;
  const card = opts.card ?? 'models/bootstrap-v1.card.json';
  const registry = new ModelRegistry(pino({ level: 'silent' }));
  const outcome = await registry.setChampion(await specFromModelCard(card));
  if (!outcome.accepted) throw new Error(`model refused: ${outcome.reason}`);
  const model = outcome.model;
  const F = model.featureNames.length;
  // A fixed LCG: the same inputs every run; values in a plausible range for amounts, counts and flags.
  let s = 12345;
  const next = (): number => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const rows: ScoreRow[] = [];
  for (const batch of batches) {
    const data = new Float32Array(batch * F);
    for (let i = 0; i < data.length; i++) data[i] = next() < 0.05 ? Number.NaN : next() * 100;
    for (let i = 0; i < 200; i++) await registry.score(model, data, batch);
    const perCall: number[] = [];
    const t0 = performance.now();
    while (perCall.length < minCalls || performance.now() - t0 < minMs) {
      const a = performance.now();
      await registry.score(model, data, batch);
      perCall.push((performance.now() - a) * 1000);
    }
    const total = (performance.now() - t0) * 1000;
    perCall.sort((a, b) => a - b);
    rows.push({ batch, calls: perCall.length, usPerCallP50: percentile(perCall, 0.5), usPerCallP99: percentile(perCall, 0.99), usPerTransaction: total / (perCall.length * batch) });
    console.log(`score batch ${batch}: ${(total / (perCall.length * batch)).toFixed(2)} µs/transaction (${perCall.length} calls)`);
  }
  await registry.close();
  writeResult(env, 'score', { model: model.version, card, features: F, intraOpNumThreads: 1, minMs, minCalls, target: '<= 20 µs per transaction at batch 64', note: 'µs per transaction = wall time of all timed calls / (calls × batch); includes the async hop of session.run' }, rows);
  return rows;
}
