/**
 * ops/mallocTrim.ts on this machine's glibc: freed C-heap memory that glibc keeps (holes below the
 * top of the brk heap) goes back to the system when the trimmer runs, on its timer and on demand.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type MallocTrimmer, startMallocTrim } from '../../../ops/mallocTrim.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const logger = pino({ level: 'silent' });
const MiB = 2 ** 20;

let trimmer: MallocTrimmer | undefined;
afterEach(async () => {
  await trimmer?.stop();
  trimmer = undefined;
});

/** ~200 MiB of Buffers (each its own malloc), 6 of 7 freed: holes all through the heap. */
function fragmentTheHeap(): Buffer[] {
  const all: Buffer[] = [];
  for (let i = 0; i < 60_000; i++) all.push(Buffer.allocUnsafeSlow(1_000 + (i % 13) * 500).fill(1));
  const kept = all.filter((_, i) => i % 7 === 0);
  all.length = 0;
  gc();
  return kept;
}

describe('malloc_trim', () => {
  it('hands freed heap pages back: RSS falls by most of what was freed', async () => {
    trimmer = startMallocTrim({ everyMs: 3_600_000, logger });
    expect(trimmer.active).toBe(true);
    const kept = fragmentTheHeap();
    // V8 frees the backing stores of collected ArrayBuffers on a background thread.
    await new Promise((r) => setTimeout(r, 300));
    const before = process.memoryUsage.rss();
    await trimmer.trim();
    const after = process.memoryUsage.rss();
    expect(trimmer.stats.trims).toBe(1);
    // ~190 MiB were freed; glibc returned next to none of it by itself (the holes are below live blocks).
    expect((before - after) / MiB).toBeGreaterThan(50);
    expect(trimmer.stats.releasedBytes).toBeGreaterThan(50 * MiB);
    expect(kept.length).toBeGreaterThan(8000);
  });

  it('runs on its timer, one trim at a time; 0 s disables it', async () => {
    trimmer = startMallocTrim({ everyMs: 50, logger });
    const t0 = Date.now();
    while (trimmer.stats.trims < 3 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(trimmer.stats.trims).toBeGreaterThanOrEqual(3);
    expect(trimmer.stats.lastMs).not.toBeNull();
    await trimmer.stop();
    // Two calls while one runs share it: one trim, not two.
    const before = trimmer.stats.trims;
    const [a, b] = [trimmer.trim(), trimmer.trim()];
    expect(a).toBe(b);
    await a;
    expect(trimmer.stats.trims).toBe(before + 1);
    const off = startMallocTrim({ everyMs: 0, logger });
    expect(off.active).toBe(false);
    await off.trim();
    expect(off.stats.trims).toBe(0);
  });
});
