/** The group assignment: whole tasks, balanced, sticky to current owners, then to state on disk. */
import { describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../../topology/kafka/client.js';
import { assignTasks, decodeTaskHints, encodeTaskHints } from '../../../topology/kafka/stickyTaskAssignor.js';

/** Sub-topology 0 reads tx and kyc (co-partitioned), sub-topology 1 reads labels. */
function tasks(partitions: number): Map<string, TopicPartition[]> {
  const m = new Map<string, TopicPartition[]>();
  for (let p = 0; p < partitions; p++) {
    m.set(`0_${p}`, [
      { topic: 'tx', partition: p },
      { topic: 'kyc', partition: p },
    ]);
    m.set(`1_${p}`, [{ topic: 'labels', partition: p }]);
  }
  return m;
}

const taskIdsOf = (tps: TopicPartition[]): string[] => [...new Set(tps.map((tp) => `${tp.topic === 'labels' ? 1 : 0}_${tp.partition}`))].sort();
const member = (memberId: string, owned: string[] = [], stateful: string[] = []) => ({ memberId, owned, stateful });

describe('assignTasks', () => {
  it('keeps every partition of a task on one member, even with uneven counts', () => {
    const out = assignTasks([member('a'), member('b')], tasks(3));
    const seen = new Map<string, string>();
    for (const [m, tps] of out) {
      for (const tp of tps) {
        const id = `${tp.topic === 'labels' ? 1 : 0}_${tp.partition}`;
        expect(seen.get(id) ?? m).toBe(m);
        seen.set(id, m);
      }
    }
    expect(seen.size).toBe(6);
    expect([...out.values()].map((tps) => taskIdsOf(tps).length)).toEqual([3, 3]);
  });

  it('a member that stays keeps its tasks when a peer joins; the newcomer gets the surplus', () => {
    const all = [...tasks(3).keys()];
    const out = assignTasks([member('a', all), member('b')], tasks(3));
    const a = taskIdsOf(out.get('a')!);
    const b = taskIdsOf(out.get('b')!);
    expect(a.length).toBe(3);
    expect(b.length).toBe(3);
    expect([...a, ...b].sort()).toEqual(all.sort());
  });

  it('when a member leaves, survivors keep theirs and take the orphans', () => {
    const before = assignTasks([member('a'), member('b'), member('c')], tasks(3));
    const aOwned = taskIdsOf(before.get('a')!);
    const bOwned = taskIdsOf(before.get('b')!);
    const after = assignTasks([member('a', aOwned), member('b', bOwned)], tasks(3));
    for (const t of aOwned) expect(taskIdsOf(after.get('a')!)).toContain(t);
    for (const t of bOwned) expect(taskIdsOf(after.get('b')!)).toContain(t);
    expect(taskIdsOf(after.get('a')!).length + taskIdsOf(after.get('b')!).length).toBe(6);
  });

  it('unowned tasks go to the member with their state on disk', () => {
    const out = assignTasks([member('a', ['0_0', '0_1', '0_2']), member('b', [], ['1_0', '1_2'])], tasks(3));
    // Sub-topology 0: a keeps 2 of its 3 (⌈3/2⌉), b gets the third; sub-topology 1: b, behind in
    // total, takes the ⌈3/2⌉ slot and both tasks it holds state for.
    expect(taskIdsOf(out.get('a')!)).toEqual(['0_0', '0_1', '1_1']);
    expect(taskIdsOf(out.get('b')!)).toEqual(['0_2', '1_0', '1_2']);
  });

  it('balances each sub-topology: a member that owned everything hands a newcomer half of every sub-topology, hot path included', () => {
    const all = new Map<string, TopicPartition[]>();
    for (let sub = 0; sub < 3; sub++) for (let p = 0; p < 6; p++) all.set(`${sub}_${p}`, [{ topic: `t${sub}`, partition: p }]);
    const out = assignTasks([member('a', [...all.keys()]), member('b')], all);
    for (const m of ['a', 'b']) {
      const ids = out.get(m)!.map((tp) => `${tp.topic.slice(1)}_${tp.partition}`);
      for (let sub = 0; sub < 3; sub++) expect(ids.filter((id) => id.startsWith(`${sub}_`)), `${m} sub-topology ${sub}`).toHaveLength(3);
    }
    // And a keeps only tasks it already had (all of them here): nothing of a's moves except to b.
    expect(out.get('a')!.length + out.get('b')!.length).toBe(18);
  });

  it('stays balanced (⌊n/M⌋ or ⌈n/M⌉ per sub-topology, totals within one) when owners claim more than their share', () => {
    // 4 tasks, 3 members; a and b both claim 2: only one of them may keep 2.
    const four = new Map([...tasks(2)]);
    const out = assignTasks([member('a', ['0_0', '1_0']), member('b', ['0_1', '1_1']), member('c')], four);
    const counts = [...out.values()].map((tps) => taskIdsOf(tps).length).sort();
    expect(counts).toEqual([1, 1, 2]);
    // A task claimed by two members (a zombie's stale claim) is assigned once.
    const dup = assignTasks([member('a', ['0_0']), member('b', ['0_0'])], tasks(1));
    expect(taskIdsOf(dup.get('a')!)).toEqual(['0_0']);
    expect(taskIdsOf(dup.get('b')!)).toEqual(['1_0']);
  });

  it('hints survive the userData round trip and garbage decodes to nothing', () => {
    expect(decodeTaskHints(encodeTaskHints({ owned: ['0_1'], stateful: ['1_2'] }))).toEqual({ owned: ['0_1'], stateful: ['1_2'] });
    expect(decodeTaskHints(Buffer.from('not json'))).toEqual({ owned: [], stateful: [] });
    expect(decodeTaskHints(Buffer.alloc(0))).toEqual({ owned: [], stateful: [] });
  });
});
