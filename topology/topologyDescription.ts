/**
 * `topology.describe()`: the graph as Kafka Streams prints it, so that operators used to reading a
 * TopologyDescription (or pasting it into a visualiser) can read ours.
 *
 * Nodes of a sub-topology are listed the way Kafka Streams orders them: by the size of the subtree
 * below them (largest first), then by name; successors and predecessors likewise.
 */
import type { NodeDef, Topology } from './topology.js';

export interface NodeDescription {
  readonly kind: 'source' | 'processor' | 'sink';
  readonly name: string;
  readonly successors: readonly string[];
  readonly predecessors: readonly string[];
  /** Source only. */
  readonly topics?: readonly string[];
  /** Processor only. */
  readonly stores?: readonly string[];
  /** Sink only. */
  readonly topic?: string;
}

export interface SubtopologyDescription {
  readonly id: number;
  readonly nodes: readonly NodeDescription[];
}

export interface GlobalStoreDescription {
  readonly id: number;
  readonly storeName: string;
  readonly topic: string;
  readonly source: NodeDescription;
  readonly processor: NodeDescription;
}

export class TopologyDescription {
  constructor(
    readonly subtopologies: readonly SubtopologyDescription[],
    readonly globalStores: readonly GlobalStoreDescription[],
  ) {}

  toString(): string {
    let out = 'Topologies:\n ';
    for (const sub of this.subtopologies) {
      out += `  Sub-topology: ${sub.id}\n`;
      for (const node of sub.nodes) out += `    ${nodeToString(node)}\n`;
      out += '\n';
    }
    for (const g of this.globalStores) {
      out += `  Sub-topology: ${g.id} for global store (will not generate tasks)\n`;
      out += `    ${nodeToString(g.source)}\n`;
      out += `    ${nodeToString(g.processor)}\n`;
      out += '\n';
    }
    return out;
  }
}

function names(list: readonly string[]): string {
  return list.length === 0 ? 'none' : list.join(', ');
}

function nodeToString(node: NodeDescription): string {
  switch (node.kind) {
    case 'source':
      return `Source: ${node.name} (topics: [${(node.topics ?? []).join(', ')}])\n      --> ${names(node.successors)}`;
    case 'processor':
      return `Processor: ${node.name} (stores: [${(node.stores ?? []).join(', ')}])\n      --> ${names(node.successors)}\n      <-- ${names(node.predecessors)}`;
    case 'sink':
      return `Sink: ${node.name} (topic: ${node.topic ?? ''})\n      <-- ${names(node.predecessors)}`;
  }
}

export function describeTopology(topology: Topology): TopologyDescription {
  const sizes = new Map<string, number>();
  // Counted like Kafka Streams (a node reachable along two paths counts twice), so orders match.
  const sizeOf = (node: NodeDef): number => {
    const known = sizes.get(node.name);
    if (known !== undefined) return known;
    let size = 1;
    for (const child of node.children) size += sizeOf(topology.node(child));
    sizes.set(node.name, size);
    return size;
  };
  const order = (a: NodeDef, b: NodeDef): number => sizeOf(b) - sizeOf(a) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const sortNames = (list: readonly string[]): string[] => list.map((n) => topology.node(n)).sort(order).map((n) => n.name);

  const describeNode = (node: NodeDef): NodeDescription => {
    switch (node.kind) {
      case 'source':
        return { kind: 'source', name: node.name, topics: node.topics, successors: sortNames(node.children), predecessors: [] };
      case 'processor':
        return {
          kind: 'processor',
          name: node.name,
          stores: node.stores,
          successors: sortNames(node.children),
          predecessors: sortNames(node.parents),
        };
      case 'sink':
        return { kind: 'sink', name: node.name, topic: node.topic, successors: [], predecessors: sortNames(node.parents) };
    }
  };

  const subtopologies = topology.subtopologies().map((sub) => ({
    id: sub.id,
    nodes: [...sub.nodes].sort(order).map(describeNode),
  }));
  const globalStores = topology.globalStores().map((g, i) => ({
    id: subtopologies.length + i,
    storeName: g.storeName,
    topic: g.topic,
    source: describeNode(g.source),
    processor: describeNode(g.processor),
  }));
  return new TopologyDescription(subtopologies, globalStores);
}
