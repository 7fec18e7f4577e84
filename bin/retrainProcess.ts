import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

/**
 * `riskloop retrain` (long-running) as its own process, as it is deployed, with its stdout relayed
 * line by line: the demo and the self-learning test drive the same service a team would run.
 */
export class RetrainProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<number | null> = Promise.resolve(null);
  /** The tail of its stderr, for error messages. */
  stderr = '';

  start(args: readonly string[], env: NodeJS.ProcessEnv, onLine: (line: string) => void): void {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin/riskloop.ts'), 'retrain', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        onLine(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-20_000);
    });
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM: the service stops after its current step; resolves with its exit code. */
  async stop(): Promise<number | null> {
    if (this.running) this.child!.kill('SIGTERM');
    return this.exited;
  }
}
