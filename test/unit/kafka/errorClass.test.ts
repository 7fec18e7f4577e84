/**
 * Every error class the runtime acts on, built with KafkaJS's own error classes and its protocol
 * error table (createErrorFromCode: the object KafkaJS throws for a broker's error code).
 */
import { createRequire } from 'node:module';
import * as kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { TaskFailedError } from '../../../topology/errors.js';
import { RecordTooLargeError, TaskCorruptedError, classifyError } from '../../../topology/kafka/errorClass.js';

const require = createRequire(import.meta.url);
// KafkaJS's typings omit some classes and most constructor options; the runtime classes are what matter here.
type ErrorClassCtor = new (...args: unknown[]) => Error & { retriable?: boolean; message: string };
const K = kafkajs as unknown as Record<string, ErrorClassCtor>;
function kafkajsClass(name: string): ErrorClassCtor {
  const c = K[name];
  if (!c) throw new Error(`kafkajs exports no ${name}`);
  return c;
}
const KafkaJSBrokerNotFound = kafkajsClass('KafkaJSBrokerNotFound');
const KafkaJSConnectionClosedError = kafkajsClass('KafkaJSConnectionClosedError');
const KafkaJSConnectionError = kafkajsClass('KafkaJSConnectionError');
const KafkaJSGroupCoordinatorNotFound = kafkajsClass('KafkaJSGroupCoordinatorNotFound');
const KafkaJSNonRetriableError = kafkajsClass('KafkaJSNonRetriableError');
const KafkaJSNumberOfRetriesExceeded = kafkajsClass('KafkaJSNumberOfRetriesExceeded');
const KafkaJSOffsetOutOfRange = kafkajsClass('KafkaJSOffsetOutOfRange');
const KafkaJSProtocolError = kafkajsClass('KafkaJSProtocolError');
const KafkaJSRequestTimeoutError = kafkajsClass('KafkaJSRequestTimeoutError');
const KafkaJSSASLAuthenticationError = kafkajsClass('KafkaJSSASLAuthenticationError');
const KafkaJSServerDoesNotSupportApiKey = kafkajsClass('KafkaJSServerDoesNotSupportApiKey');
// KafkaJS's table of broker error codes; the same function its protocol parsers throw from.
const { createErrorFromCode } = require('kafkajs/src/protocol/error') as { createErrorFromCode: (code: number) => Error & { retriable: boolean } };

/** What KafkaJS throws once its retrier gives up on `cause`. */
const exhausted = (cause: Error): Error => new KafkaJSNumberOfRetriesExceeded(cause, { retryCount: 5, retryTime: 1000 });

describe('classifyError', () => {
  it.each([
    [22, 'ILLEGAL_GENERATION'],
    [25, 'UNKNOWN_MEMBER_ID'],
    [27, 'REBALANCE_IN_PROGRESS'],
    [82, 'FENCED_INSTANCE_ID'],
    [47, 'INVALID_PRODUCER_EPOCH'],
    [52, 'TRANSACTION_COORDINATOR_FENCED'],
    [49, 'INVALID_PRODUCER_ID_MAPPING'],
    [59, 'UNKNOWN_PRODUCER_ID'],
    [45, 'OUT_OF_ORDER_SEQUENCE_NUMBER'],
    [90, 'PRODUCER_FENCED'],
  ])('group / fencing code %i (%s) is migrated: rejoin, never fatal', (code, type) => {
    const err = createErrorFromCode(code);
    expect(classifyError(err)).toEqual({ kind: 'migrated', code: type });
    // The way the commit path sees it, wrapped as non-retriable (the "generation id is not valid").
    expect(classifyError(new KafkaJSNonRetriableError(err, { cause: err }))).toEqual({ kind: 'migrated', code: type });
  });

  it('the ALO commit error of the issue, as KafkaJS raises it, is migrated', () => {
    const err = createErrorFromCode(22);
    expect(err.message).toBe('Specified group generation id is not valid');
    expect(err.retriable).toBe(false);
    expect(classifyError(err).kind).toBe('migrated');
  });

  it.each([
    [15, 'GROUP_COORDINATOR_NOT_AVAILABLE'],
    [14, 'GROUP_LOAD_IN_PROGRESS'],
    [16, 'NOT_COORDINATOR_FOR_GROUP'],
    [51, 'CONCURRENT_TRANSACTIONS'],
    [6, 'NOT_LEADER_FOR_PARTITION'],
    [5, 'LEADER_NOT_AVAILABLE'],
    [7, 'REQUEST_TIMED_OUT'],
    [13, 'NETWORK_EXCEPTION'],
    [19, 'NOT_ENOUGH_REPLICAS'],
    [3, 'UNKNOWN_TOPIC_OR_PARTITION'],
  ])('code %i (%s) is retriable, bare or after KafkaJS exhausted its retries', (code, type) => {
    const err = createErrorFromCode(code);
    expect(classifyError(err)).toEqual({ kind: 'retriable', code: type });
    expect(classifyError(exhausted(err))).toEqual({ kind: 'retriable', code: type });
  });

  it('connection-level failures of a stopped broker are retriable', () => {
    const refused = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092', code: 'ECONNREFUSED' });
    expect(classifyError(refused)).toEqual({ kind: 'retriable', code: 'ECONNREFUSED' });
    expect(classifyError(exhausted(refused)).kind).toBe('retriable');
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(classifyError(reset)).toEqual({ kind: 'retriable', code: 'ECONNRESET' });
    expect(classifyError(new KafkaJSConnectionClosedError('Closed connection', { host: 'h', port: 1 })).kind).toBe('retriable');
    expect(classifyError(new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')).kind).toBe('retriable');
    expect(classifyError(new KafkaJSBrokerNotFound('Broker not found')).kind).toBe('retriable');
    // KafkaJS raises this one as non-retriable; a broker restart is exactly when it happens.
    const coord = new KafkaJSGroupCoordinatorNotFound('Failed to find group coordinator');
    expect(coord.retriable).toBe(false);
    expect(classifyError(coord).kind).toBe('retriable');
    expect(classifyError(new KafkaJSNonRetriableError('Failed to find group coordinator')).kind).toBe('retriable');
  });

  it.each([
    [10, 'MESSAGE_TOO_LARGE'],
    [18, 'RECORD_LIST_TOO_LARGE'],
    [87, 'INVALID_RECORD'],
    [2, 'CORRUPT_MESSAGE'],
    [32, 'INVALID_TIMESTAMP'],
  ])('produce code %i (%s) concerns one record', (code, type) => {
    expect(classifyError(createErrorFromCode(code))).toEqual({ kind: 'per-record', code: type });
    expect(classifyError(exhausted(createErrorFromCode(code))).kind).toBe('per-record');
  });

  it('the runtime\'s own size check is per-record', () => {
    expect(classifyError(new RecordTooLargeError('dlq', 2_000_000, 1_048_000))).toEqual({ kind: 'per-record', code: 'RecordTooLargeError' });
  });

  it('offset out of range and a corrupted task wipe and restore the task', () => {
    expect(classifyError(createErrorFromCode(1))).toEqual({ kind: 'corrupted', code: 'OFFSET_OUT_OF_RANGE' });
    expect(classifyError(new KafkaJSOffsetOutOfRange(createErrorFromCode(1), { topic: 't', partition: 0 })).kind).toBe('corrupted');
    expect(classifyError(new TaskCorruptedError('0_1', new Error('endTxn failed'))).kind).toBe('corrupted');
  });

  it.each([
    [29, 'TOPIC_AUTHORIZATION_FAILED'],
    [30, 'GROUP_AUTHORIZATION_FAILED'],
    [31, 'CLUSTER_AUTHORIZATION_FAILED'],
    [53, 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED'],
    [58, 'SASL_AUTHENTICATION_FAILED'],
    [35, 'UNSUPPORTED_VERSION'],
    [40, 'INVALID_CONFIG'],
  ])('code %i (%s) is fatal', (code, type) => {
    expect(classifyError(createErrorFromCode(code))).toEqual({ kind: 'fatal', code: type });
  });

  it('authentication, unsupported APIs, handler FAILs and unknown errors are fatal', () => {
    expect(classifyError(new KafkaJSSASLAuthenticationError('SASL SCRAM authentication failed')).kind).toBe('fatal');
    expect(classifyError(new KafkaJSServerDoesNotSupportApiKey('no', { apiKey: 1, apiName: 'x' })).kind).toBe('fatal');
    expect(classifyError(new Error('something nobody expected'))).toEqual({ kind: 'fatal', code: 'Error' });
    expect(classifyError(createErrorFromCode(12345))).toEqual({ kind: 'fatal', code: 'KAFKAJS_UNKNOWN_ERROR_CODE' });
    // A FAIL answered by a handler stays fatal even when what it wraps would be per-record.
    const failed = new TaskFailedError('0_0', 'sink', 'PRODUCTION', null, new RecordTooLargeError('out', 2, 1));
    expect(classifyError(failed)).toEqual({ kind: 'fatal', code: 'TaskFailedError' });
  });

  it('an unlisted KafkaJS error keeps its own retriable flag', () => {
    expect(classifyError(new KafkaJSProtocolError({ type: 'SOMETHING_NEW', code: 999, retriable: true, message: 'x' })).kind).toBe('retriable');
    expect(classifyError(new KafkaJSProtocolError({ type: 'SOMETHING_NEW', code: 999, retriable: false, message: 'x' })).kind).toBe('fatal');
  });
});
