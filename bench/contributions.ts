/**
 * What per-decision tree contributions (processors/contributions.ts, path-based / Saabas) cost in
 * the hot path, next to the ONNX inference itself, for a trees file the trainer wrote.
 *
 *   bash stack/node.sh npx tsx bench/contributions.ts --trees models/<v>.trees.json --onnx models/<v>.onnx --rows rows.json [--runs 5]
 *
 * rows.json: {"features": [...], "rows": [[number|null, ...], ...]} in the model's input order.
 * Prints µs per decision for: top-3 contributions (the scoring step's call), ONNX run per row in a
 * batch of 100. CPU time (process.cpuUsage), best of --runs. Figures go to docs/training.md by hand.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { TreeExplainer } from '../processors/contributions.js';

const { values } = parseArgs({ options: { trees: { type: 'string' }, onnx: { type: 'string' }, rows: { type: 'string' }, runs: { type: 'string', default: '5' } } });
if (!values.trees || !values.rows) throw new Error('--trees and --rows are required');
const input = JSON.parse(readFileSync(values.rows, 'utf8')) as { features: string[]; rows: (number | null)[][] };
const width = input.features.length;
const data = Float32Array.from(input.rows.flat(), (v) => v ?? Number.NaN);
const n = input.rows.length;
const doc = JSON.parse(readFileSync(values.trees, 'utf8')) as { trees: { feature: number[] }[] };
const explainer = TreeExplainer.fromDocument(doc, input.features);
const nodes = doc.trees.reduce((s, t) => s + t.feature.length, 0);

function cpuMicros(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return used.user + used.system;
}

let best = Infinity;
let sink = 0;
for (let r = 0; r < Number(values.runs); r++) {
  best = Math.min(best, cpuMicros(() => {
    for (let i = 0; i < n; i++) sink += explainer.top(data, i * width, 3).length;
  }));
}
console.log(`trees ${doc.trees.length}, nodes ${nodes}, features ${width}, rows ${n}`);
console.log(`contributions (top 3, Saabas): ${(best / n).toFixed(2)} µs CPU per decision (sink ${sink})`);

if (values.onnx) {
  const session = await ort.InferenceSession.create(values.onnx, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const batch = 100;
  let bestOnnx = Infinity;
  for (let r = 0; r < Number(values.runs); r++) {
    const before = process.cpuUsage();
    for (let i = 0; i + batch <= n; i += batch) {
      // Only the probabilities, as the registry asks (the label output warns on batched shapes).
      await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', data.subarray(i * width, (i + batch) * width), [batch, width]) }, ['probabilities']);
    }
    const used = process.cpuUsage(before);
    bestOnnx = Math.min(bestOnnx, used.user + used.system);
  }
  console.log(`onnx inference (batches of ${batch}): ${(bestOnnx / (Math.floor(n / batch) * batch)).toFixed(2)} µs CPU per decision`);
  await session.release();
}
