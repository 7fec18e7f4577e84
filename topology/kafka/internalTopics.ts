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
