/**
 * `KStream.split()`: routes each record to the first branch whose predicate matches, or to the
 * default branch. Branches are named <splitName><branchName>; unnamed branches are numbered from 1
 * and the default branch is "0", as in Kafka Streams. The result maps those names to the branch
 * streams (or to what a Branched function returned; branches given a consumer are not in it).
 */
import type { BuildSteps } from './buildSteps.js';
import type { KStream } from './kstream.js';
import { BranchProcessor, PassThroughProcessor } from './processors/stateless.js';

export interface Branched<K, V> {
  readonly name?: string;
  readonly fn?: (stream: KStream<K, V>) => KStream<unknown, unknown> | void;
}

export const Branched = {
  as<K, V>(name: string): Branched<K, V> {
    return { name };
  },
  /** The branch stream is handed to `consumer` and left out of the result map. */
  withConsumer<K, V>(consumer: (stream: KStream<K, V>) => void, name?: string): Branched<K, V> {
    return { fn: (s) => void consumer(s), ...(name === undefined ? {} : { name }) };
  },
  /** The map holds what `fn` returns for the branch. */
  withFunction<K, V>(fn: (stream: KStream<K, V>) => KStream<unknown, unknown>, name?: string): Branched<K, V> {
    return { fn, ...(name === undefined ? {} : { name }) };
  },
};

export class BranchedKStream<K, V> {
  private readonly branches: { predicate: (key: K, value: V) => boolean; child: string }[] = [];
  private defaultChild: string | undefined;
  private readonly result = new Map<string, KStream<unknown, unknown>>();
  private index = 1;
  private done = false;

  constructor(
    private readonly ctx: BuildSteps,
    private readonly parent: KStream<K, V>,
    private readonly splitName: string,
    private readonly prefix: string,
  ) {
    const branches = this.branches;
    const parentNode = parent.nodeName;
    // The branch list is read when a task creates the processor, by which time it is complete.
    ctx.addStep((t) => t.addProcessor(splitName, () => new BranchProcessor<K, V>(branches, this.defaultChild), parentNode));
  }

  branch(predicate: (key: K, value: V) => boolean, branched: Branched<K, V> = {}): this {
    this.assertOpen();
    const child = this.addBranch(branched.name ?? String(this.index++), branched);
    this.branches.push({ predicate, child });
    return this;
  }

  defaultBranch(branched: Branched<K, V> = {}): Map<string, KStream<unknown, unknown>> {
    this.assertOpen();
    this.defaultChild = this.addBranch(branched.name ?? '0', branched);
    this.done = true;
    return this.result;
  }

  noDefaultBranch(): Map<string, KStream<unknown, unknown>> {
    this.assertOpen();
    this.done = true;
    return this.result;
  }

  private addBranch(branchName: string, branched: Branched<K, V>): string {
    const child = `${this.prefix}${branchName}`;
    const splitName = this.splitName;
    this.ctx.addStep((t) => t.addProcessor(child, () => new PassThroughProcessor<K, V>(), splitName));
    const stream = this.parent.derive(child);
    if (branched.fn) {
      const out = branched.fn(stream);
      if (out) this.result.set(child, out);
    } else {
      this.result.set(child, stream as KStream<unknown, unknown>);
    }
    return child;
  }

  private assertOpen(): void {
    if (this.done) throw new Error(`split ${this.splitName} is already closed by defaultBranch()/noDefaultBranch()`);
  }
}
