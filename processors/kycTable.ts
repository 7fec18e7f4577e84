/**
 * The table side of the transaction ⋈ KYC stream-table join.
 *
 * The `kyc` topic (compacted, keyed by account token) is a source of the hot sub-topology and is
 * materialized into `StoreNames.kyc`; enrichment reads that store by `txn.accountToken`. Because both
 * topics are co-partitioned and read by the same task, this is a KTable in Kafka Streams' sense: a
 * KYC update the task processes before a transaction is seen by it, one processed after is not
 * applied retroactively (the transaction's decision stands). The task picks records across its
 * input partitions in timestamp order, so with the kyc source's timestamp being `updatedAt`, "before"
 * means "earlier in event time" for records that are already buffered.
 *
 * Last write (by offset) wins, not the highest `updatedAt`: compaction keeps the last record per key
 * by offset, so this is the only rule under which a task rebuilt from the compacted topic holds the
 * same rows as the one that processed every record. A tombstone deletes the row.
 *
 * The store is logged: its source offsets are committed, so after a restart it cannot be rebuilt by
 * re-reading the kyc topic; the changelog restores it.
 */
import { Stores, type KeyValueStoreBuilder, type StoreOptions } from '../state/stores.js';
import type { KeyValueStore } from '../state/types.js';
import type { Processor, ProcessorContext, ProcessorSupplier } from '../topology/processor.js';
import type { Record } from '../topology/records.js';
import { Serdes, type Serde } from '../topology/serde.js';
import type { TimestampExtractor, Topology } from '../topology/topology.js';
import type { KycRecord } from '../schemas/types.js';
import { StoreNames } from './types.js';

/** Thrown for a KYC record whose key is not its own account token; the error handlers dead-letter it. */
export class KycKeyMismatchError extends Error {
  readonly reason = 'ACCOUNT_TOKEN_MISMATCH';
  constructor() {
    // Neither token is quoted: the message lands in logs and dead letters, and it is enough to know
    // that the producer keyed the record wrongly; the dead letter carries the record itself.
    super('KYC record key differs from its accountToken');
    this.name = 'KycKeyMismatchError';
  }
}

export function kycStore(options: StoreOptions = {}): KeyValueStoreBuilder<string, KycRecord> {
  // cacheValues: enrichment reads the account's row on every transaction and never changes it; rows
  // stay objects between flushes instead of being parsed per read (~1 % of the hot path's CPU).
  return Stores.keyValue(StoreNames.kyc, Serdes.String, Serdes.Json<KycRecord>(), { ...options, cacheValues: true });
}

export class KycTableProcessor implements Processor<string, KycRecord | null> {
  private context!: ProcessorContext<never, never>;
  private store!: KeyValueStore<string, KycRecord>;

  init(context: ProcessorContext<never, never>): void {
    this.context = context;
    this.store = context.getStateStore(StoreNames.kyc);
  }

  process(record: Record<string, KycRecord | null>): void {
    if (record.key === null) {
      this.context.recordDropped('null-key');
      return;
    }
    if (record.value === null) {
      // A tombstone deletes the row (the topic is compacted: that is how a producer removes an
      // account's KYC). Transactions decided after it get KYC_MISSING, so it is logged, not silent.
      this.store.delete(record.key);
      const where = this.context.recordMetadata();
      this.context.logger.info({ event: 'kyc-deleted', sourceTopic: where?.topic ?? 'rerouted', partition: where?.partition ?? -1, offset: where?.offset ?? -1 }, 'KYC row deleted by a tombstone');
      return;
    }
    // Stored under the key would attach one account's facts (say, sanctioned) to another; stored
    // under the value's token would break co-partitioning. Neither is safe, so refuse the record.
    if (record.value.accountToken !== record.key) throw new KycKeyMismatchError();
    // The holder name is personal data for screening at ingress (processors/screening/): never a
    // table column, so never in the store or its changelog, screening configured or not.
    const { holderName, ...row } = record.value;
    this.store.put(record.key, holderName === undefined || holderName === null ? record.value : { ...row, holderName: null });
  }
}

export function kycTableProcessor(): ProcessorSupplier<string, KycRecord | null> {
  return () => new KycTableProcessor();
}

export interface AddKycTableOptions {
  topic: string;
  valueSerde: Serde<KycRecord>;
  /** Default: the record timestamp. An extractor reading `updatedAt` orders KYC changes by event time. */
  timestampExtractor?: TimestampExtractor;
  /** Default 'kyc-source'. */
  sourceName?: string;
  /** Default 'kyc-table'. */
  processorName?: string;
  storeOptions?: StoreOptions;
  /**
   * A step between the source and the table (the wrong-partition check): source → check → table.
   * It must forward table records to the table processor.
   */
  check?: { name: string; supplier: ProcessorSupplier<string, KycRecord, string, unknown> };
  /** Further parents of the table processor (the re-routed records' step); they must already exist. */
  extraParents?: readonly string[];
  /**
   * A step between the check and the table (sanctions screening, processors/screening/): source →
   * check → screen → table. It must forward table records to the table processor by name; the
   * extra parents then feed it instead of the table.
   */
  screen?: { name: string; supplier: ProcessorSupplier<string, KycRecord | null, string, unknown> };
  /**
   * Processors that read the KYC store (the enrichment step). They must already be in the topology;
   * otherwise connect them later with `topology.connectProcessorAndStateStores([name, StoreNames.kyc])`.
   */
  readers?: readonly string[];
}

/** Adds the kyc source, the table processor and the store, and declares the co-partitioning. */
export function addKycTable(topology: Topology, options: AddKycTableOptions): { sourceName: string; processorName: string } {
  const sourceName = options.sourceName ?? 'kyc-source';
  const processorName = options.processorName ?? 'kyc-table';
  topology.addSource(sourceName, options.topic, {
    keySerde: Serdes.String,
    valueSerde: options.valueSerde,
    ...(options.timestampExtractor ? { timestampExtractor: options.timestampExtractor } : {}),
  });
  if (options.check) topology.addProcessor(options.check.name, options.check.supplier, sourceName);
  const upstream = [options.check?.name ?? sourceName, ...(options.extraParents ?? [])];
  if (options.screen) topology.addProcessor(options.screen.name, options.screen.supplier, ...upstream);
  topology
    .addProcessor(processorName, kycTableProcessor(), ...(options.screen ? [options.screen.name] : upstream))
    .addStateStore(kycStore(options.storeOptions), [processorName, ...(options.readers ?? [])])
    .requireCopartitioning(processorName);
  return { sourceName, processorName };
}
