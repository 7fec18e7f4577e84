/**
 * Errors raised by the Avro serdes, split by what a runtime should do about them:
 *  - `SerdeError` is about one record. The record can never be (de)serialized as it is, so retrying
 *    is pointless: route it to the dead-letter topic with `reason` as the dead letter's reason.
 *  - `SchemaRegistryUnavailableError` is about the registry, not the record (network, 5xx, auth).
 *    Dead-lettering would lose good records: retry the batch instead.
 */

export type SerdeErrorReason =
  /** The first byte is not the Confluent magic byte 0: not written by a Confluent-format serializer. */
  | 'BAD_MAGIC'
  /** The schema id is not in the registry (or was not prefetched before a synchronous decode). */
  | 'UNKNOWN_SCHEMA_ID'
  /** The writer schema cannot be resolved to the reader schema (or is not an Avro schema). */
  | 'INCOMPATIBLE_SCHEMA'
  /** The bytes are shorter than the 5-byte header, truncated, or do not decode with the writer schema. */
  | 'MALFORMED'
  /** serialize: the value does not match the schema. */
  | 'INVALID_VALUE';

export class SerdeError extends Error {
  override readonly name = 'SerdeError';

  constructor(
    readonly reason: SerdeErrorReason,
    message: string,
    readonly details: { subject?: string; schemaId?: number } = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class SchemaRegistryUnavailableError extends Error {
  override readonly name = 'SchemaRegistryUnavailableError';
}
