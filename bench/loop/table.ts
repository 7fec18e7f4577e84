/**
 * The summary table of the latest results (bench/results/*.json) against the issue's targets,
 * printed at the end of `npm run bench` and pasted into bench/README.md (`tsx bench/run.ts --table`).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { BenchEnv } from './common.js';

interface Row {
  benchmark: string;
  figure: string;
  target: string;
  verdict: string;
  when: string;
}

// `any`: each benchmark writes its own result shape; this reader only formats the fields it knows.
type Json = { date: string; commit: string; results: any; config: any };

function load(env: BenchEnv, name: string): Json | null {
  const f = path.join(env.resultsDir, `${name}.json`);
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null;
}

const ok = (pass: boolean): string => (pass ? 'met' : 'MISSED');

/** CPU-ms per 1 000 of the loop process and of the broker, and the load average, where the result has them. */
function cpuFigure(j: Json): string {
  const r = j.results;
  if (r.cpuMsPer1000 === undefined) return '';
  const broker = typeof r.brokerCpuMsPer1000 === 'number' ? `, broker ${Math.round(r.brokerCpuMsPer1000)}` : '';
  const load = Array.isArray(r.loadAverage) ? ` (load ${r.loadAverage.join('–')})` : '';
  return `, CPU-ms/1000: loop ${Math.round(r.cpuMsPer1000)}${broker}${load}`;
}

export function tableRows(env: BenchEnv): Row[] {
  const rows: Row[] = [];
  const when = (j: Json): string => `${j.date.slice(0, 16)} ${j.commit}`;
  const pass = load(env, 'passthrough');
  if (pass) rows.push({ benchmark: 'passthrough', figure: `${Math.round(pass.results.recordsPerSec)} records/s`, target: 'yardstick', verdict: '', when: when(pass) });
  for (const [name, target] of [['loop-alo', 0.6], ['loop-eos', 0.4]] as const) {
    const j = load(env, name);
    if (!j) continue;
    const ratio = pass ? j.results.recordsPerSec / pass.results.recordsPerSec : Number.NaN;
    rows.push({ benchmark: name, figure: `${Math.round(j.results.recordsPerSec)} records/s = ${ratio.toFixed(2)}× passthrough${cpuFigure(j)}`, target: `≥ ${target}×`, verdict: ok(ratio >= target), when: when(j) });
  }
  const hot = load(env, 'loop-hot');
  if (hot) rows.push({ benchmark: 'loop-hot (hot path alone)', figure: `${Math.round(hot.results.recordsPerSec)} records/s${cpuFigure(hot)}`, target: '≤ 200 CPU-ms/1000 (loop)', verdict: ok(hot.results.cpuMsPer1000 <= 200), when: when(hot) });
  const sideRun = load(env, 'loop-side');
  if (sideRun) rows.push({ benchmark: 'loop-side (side topologies alone)', figure: `${Math.round(sideRun.results.recordsPerSec)} transactions/s${cpuFigure(sideRun)}`, target: '', verdict: '', when: when(sideRun) });
  const lat = load(env, 'latency');
  if (lat) {
    for (const r of lat.results) {
      const goal = r.guarantee === 'at_least_once' ? ({ 2000: 25, 5000: 100 } as Record<number, number>)[r.offeredRate] : undefined;
      rows.push({
        benchmark: `latency ${r.offeredRate}/s ${r.guarantee === 'exactly_once' ? `EOS (commit ${r.commitIntervalMs} ms)` : 'ALO'}`,
        figure: `p50 ${r.p50} / p95 ${r.p95} / p99 ${r.p99} / max ${r.max} ms${r.cpuMsPer1000 !== undefined ? `, ${Math.round(r.cpuMsPer1000)} CPU-ms/1000` : ''}${r.saturated ? `; saturated: ${r.undecided} undecided` : ''}`,
        target: goal ? `p99 ≤ ${goal} ms` : '',
        verdict: goal ? ok(!r.saturated && r.p99 <= goal) : '',
        when: when(lat),
      });
    }
    for (const skipped of lat.config.skippedRatesAfterSaturation ?? []) {
      const goal = ({ 2000: 25, 5000: 100 } as Record<number, number>)[skipped];
      rows.push({ benchmark: `latency ${skipped}/s ALO`, figure: 'not run: a lower rate already saturated the loop', target: goal ? `p99 ≤ ${goal} ms` : '', verdict: goal ? 'MISSED' : '', when: when(lat) });
    }
  }
  const score = load(env, 'score');
  if (score) {
    for (const r of score.results) {
      rows.push({ benchmark: `score batch ${r.batch}`, figure: `${r.usPerTransaction.toFixed(2)} µs/transaction (${Math.round(r.usPerCallP50)} µs/call p50)`, target: r.batch === 64 ? '≤ 20 µs' : '', verdict: r.batch === 64 ? ok(r.usPerTransaction <= 20) : '', when: when(score) });
    }
  }
  const restore = load(env, 'restore');
  if (restore) {
    const r = restore.results;
    rows.push({ benchmark: 'restore', figure: `${r.restoredRecords} keys in ${r.startToRunningSeconds.toFixed(1)} s (${Math.round(r.restoreRecordsPerSec)} records/s)`, target: '1M keys ≤ 30 s', verdict: ok(r.restoredRecords >= 1_000_000 && r.startToRunningSeconds <= 30), when: when(restore) });
  }
  const soak = load(env, 'soak');
  if (soak) {
    const r = soak.results;
    rows.push({
      benchmark: `soak ${r.offeredRate}/s`,
      figure: `${r.minutes.toFixed(1)} min: RSS ${r.rssAfterWarmupMiB.toFixed(0)} → ${r.rssEndMiB.toFixed(0)} MiB (${r.rssGrowthPct.toFixed(1)} %), heap ${r.heapUsedAfterWarmupMiB.toFixed(0)} → ${r.heapUsedEndMiB.toFixed(0)} MiB`,
      target: 'RSS growth ≤ 5 %, ≥ 10 min',
      verdict: ok(r.rssGrowthPct <= 5 && r.minutes >= 10),
      when: when(soak),
    });
  }
  return rows;
}

export function tableMarkdown(env: BenchEnv): string {
  const rows = tableRows(env);
  const head = '| benchmark | measured | target | verdict | run (UTC, commit) |\n|---|---|---|---|---|';
  return [head, ...rows.map((r) => `| ${r.benchmark} | ${r.figure} | ${r.target} | ${r.verdict} | ${r.when} |`)].join('\n');
}

export function printTable(env: BenchEnv): void {
  console.log('\n' + tableMarkdown(env));
}
