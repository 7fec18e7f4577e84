/**
 * ProcessGuard: a runtime's error, its ERROR state, or a component reporting its death ends the
 * process with the documented code, after the close or at the hard bound if the close hangs; the
 * first failure decides and is logged once with its reason.
 */
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { EXIT_RUNTIME_FAILED, ProcessGuard } from '../../../bin/processGuard.js';

function harness(close: () => Promise<unknown>, hardExitMs = 200) {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as (typeof lines)[number]);
      cb();
    },
  });
  const exits: { code: number; at: number }[] = [];
  const guard = new ProcessGuard({ logger: pino({ level: 'info' }, sink), close, hardExitMs, exit: (code) => exits.push({ code, at: Date.now() }) });
  return { guard, lines, exits };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class FakeRuntime extends EventEmitter {
  state = 'RUNNING';
  /** As KafkaStreams.fail does: ERROR first, then the error. */
  die(err: Error): void {
    this.state = 'ERROR';
    this.emit('stateChange', 'ERROR', 'RUNNING');
    this.emit('error', err);
  }
}

describe('ProcessGuard', () => {
  it('a runtime error: one fatal line with the reason, close, exit 3', async () => {
    let closed = 0;
    const h = harness(async () => void closed++);
    const rt = new FakeRuntime();
    h.guard.watch('drift', rt);
    rt.die(new Error('boom'));
    await sleep(50);
    expect(h.exits.map((e) => e.code)).toEqual([EXIT_RUNTIME_FAILED]);
    expect(closed).toBe(1);
    const fatal = h.lines.filter((l) => l.level === 60);
    expect(fatal).toHaveLength(1);
    expect(fatal[0]!.msg).toBe('riskloop run: drift failed (runtime emitted an error: boom); closing and exiting with 3');
    expect(fatal[0]!.runtime).toBe('drift');
  });

  it('ERROR without an error event still ends the process', async () => {
    const h = harness(async () => undefined);
    const rt = new FakeRuntime();
    h.guard.watch('loop', rt);
    rt.emit('stateChange', 'ERROR', 'RUNNING');
    await sleep(50);
    expect(h.exits.map((e) => e.code)).toEqual([3]);
    expect(h.lines.find((l) => l.level === 60)?.reason).toBe('runtime reached ERROR');
  });

  it('a close that hangs: exit at the hard bound, not later', async () => {
    const h = harness(() => new Promise(() => undefined), 300);
    const t0 = Date.now();
    h.guard.runtimeFailed('audit', 'consumer stopped for good', new Error('x'));
    await sleep(600);
    expect(h.exits).toHaveLength(1);
    expect(h.exits[0]!.code).toBe(3);
    expect(h.exits[0]!.at - t0).toBeGreaterThanOrEqual(290);
    expect(h.exits[0]!.at - t0).toBeLessThan(500);
    expect(h.lines.some((l) => l.msg === 'close did not finish in time; exiting now')).toBe(true);
  });

  it('later failures do not change the exit code, and other parts are still traced', async () => {
    const h = harness(() => sleep(50));
    const loop = new FakeRuntime();
    const drift = new FakeRuntime();
    h.guard.watch('loop', loop);
    h.guard.watch('drift', drift);
    loop.die(new Error('first'));
    drift.die(new Error('second'));
    await sleep(150);
    expect(h.exits.map((e) => e.code)).toEqual([3]);
    expect(h.lines.filter((l) => l.level === 60)).toHaveLength(1);
    expect(h.lines.some((l) => l.msg === 'further failure while exiting' && l.runtime === 'drift')).toBe(true);
  });

  it('a log destination that throws (stdout closed) does not stop the exit', async () => {
    const broken = { write: () => { throw Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }); } };
    const exits: number[] = [];
    const guard = new ProcessGuard({ logger: pino({ level: 'info' }, broken), close: async () => undefined, hardExitMs: 200, exit: (code) => exits.push(code) });
    const rt = new FakeRuntime();
    guard.watch('loop', rt);
    rt.die(new Error('boom'));
    await sleep(50);
    expect(exits).toEqual([3]);
  });
});
