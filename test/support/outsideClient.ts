/**
 * The outside clients' side of the integration tests: a Python venv with confluent-kafka (made by
 * test/outside/setup.sh from PyPI on first use; quick afterwards) and a runner for the scripts in
 * test/outside/, which read one JSON job on stdin and answer one JSON document on stdout.
 */
import { execFileSync, spawn } from 'node:child_process';

/** The venv's python; builds the venv when it is missing or stale. */
export function outsidePython(): string {
  const out = execFileSync('bash', ['test/outside/setup.sh'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
  return out.trim().split('\n').pop()!;
}

/** Runs `test/outside/<script>` with `job` on stdin; rejects with the script's stderr tail on a non-zero exit. */
export function runOutsideScript<T>(python: string, script: string, job: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [`test/outside/${script}`], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${stderr.slice(-2000)} ${stdout.slice(-500)}`));
      try {
        resolve(JSON.parse(stdout) as T);
      } catch (e) {
        reject(new Error(`${script} answered no JSON (${(e as Error).message}): ${stdout.slice(-500)}`));
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}
