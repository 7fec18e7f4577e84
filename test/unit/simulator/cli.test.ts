/**
 * `riskloop simulate` in-process, to files: options and config file, the printed summary, the key
 * handling (from the environment, never echoed) and usage errors.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCommand } from '../../../bin/commands/simulate.js';
import type { CommandIo } from '../../../bin/commands/topics.js';
import { accountTokenOf } from '../../../processors/tokenizer.js';

const KEY_HEX = '6b'.repeat(32);
let dir: string;

function io(env: Record<string, string | undefined> = { RISKLOOP_ACCOUNT_TOKEN_KEY: KEY_HEX }) {
  const out: string[] = [];
  const err: string[] = [];
  const commandIo: CommandIo = { out: (l) => out.push(l), err: (l) => err.push(l), env };
  return { commandIo, out, err };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'riskloop-sim-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('riskloop simulate', () => {
  it('writes the run to files and prints the fraud rate and chargeback delays', async () => {
    const outDir = path.join(dir, 'run');
    const configFile = path.join(dir, 'sim.json');
    // The file sets customers and days; the --days flag overrides it.
    await writeFile(configFile, JSON.stringify({ customers: 150, days: 10, labels: { analystCoverage: 1 } }));
    const { commandIo, out, err } = io();
    const code = await simulateCommand(['--config', configFile, '--days', '5', '--seed', '9', '--out-dir', outDir], commandIo);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    expect(out.some((l) => /^fraud: \d+ of \d+ transactions = [0-9.]+%/.test(l))).toBe(true);
    expect(out.some((l) => l.includes('fraud chargeback delay (days): min'))).toBe(true);

    const summary = JSON.parse(await readFile(path.join(outDir, 'summary.json'), 'utf8'));
    expect(summary.seed).toBe(9);
    expect(summary.period.days).toBe(5);
    expect(summary.population.customers).toBe(150);
    expect(summary.config.labels.analystCoverage).toBe(1);

    const lines = (await readFile(path.join(outDir, 'transactions.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.length).toBe(summary.records.transactions);
    const first = JSON.parse(lines[0]!);
    expect(first.key).toBe(accountTokenOf(Buffer.from(KEY_HEX, 'hex'), first.value.accountId));
    const truth = (await readFile(path.join(outDir, 'truth.jsonl'), 'utf8')).trim().split('\n');
    expect(truth.length).toBe(lines.length);
  });

  it('refuses to run without the account-token key, and never echoes a bad one', async () => {
    const missing = io({});
    expect(await simulateCommand(['--out-dir', path.join(dir, 'x')], missing.commandIo)).toBe(2);
    expect(missing.err.join('\n')).toMatch(/RISKLOOP_ACCOUNT_TOKEN_KEY/);

    const secret = 'abcd'.repeat(4);
    const short = io({ RISKLOOP_ACCOUNT_TOKEN_KEY: secret });
    expect(await simulateCommand(['--out-dir', path.join(dir, 'x')], short.commandIo)).toBe(2);
    expect(short.err.join('\n')).toMatch(/at least 32 bytes/);
    expect(short.err.join('\n')).not.toContain(secret);
  });

  it('reads the key from a file when asked', async () => {
    const keyFile = path.join(dir, 'key.txt');
    await writeFile(keyFile, `${KEY_HEX}\n`);
    const { commandIo } = io({});
    const outDir = path.join(dir, 'from-file');
    expect(await simulateCommand(['--account-token-key-file', keyFile, '--customers', '20', '--days', '2', '--out-dir', outDir], commandIo)).toBe(0);
    const kyc = JSON.parse((await readFile(path.join(outDir, 'kyc.jsonl'), 'utf8')).split('\n')[0]!);
    expect(kyc.key).toMatch(/^at_/);
  });

  it.each([
    [['--customers', '10'], /--out-dir DIR, --kafka, or both/],
    [['--out-dir', 'x', '--rate', '100'], /--rate only applies with --kafka/],
    [['--out-dir', 'x', '--days', '0'], /days/],
    [['--out-dir', 'x', '--start', 'yesterday'], /start/],
    [['--out-dir', 'x', '--bogus'], /Unknown option/],
  ])('rejects %j with a usage error', async (argv, message) => {
    const { commandIo, err } = io();
    expect(await simulateCommand(argv, commandIo)).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });
});
