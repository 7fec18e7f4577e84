/**
 * riskloop's client SDK: everything a payment service (or a KYC, device or chargeback feed) needs
 * to talk to the risk loop, importable as `riskloop/sdk`.
 *
 *   const client = new RiskloopClient(clientConfigFromEnv(process.env));
 *   await client.connect();
 *   const decision = await client.decide(transaction, { deadlineMs: 300 });
 *
 * See docs/decision-api.md for the deadline and fallback semantics and docs/producers.md for the
 * producer contract (keys, token derivation, partitioner) that this SDK implements.
 */
export { RiskloopClient, type ClientStats, type DecideOptions } from './client.js';
export { OnDeadline, RiskloopClientConfig, clientConfigFromEnv, parseClientConfig, type RiskloopClientConfigInput } from './config.js';
export { ClientClosedError, DecisionTimeoutError, InvalidInputError, PublishError, RiskloopClientError, TransactionRejectedError } from './errors.js';
export { DEADLINE_FALLBACK, isFallback } from './fallback.js';
export { AnalystOutcomeInput, ChallengeResultInput, ChargebackInput, DeviceSignalInput, KycInput, TransactionInput } from './inputs.js';
export type { RecordPosition } from './publisher.js';
export { accountTokenOf } from '../processors/tokenizer.js';
export { KafkaConnectionConfigError, kafkaConnectionFromEnv } from '../bin/kafkaConnection.js';
export { Secret, describeConnection, explainKafkaError, kafkaConnection, plaintextConnection, type KafkaConnection, type KafkaConnectionInput } from '../topology/kafka/connection.js';
export { murmur2, partitionForKey } from '../topology/murmur2.js';
export type { Decision, DecisionAction } from '../schemas/types.js';
