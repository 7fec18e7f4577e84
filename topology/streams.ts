/**
 * riskloop streams: the public entry point of the stream-processing library (`riskloop/streams`).
 *
 * Kafka Streams' DSL and Processor API in TypeScript on KafkaJS, with persistent state (RocksDB or
 * memory), changelogs, restore and exactly-once. Everything a program outside riskloop needs is
 * exported here; nothing here depends on the risk loop (processors/, schemas/, bin/).
 *
 *   import { KafkaStreams, StreamsBuilder, Consumed, Produced, Serdes } from 'riskloop/streams';
 *
 * See topology/README.md for the one-page API, the examples and what differs from Kafka Streams.
 */
export * from './index.js';
export {
  KafkaStreams,
  type KafkaStreamsDeps,
  type KeyQueryMetadata,
  type ReadOnlyKeyValueStore,
  type ReadOnlyWindowStore,
  type StreamsState,
} from './kafka/kafkaStreams.js';
export { StreamsConfigSchema, parseStreamsConfig, type StreamsConfig, type StreamsConfigInput } from './kafka/config.js';
export {
  CachingKeyValueStore,
  DEFAULT_CACHE_MAX_ENTRIES,
  SegmentedWindowStore,
  Stores,
  type ChangeRecord,
  type ChangelogSink,
  type KeyValueStore,
  type KeyValueStoreBuilder,
  type StateStore,
  type StoreBuilder,
  type StoreContext,
  type StoreOptions,
  type WindowStore,
  type WindowStoreBuilder,
  type WindowStoreOptions,
  type WindowedKeyValue,
  type WindowedValue,
} from '../state/index.js';
export {
  StreamThreads,
  ThreadMetrics,
  type StreamThreadContext,
  type StreamThreadFactory,
  type StreamThreadHandle,
  type StreamThreadState,
  type StreamThreadsOptions,
  type StreamsRuntime,
} from './threads/streamThreads.js';
