/**
 * A task's checkpoint: for each changelog partition, the offset up to which the task's local
 * stores already hold the changelog. On a clean restart the runtime restores from there instead of
 * replaying the whole changelog. The runtime writes it after a flush+commit and deletes it when
 * local state stops being trustworthy (e.g. at startup under exactly-once, so that a crash leaves
 * no checkpoint behind).
 *
 * File: `<taskDir>/.checkpoint`, JSON `{ "<topic>-<partition>": offset, ... }`, replaced atomically
 * (write a temporary file, fsync it, rename it over the old one) so a crash never leaves half a file.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const CHECKPOINT_FILE = '.checkpoint';

export class CorruptCheckpointError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`checkpoint ${file} is unusable: ${reason}`);
    this.name = 'CorruptCheckpointError';
  }
}

export function checkpointPath(taskDir: string): string {
  return join(taskDir, CHECKPOINT_FILE);
}

/** The checkpoint's key for one changelog partition. */
export function checkpointKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

/** Splits a checkpoint key at its last '-' (topic names may contain '-', partitions cannot). */
export function parseCheckpointKey(key: string): { topic: string; partition: number } {
  const dash = key.lastIndexOf('-');
  const partition = Number(key.slice(dash + 1));
  if (dash <= 0 || !Number.isSafeInteger(partition) || partition < 0 || key.slice(dash + 1) === '') {
    throw new Error(`not a checkpoint key: ${JSON.stringify(key)}`);
  }
  return { topic: key.slice(0, dash), partition };
}

/**
 * The task's checkpoint, or undefined when it has none. Throws CorruptCheckpointError when the file
 * exists but cannot be trusted; the caller should then treat local state as unknown.
 */
export async function readCheckpoint(taskDir: string): Promise<Map<string, number> | undefined> {
  const file = checkpointPath(taskDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CorruptCheckpointError(file, 'not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CorruptCheckpointError(file, 'not a JSON object');
  }
  const offsets = new Map<string, number>();
  for (const [key, offset] of Object.entries(parsed)) {
    if (!Number.isSafeInteger(offset) || (offset as number) < 0) {
      throw new CorruptCheckpointError(file, `offset of ${key} is ${JSON.stringify(offset)}`);
    }
    offsets.set(key, offset as number);
  }
  return offsets;
}

/** Replaces the task's checkpoint atomically. */
export async function writeCheckpoint(
  taskDir: string,
  offsets: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
): Promise<void> {
  const entries = offsets instanceof Map ? [...offsets.entries()] : Object.entries(offsets);
  for (const [key, offset] of entries) {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`checkpoint offset of ${key} must be a non-negative integer, got ${offset}`);
  }
  await mkdir(taskDir, { recursive: true });
  const file = checkpointPath(taskDir);
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(Object.fromEntries(entries)), 'utf8');
    // Without the fsync a power loss after the rename could leave an empty file under the real name.
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(taskDir);
}

export async function deleteCheckpoint(taskDir: string): Promise<void> {
  await rm(checkpointPath(taskDir), { force: true });
  await syncDirectory(taskDir);
}

/** Makes the rename itself durable; best effort, as some platforms cannot fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Durability of the rename is an optimisation here: a lost rename means a full restore.
  }
}
