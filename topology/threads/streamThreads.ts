/**
 * StreamThreads: N stream threads in one process, as Kafka Streams' `num.stream.threads`.
 *
 * Kafka Streams' threads share the JVM heap and one Topology object. JavaScript isolates share no
 * objects, so each stream thread here is a worker thread (node:worker_threads) that builds its
 * own topology and KafkaStreams through an application factory module (`createStreamThread`,
 * see StreamThreadFactory) and runs it exactly as a single-threaded instance does:
 *  - its own consumer in the application's group, so the group's assignor spreads the tasks over
 *    the threads (and over other instances) — the sticky assignor sees each thread as a member;
 *  - its own producer (at_least_once) or one transactional producer per task (exactly_once,
 *    transactional id <applicationId>-<taskId>, as in a single-threaded instance): a task that moves
 *    between threads fences its previous owner exactly as between instances;
 *  - its own state folder: the factory gives each thread its own instance id / state root (e.g.
 *    <stateDir>/<instanceId>.thread-<i>), so no two threads open the same RocksDB folder, and a
 *    restarted process finds each thread's checkpoints where the same thread index left them;
 *  - its own copy of every global store (replicated, not shared: an isolate cannot read another's
 *    objects, and a shared native store would need locking on every read of the hot path). The
 *    cost is N× the global stores' memory and N× their topic reads at start.
 *
 * The main thread keeps only this client: it aggregates the threads' states (RUNNING when every
 * thread is), their metrics (snapshots posted every `metricsIntervalMs`, merged: per-task series
 * are disjoint, unlabelled counters summed), their tasks, and relays application messages both
 * ways (`broadcast`, 'threadMessage').
 *
 * A thread that dies (an uncaught error in the worker, the worker exiting, or its runtime going to
 * ERROR) is replaced by a new thread with the same index (Kafka Streams' REPLACE_THREAD), at most
 * `maxReplacements` times within `replacementWindowMs`; beyond that, or with
 * `onThreadDeath: 'shutdown'` (Kafka Streams' SHUTDOWN_CLIENT), the client goes to ERROR, emits
 * 'error' and closes the other threads. The group moves the dead thread's tasks meanwhile; a
 * replacement restores what it gets from the changelogs (no checkpoint survives a crash).
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import pino, { type Logger } from 'pino';
import type { KafkaStreams, StreamsState } from '../kafka/kafkaStreams.js';
import { Histogram, type Labels, type MetricSample, StreamsMetrics } from '../kafka/metrics.js';
import type { FromThread, ThreadInit, ToThread, WireSample, WireTask } from './protocol.js';
import { waitForRunning } from '../kafka/waitForRunning.js';

/**
 * What the process's operational parts (health, metrics, the process guard) need of a runtime:
 * a KafkaStreams and a StreamThreads client both are one.
 */
export interface StreamsRuntime extends Pick<EventEmitter, 'on' | 'once' | 'off'> {
  readonly state: StreamsState;
  readonly metrics: StreamsMetrics;
  start(): Promise<void>;
  close(): Promise<void>;
  waitForRunning(timeoutMs?: number): Promise<void>;
  taskStates(): { id: string; status: string }[];
  publishTaskMetrics(): void;
}

/** What a thread's factory gets besides the application's data. */
export interface StreamThreadContext {
  /** 0 … numStreamThreads − 1; a replacement thread gets the index of the thread it replaces. */
  index: number;
  /** Sends a message to the main thread ('threadMessage' on the StreamThreads client). */
  post(payload: unknown): void;
  /** Receives the main thread's `broadcast` messages. */
  onMessage(handler: (payload: unknown) => void): void;
}

export interface StreamThreadHandle {
  streams: KafkaStreams;
  /** Closes the thread's application (default: `streams.close()`). */
  close?: () => Promise<void>;
  /** Application counters sent with each metrics snapshot ('threadReport' on the client). */
  report?: () => unknown;
}

/**
 * The export `createStreamThread` of the module given as `module`: builds one thread's runtime.
 * `data` is the client's `data`, after a structured clone (class instances lose their prototype).
 */
export type StreamThreadFactory = (data: unknown, ctx: StreamThreadContext) => Promise<StreamThreadHandle>;

export interface StreamThreadsOptions {
  numStreamThreads: number;
  /** File URL of the module exporting `createStreamThread`. */
  module: URL | string;
  /** Structured-cloneable data for every thread's factory. */
  data: unknown;
  /** 'replace' (default): Kafka Streams' REPLACE_THREAD; 'shutdown': SHUTDOWN_CLIENT. */
  onThreadDeath?: 'replace' | 'shutdown';
  maxReplacements?: number;
  replacementWindowMs?: number;
  metricsIntervalMs?: number;
  /** How long close waits for a thread's clean close before terminating it. */
  closeTimeoutMs?: number;
  logger?: Logger;
}

export interface StreamThreadState {
  index: number;
  state: StreamsState;
  tasks: WireTask[];
  /** How many threads with this index were started (1 + replacements). */
  incarnation: number;
}

interface Slot {
  index: number;
  incarnation: number;
  worker: Worker;
  state: StreamsState;
  tasks: WireTask[];
  samples: WireSample[];
  closing: boolean;
  dead: boolean;
  /** Resolved once the worker has exited (its native handles, RocksDB included, are closed). */
  exited: Promise<void>;
  closed: Promise<void>;
}

function keyOf(name: string, labels: Labels): string {
  return `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',')}}`;
}

/**
 * The metrics of all threads as one StreamsMetrics: the client's own series plus the threads'
 * latest snapshots merged (same name and labels: counters and gauges summed, histograms added).
 */
export class ThreadMetrics extends StreamsMetrics {
  private merged: MetricSample[] | undefined;

  constructor(private readonly threads: () => WireSample[][]) {
    super();
  }

  invalidate(): void {
    this.merged = undefined;
  }

  private mergedSamples(): MetricSample[] {
    if (this.merged) return this.merged;
    const byKey = new Map<string, MetricSample>();
    for (const samples of this.threads()) {
      for (const s of samples) {
        const k = `${s.type}:${keyOf(s.name, s.labels)}`;
        const have = byKey.get(k);
        if (!have) {
          const copy: MetricSample = { name: s.name, labels: s.labels, type: s.type, value: s.value };
          if (s.histogram) {
            const h = new Histogram();
            s.histogram.counts.forEach((c, i) => (h.counts[i] = c));
            h.count = s.histogram.count;
            h.sum = s.histogram.sum;
            h.max = s.histogram.max;
            copy.histogram = h;
          }
          byKey.set(k, copy);
        } else {
          have.value += s.value;
          if (have.histogram && s.histogram) {
            s.histogram.counts.forEach((c, i) => (have.histogram!.counts[i]! += c));
            have.histogram.count += s.histogram.count;
            have.histogram.sum += s.histogram.sum;
            have.histogram.max = Math.max(have.histogram.max, s.histogram.max);
          }
        }
      }
    }
    this.merged = [...byKey.values()];
    return this.merged;
  }

  override snapshot(): MetricSample[] {
    return [...super.snapshot(), ...this.mergedSamples()];
  }

  override get(name: string, labels: Labels = {}): number {
    const k = keyOf(name, labels);
    let v = super.get(name, labels);
    for (const s of this.mergedSamples()) if (keyOf(s.name, s.labels) === k) v += s.value;
    return v;
  }

  override total(name: string, match: Labels = {}): number {
    let sum = super.total(name, match);
    for (const s of this.mergedSamples()) {
      if (s.type === 'counter' && s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
    return sum;
  }
}

/** A worker runs TypeScript sources: make sure it has tsx's loader even when this thread got it another way (vitest). */
function workerExecArgv(): string[] {
  const inherited = process.execArgv;
  if (inherited.some((a) => a.includes('tsx'))) return inherited;
  // createRequire, not import.meta.resolve: vitest's module runner does not provide the latter.
  return [...inherited, '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}

const WORKER_URL = new URL('./streamThreadWorker.ts', import.meta.url);

export class StreamThreads extends EventEmitter {
  readonly metrics: ThreadMetrics;
  readonly numStreamThreads: number;
  private readonly log: Logger;
  private readonly slots: Slot[] = [];
  private currentState: StreamsState = 'CREATED';
  private readonly replacements: number[] = [];
  private fatal: Error | undefined;
  private readonly opts: Required<Omit<StreamThreadsOptions, 'logger' | 'module' | 'data'>> & { module: string; data: unknown };

  constructor(options: StreamThreadsOptions) {
    super();
    if (!Number.isInteger(options.numStreamThreads) || options.numStreamThreads < 1) throw new Error(`numStreamThreads must be a positive integer (got ${options.numStreamThreads})`);
    this.numStreamThreads = options.numStreamThreads;
    this.opts = {
      numStreamThreads: options.numStreamThreads,
      module: String(options.module),
      data: options.data,
      onThreadDeath: options.onThreadDeath ?? 'replace',
      maxReplacements: options.maxReplacements ?? 3,
      replacementWindowMs: options.replacementWindowMs ?? 600_000,
      metricsIntervalMs: options.metricsIntervalMs ?? 1000,
      closeTimeoutMs: options.closeTimeoutMs ?? 20_000,
    };
    this.log = (options.logger ?? pino({ level: 'info' })).child({ component: 'stream-threads' });
    this.metrics = new ThreadMetrics(() => this.slots.filter((s) => !s.dead).map((s) => s.samples));
  }

  get state(): StreamsState {
    return this.currentState;
  }

  /** Each thread's state and tasks. */
  threadStates(): StreamThreadState[] {
    return this.slots.map((s) => ({ index: s.index, state: s.state, tasks: s.tasks, incarnation: s.incarnation }));
  }

  /** The tasks of all threads (as KafkaStreams.taskStates), each with its thread's index. */
  taskStates(): { id: string; status: string; thread: number }[] {
    return this.slots.filter((s) => !s.dead).flatMap((s) => s.tasks.map((t) => ({ ...t, thread: s.index })));
  }

  /** Threads publish their task metrics every `metricsIntervalMs` themselves; nothing to do here. */
  publishTaskMetrics(): void {}

  /** Sends an application message to every live thread (its factory's `onMessage` handlers). */
  broadcast(payload: unknown): void {
    for (const s of this.slots) if (!s.dead) s.worker.postMessage({ type: 'app', payload } satisfies ToThread);
  }

  /** Fault injection (tests, drills): an uncaught error is thrown inside thread `index`, as a bug would. */
  injectCrash(index: number): void {
    const s = this.slots[index];
    if (!s || s.dead) throw new Error(`no live stream thread ${index}`);
    s.worker.postMessage({ type: 'crash' } satisfies ToThread);
  }

  private setState(next: StreamsState): void {
    if (next === this.currentState) return;
    const prev = this.currentState;
    this.currentState = next;
    this.log.info({ from: prev, to: next }, 'state change');
    this.emit('stateChange', next, prev);
  }

  private updateState(): void {
    if (this.currentState !== 'REBALANCING' && this.currentState !== 'RUNNING') return;
    const running = this.slots.length === this.numStreamThreads && this.slots.every((s) => !s.dead && s.state === 'RUNNING');
    this.setState(running ? 'RUNNING' : 'REBALANCING');
  }

  /** Starts every thread; resolves when each one's runtime has started (group joined), as KafkaStreams.start. */
  async start(): Promise<void> {
    if (this.currentState !== 'CREATED') throw new Error(`cannot start from state ${this.currentState}`);
    this.setState('REBALANCING');
    const started = Array.from({ length: this.numStreamThreads }, (_, i) => this.spawn(i, 1));
    const results = await Promise.allSettled(started);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.shutdown();
      this.setState('ERROR');
      throw failed.reason as Error;
    }
    this.log.info({ threads: this.numStreamThreads }, 'stream threads started');
  }

  /** Starts thread `index`; resolves once its runtime started, rejects if it could not. */
  private spawn(index: number, incarnation: number): Promise<void> {
    const init: ThreadInit = { module: this.opts.module, data: this.opts.data, index, metricsIntervalMs: this.opts.metricsIntervalMs };
    const worker = new Worker(WORKER_URL, { workerData: init, execArgv: workerExecArgv(), name: `stream-thread-${index}` });
    let exitedResolve!: () => void;
    let closedResolve!: () => void;
    const slot: Slot = {
      index,
      incarnation,
      worker,
      state: 'CREATED',
      tasks: [],
      samples: [],
      closing: false,
      dead: false,
      exited: new Promise((r) => (exitedResolve = r)),
      closed: new Promise((r) => (closedResolve = r)),
    };
    this.slots[index] = slot;
    return new Promise<void>((resolve, reject) => {
      let startSettled = false;
      worker.on('message', (m: FromThread) => {
        switch (m.type) {
          case 'started':
            startSettled = true;
            resolve();
            break;
          case 'startFailed':
            if (!startSettled) {
              startSettled = true;
              reject(new Error(`stream thread ${index} did not start: ${m.message}`));
            } else this.died(slot, m.message);
            break;
          case 'state':
            slot.state = m.to;
            this.updateState();
            break;
          case 'metrics':
            slot.samples = m.samples;
            slot.tasks = m.tasks;
            this.metrics.invalidate();
            this.emit('threadReport', index, m.report);
            break;
          case 'failed':
            this.died(slot, m.message);
            break;
          case 'closed':
            closedResolve();
            break;
          case 'app':
            this.emit('threadMessage', index, m.payload);
            break;
        }
      });
      worker.on('error', (err) => {
        if (!startSettled) {
          startSettled = true;
          reject(new Error(`stream thread ${index} failed at start: ${err.message}`));
        }
        this.died(slot, `uncaught error: ${err.message}`);
      });
      worker.on('exit', (code) => {
        exitedResolve();
        closedResolve();
        if (!startSettled) {
          startSettled = true;
          reject(new Error(`stream thread ${index} exited (code ${code}) before it started`));
        }
        if (!slot.closing) this.died(slot, `exited with code ${code}`);
      });
    });
  }

  private died(slot: Slot, reason: string): void {
    if (slot.dead || slot.closing || this.slots[slot.index] !== slot) return;
    slot.dead = true;
    slot.samples = [];
    slot.tasks = [];
    this.metrics.invalidate();
    this.metrics.inc('riskloop_stream_thread_deaths_total');
    this.log.error({ thread: slot.index, incarnation: slot.incarnation, reason }, 'stream thread died');
    if (this.currentState !== 'RUNNING' && this.currentState !== 'REBALANCING') return;
    // Whatever it was doing, it is gone: make sure the worker is (its env teardown closes RocksDB).
    void slot.worker.terminate();
    const now = Date.now();
    while (this.replacements.length && now - this.replacements[0]! > this.opts.replacementWindowMs) this.replacements.shift();
    if (this.opts.onThreadDeath === 'shutdown' || this.replacements.length >= this.opts.maxReplacements) {
      const why =
        this.opts.onThreadDeath === 'shutdown'
          ? `stream thread ${slot.index} died (${reason})`
          : `stream thread ${slot.index} died (${reason}) after ${this.replacements.length} replacements within ${this.opts.replacementWindowMs} ms`;
      void this.fail(new Error(why));
      return;
    }
    this.replacements.push(now);
    this.setState('REBALANCING');
    // The new thread opens the same state folder: only after the old worker is gone.
    void slot.exited.then(async () => {
      if (this.currentState !== 'RUNNING' && this.currentState !== 'REBALANCING') return;
      this.log.warn({ thread: slot.index, incarnation: slot.incarnation + 1 }, 'replacing dead stream thread');
      this.metrics.inc('riskloop_stream_thread_replacements_total');
      this.emit('threadReplaced', slot.index, reason);
      try {
        await this.spawn(slot.index, slot.incarnation + 1);
      } catch (err) {
        await this.fail(err as Error);
      }
    });
  }

  private async fail(err: Error): Promise<void> {
    if (this.currentState === 'ERROR' || this.currentState === 'NOT_RUNNING') return;
    this.fatal = err;
    this.log.error({ err: err.message }, 'stream threads failed; shutting the client down');
    this.setState('ERROR');
    this.emit('error', err);
    await this.shutdown().catch((e: Error) => this.log.error({ err: e.message }, 'shutdown after failure failed'));
    this.emit('closed');
  }

  /** Resolves when every thread is RUNNING, or rejects on ERROR/NOT_RUNNING/timeout (as KafkaStreams). */
  waitForRunning(timeoutMs = 60_000): Promise<void> {
    return waitForRunning({ events: this, state: () => this.currentState, failure: () => this.fatal }, timeoutMs, 'stream threads');
  }


  /** Graceful stop of every thread (commit, checkpoints, leave the group), side by side. */
  async close(): Promise<void> {
    if (this.currentState === 'NOT_RUNNING' || this.currentState === 'CREATED') {
      this.setState('NOT_RUNNING');
      return;
    }
    if (this.currentState === 'ERROR') return;
    this.setState('PENDING_SHUTDOWN');
    await this.shutdown();
    this.setState('NOT_RUNNING');
  }

  private async shutdown(): Promise<void> {
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.closing) return s.exited;
        s.closing = true;
        if (!s.dead) {
          s.worker.postMessage({ type: 'close' } satisfies ToThread);
          const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), this.opts.closeTimeoutMs).unref());
          if ((await Promise.race([s.closed, timeout])) === 'timeout') this.log.warn({ thread: s.index }, 'stream thread did not close in time; terminating it');
        }
        await s.worker.terminate();
        await s.exited;
      }),
    );
  }
}
