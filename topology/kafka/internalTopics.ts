/**
 * Before the first poll: check that every source topic exists, work out how many tasks each
 * sub-topology has (co-partitioning checked), and create the repartition and changelog topics
 * with matching partition counts. Several instances may do this at once; creation is idempotent.
 */
import type { Topology } from '../topology.js';
import { resolvePartitionCounts, type PartitionCounts } from '../topology.js';
import type { Admin } from './client.js';

export class MissingSourceTopicsError extends Error {
  constructor(readonly topics: string[]) {
    super(`source topics do not exist: ${topics.join(', ')} (create them first, e.g. riskloop topics create)`);
    this.name = 'MissingSourceTopicsError';
  }
}

export async function prepareInternalTopics(
  topology: Topology,
  admin: Admin,
  replicationFactor: number,
): Promise<PartitionCounts> {
  const userTopics = [
    ...new Set([...topology.sourceTopics().filter((t) => !topology.isRepartitionTopic(t)), ...topology.globalStores().map((g) => g.topic)]),
  ];
  const counts = await admin.partitionCounts(userTopics);
  const missing = userTopics.filter((t) => !counts.has(t));
  if (missing.length) throw new MissingSourceTopicsError(missing);

  const resolved = resolvePartitionCounts(topology, (t) => counts.get(t));
  const internal = topology.internalTopics();
  const existing = await admin.partitionCounts(internal.map((t) => t.name));
  for (const t of internal) {
    const want = resolved.topics.get(t.name)!;
    const have = existing.get(t.name);
    if (have !== undefined && have !== want) {
      throw new Error(`internal topic ${t.name} has ${have} partitions but the topology needs ${want}; delete it or reset the application`);
    }
  }
  await admin.createTopics(
    internal.map((t) => ({
      topic: t.name,
      partitions: resolved.topics.get(t.name)!,
      replicationFactor,
      config: t.kind === 'changelog' ? { 'cleanup.policy': 'compact', ...t.config } : { ...t.config },
    })),
  );
  return resolved;
}

/**
 * Waits until the broker answers offset requests for every internal topic. createTopics waits for
 * leaders, yet under load a fresh topic still answers "not the leader for that topic-partition"
 * for a moment, and the runtime asks for the offsets of its repartition and changelog topics right
 * after creating them (restore, committed-or-earliest positions).
 */
export async function awaitInternalTopics(topology: Topology, admin: Admin, timeoutMs = 30_000, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const t of topology.internalTopics()) {
    for (;;) {
      try {
        await admin.endOffsets(t.name);
        await admin.beginningOffsets(t.name);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`internal topic ${t.name} did not become readable within ${timeoutMs} ms: ${(err as Error).message}`);
        await sleep(250);
      }
    }
  }
}
