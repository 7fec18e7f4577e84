/**
 * One initialised Avro value serde per catalogue topic, typed by the topic's value schema.
 * Initialising registers every writer schema up front, so a bad schema or an unreachable registry
 * fails start-up instead of the first record.
 */
import { AvroSerde, type SchemaRegistryClient } from './avroSerde.js';
import { TOPIC_IDS, type Catalogue, type TopicId, type ValueSchemaOf } from './catalogue.js';
import { SCHEMAS, type RecordOf } from './load.js';

export type TopicSerdes = { readonly [K in TopicId]: AvroSerde<RecordOf<ValueSchemaOf<K>>> };

export interface CreateSerdesOptions {
  /** Register writer schemas (true for producers, the default); consumers only resolve. */
  register?: boolean;
}

export async function createSerdes(
  registry: SchemaRegistryClient,
  catalogue: Catalogue,
  opts: CreateSerdesOptions = {},
): Promise<TopicSerdes> {
  const entries = await Promise.all(
    TOPIC_IDS.map(async (id) => {
      const spec = catalogue[id];
      const serde = new AvroSerde<unknown>({
        registry,
        topic: spec.name,
        schema: SCHEMAS[spec.valueSchema],
        register: opts.register ?? true,
      });
      return [id, await serde.init()] as const;
    }),
  );
  // The mapped type cannot be built key by key; each entry was made from its own topic's schema.
  return Object.freeze(Object.fromEntries(entries)) as unknown as TopicSerdes;
}
