/**
 * Wiring of a KTable–KTable foreign-key join (KTable.join/leftJoin with a foreign-key extractor):
 * the nodes, the two internal topics and the subscription store of processors/foreignKeyJoin.ts,
 * named as Kafka Streams names them (KTableImpl.doJoinOnForeignKey), so that topics and changelogs
 * are recognisable:
 *
 *   <app>-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-<n>-topic      subscriptions, keyed by foreign key
 *   <app>-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-<n>-topic          responses, to the left row's partition
 *   <app>-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-<n>-changelog   the subscription store
 *
 * With Named.as(base): <app>-<base>-subscription-registration-topic, <base>-subscription-store, …
 * (and, as in Kafka, the generated indexes are used up all the same, so naming one operator does
 * not shift the names of the others).
 */
import type { Serde } from '../serde.js';
import { Serdes } from '../serde.js';
import type { BuildSteps } from './buildSteps.js';
import type { Materialized, Named } from './options.js';
import {
  ForeignTableJoinProcessor,
  ResponseJoinProcessor,
  SubscriptionJoinForeignProcessor,
  SubscriptionReceiveProcessor,
  SubscriptionSendProcessor,
} from './processors/foreignKeyJoin.js';
import { TableSourceProcessor } from './processors/tableSource.js';
import { requireSerde } from './stores.js';
import { CombinedKeySchema, type SubscriptionResponseWrapper, subscriptionResponseWrapperSerde, subscriptionWrapperSerde } from './subscriptionWrapper.js';
import { timestampedKeyValueStore } from './timestampedStore.js';

/** One side of the join, as the KTable knows it. */
export interface JoinSide<K, V> {
  readonly nodeName: string;
  readonly storeName: string;
  readonly keySerde: Serde<K> | undefined;
  readonly valueSerde: Serde<V> | undefined;
}

export interface ForeignKeyJoinResult<K, VR> {
  readonly nodeName: string;
  readonly storeName: string;
  readonly keySerde: Serde<K>;
  readonly valueSerde: Serde<VR>;
}

export function addForeignKeyJoin<K, V, KO, VO, VR>(
  ctx: BuildSteps,
  left: JoinSide<K, V>,
  right: JoinSide<KO, VO>,
  extractor: (value: V) => KO | null | undefined,
  joiner: (value: V, foreignValue: VO | null) => VR,
  leftJoin: boolean,
  materialized: Materialized<K, VR> | undefined,
  named: Named | undefined,
): ForeignKeyJoinResult<K, VR> {
  const op = leftJoin ? 'foreign-key leftJoin' : 'foreign-key join';
  const keySerde = requireSerde(left.keySerde, 'key', `${op} (the left table's)`);
  const valueSerde = requireSerde(left.valueSerde, 'value', `${op} (the left table's: its values are hashed)`);
  const foreignKeySerde = requireSerde(right.keySerde, 'key', `${op} (the right table's)`);
  const foreignValueSerde = requireSerde(right.valueSerde, 'value', `${op} (the right table's)`);
  const resultKeySerde = materialized?.keySerde ?? keySerde;
  const resultValueSerde = materialized?.valueSerde;
  if (resultValueSerde === undefined) throw new Error(`${op} needs the result value serde: pass Materialized.with(keySerde, valueSerde)`);

  const names = ctx.names;
  const base = named?.name;
  // Kafka's NamedInternal.suffixWithOrElseGet: the index is used up even when a name is given.
  const name = (suffix: string, prefix: string) => {
    const generated = names.next(prefix);
    return base === undefined ? generated : `${base}${suffix}`;
  };
  const FK = 'KTABLE-FK-JOIN-';
  const registration = `${name('-subscription-registration', `${FK}SUBSCRIPTION-REGISTRATION-`)}-topic`;
  const send = name('-subscription-registration-processor', `${FK}SUBSCRIPTION-REGISTRATION-`);
  const registrationSink = name('-subscription-registration-sink', 'KTABLE-SINK-');
  const registrationSource = name('-subscription-registration-source', 'KTABLE-SOURCE-');
  const subscriptionStore = name('-subscription-store', `${FK}SUBSCRIPTION-STATE-STORE-`);
  const receive = name('-subscription-receive', `${FK}SUBSCRIPTION-PROCESSOR-`);
  const joinForeign = name('-subscription-join-foreign', `${FK}SUBSCRIPTION-PROCESSOR-`);
  const foreignJoin = name('-foreign-join-subscription', `${FK}SUBSCRIPTION-PROCESSOR-`);
  const response = `${name('-subscription-response', `${FK}SUBSCRIPTION-RESPONSE-`)}-topic`;
  const responseSink = name('-subscription-response-sink', 'KTABLE-SINK-');
  const responseSource = name('-subscription-response-source', 'KTABLE-SOURCE-');
  const resolver = name('-subscription-response-resolver', `${FK}SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-`);
  const result = name('-result', `${FK}OUTPUT-`);
  const resultStore = names.storeName(materialized?.storeName, `${FK}OUTPUT-`);

  const keySchema = new CombinedKeySchema(foreignKeySerde, keySerde);
  const wrapperSerde = subscriptionWrapperSerde(keySerde);
  const responseSerde = subscriptionResponseWrapperSerde(foreignValueSerde);
  const subscriptions = timestampedKeyValueStore(subscriptionStore, Serdes.Buffer, wrapperSerde);
  const results = timestampedKeyValueStore(resultStore, resultKeySerde, resultValueSerde, materialized);

  ctx.addStep((t) => {
    const registrationTopic = `${t.applicationId}-${registration}`;
    const responseTopic = `${t.applicationId}-${response}`;
    // Left side: subscribe.
    t.addProcessor(send, () => new SubscriptionSendProcessor<K, V, KO>(extractor, foreignKeySerde, valueSerde, leftJoin), left.nodeName);
    t.addSink(registrationSink, registrationTopic, { keySerde: foreignKeySerde as Serde<unknown>, valueSerde: wrapperSerde as Serde<unknown> }, send);
    t.addRepartitionTopic(registrationTopic);
    // Right side: keep subscriptions, answer them, and answer them again when a right row changes.
    t.addSource(registrationSource, registrationTopic, { keySerde: foreignKeySerde as Serde<unknown>, valueSerde: wrapperSerde as Serde<unknown> });
    t.addProcessor(receive, () => new SubscriptionReceiveProcessor<K, KO>(subscriptionStore, keySchema), registrationSource);
    t.addProcessor(joinForeign, () => new SubscriptionJoinForeignProcessor<K, KO, VO>(right.storeName), receive);
    t.addProcessor(foreignJoin, () => new ForeignTableJoinProcessor<K, KO, VO>(subscriptionStore, keySchema), right.nodeName);
    t.addStateStore(subscriptions, [receive, foreignJoin]);
    t.connectProcessorAndStateStores([joinForeign, right.storeName]);
    t.requireCopartitioning(receive);
    t.addSink(
      responseSink,
      responseTopic,
      {
        keySerde: keySerde as Serde<unknown>,
        valueSerde: responseSerde as Serde<unknown>,
        // Back to the partition the left row lives on (the left table's own partitioning may not be murmur2 of these bytes).
        partitioner: (_key, value) => (value as SubscriptionResponseWrapper<VO>).primaryPartition,
      },
      joinForeign,
      foreignJoin,
    );
    t.addRepartitionTopic(responseTopic);
    // Left side: join the answers that still match the left row, keep the result as a table.
    t.addSource(responseSource, responseTopic, { keySerde: keySerde as Serde<unknown>, valueSerde: responseSerde as Serde<unknown> });
    t.addProcessor(resolver, () => new ResponseJoinProcessor<K, V, VO, VR>(left.storeName, valueSerde, joiner, leftJoin), responseSource);
    t.connectProcessorAndStateStores([resolver, left.storeName]);
    t.requireCopartitioning(resolver);
    t.addProcessor(result, () => new TableSourceProcessor<K, VR>(resultStore, true, true), resolver);
    t.addStateStore(results, [result]);
  });
  return { nodeName: result, storeName: resultStore, keySerde: resultKeySerde, valueSerde: resultValueSerde };
}
