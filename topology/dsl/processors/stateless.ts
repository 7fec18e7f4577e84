/**
 * The record-at-a-time operators of KStream. Each is a plain Processor, so the DSL runs on exactly
 * the Processor API that users of `process()` get.
 */
import type { Processor, ProcessorContext } from '../../processor.js';
import type { Record } from '../../records.js';
import type { Change, KeyValue } from '../change.js';

/** Base for processors that only forward: keeps the context. */
abstract class Forwarding<KIn, VIn, KOut, VOut> implements Processor<KIn, VIn, KOut, VOut> {
  protected ctx!: ProcessorContext<KOut, VOut>;
  init(context: ProcessorContext<KOut, VOut>): void {
    this.ctx = context;
  }
  abstract process(record: Record<KIn, VIn>): void;
}

export class FilterProcessor<K, V> extends Forwarding<K, V, K, V> {
  constructor(
    private readonly predicate: (key: K, value: V) => boolean,
    private readonly keepWhen: boolean,
  ) {
    super();
  }
  process(record: Record<K, V>): void {
    if (this.predicate(record.key, record.value) === this.keepWhen) this.ctx.forward(record);
  }
}

export class MapProcessor<K, V, KR, VR> extends Forwarding<K, V, KR, VR> {
  constructor(private readonly mapper: (key: K, value: V) => KeyValue<KR, VR>) {
    super();
  }
  process(record: Record<K, V>): void {
    const { key, value } = this.mapper(record.key, record.value);
    this.ctx.forward({ key, value, timestamp: record.timestamp, headers: record.headers });
  }
}

export class MapValuesProcessor<K, V, VR> extends Forwarding<K, V, K, VR> {
  constructor(private readonly mapper: (value: V, key: K) => VR) {
    super();
  }
  process(record: Record<K, V>): void {
    this.ctx.forward({ key: record.key, value: this.mapper(record.value, record.key), timestamp: record.timestamp, headers: record.headers });
  }
}

export class SelectKeyProcessor<K, V, KR> extends Forwarding<K, V, KR, V> {
  constructor(private readonly selector: (key: K, value: V) => KR) {
    super();
  }
  process(record: Record<K, V>): void {
    this.ctx.forward({ key: this.selector(record.key, record.value), value: record.value, timestamp: record.timestamp, headers: record.headers });
  }
}

export class FlatMapProcessor<K, V, KR, VR> extends Forwarding<K, V, KR, VR> {
  constructor(private readonly mapper: (key: K, value: V) => Iterable<KeyValue<KR, VR>>) {
    super();
  }
  process(record: Record<K, V>): void {
    for (const { key, value } of this.mapper(record.key, record.value)) {
      this.ctx.forward({ key, value, timestamp: record.timestamp, headers: record.headers });
    }
  }
}

export class FlatMapValuesProcessor<K, V, VR> extends Forwarding<K, V, K, VR> {
  constructor(private readonly mapper: (value: V, key: K) => Iterable<VR>) {
    super();
  }
  process(record: Record<K, V>): void {
    for (const value of this.mapper(record.value, record.key)) {
      this.ctx.forward({ key: record.key, value, timestamp: record.timestamp, headers: record.headers });
    }
  }
}

export class PeekProcessor<K, V> extends Forwarding<K, V, K, V> {
  constructor(private readonly action: (key: K, value: V) => void) {
    super();
  }
  process(record: Record<K, V>): void {
    this.action(record.key, record.value);
    this.ctx.forward(record);
  }
}

/** Forwards unchanged: the node where merged streams meet, and the head of each split branch. */
export class PassThroughProcessor<K, V> extends Forwarding<K, V, K, V> {
  process(record: Record<K, V>): void {
    this.ctx.forward(record);
  }
}

/** Sends each record to the first branch whose predicate accepts it, else to the default branch (if any). */
export class BranchProcessor<K, V> extends Forwarding<K, V, K, V> {
  constructor(
    private readonly branches: readonly { predicate: (key: K, value: V) => boolean; child: string }[],
    private readonly defaultChild: string | undefined,
  ) {
    super();
  }
  process(record: Record<K, V>): void {
    for (const { predicate, child } of this.branches) {
      if (predicate(record.key, record.value)) {
        this.ctx.forward(record, child);
        return;
      }
    }
    if (this.defaultChild !== undefined) this.ctx.forward(record, this.defaultChild);
  }
}

/** KTable → KStream: each change becomes a record with the new value (null for a delete). */
export class TableToStreamProcessor<K, V> extends Forwarding<K, Change<V>, K, V | null> {
  process(record: Record<K, Change<V>>): void {
    this.ctx.forward({ key: record.key, value: record.value.newValue, timestamp: record.timestamp, headers: record.headers });
  }
}
