/**
 * One `riskloop run` as a child process, for the fault tests and bench/recovery.ts: what it logs
 * (JSON lines parsed), every runtime state it passed through, its /readyz, how and when it ended.
 * SIGKILL is a crash (no commit, no close); SIGTERM is the supervisor's stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface LogLine {
  level: number;
  time: number;
  msg: string;
  [k: string]: unknown;
}

/** A free TCP port on 127.0.0.1 (the ops server's, so /readyz is known before the log says it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export class RunInstance {
  readonly logs: LogLine[] = [];
  /** Every runtime state change: the runtime's app id (`<app>` loop, `<app>-drift`) and the new state. */
  readonly states: { app: string; to: string; at: number }[] = [];
  stderr = '';
  exit: { code: number | null; signal: string | null; at: number } | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  port = 0;
  startedAt = 0;
  pid: number | undefined;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    private readonly opts: { keepLogs?: number; onLog?: (l: LogLine) => void } = {},
  ) {}

  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    this.port = await freePort();
    this.exit = undefined;
    this.startedAt = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bin/riskloop.ts'), 'run'], {
      cwd: root,
      env: { ...process.env, ...this.env, RISKLOOP_METRICS_PORT: String(this.port), ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.pid = child.pid;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exit = { code, signal, at: Date.now() };
        resolve();
      }),
    );
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        let l: LogLine;
        try {
          l = JSON.parse(line) as LogLine;
        } catch {
          continue;
        }
        if (l.msg === 'state change' && typeof l.to === 'string') this.states.push({ app: String(l.app), to: l.to, at: l.time });
        this.logs.push(l);
        if (this.logs.length > (this.opts.keepLogs ?? 20_000)) this.logs.splice(0, 1000);
        this.opts.onLog?.(l);
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
  }

  get running(): boolean {
    return this.child !== undefined && this.exit === undefined;
  }

  /** /readyz status, 0 when the server does not answer. */
  async readyz(): Promise<number> {
    return fetch(`http://127.0.0.1:${this.port}/readyz`, { signal: AbortSignal.timeout(2000) }).then(
      (r) => r.status,
      () => 0,
    );
  }

  /** Waits for /readyz 200; throws (with the tail of its output) on exit or timeout. Returns the ms waited. */
  async waitReady(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited (${JSON.stringify(this.exit)}) before /readyz was 200; ${this.tail()}`);
      if ((await this.readyz()) === 200) return Date.now() - t0;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${this.name}: /readyz not 200 within ${timeoutMs} ms; ${this.tail()}`);
      await sleep(250);
    }
  }

  /** SIGKILL: a crash. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child!.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM; SIGKILL after `killAfterMs`. Resolves with the exit code and how long it took. */
  async term(killAfterMs = 60_000): Promise<{ code: number | null; signal: string | null; ms: number }> {
    if (!this.running) return { code: this.exit?.code ?? null, signal: this.exit?.signal ?? null, ms: 0 };
    const t0 = Date.now();
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child!.kill('SIGKILL'), killAfterMs);
    await this.exited;
    clearTimeout(timer);
    return { code: this.exit!.code, signal: this.exit!.signal, ms: this.exit!.at - t0 };
  }

  /** Resolves when the process has exited, or after timeoutMs (then `running` is still true). */
  async waitExit(timeoutMs: number): Promise<void> {
    await Promise.race([this.exited, sleep(timeoutMs)]);
  }

  /** Runtime states this process reached, e.g. to assert it never went to ERROR. */
  reached(state: string): boolean {
    return this.states.some((s) => s.to === state);
  }

  /** Log lines at error level or above, compact, for failure messages and printed summaries. */
  errors(): string[] {
    return this.logs.filter((l) => l.level >= 50).map((l) => `${l.msg}${l.err ? `: ${String(l.err)}` : ''}`);
  }

  tail(): string {
    const line = (l: LogLine) => `${l.msg}${l.err ? ` (${String(l.err)})` : ''}`;
    const fatal = this.logs.filter((l) => l.level >= 60).map((l) => `${line(l)}${l.stack ? ` at ${String(l.stack).split('\n').slice(1, 6).join(' ')}` : ''}`);
    const errors = this.logs.filter((l) => l.level === 50).slice(-5).map(line);
    const last = this.logs.slice(-10).map(line);
    return `fatal: ${fatal.join(' | ') || 'none'}; last errors: ${errors.join(' | ') || 'none'}; last log lines: ${last.join(' | ')}; stderr: ${this.stderr.slice(-1500)}`;
  }
}
