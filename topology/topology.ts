/**
 * The processor graph, as Kafka Streams' `Topology`: sources, processors, sinks and stores, plus
 * global stores. The DSL (`StreamsBuilder`) writes into one of these; so can Processor-API users.
 *
 * Once built it also answers what a runtime needs: the sub-topologies (each becomes one task per
 * input partition), the internal topics to create, which store logs to which changelog.
 * Sub-topologies are the connected pieces of the graph (parent/child edges and shared stores);
 * a repartition topic cuts the graph because its sink and its source are separate nodes.
 */
import type { StoreBuilder } from '../state/types.js';
import type { ProcessorSupplier } from './processor.js';
import type { Headers } from './records.js';
import type { Serde } from './serde.js';
import { TopologyDescription, describeTopology } from './topologyDescription.js';

/** What a timestamp extractor sees: the decoded key and value plus the consumer record's metadata. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  /** The producer/broker timestamp. */
  timestamp: number;
  headers: Headers;
  key: unknown;
  value: unknown;
}

/**
 * Event time for a record. `partitionTime` is the highest timestamp seen so far on the record's
 * partition (-1 before any), for extractors that fall back to it on bad payloads. A negative result
 * drops the record (counted as `invalid-timestamp`).
 */
export type TimestampExtractor = (record: ConsumedRecord, partitionTime: number) => number;

export const recordTimestampExtractor: TimestampExtractor = (record) => record.timestamp;

export interface SourceNode {
  readonly kind: 'source';
  readonly name: string;
  readonly index: number;
  readonly topics: readonly string[];
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly timestampExtractor: TimestampExtractor;
  readonly children: string[];
}

export interface ProcessorNodeDef {
  readonly kind: 'processor';
  readonly name: string;
  readonly index: number;
  readonly supplier: ProcessorSupplier<unknown, unknown, unknown, unknown>;
  readonly parents: readonly string[];
  readonly children: string[];
  readonly stores: string[];
}

export interface SinkNode {
  readonly kind: 'sink';
  readonly name: string;
  readonly index: number;
  readonly topic: string;
  readonly keySerde: Serde<unknown>;
  readonly valueSerde: Serde<unknown>;
  readonly partitioner?: ((key: unknown, value: unknown) => number | undefined) | undefined;
  readonly parents: readonly string[];
  readonly children: readonly never[];
}

export type NodeDef = SourceNode | ProcessorNodeDef | SinkNode;

export interface GlobalStoreDef {
  readonly storeName: string;
  readonly builder: StoreBuilder;
  readonly topic: string;
  readonly source: SourceNode;
  readonly processor: ProcessorNodeDef;
}

export interface Subtopology {
  readonly id: number;
  /** All nodes of the sub-topology in the order they were added. */
  readonly nodes: readonly NodeDef[];
  readonly sources: readonly SourceNode[];
  readonly sourceTopics: readonly string[];
  readonly sinkTopics: readonly string[];
  readonly stores: readonly string[];
  /** Whether its sources must be co-partitioned (it joins two inputs by key). */
  readonly requiresCopartition: boolean;
}

export interface InternalTopicConfig {
  readonly name: string;
  readonly kind: 'repartition' | 'changelog';
  /** Topic configs to create it with (cleanup.policy and, for window changelogs, retention.ms). */
  readonly config: { readonly [key: string]: string };
  /** Fixed partition count (Repartitioned.withNumberOfPartitions); otherwise see `resolvePartitionCounts`. */
  readonly numPartitions?: number;
  /** For a changelog: the sub-topology owning the store; for a repartition topic: the one reading it. */
  readonly subtopology: number;
}

interface StoreEntry {
  builder: StoreBuilder;
  processors: Set<string>;
  changelogConfig: { [key: string]: string };
}

export interface SourceOptions {
  keySerde: Serde<unknown>;
  valueSerde: Serde<unknown>;
  timestampExtractor?: TimestampExtractor;
}

export interface SinkOptions {
  keySerde: Serde<unknown>;
  valueSerde: Serde<unknown>;
  /**
   * The partition of a record, or undefined for the default (murmur2 of the key bytes). A
   * foreign-key join sends its responses back to the left row's partition this way.
   */
  partitioner?: (key: unknown, value: unknown) => number | undefined;
}

export interface TopologyOptions {
  /** Prefix of every internal topic, and the consumer group id. Internal names derive from it. */
  applicationId: string;
}

export class Topology {
  readonly applicationId: string;
  private readonly nodes = new Map<string, NodeDef>();
  private readonly topicToSource = new Map<string, string>();
  private readonly storeEntries = new Map<string, StoreEntry>();
  private readonly globals = new Map<string, GlobalStoreDef>();
  private readonly repartitionTopics = new Map<string, { numPartitions?: number }>();
  private readonly copartitionNodes = new Set<string>();
  private nodeCount = 0;
  private computed: Subtopology[] | undefined;

  constructor(options: TopologyOptions) {
    if (!options.applicationId) throw new Error('Topology needs an applicationId: internal topic and store names derive from it');
    this.applicationId = options.applicationId;
  }

  addSource(name: string, topics: string | readonly string[], options: SourceOptions): this {
    const list = typeof topics === 'string' ? [topics] : [...topics];
    if (list.length === 0) throw new Error(`source ${name} needs at least one topic`);
    this.claimName(name);
    for (const topic of list) {
      const owner = this.topicToSource.get(topic);
      if (owner !== undefined) throw new Error(`topic ${topic} is already read by source ${owner}: a topic can be a source only once`);
    }
    for (const topic of list) this.topicToSource.set(topic, name);
    this.nodes.set(name, {
      kind: 'source',
      name,
      index: this.nodeCount++,
      topics: list,
      keySerde: options.keySerde,
      valueSerde: options.valueSerde,
      timestampExtractor: options.timestampExtractor ?? recordTimestampExtractor,
      children: [],
    });
    return this;
  }

  addProcessor<KIn, VIn, KOut, VOut>(name: string, supplier: ProcessorSupplier<KIn, VIn, KOut, VOut>, ...parentNames: string[]): this {
    if (parentNames.length === 0) throw new Error(`processor ${name} needs at least one parent`);
    this.claimName(name);
    const parents = parentNames.map((p) => this.parentNode(p, name));
    this.nodes.set(name, {
      kind: 'processor',
      name,
      index: this.nodeCount++,
      supplier: supplier as ProcessorSupplier<unknown, unknown, unknown, unknown>,
      parents: parentNames,
      children: [],
      stores: [],
    });
    for (const parent of parents) parent.children.push(name);
    return this;
  }

  addSink(name: string, topic: string, options: SinkOptions, ...parentNames: string[]): this {
    if (parentNames.length === 0) throw new Error(`sink ${name} needs at least one parent`);
    this.claimName(name);
    const parents = parentNames.map((p) => this.parentNode(p, name));
    this.nodes.set(name, {
      kind: 'sink',
      name,
      index: this.nodeCount++,
      topic,
      keySerde: options.keySerde,
      valueSerde: options.valueSerde,
      partitioner: options.partitioner,
      parents: parentNames,
      children: [],
    });
    for (const parent of parents) parent.children.push(name);
    return this;
  }

  /**
   * Registers a store and connects it to processors. `changelogConfig` overrides the changelog's
   * topic configs (window stores pass compact,delete with a retention).
   */
  addStateStore(builder: StoreBuilder, processorNames: readonly string[] = [], changelogConfig: { [key: string]: string } = {}): this {
    this.assertMutable();
    if (this.storeEntries.has(builder.name) || this.globals.has(builder.name)) throw new Error(`store ${builder.name} is already added`);
    this.storeEntries.set(builder.name, { builder, processors: new Set(), changelogConfig: { 'cleanup.policy': 'compact', ...changelogConfig } });
    this.connectProcessorAndStateStores(...processorNames.map((p) => [p, builder.name] as const));
    return this;
  }

  connectProcessorAndStateStores(...pairs: (readonly [processorName: string, storeName: string])[]): this {
    this.assertMutable();
    for (const [processorName, storeName] of pairs) {
      const node = this.nodes.get(processorName);
      if (node?.kind !== 'processor') throw new Error(`cannot connect store ${storeName}: no processor named ${processorName}`);
      const entry = this.storeEntries.get(storeName);
      if (!entry) throw new Error(`cannot connect processor ${processorName}: no store named ${storeName}`);
      entry.processors.add(processorName);
      if (!node.stores.includes(storeName)) node.stores.push(storeName);
    }
    return this;
  }

  /**
   * A store every task can read, filled from `topic` by `supplier`'s processor in the global state
   * task. The topic itself is the store's changelog, so the store must not be logged.
   */
  addGlobalStore<K, V>(
    builder: StoreBuilder,
    sourceName: string,
    sourceOptions: SourceOptions,
    topic: string,
    processorName: string,
    supplier: ProcessorSupplier<K, V, never, never>,
  ): this {
    this.assertMutable();
    if (builder.logged) throw new Error(`global store ${builder.name} must not be logged: its topic ${topic} is its changelog`);
    if (this.storeEntries.has(builder.name) || this.globals.has(builder.name)) throw new Error(`store ${builder.name} is already added`);
    this.addSource(sourceName, topic, sourceOptions);
    const source = this.nodes.get(sourceName) as SourceNode;
    this.claimName(processorName);
    const processor: ProcessorNodeDef = {
      kind: 'processor',
      name: processorName,
      index: this.nodeCount++,
      supplier: supplier as ProcessorSupplier<unknown, unknown, unknown, unknown>,
      parents: [sourceName],
      children: [],
      stores: [builder.name],
    };
    this.nodes.set(processorName, processor);
    source.children.push(processorName);
    this.globals.set(builder.name, { storeName: builder.name, builder, topic, source, processor });
    return this;
  }

  /** Marks a topic this topology both writes and reads as an internal repartition topic. */
  addRepartitionTopic(topic: string, options: { numPartitions?: number } = {}): this {
    this.assertMutable();
    this.repartitionTopics.set(topic, options.numPartitions === undefined ? {} : { numPartitions: options.numPartitions });
    return this;
  }

  /** Declares that the sub-topology containing this processor joins its inputs by key. */
  requireCopartitioning(processorName: string): this {
    this.copartitionNodes.add(processorName);
    return this;
  }

  // ---- the runtime's view ----

  node(name: string): NodeDef {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node named ${name}`);
    return node;
  }

  storeBuilder(name: string): StoreBuilder {
    const entry = this.storeEntries.get(name);
    if (!entry) throw new Error(`no store named ${name}`);
    return entry.builder;
  }

  /** Processors connected to a store (for describe and checks). */
  storeProcessors(name: string): readonly string[] {
    return [...(this.storeEntries.get(name)?.processors ?? [])];
  }

  subtopologies(): readonly Subtopology[] {
    this.computed ??= this.computeSubtopologies();
    return this.computed;
  }

  subtopology(id: number): Subtopology {
    const sub = this.subtopologies()[id];
    if (!sub) throw new Error(`no sub-topology ${id}`);
    return sub;
  }

  globalStores(): readonly GlobalStoreDef[] {
    return [...this.globals.values()];
  }

  /** The source node reading `topic` (stream or global), if any. */
  sourceForTopic(topic: string): SourceNode | undefined {
    const name = this.topicToSource.get(topic);
    return name === undefined ? undefined : (this.nodes.get(name) as SourceNode);
  }

  /** Every topic some task or the global task reads, user and internal. */
  sourceTopics(): string[] {
    return [...this.topicToSource.keys()];
  }

  /** The sub-topology reading `topic`, or undefined for global topics and topics nobody reads. */
  subtopologyForTopic(topic: string): number | undefined {
    const source = this.topicToSource.get(topic);
    if (source === undefined) return undefined;
    return this.subtopologies().find((s) => s.sources.some((n) => n.name === source))?.id;
  }

  isRepartitionTopic(topic: string): boolean {
    return this.repartitionTopics.has(topic);
  }

  /** `<applicationId>-<storeName>-changelog` for a logged, non-global store; undefined otherwise. */
  changelogTopicFor(storeName: string): string | undefined {
    const entry = this.storeEntries.get(storeName);
    if (!entry || !entry.builder.logged) return undefined;
    return changelogTopicName(this.applicationId, storeName);
  }

  internalTopics(): InternalTopicConfig[] {
    const subs = this.subtopologies();
    const out: InternalTopicConfig[] = [];
    for (const [topic, options] of this.repartitionTopics) {
      const reader = this.subtopologyForTopic(topic);
      if (reader === undefined) throw new Error(`repartition topic ${topic} has no source`);
      out.push({
        name: topic,
        kind: 'repartition',
        // Kafka Streams keeps repartition records until it has committed past them and then deletes
        // them explicitly (deleteRecords); a time-based retention could lose unprocessed records.
        config: { 'cleanup.policy': 'delete', 'retention.ms': '-1' },
        ...(options.numPartitions === undefined ? {} : { numPartitions: options.numPartitions }),
        subtopology: reader,
      });
    }
    for (const sub of subs) {
      for (const store of sub.stores) {
        const topic = this.changelogTopicFor(store);
        const entry = this.storeEntries.get(store);
        if (topic === undefined || !entry) continue;
        out.push({ name: topic, kind: 'changelog', config: { ...entry.changelogConfig }, subtopology: sub.id });
      }
    }
    return out;
  }

  describe(): TopologyDescription {
    return describeTopology(this);
  }

  // ---- internals ----

  private claimName(name: string): void {
    this.assertMutable();
    if (!name) throw new Error('node names must not be empty');
    if (this.nodes.has(name)) throw new Error(`a node named ${name} already exists`);
  }

  private parentNode(parentName: string, childName: string): SourceNode | ProcessorNodeDef {
    const parent = this.nodes.get(parentName);
    if (!parent) throw new Error(`${childName}: no parent named ${parentName}`);
    if (parent.kind === 'sink') throw new Error(`${childName}: a sink (${parentName}) cannot have children`);
    return parent;
  }

  private assertMutable(): void {
    if (this.computed) throw new Error('the topology is in use and can no longer be changed');
  }

  private computeSubtopologies(): Subtopology[] {
    const globalNodes = new Set<string>();
    for (const g of this.globals.values()) {
      globalNodes.add(g.source.name);
      globalNodes.add(g.processor.name);
    }
    const nodes = [...this.nodes.values()].filter((n) => !globalNodes.has(n.name)).sort((a, b) => a.index - b.index);

    // Union-find: a node joins its parents, and processors sharing a store join each other.
    const parent = new Map<string, string>(nodes.map((n) => [n.name, n.name]));
    const find = (x: string): string => {
      let root = x;
      while (parent.get(root) !== root) root = parent.get(root)!;
      parent.set(x, root);
      return root;
    };
    const union = (a: string, b: string): void => {
      const ra = find(a);
      const rb = find(b);
      if (ra !== rb) parent.set(rb, ra);
    };
    for (const n of nodes) if (n.kind !== 'source') for (const p of n.parents) union(n.name, p);
    for (const entry of this.storeEntries.values()) {
      const [first, ...rest] = [...entry.processors];
      if (first !== undefined) for (const other of rest) union(first, other);
    }

    const groups = new Map<string, NodeDef[]>();
    for (const n of nodes) {
      const root = find(n.name);
      const group = groups.get(root) ?? [];
      group.push(n);
      groups.set(root, group);
    }
    // Numbered by the earliest node of each group, i.e. in the order the topology was written.
    const ordered = [...groups.values()].sort((a, b) => a[0]!.index - b[0]!.index);
    return ordered.map((group, id) => {
      const sources = group.filter((n): n is SourceNode => n.kind === 'source');
      const stores = new Set<string>();
      for (const n of group) if (n.kind === 'processor') for (const s of n.stores) stores.add(s);
      return {
        id,
        nodes: group,
        sources,
        sourceTopics: sources.flatMap((s) => s.topics),
        sinkTopics: [...new Set(group.filter((n): n is SinkNode => n.kind === 'sink').map((n) => n.topic))],
        stores: [...stores],
        requiresCopartition: group.some((n) => this.copartitionNodes.has(n.name)),
      };
    });
  }
}

export function changelogTopicName(applicationId: string, storeName: string): string {
  return `${applicationId}-${storeName}-changelog`;
}

export function repartitionTopicName(applicationId: string, baseName: string): string {
  return `${applicationId}-${baseName}-repartition`;
}

export interface PartitionCounts {
  /** Partition count of every internal topic. */
  topics: Map<string, number>;
  /** Number of tasks (= partitions of its inputs) of each sub-topology. */
  tasks: Map<number, number>;
}

/**
 * Works out how many partitions each internal topic needs, given the counts of the user topics.
 * A sub-topology has as many tasks as its widest input; a changelog has one partition per task; a
 * repartition topic gets its fixed count, else the co-partitioned inputs' count when its reader
 * joins, else the task count of the sub-topologies writing to it (as Kafka Streams does).
 */
export function resolvePartitionCounts(topology: Topology, userTopicPartitions: (topic: string) => number | undefined): PartitionCounts {
  const subs = topology.subtopologies();
  const internal = topology.internalTopics();
  const topics = new Map<string, number>();
  const tasks = new Map<number, number>();
  const repartition = internal.filter((t) => t.kind === 'repartition');
  for (const t of repartition) if (t.numPartitions !== undefined) topics.set(t.name, t.numPartitions);

  const countOf = (topic: string): number | undefined => {
    if (topology.isRepartitionTopic(topic)) return topics.get(topic);
    const n = userTopicPartitions(topic);
    if (n === undefined) throw new Error(`partition count of source topic ${topic} is unknown`);
    return n;
  };

  for (let round = 0; round <= subs.length + 1 && tasks.size < subs.length; round++) {
    for (const sub of subs) {
      if (sub.requiresCopartition) {
        const userCounts = sub.sourceTopics.filter((t) => !topology.isRepartitionTopic(t)).map(countOf) as number[];
        if (userCounts.length > 0) {
          const max = Math.max(...userCounts);
          for (const t of sub.sourceTopics) if (topology.isRepartitionTopic(t) && !topics.has(t)) topics.set(t, max);
        }
      }
      const counts = sub.sourceTopics.map(countOf);
      if (counts.every((c) => c !== undefined)) tasks.set(sub.id, Math.max(...(counts as number[])));
    }
    for (const t of repartition) {
      if (topics.has(t.name)) continue;
      const writers = subs.filter((s) => s.sinkTopics.includes(t.name));
      const writerTasks = writers.map((w) => tasks.get(w.id));
      if (writers.length > 0 && writerTasks.every((n) => n !== undefined)) topics.set(t.name, Math.max(...(writerTasks as number[])));
    }
  }
  for (const sub of subs) {
    if (!tasks.has(sub.id)) throw new Error(`cannot resolve the partition count of sub-topology ${sub.id}`);
    if (sub.requiresCopartition) {
      const counts = new Set(sub.sourceTopics.map((t) => countOf(t)));
      if (counts.size > 1) {
        throw new Error(`sub-topology ${sub.id} joins topics that are not co-partitioned: ${sub.sourceTopics.map((t) => `${t}=${countOf(t)}`).join(', ')}`);
      }
    }
  }
  for (const t of internal) if (t.kind === 'changelog') topics.set(t.name, tasks.get(t.subtopology)!);
  return { topics, tasks };
}
