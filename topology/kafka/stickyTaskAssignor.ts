/**
 * Group assignment by task, sticky, as Kafka Streams' StreamsPartitionAssignor does in spirit:
 *
 *  - Co-partitioned: every partition of one task (sub-topology × partition number) goes to the same
 *    member, whatever the topic count. A per-partition assignor (KafkaJS' round robin) can split a
 *    task's inputs across two instances when topic and member counts do not divide evenly.
 *  - Balanced: every member gets ⌊T/M⌋ or ⌈T/M⌉ tasks.
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
 */
export function assignTasks(members: readonly MemberHints[], tasks: ReadonlyMap<string, readonly TopicPartition[]>): Map<string, TopicPartition[]> {
  const out = new Map<string, TopicPartition[]>();
  const sorted = [...members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  for (const m of sorted) out.set(m.memberId, []);
  if (sorted.length === 0) return out;
  const taskIds = [...tasks.keys()].sort(compareTaskIds);
  const base = Math.floor(taskIds.length / sorted.length);
  let extra = taskIds.length % sorted.length;
  const load = new Map(sorted.map((m) => [m.memberId, 0]));
  const owner = new Map<string, string>();
  const give = (task: string, member: string): void => {
    owner.set(task, member);
    load.set(member, load.get(member)! + 1);
  };
  const free = (task: string): boolean => tasks.has(task) && !owner.has(task);

  // 1. Current owners keep up to ⌊T/M⌋ of their tasks; 2. then one more each while ⌈T/M⌉ slots last.
  for (const m of sorted) for (const t of [...m.owned].sort(compareTaskIds)) if (free(t) && load.get(m.memberId)! < base) give(t, m.memberId);
  for (const m of sorted) {
    if (extra === 0) break;
    const t = [...m.owned].sort(compareTaskIds).find(free);
    if (t !== undefined && load.get(m.memberId) === base) {
      give(t, m.memberId);
      extra--;
    }
  }
  // 3. Unowned tasks to a member with their state on disk, within the same bounds.
  const fits = (member: string): boolean => {
    const l = load.get(member)!;
    return l < base || (l === base && extra > 0);
  };
  for (const m of sorted) {
    for (const t of [...m.stateful].sort(compareTaskIds)) {
      if (!free(t) || !fits(m.memberId)) continue;
      if (load.get(m.memberId) === base) extra--;
      give(t, m.memberId);
    }
  }
  // 4. The rest to the least-loaded members.
  for (const t of taskIds) {
    if (!free(t)) continue;
    const target = sorted.filter((m) => fits(m.memberId)).sort((a, b) => load.get(a.memberId)! - load.get(b.memberId)!)[0] ?? sorted[0]!;
    if (load.get(target.memberId) === base && extra > 0) extra--;
    give(t, target.memberId);
  }
  for (const t of taskIds) out.get(owner.get(t)!)!.push(...tasks.get(t)!);
  return out;
}

/** Task ids are `<subtopology>_<partition>`: sort numerically so 2_10 follows 2_9. */
function compareTaskIds(a: string, b: string): number {
  const [sa, pa] = a.split('_').map(Number) as [number, number];
  const [sb, pb] = b.split('_').map(Number) as [number, number];
  if (Number.isFinite(sa) && Number.isFinite(sb) && Number.isFinite(pa) && Number.isFinite(pb)) return sa - sb || pa - pb;
  return a < b ? -1 : a > b ? 1 : 0;
}
