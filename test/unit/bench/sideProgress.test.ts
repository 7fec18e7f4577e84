/** The `loop-side` benchmark's measured interval, taken from the loop worker's counter samples. */
import { describe, expect, it } from 'vitest';
import { crossing, lastChange, sideInterval, sideStatus, stalled, type SideSample } from '../../../bench/loop/sideProgress.js';

const at = (t: number, processed: number, tx: number): SideSample => ({ t, processed, transactionsSubtopologyProcessed: tx });
const opts = { warmup: 0, expected: 114, quietMs: 5000 };

describe('loop-side interval', () => {
  it('ends on a tiny input done before the periodic samples began (the smoke hang of issue 17)', () => {
    // Before start, 20 ms startup samples, then everything processed by the RUNNING sample.
    const samples = [at(1000, 0, 0), at(1020, 0, 0), at(1040, 0, 0), at(1060, 426, 114)];
    for (let t = 1260; t <= 7060; t += 200) samples.push(at(t, 426, 114));
    expect(sideInterval(samples, opts)).toEqual({ tWarm: 1040, tEnd: 1060 });
  });

  it('waits for the quiet period after the last change (repartitioned records still arriving)', () => {
    const samples = [at(0, 0, 0), at(200, 300, 114), at(400, 400, 114), at(4000, 426, 114), at(8000, 426, 114)];
    expect(sideInterval(samples, opts)).toBeNull();
    samples.push(at(9000, 426, 114));
    expect(sideInterval(samples, opts)).toEqual({ tWarm: 0, tEnd: 4000 });
  });

  it('is not complete while the transactions sub-topology has records of its inputs left, however quiet', () => {
    const samples = [at(0, 0, 0), at(200, 300, 100)];
    for (let t = 400; t <= 60_000; t += 200) samples.push(at(t, 300, 100));
    expect(sideInterval(samples, opts)).toBeNull();
    expect(sideStatus(samples, opts, ['p.transactions'])).toBe(
      "the transactions' sub-topology processed 100 of the 114 records of its inputs (p.transactions), all tasks 300 records; nothing processed for 60 s",
    );
  });

  it('calls a run stalled only while records are due and nothing moved for the stall time, counted from RUNNING', () => {
    // Start took 150 s (pre-start sample at 0, RUNNING at 150 000): not a stall by itself.
    const joining = [at(0, 0, 0), at(20, 0, 0), at(149_990, 0, 0), at(150_000, 0, 0), at(150_200, 0, 0)];
    expect(stalled(joining, 114, 120_000, 150_000)).toBe(false);
    joining.push(at(270_300, 0, 0));
    expect(stalled(joining, 114, 120_000, 150_000)).toBe(true);
    const stuck = [at(0, 0, 0), at(100, 0, 0), at(200, 50, 50), at(120_300, 50, 50)];
    expect(stalled(stuck, 114, 120_000, 100)).toBe(true);
    expect(stalled(stuck.slice(0, 3).concat(at(100_000, 50, 50)), 114, 120_000, 100)).toBe(false);
    const done = [at(0, 0, 0), at(100, 0, 0), at(200, 426, 114), at(120_300, 426, 114)];
    expect(stalled(done, 114, 120_000, 100)).toBe(false);
  });

  it('interpolates the warm-up crossing between the samples around it', () => {
    const samples = [at(0, 0, 0), at(1000, 8000, 8000), at(2000, 12_000, 12_000)];
    expect(crossing(samples, 10_000)).toBe(1500);
    expect(() => crossing(samples, 20_000)).toThrow(/never reached the warm-up/);
  });

  it('finds no change when every sample shows the same total', () => {
    expect(lastChange([at(0, 426, 114), at(200, 426, 114)])).toBe(-1);
    expect(sideInterval([at(0, 426, 114), at(9000, 426, 114)], opts)).toBeNull();
  });
});
