/** Shared fixtures for the state store tests (not a test file itself). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChangeRecord, ChangelogSink } from '../../../state/types.js';

/** Collects every changelog record per store, in send order. */
export class CollectingSink implements ChangelogSink {
  readonly sent: Array<{ store: string; change: ChangeRecord }> = [];

  send(storeName: string, change: ChangeRecord): void {
    this.sent.push({ store: storeName, change });
  }

  records(store: string): ChangeRecord[] {
    return this.sent.filter((s) => s.store === store).map((s) => s.change);
  }

  clear(): void {
    this.sent.length = 0;
  }
}

/** Temp folders created by a test file, removed by `cleanup()` (call it in afterEach). */
export class TempDirs {
  private readonly dirs: string[] = [];

  async make(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'riskloop-state-'));
    this.dirs.push(dir);
    return dir;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

export const IMPLEMENTATIONS = [
  { engine: 'rocksdb', persistent: true },
  { engine: 'memory', persistent: false },
] as const;

export function collect<T>(it: Iterable<T>): T[] {
  return [...it];
}
