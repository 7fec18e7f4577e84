/**
 * The two charts of the README, drawn as SVG here and rasterised with @resvg/resvg-js (a prebuilt
 * native binary from npm: no browser, no canvas, nothing fetched at run time):
 *   latency.png     latency distribution per offered rate (cumulative share of decisions within x ms,
 *                   log x axis), from bench/results/latency.json
 *   throughput.png  records/s of each mode as a share of passthrough, with the targets marked
 * The SVG is hand-written (a few dozen lines) because a charting library would bring a DOM or a
 * canvas; axes and labels are all these two charts need.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import type { BenchEnv } from './common.js';
import type { LatencyRow } from './latency.js';

const W = 760;
const H = 420;
const M = { left: 70, right: 240, top: 40, bottom: 60 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function text(x: number, y: number, s: string, opts: { anchor?: string; size?: number; weight?: string; rotate?: boolean } = {}): string {
  const rot = opts.rotate ? ` transform="rotate(-90 ${x} ${y})"` : '';
  return `<text x="${x}" y="${y}" font-family="DejaVu Sans" font-size="${opts.size ?? 12}" text-anchor="${opts.anchor ?? 'start'}" font-weight="${opts.weight ?? 'normal'}"${rot}>${esc(s)}</text>`;
}

function png(svg: string, file: string): void {
  const r = new Resvg(svg, { background: 'white', font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } });
  writeFileSync(file, r.render().asPng());
}

function read<T>(env: BenchEnv, name: string): T | null {
  const f = path.join(env.resultsDir, `${name}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as T) : null;
}

function latencyChart(rows: LatencyRow[]): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const maxMs = Math.max(10, ...rows.map((r) => r.max).filter(Number.isFinite));
  const lo = Math.log10(1);
  const hi = Math.log10(maxMs * 1.2);
  const x = (ms: number): number => M.left + ((Math.log10(Math.max(1, ms)) - lo) / (hi - lo)) * pw;
  const y = (share: number): number => M.top + (1 - share) * ph;
  const parts: string[] = [text(W / 2 - 60, 22, 'Transaction → decision latency (cumulative)', { anchor: 'middle', size: 15, weight: 'bold' })];
  for (let d = 0; d <= Math.ceil(hi); d++) {
    for (const m of [1, 2, 5]) {
      const ms = m * 10 ** d;
      if (Math.log10(ms) > hi) continue;
      parts.push(`<line x1="${x(ms)}" y1="${M.top}" x2="${x(ms)}" y2="${M.top + ph}" stroke="#ddd"/>`, text(x(ms), M.top + ph + 16, ms >= 1000 ? `${ms / 1000}s` : `${ms}`, { anchor: 'middle', size: 11 }));
    }
  }
  for (const s of [0, 0.25, 0.5, 0.75, 0.95, 1]) parts.push(`<line x1="${M.left}" y1="${y(s)}" x2="${M.left + pw}" y2="${y(s)}" stroke="#eee"/>`, text(M.left - 6, y(s) + 4, `${Math.round(s * 100)}%`, { anchor: 'end', size: 11 }));
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  parts.push(text(M.left + pw / 2, H - 18, 'latency, ms (log scale)', { anchor: 'middle' }), text(18, M.top + ph / 2, 'share of decisions', { anchor: 'middle', rotate: true }));
  rows.forEach((r, i) => {
    const total = r.histogram.reduce((n, [, c]) => n + c, 0) + r.undecided;
    let acc = 0;
    const pts: string[] = [`${x(1)},${y(0)}`];
    for (const [bound, c] of r.histogram) {
      acc += c;
      const ms = bound < 0 ? r.max : bound;
      pts.push(`${x(ms)},${y(acc / total)}`);
    }
    const color = COLORS[i % COLORS.length]!;
    parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${r.guarantee === 'exactly_once' ? ' stroke-dasharray="6 3"' : ''}/>`);
    const label = `${r.offeredRate}/s ${r.guarantee === 'exactly_once' ? 'EOS' : 'ALO'} p99 ${Math.round(r.p99)}ms${r.saturated ? ' saturated' : ''}`;
    parts.push(`<line x1="${W - M.right + 10}" y1="${M.top + 10 + i * 20}" x2="${W - M.right + 30}" y2="${M.top + 10 + i * 20}" stroke="${color}" stroke-width="2"/>`, text(W - M.right + 34, M.top + 14 + i * 20, label, { size: 11 }));
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

function throughputChart(bars: { name: string; ratio: number; rps: number; target?: number }[]): string {
  const pw = W - M.left - M.right + 180;
  const ph = H - M.top - M.bottom;
  const maxR = Math.max(1.1, ...bars.map((b) => b.ratio));
  const y = (r: number): number => M.top + (1 - r / maxR) * ph;
  const bw = pw / bars.length;
  const parts: string[] = [text(W / 2, 22, 'Throughput as a share of passthrough', { anchor: 'middle', size: 15, weight: 'bold' })];
  for (let r = 0; r <= maxR + 1e-9; r += 0.2) parts.push(`<line x1="${M.left}" y1="${y(r)}" x2="${M.left + pw}" y2="${y(r)}" stroke="#eee"/>`, text(M.left - 6, y(r) + 4, `${r.toFixed(1)}×`, { anchor: 'end', size: 11 }));
  bars.forEach((b, i) => {
    const x0 = M.left + i * bw + bw * 0.2;
    parts.push(`<rect x="${x0}" y="${y(b.ratio)}" width="${bw * 0.6}" height="${M.top + ph - y(b.ratio)}" fill="${COLORS[i % COLORS.length]}"/>`);
    parts.push(text(x0 + bw * 0.3, y(b.ratio) - 20, `${b.ratio.toFixed(2)}×`, { anchor: 'middle', weight: 'bold' }), text(x0 + bw * 0.3, y(b.ratio) - 6, `${Math.round(b.rps)}/s`, { anchor: 'middle', size: 11 }));
    parts.push(text(x0 + bw * 0.3, M.top + ph + 18, b.name, { anchor: 'middle' }));
    if (b.target !== undefined) parts.push(`<line x1="${x0 - 8}" y1="${y(b.target)}" x2="${x0 + bw * 0.6 + 8}" y2="${y(b.target)}" stroke="#d00" stroke-width="2" stroke-dasharray="5 3"/>`, text(x0 + bw * 0.6 + 10, y(b.target) + 4, `target ${b.target}×`, { size: 10 }));
  });
  parts.push(`<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}" stroke="#444"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${parts.join('')}</svg>`;
}

export function renderCharts(env: BenchEnv): string[] {
  const written: string[] = [];
  const lat = read<{ results: LatencyRow[] }>(env, 'latency');
  if (lat && lat.results.length) {
    const f = path.join(env.resultsDir, 'latency.png');
    png(latencyChart(lat.results), f);
    written.push(f);
  }
  const pass = read<{ results: { recordsPerSec: number } }>(env, 'passthrough');
  if (pass) {
    const bars: { name: string; ratio: number; rps: number; target?: number }[] = [{ name: 'passthrough', ratio: 1, rps: pass.results.recordsPerSec }];
    for (const [name, target] of [['loop-alo', 0.6], ['loop-eos', 0.4]] as const) {
      const r = read<{ results: { recordsPerSec: number } }>(env, name);
      if (r) bars.push({ name, ratio: r.results.recordsPerSec / pass.results.recordsPerSec, rps: r.results.recordsPerSec, target });
    }
    const f = path.join(env.resultsDir, 'throughput.png');
    png(throughputChart(bars), f);
    written.push(f);
  }
  return written;
}
