/** The Avro side of riskloop: schemas, their TypeScript types, serdes and the topic catalogue. */
export * from './types.js';
export { RECORD_FIELDS, ENUM_SYMBOLS } from './fields.js';
export { NAMESPACE, SCHEMA_NAMES, SCHEMAS, avroType, schemaFileUrl, type AvroRecordSchema, type AvroField, type RecordOf } from './load.js';
export { SerdeError, SchemaRegistryUnavailableError, type SerdeErrorReason } from './errors.js';
export {
  AvroSerde,
  schemaIdOf,
  MAGIC_BYTE,
  HEADER_LENGTH,
  type AvroSerdeOptions,
  type SchemaRegistryClient,
} from './avroSerde.js';
export {
  CatalogueConfig,
  buildCatalogue,
  catalogueTopics,
  keySerde,
  TOPIC_IDS,
  type Catalogue,
  type CleanupPolicy,
  type TopicId,
  type TopicSpec,
  type ValueSchemaOf,
} from './catalogue.js';
export { createSerdes, type TopicSerdes, type CreateSerdesOptions } from './createSerdes.js';
export { buildDeadLetter, redactorFor, type DeadLetterContext, type DeadLetterOptions } from './deadLetter.js';
export { maskPans } from './redactPan.js';
export { EXAMPLES } from './examples.js';
