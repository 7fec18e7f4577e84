/**
 * What `riskloop run` does when something in it dies: one log line saying what and why, a close of
 * whatever still closes, and an exit with a non-zero code within a bounded time, so that the
 * supervisor (systemd, Kubernetes, a process manager) starts a fresh process.
 *
 * Exit rather than replace the failed runtime in place (Kafka Streams' REPLACE_THREAD): a runtime
 * here reaches ERROR only after the library has classified the error as fatal (transient errors are
 * retried and rebalances rejoined inside the runtime), so its state is not to be trusted; a fresh
 * process rebuilds everything from the committed offsets and changelogs, which is the one recovery
 * path that is exercised on every start. A restart loop stays visible to the supervisor (restart
 * counts, back-off) instead of being hidden inside a process that looks alive.
 *
 * Exit codes (documented in docs/operations.md, "When something fails"):
 *   1  start-up failed (broker, registry or database unreachable, bad configuration)
 *   3  a runtime (loop, drift monitor, audit consumer, ops consumer) failed
 *   4  an uncaught exception or unhandled promise rejection anywhere in the process
 * The exit happens when the close finishes or after `hardExitMs` (10 s by default), whichever is first.
 */
import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';

export const EXIT_STARTUP_FAILED = 1;
export const EXIT_RUNTIME_FAILED = 3;
export const EXIT_UNCAUGHT = 4;

/** Anything with a lifecycle worth watching: KafkaStreams (state + 'error'), or a plain emitter. */
export interface Watched extends Pick<EventEmitter, 'on'> {
  readonly state?: string;
}

export interface ProcessGuardOptions {
  logger: Logger;
  /** Closes everything that still runs; its failure does not change the exit code. */
  close: () => Promise<unknown>;
  /** Upper bound from the failure to the exit, close or no close. */
  hardExitMs?: number;
  exit?: (code: number) => void;
}

export class ProcessGuard {
  private failing = false;
  private firstFailed: string | undefined;
  private readonly hardExitMs: number;
  private readonly exit: (code: number) => void;
  private readonly onUncaught = (err: unknown): void => this.fail('process', 'uncaught exception', err, EXIT_UNCAUGHT);
  private readonly onRejection = (err: unknown): void => this.fail('process', 'unhandled promise rejection', err, EXIT_UNCAUGHT);

  constructor(private readonly opts: ProcessGuardOptions) {
    this.hardExitMs = opts.hardExitMs ?? 10_000;
    this.exit = opts.exit ?? ((code) => process.exit(code));
  }

  /** Installs the process-wide handlers; call once, as early as possible. */
  installProcessHandlers(): void {
    process.on('uncaughtException', this.onUncaught);
    process.on('unhandledRejection', this.onRejection);
  }

  /**
   * Watches one runtime: its 'error' event (so that no emitter in the process is without a
   * listener) and, for KafkaStreams, a change to ERROR.
   */
  watch(name: string, runtime: Watched): void {
    runtime.on('error', (err: unknown) => this.fail(name, 'runtime emitted an error', err, EXIT_RUNTIME_FAILED));
    runtime.on('stateChange', (to: unknown) => {
      // KafkaStreams enters ERROR just before it emits the error itself: let that (with its
      // reason) be the one logged; this catches an ERROR that comes without one.
      if (to === 'ERROR') setImmediate(() => this.fail(name, 'runtime reached ERROR', undefined, EXIT_RUNTIME_FAILED));
    });
  }

  /** A component that reports its own death (e.g. a kafkajs consumer that will not restart). */
  runtimeFailed(name: string, reason: string, err?: unknown): void {
    this.fail(name, reason, err, EXIT_RUNTIME_FAILED);
  }

  /** Any other reason to end the process now, with its own exit code. */
  failed(what: string, reason: string, err: unknown, code: number): void {
    this.fail(what, reason, err, code);
  }

  get isFailing(): boolean {
    return this.failing;
  }

  private fail(runtime: string, reason: string, err: unknown, code: number): void {
    if (this.failing) {
      // The first failure decides the exit; later ones in other parts (often consequences) are traced.
      if (runtime !== this.firstFailed) this.log(() => this.opts.logger.warn({ runtime, reason, err: message(err) }, 'further failure while exiting'));
      return;
    }
    this.failing = true;
    this.firstFailed = runtime;
    // The bound first: nothing after this line (a log write to a closed stdout, a close that hangs
    // on a dead broker) may keep the process alive. Not unref'd, for the same reason.
    const hard = setTimeout(() => {
      this.log(() => this.opts.logger.fatal({ exitCode: code, afterMs: this.hardExitMs }, 'close did not finish in time; exiting now'));
      this.exit(code);
    }, this.hardExitMs);
    this.log(() =>
      this.opts.logger.fatal(
        {
          runtime,
          reason,
          err: message(err),
          // Where an uncaught error came from is the whole diagnosis; library errors carry no payloads.
          ...(code === EXIT_UNCAUGHT && err instanceof Error ? { stack: err.stack } : {}),
          exitCode: code,
          exitWithinMs: this.hardExitMs,
        },
        `riskloop run: ${runtime} failed (${reason}${err === undefined ? '' : `: ${message(err)}`}); closing and exiting with ${code}`,
      ),
    );
    Promise.resolve()
      .then(() => this.opts.close())
      .catch((e: unknown) => this.log(() => this.opts.logger.warn({ err: message(e) }, 'close after failure failed')))
      .finally(() => {
        clearTimeout(hard);
        this.exit(code);
      });
  }

  /**
   * A log line that cannot be written (stdout closed: EPIPE, thrown synchronously by pino's sync
   * destination) must not stop the exit; seen when a test runner holding the pipe died.
   */
  private log(write: () => void): void {
    try {
      write();
    } catch {
      // nowhere left to say it
    }
  }

  dispose(): void {
    process.off('uncaughtException', this.onUncaught);
    process.off('unhandledRejection', this.onRejection);
  }
}

function message(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  return err instanceof Error ? err.message : String(err);
}
