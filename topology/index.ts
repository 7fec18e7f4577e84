/** riskloop's stream-processing API: the DSL, the Processor API, the runtime pieces and the test driver. */
export { StreamsBuilder, DEFAULT_APPLICATION_ID } from './dsl/streamsBuilder.js';
export { KStream } from './dsl/kstream.js';
export { BranchedKStream, Branched } from './dsl/branchedKStream.js';
export { KGroupedStream } from './dsl/kgroupedStream.js';
export { TimeWindowedKStream } from './dsl/timeWindowedKStream.js';
export { KTable } from './dsl/ktable.js';
export { GlobalKTable } from './dsl/globalKTable.js';
export type { Change, KeyValue } from './dsl/change.js';
export type { ValueAndTimestamp } from './dsl/internalSerdes.js';
export { Consumed, Grouped, Joined, Materialized, Named, Produced, Repartitioned, StreamJoined, Suppressed } from './dsl/options.js';
export { KGroupedTable } from './dsl/kgroupedTable.js';
export { JoinWindows, SessionWindows, SlidingWindows, TimeWindows, type Window, type Windowed } from './windows.js';
export { SessionWindowedKStream } from './dsl/sessionWindowedKStream.js';
export { CogroupedKStream } from './dsl/cogroupedKStream.js';
export { sessionWindowedSerde, timeWindowedSerde } from './windowedSerdes.js';
export { Serdes, type Serde } from './serde.js';
export type { Cancellable, DropReason, Processor, ProcessorContext, ProcessorSupplier, PunctuationType, Punctuator } from './processor.js';
export type { Headers, RawRecord, Record, RecordMetadata, TopicPartition, TopicPartitionOffset } from './records.js';
export {
  Topology,
  changelogTopicName,
  repartitionTopicName,
  resolvePartitionCounts,
  recordTimestampExtractor,
  type ConsumedRecord,
  type InternalTopicConfig,
  type PartitionCounts,
  type Subtopology,
  type TimestampExtractor,
} from './topology.js';
export { TopologyDescription } from './topologyDescription.js';
export { type OutgoingRecord, type RecordCollector, defaultPartition } from './recordCollector.js';
export { murmur2, partitionForKey } from './murmur2.js';
export {
  type DeadLetter,
  type DeadLetterEncoder,
  type DeserializationExceptionHandler,
  type ErrorHandlers,
  type HandlerResponse,
  type ProcessingExceptionHandler,
  type ProductionExceptionHandler,
  type ReducedPayload,
  TaskFailedError,
  deadLetterPerRecordProductionErrors,
  defaultErrorHandlers,
  jsonDeadLetterEncoder,
  logAndContinue,
  logAndFail,
  reducePayload,
  sendToDeadLetter,
} from './errors.js';
export { type ErrorClass, type ErrorKind, RecordTooLargeError, TaskCorruptedError, classifyError } from './kafka/errorClass.js';
export {
  Secret,
  describeConnection,
  explainKafkaError,
  kafkaConnection,
  kafkajsConnectionOptions,
  plaintextConnection,
  type KafkaConnection,
  type KafkaConnectionInput,
  type KafkaSasl,
  type KafkaTls,
  type SaslMechanism,
  type SecurityProtocol,
} from './kafka/connection.js';
export { StreamTask, type StreamTaskOptions } from './streamTask.js';
export { GlobalStateTask, type GlobalStateTaskOptions } from './globalStateTask.js';
export type { TaskMetrics, NodeCounters, TaskDropReason } from './internals/taskMetrics.js';
export { TestInputTopic, TestOutputTopic, TopologyTestDriver, type DriverMetrics, type TestRecord, type TopologyTestDriverConfig } from './testDriver.js';
