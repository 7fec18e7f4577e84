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
    const where = f.url ? `${f.url.replace(/^file:\/\/.*?\/work\/main\//, '')}:${f.lineNumber + 1}` : '';
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

if (process.argv[2]) {
  const profile = JSON.parse(readFileSync(process.argv[2], 'utf8')) as CpuProfile;
  console.table(summarize(profile, Number(process.argv[3] ?? 25)));
}
