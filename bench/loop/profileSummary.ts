/**
 * Top self-time functions of a V8 .cpuprofile (from `npm run bench -- loop-alo --cpu-profile`):
 *   tsx bench/loop/profileSummary.ts <file.cpuprofile> [top=25]
 * Self time per node = its sample count × the mean sampling interval, summed by function and location.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

export function summarize(profile: CpuProfile, top = 25): { fn: string; where: string; ms: number; pct: number }[] {
  const counts = new Map<number, number>();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const perSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const byFn = new Map<string, { fn: string; where: string; n: number }>();
  for (const node of profile.nodes) {
    const n = counts.get(node.id) ?? 0;
    if (n === 0) continue;
    const f = node.callFrame;
    const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/(?=(?:processors|topology|state|schemas|bin|ops|simulator|bench|node_modules)\/)/, '')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}@${where}`;
    const e = byFn.get(key) ?? { fn: f.functionName || '(anonymous)', where, n: 0 };
    e.n += n;
    byFn.set(key, e);
  }
  const total = profile.samples.length;
  return [...byFn.values()]
    .sort((a, b) => b.n - a.n)
    .slice(0, top)
    .map((e) => ({ fn: e.fn, where: e.where, ms: Math.round(e.n * perSample), pct: +((e.n / total) * 100).toFixed(1) }));
}

/**
 * Self time by area (which library or which folder of ours), so that one profile says where a
 * decision's CPU goes at a glance: kafkajs, avsc, RocksDB, GC, the processors, the runtime...
 */
export function byArea(profile: CpuProfile): { area: string; ms: number; pct: number }[] {
  const counts = new Map<number, number>();
  for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
  const perSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length);
  const areas = new Map<string, number>();
  for (const node of profile.nodes) {
    const n = counts.get(node.id) ?? 0;
    if (n === 0) continue;
    const a = areaOf(node.callFrame.url, node.callFrame.functionName);
    areas.set(a, (areas.get(a) ?? 0) + n);
  }
  const total = profile.samples.length;
  return [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, n]) => ({ area, ms: Math.round(n * perSample), pct: +((n / total) * 100).toFixed(1) }));
}

function areaOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1]!;
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const ours = /\/((?:processors|topology|state|schemas|bin|ops|simulator|bench)\/[^/]+)/.exec(url);
  if (ours) return ours[1]!.replace(/\.ts$/, '');
  return 'other';
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

if (process.argv[2] && process.argv[1]?.endsWith('profileSummary.ts')) {
  const profile = JSON.parse(readFileSync(process.argv[2], 'utf8')) as CpuProfile;
  console.table(summarize(profile, Number(process.argv[3] ?? 25)));
  console.table(byArea(profile).slice(0, 25));
}
