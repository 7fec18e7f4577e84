import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CorruptCheckpointError,
  checkpointKey,
  checkpointPath,
  deleteCheckpoint,
  parseCheckpointKey,
  readCheckpoint,
  writeCheckpoint,
} from '../../../state/checkpoint.js';
import { TempDirs } from './support.js';

describe('task checkpoint file', () => {
  const dirs = new TempDirs();
  afterEach(() => dirs.cleanup());

  it('is absent until written', async () => {
    expect(await readCheckpoint(await dirs.make())).toBeUndefined();
  });

  it('round-trips offsets per changelog partition, replacing the previous file whole', async () => {
    const taskDir = join(await dirs.make(), 'app', '1_3');
    const key = checkpointKey('risk-app-velocity-changelog', 3);
    await writeCheckpoint(taskDir, new Map([[key, 41], ['risk-app-profiles-changelog-3', 7]]));
    expect(await readCheckpoint(taskDir)).toEqual(new Map([[key, 41], ['risk-app-profiles-changelog-3', 7]]));
    await writeCheckpoint(taskDir, { [key]: 99 });
    expect(await readCheckpoint(taskDir)).toEqual(new Map([[key, 99]]));
    expect(JSON.parse(await readFile(checkpointPath(taskDir), 'utf8'))).toEqual({ [key]: 99 });
    // Nothing but the checkpoint itself is left behind by the tmp + rename dance.
    expect(await readdir(taskDir)).toEqual(['.checkpoint']);
  });

  it('reports a corrupt file instead of trusting it', async () => {
    const taskDir = await dirs.make();
    await writeFile(checkpointPath(taskDir), '{"t-0": 12', 'utf8');
    await expect(readCheckpoint(taskDir)).rejects.toBeInstanceOf(CorruptCheckpointError);
    await writeFile(checkpointPath(taskDir), '{"t-0": -1}', 'utf8');
    await expect(readCheckpoint(taskDir)).rejects.toThrow(/offset of t-0/);
    await writeFile(checkpointPath(taskDir), '[1,2]', 'utf8');
    await expect(readCheckpoint(taskDir)).rejects.toThrow(/not a JSON object/);
  });

  it('refuses to write an invalid offset', async () => {
    await expect(writeCheckpoint(await dirs.make(), { 't-0': 1.5 })).rejects.toThrow(/non-negative integer/);
  });

  it('can be deleted, also when it does not exist', async () => {
    const taskDir = await dirs.make();
    await deleteCheckpoint(taskDir);
    await writeCheckpoint(taskDir, { 't-0': 1 });
    await deleteCheckpoint(taskDir);
    expect(await readCheckpoint(taskDir)).toBeUndefined();
  });

  it('splits keys at the last dash, since topic names may contain dashes', () => {
    expect(parseCheckpointKey(checkpointKey('a-b-changelog', 12))).toEqual({ topic: 'a-b-changelog', partition: 12 });
    expect(() => parseCheckpointKey('nodash')).toThrow();
    expect(() => parseCheckpointKey('topic-')).toThrow();
    expect(() => parseCheckpointKey('topic-x')).toThrow();
  });
});
