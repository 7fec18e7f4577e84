/**
 * Stops and starts the broker or the schema registry of the stack the integration tests use, for
 * the fault tests: `stack/stack.sh kafka-stop|kafka-start|registry-stop|registry-start` on the
 * local stack globalSetup started (same RISKLOOP_STACK_DIR and ports from the environment).
 * Brokers the tests did not start (KAFKA_BROKERS pointing elsewhere, testcontainers) cannot be
 * stopped from here: `assertControllable` then fails with the reason, it never skips.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface StackLocation {
  dir: string;
  kafkaPort: number;
  registryPort: number;
}

export function stackLocation(env: Readonly<Record<string, string | undefined>> = process.env): StackLocation {
  return {
    dir: env.RISKLOOP_STACK_DIR ?? path.join(root, '.stack'),
    kafkaPort: Number(env.KAFKA_PORT ?? 9092),
    registryPort: Number(env.REGISTRY_PORT ?? 8081),
  };
}

function pidAlive(file: string): boolean {
  if (!existsSync(file)) return false;
  try {
    process.kill(Number(readFileSync(file, 'utf8').trim()), 0);
    return true;
  } catch {
    return false;
  }
}

/** Throws unless the brokers and registry in use are the local stack's, with live pid files. */
export function assertControllable(brokers: string[], registryUrl: string, loc: StackLocation = stackLocation()): void {
  const why = (what: string) =>
    new Error(
      `fault tests need to stop and start the broker and registry they run against, and cannot: ${what}. ` +
        `Run them on the local stack (stack/stack.sh up, as globalSetup does without KAFKA_BROKERS; RISKLOOP_STACK_DIR, KAFKA_PORT, REGISTRY_PORT name it)`,
    );
  const local = new Set([`127.0.0.1:${loc.kafkaPort}`, `localhost:${loc.kafkaPort}`]);
  if (brokers.length !== 1 || !local.has(brokers[0]!)) throw why(`brokers ${brokers.join(',')} are not the local stack's 127.0.0.1:${loc.kafkaPort}`);
  const reg = new URL(registryUrl);
  if (!['127.0.0.1', 'localhost'].includes(reg.hostname) || Number(reg.port) !== loc.registryPort) throw why(`registry ${registryUrl} is not the local stack's port ${loc.registryPort}`);
  if (!pidAlive(path.join(loc.dir, 'kafka.pid'))) throw why(`no live broker pid file in ${loc.dir}`);
  if (!pidAlive(path.join(loc.dir, 'registry.pid'))) throw why(`no live registry pid file in ${loc.dir}`);
}

export type StackVerb = 'kafka-stop' | 'kafka-start' | 'registry-stop' | 'registry-start';

/** Runs one stack verb (without blocking the caller's event loop); rejects with stack.sh's own message. */
export function stack(verb: StackVerb, loc: StackLocation = stackLocation()): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      'bash',
      [path.join(root, 'stack/stack.sh'), verb],
      {
        cwd: root,
        timeout: 300_000,
        // A broker restart on two busy cores with a few thousand partitions took over 90 s (the
        // stack's default wait) to answer metadata requests again: give it 4 minutes.
        env: { ...process.env, RISKLOOP_STACK_DIR: loc.dir, KAFKA_PORT: String(loc.kafkaPort), REGISTRY_PORT: String(loc.registryPort), STACK_READY_TIMEOUT: process.env.STACK_READY_TIMEOUT ?? '240' },
      },
      (err, _stdout, stderr) => (err ? reject(new Error(`stack.sh ${verb} failed: ${stderr.trim() || err.message}`)) : resolve()),
    );
  });
}
