/**
 * CPU time of another process, from /proc/<pid>/stat (utime + stime, in clock ticks), sampled over
 * time so that a benchmark can take the CPU spent between two instants it marks with
 * performance.now() (e.g. the watcher's 10 000th and last decision). Linux only: elsewhere the
 * benchmark fails rather than report a figure it did not measure.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

let ticksPerSecond: number | undefined;

/** sysconf(_SC_CLK_TCK); Node has no binding for it, getconf does. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    if (!Number.isInteger(n) || n <= 0) throw new Error(`getconf CLK_TCK gave ${n}`);
    ticksPerSecond = n;
  }
  return ticksPerSecond;
}

/** User + system CPU milliseconds the process has used so far. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) is in parentheses and may hold spaces: count fields after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc/${pid}/stat`);
  return ((utime + stime) * 1000) / clockTicks();
}

/** Samples a process's CPU every `everyMs`; `at(t)` interpolates between the samples around t. */
export class CpuSampler {
  private readonly samples: { t: number; cpuMs: number }[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly pid: number,
    everyMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  /** Takes a sample now (also call it at the instants you will ask about, for exact figures). */
  sample(): void {
    try {
      this.samples.push({ t: performance.now(), cpuMs: processCpuMs(this.pid) });
    } catch {
      // The process has exited: the samples taken so far stand.
    }
  }

  /** CPU ms at performance.now() value t, linear between the nearest samples. */
  at(t: number): number {
    const s = this.samples;
    if (s.length === 0) throw new Error(`no CPU sample of pid ${this.pid}`);
    if (t <= s[0]!.t) return s[0]!.cpuMs;
    for (let i = 1; i < s.length; i++) {
      const b = s[i]!;
      if (b.t >= t) {
        const a = s[i - 1]!;
        return a.cpuMs + ((b.cpuMs - a.cpuMs) * (t - a.t)) / (b.t - a.t || 1);
      }
    }
    return s[s.length - 1]!.cpuMs;
  }

  /** CPU ms used between two instants, per 1 000 records processed in between. */
  perThousand(from: number, to: number, records: number): number {
    return ((this.at(to) - this.at(from)) * 1000) / records;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * The broker's pid, so that its CPU per decision is measured next to the loop's: BENCH_BROKER_PID,
 * else the pid file of the local stack (stack/stack.sh writes $RISKLOOP_STACK_DIR/kafka.pid, default
 * .stack/). Only a live java process counts; a remote or dockerised broker gives null (not measured).
 */
export function brokerPid(env: Readonly<Record<string, string | undefined>>): number | null {
  let pid = Number(env.BENCH_BROKER_PID);
  if (!env.BENCH_BROKER_PID) {
    try {
      pid = Number(readFileSync(path.join(env.RISKLOOP_STACK_DIR ?? '.stack', 'kafka.pid'), 'utf8').trim());
    } catch {
      return null;
    }
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'java' ? pid : null;
  } catch {
    return null;
  }
}
