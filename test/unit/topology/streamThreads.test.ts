/**
 * StreamThreads' supervision in real worker threads (test/support/fakeStreamThread.ts runs a
 * stand-in runtime in each): merged metrics and tasks, aggregated state, messages both ways, a
 * dead thread replaced (REPLACE_THREAD), the client shut down instead with onThreadDeath
 * 'shutdown' (SHUTDOWN_CLIENT) or past maxReplacements.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamThreads, type StreamThreadsOptions } from '../../../topology/threads/streamThreads.js';

const MODULE = new URL('../../support/fakeStreamThread.ts', import.meta.url);
const open: StreamThreads[] = [];

function threads(opts: Partial<StreamThreadsOptions> = {}): StreamThreads {
  const t = new StreamThreads({ numStreamThreads: 2, module: MODULE, data: { hello: 'x' }, metricsIntervalMs: 50, logger: pino({ level: 'silent' }), ...opts });
  open.push(t);
  return t;
}

function next<T extends unknown[]>(t: StreamThreads, event: string): Promise<T> {
  return new Promise((resolve) => t.once(event, (...args: unknown[]) => resolve(args as T)));
}

afterEach(async () => {
  for (const t of open.splice(0)) if (t.state !== 'ERROR') await t.close();
});

describe('StreamThreads', () => {
  it('runs N threads, merges their metrics and tasks, and relays messages both ways', { timeout: 60_000 }, async () => {
    const t = threads();
    await t.start();
    await t.waitForRunning(30_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(t.taskStates().sort((a, b) => a.thread - b.thread)).toEqual([
      { id: '0_0', status: 'running', thread: 0 },
      { id: '0_1', status: 'running', thread: 1 },
    ]);
    // Per-task series side by side, an unlabelled counter summed over the threads.
    expect(t.metrics.total('fake_records_total')).toBe(10 + 11);
    expect(t.metrics.get('fake_records_total', { task: '0_1' })).toBe(11);
    expect(t.metrics.get('fake_rebalances_total')).toBe(2);
    const pongs = new Set<number>();
    t.on('threadMessage', (_i: number, m: { pong: number; data: { hello: string } }) => {
      expect(m.data.hello).toBe('x');
      pongs.add(m.pong);
    });
    t.broadcast('ping');
    for (let i = 0; i < 100 && pongs.size < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect([...pongs].sort()).toEqual([0, 1]);
    await t.close();
    expect(t.state).toBe('NOT_RUNNING');
  });

  it('replaces a thread killed by an uncaught error, with the same index (REPLACE_THREAD)', { timeout: 60_000 }, async () => {
    const t = threads();
    await t.start();
    await t.waitForRunning(30_000);
    const replaced = next<[number, string]>(t, 'threadReplaced');
    t.injectCrash(1);
    const [index, reason] = await replaced;
    expect(index).toBe(1);
    expect(reason).toMatch(/injected crash of stream thread 1/);
    await t.waitForRunning(30_000);
    expect(t.threadStates().map((s) => [s.index, s.state, s.incarnation])).toEqual([
      [0, 'RUNNING', 1],
      [1, 'RUNNING', 2],
    ]);
    expect(t.metrics.get('riskloop_stream_thread_replacements_total')).toBe(1);
  });

  it('treats a thread whose runtime failed as dead too', { timeout: 60_000 }, async () => {
    const t = threads({ numStreamThreads: 1 });
    await t.start();
    await t.waitForRunning(30_000);
    const replaced = next<[number, string]>(t, 'threadReplaced');
    t.broadcast('fail');
    expect((await replaced)[1]).toMatch(/fatal in fake runtime/);
    await t.waitForRunning(30_000);
  });

  it("shuts the client down when a thread dies under onThreadDeath 'shutdown' (SHUTDOWN_CLIENT)", { timeout: 60_000 }, async () => {
    const t = threads({ onThreadDeath: 'shutdown' });
    await t.start();
    await t.waitForRunning(30_000);
    const failed = next<[Error]>(t, 'error');
    const closed = next<[]>(t, 'closed');
    t.injectCrash(0);
    expect((await failed)[0].message).toMatch(/stream thread 0 died/);
    expect(t.state).toBe('ERROR');
    await closed;
  });

  it('gives up after maxReplacements deaths within the window', { timeout: 60_000 }, async () => {
    const t = threads({ maxReplacements: 1 });
    await t.start();
    await t.waitForRunning(30_000);
    const replaced = next<[number]>(t, 'threadReplaced');
    t.injectCrash(0);
    await replaced;
    await t.waitForRunning(30_000);
    const failed = next<[Error]>(t, 'error');
    t.injectCrash(0);
    expect((await failed)[0].message).toMatch(/after 1 replacements within/);
    expect(t.state).toBe('ERROR');
  });
});
