/** The parent's handle on a loop worker process (bench/loop/loopWorker.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { WorkerMessage } from './loopWorker.js';

const WORKER = path.join(path.dirname(new URL(import.meta.url).pathname), 'loopWorker.ts');

export type Sample = Extract<WorkerMessage, { type: 'sample' }>;

export class LoopProcess {
  readonly samples: Sample[] = [];
  runningMs: number | null = null;
  /** The topics the transactions' sub-topology reads, from the worker's 'running' message. */
  inputTopics: string[] = [];
  /** The worker's Date.now() when it reported RUNNING (the time base of the samples). */
  runningAt: number | null = null;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private failure: string | null = null;
  private readonly waiters: { pred: () => boolean; resolve: () => void }[] = [];

  constructor(appEnv: Record<string, string>, opts: { sampleMs?: number; nodeArgs?: string[] } = {}) {
    this.child = fork(WORKER, [], {
      env: { ...process.env, ...appEnv, BENCH_SAMPLE_MS: String(opts.sampleMs ?? 1000) },
      execArgv: ['--import', 'tsx', ...(opts.nodeArgs ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.on('message', (m: WorkerMessage) => {
      if (m.type === 'running') {
        this.runningMs = m.ms;
        this.inputTopics = m.inputTopics;
        this.runningAt = m.t;
      }
      if (m.type === 'sample') this.samples.push(m);
      if (m.type === 'error') this.failure = m.message;
      this.wake();
    });
    // An IPC send to a worker that has just gone is reported here, not thrown: the exit says more.
    this.child.on('error', (err) => {
      this.failure ??= err.message;
      this.wake();
    });
    void this.exited.then(() => this.wake());
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  latest(): Sample | undefined {
    return this.samples[this.samples.length - 1];
  }

  private wake(): void {
    for (const w of [...this.waiters]) {
      if (w.pred() || this.failure || this.child.exitCode !== null) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves when pred holds (checked at each message), rejects on worker failure or timeout. */
  async until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
    const done = new Promise<void>((resolve) => {
      this.waiters.push({ pred, resolve });
      this.wake();
    });
    const r = await Promise.race([done, timeout]);
    if (this.failure) throw new Error(`loop worker failed: ${this.failure}`);
    if (r === 'timeout') throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    if (!pred() && this.child.exitCode !== null) throw new Error(`loop worker exited (${this.child.exitCode}) before ${what}`);
  }

  /** Throws if the worker reported an error or has exited: for waits that poll the samples. */
  assertAlive(): void {
    if (this.failure) throw new Error(`loop worker failed: ${this.failure}`);
    if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`loop worker exited (${this.child.exitCode ?? this.child.signalCode})`);
  }

  waitRunning(timeoutMs = 300_000): Promise<void> {
    return this.until(() => this.runningMs !== null, timeoutMs, 'the loop to be RUNNING');
  }

  async stop(timeoutMs = 60_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    // A worker that is exiting has closed its IPC channel already: a send would throw.
    if (this.child.connected) this.child.send({ type: 'stop' });
    const code = await Promise.race([this.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref())]);
    if (code === 'timeout') this.child.kill('SIGKILL');
  }
}
