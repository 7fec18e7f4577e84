/**
 * Hands the C heap's free pages back to the system every so often (glibc `malloc_trim(0)`).
 *
 * Why: in soaks the loop's RSS grew 20-28 % in 10 minutes with a flat V8 heap. glibc's own
 * statistics (`malloc_info`, taken with gdb during a soak, bench/README.md "Soak") showed the main
 * arena's bytes in use flat (382 → 365 → 398 MiB at minutes 4, 7 and 9.5) while its free bytes grew
 * to 106-121 MiB: freed blocks leave whole free pages below live ones in the brk heap, and glibc
 * returns memory only from its top. `malloc_trim` also releases whole free pages inside it; called at
 * those three points it took the growth from +28 % to +6 %. No allocator setting does this
 * (`MALLOC_TRIM_THRESHOLD_` acts on the top only; `MALLOC_ARENA_MAX`, a fixed mmap threshold and
 * jemalloc were measured and did not help), and Node has no binding for it, so it is called through
 * ffi-rs (a maintained FFI package whose prebuilt binary is a registry package): Ruby does the same
 * after each major GC.
 *
 * The call runs on a thread of its own (ffi-rs `runInNewThread`), so the event loop never waits for
 * the walk over the heap (5-15 ms here); a malloc on the JS thread waits only while the main arena
 * itself is trimmed. Where there is no glibc (macOS, musl) or the package is missing it does
 * nothing, said once in the log.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

export interface MallocTrimStats {
  trims: number;
  /** RSS released by the trims (sum of before − after, bytes; the process keeps allocating meanwhile). */
  releasedBytes: number;
  lastMs: number | null;
}

export interface MallocTrimmer {
  readonly stats: MallocTrimStats;
  /** True when glibc's malloc_trim is callable here. */
  readonly active: boolean;
  /** One trim now (resolves when done; at most one runs at a time). */
  trim(): Promise<void>;
  stop(): Promise<void>;
}

type TrimCall = () => Promise<unknown>;

/** malloc_trim(0) on a thread of its own, or null where glibc or ffi-rs is not there. */
function loadTrim(logger: Logger): TrimCall | null {
  // glibcVersionRuntime is absent on musl: malloc_trim is a glibc extension.
  const header = process.platform === 'linux' ? (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header : undefined;
  if (!header?.glibcVersionRuntime) {
    logger.info({ platform: process.platform }, 'malloc_trim: no glibc here; the allocator keeps its own free pages');
    return null;
  }
  try {
    // Loaded lazily: a process that disables the trimmer never loads the native binding.
    const ffi = createRequire(import.meta.url)('ffi-rs') as typeof import('ffi-rs');
    ffi.open({ library: 'riskloop-libc', path: 'libc.so.6' });
    return () =>
      ffi.load({ library: 'riskloop-libc', funcName: 'malloc_trim', retType: ffi.DataType.I32, paramsType: [ffi.DataType.I64], paramsValue: [0], runInNewThread: true }) as Promise<unknown>;
  } catch (err) {
    logger.warn({ err: (err as Error).message }, 'malloc_trim is not callable here (ffi-rs or libc.so.6 missing): the C heap keeps its free pages');
    return null;
  }
}

/** Trims every `everyMs` (0: never; `trim()` still works for a caller that wants one). */
export function startMallocTrim(opts: { everyMs: number; logger: Logger }): MallocTrimmer {
  const call = opts.everyMs > 0 ? loadTrim(opts.logger) : null;
  const stats: MallocTrimStats = { trims: 0, releasedBytes: 0, lastMs: null };
  let running: Promise<void> | null = null;
  const trim = (): Promise<void> => {
    if (call === null) return Promise.resolve();
    running ??= (async () => {
      const before = process.memoryUsage.rss();
      const t0 = performance.now();
      try {
        await call();
        stats.trims++;
        stats.lastMs = performance.now() - t0;
        const released = Math.max(0, before - process.memoryUsage.rss());
        stats.releasedBytes += released;
        opts.logger.debug({ ms: Math.round(stats.lastMs), releasedMiB: +(released / 2 ** 20).toFixed(1) }, 'malloc_trim');
      } catch (err) {
        opts.logger.warn({ err: (err as Error).message }, 'malloc_trim failed');
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const timer = call === null ? undefined : setInterval(() => void trim(), opts.everyMs);
  timer?.unref();
  if (call !== null) opts.logger.info({ everySeconds: opts.everyMs / 1000 }, 'malloc_trim: the C heap\'s free pages go back to the system periodically');
  return {
    stats,
    active: call !== null,
    trim,
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
