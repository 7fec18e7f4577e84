/** The background sender: order, coalescing while a request is in flight, failures surfaced, bounded queue. */
import { describe, expect, it } from 'vitest';
import type { OutgoingRecord } from '../../../topology/kafka/client.js';
import { OutputPump } from '../../../topology/kafka/outputPump.js';

const rec = (i: number): OutgoingRecord => ({ topic: 't', key: Buffer.from(String(i)), value: null, timestamp: i });

/** A fake producer whose requests complete when the test says so. */
function gatedSender() {
  const requests: number[][] = [];
  const gates: (() => void)[] = [];
  let fail: Error | undefined;
  const send = (records: OutgoingRecord[]) =>
    new Promise<void>((resolve, reject) => {
      requests.push(records.map((r) => r.timestamp));
      gates.push(() => (fail ? reject(fail) : resolve()));
    });
  const release = async () => {
    gates.shift()!();
    await new Promise((r) => setImmediate(r));
  };
  return { send, requests, release, failNext: (e: Error) => (fail = e), inFlight: () => gates.length };
}

describe('OutputPump', () => {
  it('keeps one request in flight and sends what queued meanwhile together, in order', async () => {
    const s = gatedSender();
    const pump = new OutputPump(s.send, 1000);
    await pump.push([rec(1), rec(2)]);
    await new Promise((r) => setImmediate(r));
    await pump.push([rec(3)]);
    await pump.push([rec(4), rec(5)]);
    expect(s.requests).toEqual([[1, 2]]);
    expect(s.inFlight()).toBe(1);
    await s.release();
    expect(s.requests).toEqual([[1, 2], [3, 4, 5]]);
    let drained = false;
    const d = pump.drain().then(() => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    await s.release();
    await d;
    expect(drained).toBe(true);
  });

  it('throws a failed send at the next drain and drops what was queued behind it', async () => {
    const s = gatedSender();
    const pump = new OutputPump(s.send, 1000);
    await pump.push([rec(1)]);
    await new Promise((r) => setImmediate(r));
    await pump.push([rec(2)]);
    s.failNext(new Error('broker said no'));
    await s.release();
    await expect(pump.drain()).rejects.toThrow('broker said no');
    expect(s.requests).toEqual([[1]]);
    expect(pump.size).toBe(0);
  });

  it('makes push wait once the queue is over its bound', async () => {
    const s = gatedSender();
    const pump = new OutputPump(s.send, 2);
    await pump.push([rec(1)]);
    await new Promise((r) => setImmediate(r));
    let returned = false;
    const p = pump.push([rec(2), rec(3), rec(4)]).then(() => (returned = true));
    await new Promise((r) => setImmediate(r));
    expect(returned).toBe(false);
    await s.release();
    await s.release();
    await p;
    expect(returned).toBe(true);
    expect(s.requests).toEqual([[1], [2, 3, 4]]);
  });
});
