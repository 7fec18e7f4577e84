/**
 * Group assignment by task, sticky, as Kafka Streams' StreamsPartitionAssignor does in spirit:
 *
 *  - Co-partitioned: every partition of one task (sub-topology × partition number) goes to the same
 *    member, whatever the topic count. A per-partition assignor (KafkaJS' round robin) can split a
 *    task's inputs across two instances when topic and member counts do not divide evenly.
 *  - Balanced per sub-topology: every member gets ⌊n/M⌋ or ⌈n/M⌉ of each sub-topology's n tasks.
 *  - Sticky: a task stays with the member that runs it now; a task nobody runs goes preferably to a
 *    member that holds a clean copy of its state (a checkpoint on disk), so a rebalance moves as
 *    little state as balance allows and restores replay a changelog tail instead of all of it.
 *
 * Members tell the leader what they own through the JoinGroup metadata's userData (see
 * `encodeTaskHints`). Members that send nothing (older versions) are treated as owning nothing.
 */
import type { TopicPartition } from './client.js';

export interface MemberHints {
  memberId: string;
  /** Tasks the member runs (or restores) at the time it joins. */
  owned: readonly string[];
  /** Tasks whose state the member has on disk with a checkpoint. */
  stateful: readonly string[];
}

export interface TaskHintsPayload {
  owned: string[];
  stateful: string[];
}

export function encodeTaskHints(hints: TaskHintsPayload): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, owned: hints.owned, stateful: hints.stateful }), 'utf8');
}

export function decodeTaskHints(userData: Buffer | null | undefined): TaskHintsPayload {
  if (!userData || userData.length === 0) return { owned: [], stateful: [] };
  try {
    const parsed = JSON.parse(userData.toString('utf8')) as { owned?: unknown; stateful?: unknown };
    const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    return { owned: strings(parsed.owned), stateful: strings(parsed.stateful) };
  } catch {
    return { owned: [], stateful: [] };
  }
}

/**
 * Assigns tasks (id → its partitions) to members. Deterministic for the same input: members and
 * tasks are visited in sorted order.
 *
 * Balance is kept per sub-topology, not only in total: each sub-topology's tasks are spread
 * ⌊n/M⌋ or ⌈n/M⌉ per member. Balancing the total alone let a member that owned everything keep all
 * of the first sub-topology (the hot path, say) and hand a newcomer only other sub-topologies' tasks,
 * so one instance carried all of the hot path and its crash stopped every partition of it. The
 * ⌈n/M⌉ slots of each sub-topology go to the members with the least work so far, so totals stay
 * within about one task per sub-topology of each other.
 */
export function assignTasks(members: readonly MemberHints[], tasks: ReadonlyMap<string, readonly TopicPartition[]>): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>();
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  for (const m of sorted) out.set(m.memberId, []);
  if (sorted.length === 0) return out;
  const total = new Map(sorted.map((m) => [m.memberId, 0]));
  const bySub = new Map<string, string[]>();
  for (const id of [...tasks.keys()].sort(compareTaskIds)) {
    const sub = subtopologyOf(id);
    const list = bySub.get(sub) ?? [];
    list.push(id);
    bySub.set(sub, list);
  }
  for (const ids of bySub.values()) {
    for (const [task, member] of assignGroup(sorted, ids, total)) {
      out.get(member)!.push(...tasks.get(task)!);
      total.set(member, total.get(member)! + 1);
    }
  }
  return out;
}

/** One sub-topology's tasks: sticky, ⌊n/M⌋ or ⌈n/M⌉ per member, the ⌈n/M⌉ slots to the least loaded overall. */
function assignGroup(sorted: readonly MemberHints[], ids: readonly string[], total: ReadonlyMap<string, number>): Map<string, string> {
  const inGroup = new Set(ids);
  const base = Math.floor(ids.length / sorted.length);
  // The ⌈n/M⌉ slots of this group belong to the members with the least work so far (then by id).
  const byTotal = [...sorted].sort((a, b) => total.get(a.memberId)! - total.get(b.memberId)!);
  const extraSlot = new Set(byTotal.slice(0, ids.length % sorted.length).map((m) => m.memberId));
  const cap = (member: string): number => base + (extraSlot.has(member) ? 1 : 0);
  const load = new Map(sorted.map((m) => [m.memberId, 0]));
  const owner = new Map<string, string>();
  const fits = (member: string): boolean => load.get(member)! < cap(member);
  const give = (task: string, member: string): void => {
    owner.set(task, member);
    load.set(member, load.get(member)! + 1);
  };
  const free = (task: string): boolean => inGroup.has(task) && !owner.has(task);
  const mine = (list: readonly string[]): string[] => list.filter((t) => inGroup.has(t)).sort(compareTaskIds);

  // 1. Current owners keep their tasks up to their cap; 2. unowned tasks go to a member with their
  // state on disk, within its cap; 3. the rest to the members with the fewest tasks of this group.
  for (const m of sorted) for (const t of mine(m.owned)) if (free(t) && fits(m.memberId)) give(t, m.memberId);
  for (const m of byTotal) for (const t of mine(m.stateful)) if (free(t) && fits(m.memberId)) give(t, m.memberId);
  for (const t of ids) {
    if (!free(t)) continue;
    const target = byTotal.filter((m) => fits(m.memberId)).sort((a, b) => load.get(a.memberId)! - load.get(b.memberId)!)[0] ?? byTotal[0]!;
    give(t, target.memberId);
  }
  return owner;
}

/** The sub-topology part of a task id (`<subtopology>_<partition>`); anything else is its own group. */
function subtopologyOf(id: string): string {
  const us = id.indexOf('_');
  return us > 0 && /^\d+_\d+$/.test(id) ? id.slice(0, us) : id;
}

/** Task ids are `<subtopology>_<partition>`: sort numerically so 2_10 follows 2_9. */
function compareTaskIds(a: string, b: string): number {
  const [sa, pa] = a.split('_').map(Number) as [number, number];
  const [sb, pb] = b.split('_').map(Number) as [number, number];
  if (Number.isFinite(sa) && Number.isFinite(sb) && Number.isFinite(pa) && Number.isFinite(pb)) return sa - sb || pa - pb;
  return a < b ? -1 : a > b ? 1 : 0;
}
