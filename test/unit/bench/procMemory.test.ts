/** The soak's split of resident memory by kind of mapping (bench/loop/procMemory.ts). */
import { describe, expect, it } from 'vitest';
import { classifySmaps, procMemory } from '../../../bench/loop/procMemory.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** One smaps entry: header line and the Rss line (the parser reads nothing else). */
function entry(start: number, end: number, perms: string, path: string, rssKiB: number): string {
  const hex = (n: number): string => n.toString(16).padStart(12, '0');
  return `${hex(start)}-${hex(end)} ${perms} 00000000 00:00 0 ${path}\nSize: ${(end - start) / KiB} kB\nRss: ${rssKiB} kB\nVmFlags: rd wr mr mw me ac\n`;
}

describe('classifySmaps', () => {
  it('tells glibc arenas (64 MiB-aligned rw-p + PROT_NONE tail) from the brk heap, other anonymous and file mappings', () => {
    const base = 0x7f0000000000; // a multiple of 64 MiB
    const text = [
      entry(0x555500000000, 0x555500010000, 'r-xp', '/usr/bin/node', 64),
      entry(0x555600000000, 0x555610000000, 'rw-p', '[heap]', 200 * 1024),
      // arena 1: 3 MiB committed, the rest reserved
      entry(base, base + 3 * MiB, 'rw-p', '', 3 * 1024),
      entry(base + 3 * MiB, base + 64 * MiB, '---p', '', 0),
      // arena 2: fully committed, no tail
      entry(base + 64 * MiB, base + 128 * MiB, 'rw-p', '', 10 * 1024),
      // an mmapped large malloc at a 64 MiB boundary but only 8 MiB: not an arena
      entry(base + 128 * MiB, base + 136 * MiB, 'rw-p', '', 8 * 1024),
      // a thread stack with its guard page, not aligned
      entry(base + 136 * MiB, base + 136 * MiB + 4 * KiB, '---p', '', 0),
      entry(base + 136 * MiB + 4 * KiB, base + 144 * MiB, 'rw-p', '', 100),
      entry(base + 200 * MiB, base + 201 * MiB, 'rw-p', '[anon:v8]', 1024),
      entry(base + 300 * MiB, base + 302 * MiB, 'r--s', '/tmp/db/000012.sst', 512),
    ].join('');
    expect(classifySmaps(text)).toEqual({
      arenas: 13 * MiB,
      arenaCount: 2,
      brkHeap: 200 * MiB,
      otherAnon: 8 * MiB + 100 * KiB + 1 * MiB,
      file: 64 * KiB + 512 * KiB,
    });
  });

  it("accounts for this process's whole RSS", () => {
    const m = procMemory();
    const rss = process.memoryUsage().rss;
    const sum = m.arenas + m.brkHeap + m.otherAnon + m.file;
    expect(m.threads).toBeGreaterThan(0);
    // smaps and memoryUsage() are read at slightly different instants.
    expect(Math.abs(sum - rss) / rss).toBeLessThan(0.05);
  });
});
