/**
 * What the runtime does with an error it meets talking to Kafka, in one place (as Kafka Streams
 * splits them into TaskMigratedException, TaskCorruptedException, retriable and fatal):
 *
 *  - `retriable`   a broker or the network is briefly unavailable (connection refused/reset,
 *                  request timeout, coordinator not available / loading / moved, not leader,
 *                  CONCURRENT_TRANSACTIONS). Retry with back-off; KafkaJS reconnects by itself.
 *                  The runtime gives up only when retries go on past a bound (`maxTransientErrorMs`).
 *  - `migrated`    this instance no longer owns what it works on: the group generation moved
 *                  (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS) or a newer producer
 *                  fenced the task's transactional id (INVALID_PRODUCER_EPOCH, PRODUCER_FENCED, …).
 *                  Drop uncommitted work of the affected tasks (at_least_once: it is reprocessed by
 *                  whoever owns the partition next; exactly_once: the transaction is aborted) and let
 *                  the consumer rejoin. Never fatal.
 *  - `corrupted`   a task's local state cannot be trusted or continued (its changelog offset is out of
 *                  range, its transaction ended in an unknown state): close that task dirty, wipe its
 *                  state, restore it from the changelog.
 *  - `per-record`  about one record only (too large for the broker, rejected as invalid by the topic,
 *                  not serializable): the production handler decides; the stream goes on.
 *  - `fatal`       retrying cannot help: authorization/authentication, an unsupported protocol
 *                  version or invalid configuration, a processor error the handlers answered FAIL for,
 *                  and anything unrecognised (an unknown error is a bug to see, not to loop on).
 *
 * Classification reads only duck-typed fields (`name`, `type`, `code`, `retriable`, `cause`) so the
 * runtime stays independent of the client library; the names and protocol types are KafkaJS 2.2.4's.
 * KafkaJS wraps errors (KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError) with `cause`; the
 * innermost recognised error decides.
 */

export type ErrorKind = 'retriable' | 'migrated' | 'corrupted' | 'per-record' | 'fatal';

export interface ErrorClass {
  kind: ErrorKind;
  /** A short, content-free label for logs and metrics: a protocol type, a node code or a class name. */
  code: string;
}

/** Protocol error types (KafkaJS `type`) about a single record or batch of records. */
const PER_RECORD_TYPES = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP']);

/** The group moved on (consumer) or the task's producer was fenced (exactly_once). */
const MIGRATED_TYPES = new Set([
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
  'REBALANCE_IN_PROGRESS',
  'FENCED_INSTANCE_ID',
  'MEMBER_ID_REQUIRED',
  'INVALID_PRODUCER_EPOCH',
  'PRODUCER_FENCED',
  'TRANSACTION_COORDINATOR_FENCED',
  'INVALID_PRODUCER_ID_MAPPING',
  'UNKNOWN_PRODUCER_ID',
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'INVALID_TXN_STATE',
]);

/** Kafka error codes KafkaJS 2.2.4 does not know (it reports them as KAFKAJS_UNKNOWN_ERROR_CODE). */
const UNKNOWN_CODE_TYPES = new Map<number, string>([
  [89, 'THROTTLING_QUOTA_EXCEEDED'],
  [90, 'PRODUCER_FENCED'],
]);

const RETRIABLE_TYPES = new Set([
  'GROUP_COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_NOT_AVAILABLE',
  'GROUP_LOAD_IN_PROGRESS',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'NOT_COORDINATOR',
  'CONCURRENT_TRANSACTIONS',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'PREFERRED_LEADER_NOT_AVAILABLE',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'KAFKA_STORAGE_ERROR',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'UNSTABLE_OFFSET_COMMIT',
  'THROTTLING_QUOTA_EXCEEDED',
]);

const CORRUPTED_TYPES = new Set(['OFFSET_OUT_OF_RANGE']);

const FATAL_TYPES = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'DELEGATION_TOKEN_AUTHORIZATION_FAILED',
  'SASL_AUTHENTICATION_FAILED',
  'UNSUPPORTED_SASL_MECHANISM',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_VERSION',
  'INVALID_CONFIG',
  'INVALID_REQUIRED_ACKS',
  'INVALID_TRANSACTION_TIMEOUT',
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_REPLICATION_FACTOR',
  'POLICY_VIOLATION',
]);

const RETRIABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
]);

const FATAL_NAMES = new Set(['KafkaJSSASLAuthenticationError', 'KafkaJSServerDoesNotSupportApiKey', 'KafkaJSNotImplemented', 'TaskFailedError']);

/** Node socket / DNS errors: the broker is restarting or the network is briefly gone. */
const RETRIABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

interface ErrorLike {
  name?: unknown;
  type?: unknown;
  code?: unknown;
  retriable?: unknown;
  message?: unknown;
  cause?: unknown;
  originalError?: unknown;
  kind?: unknown;
}

/** The error and everything it wraps, outermost first (bounded: cause chains can be cyclic). */
function chain(error: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let e: unknown = error;
  while (typeof e === 'object' && e !== null && out.length < 8 && !out.includes(e as ErrorLike)) {
    out.push(e as ErrorLike);
    const next = (e as ErrorLike).cause ?? (e as ErrorLike).originalError;
    e = next;
  }
  return out;
}

function protocolType(e: ErrorLike): string | undefined {
  if (typeof e.type !== 'string') return undefined;
  if (e.type === 'KAFKAJS_UNKNOWN_ERROR_CODE' && typeof e.message === 'string') {
    const m = /Unknown error code (-?\d+)/.exec(e.message);
    if (m) return UNKNOWN_CODE_TYPES.get(Number(m[1])) ?? e.type;
  }
  return e.type;
}

function classifyOne(e: ErrorLike): ErrorClass | undefined {
  // Errors raised by riskloop itself may state their kind (RecordTooLargeError, TaskCorruptedError).
  if (typeof e.kind === 'string' && ['retriable', 'migrated', 'corrupted', 'per-record', 'fatal'].includes(e.kind)) {
    return { kind: e.kind as ErrorKind, code: typeof e.name === 'string' ? e.name : 'Error' };
  }
  const type = protocolType(e);
  if (type !== undefined) {
    if (PER_RECORD_TYPES.has(type)) return { kind: 'per-record', code: type };
    if (MIGRATED_TYPES.has(type)) return { kind: 'migrated', code: type };
    if (RETRIABLE_TYPES.has(type)) return { kind: 'retriable', code: type };
    if (CORRUPTED_TYPES.has(type)) return { kind: 'corrupted', code: type };
    if (FATAL_TYPES.has(type) || /AUTHORIZATION_FAILED$/.test(type)) return { kind: 'fatal', code: type };
  }
  const name = typeof e.name === 'string' ? e.name : '';
  if (name === 'KafkaJSOffsetOutOfRange') return { kind: 'corrupted', code: 'OFFSET_OUT_OF_RANGE' };
  if (typeof e.code === 'string' && RETRIABLE_NODE_CODES.has(e.code)) return { kind: 'retriable', code: e.code };
  if (RETRIABLE_NAMES.has(name)) return { kind: 'retriable', code: name };
  if (FATAL_NAMES.has(name)) return { kind: 'fatal', code: name };
  if (typeof e.message === 'string') {
    // KafkaJS raises some conditions as plain KafkaJSError/KafkaJSNonRetriableError with a message only.
    if (/Failed to find group coordinator|Coordinator not available|ECONNREFUSED|ECONNRESET|Connection (error|timeout)|Closed connection|Request .* timed out/i.test(e.message)) {
      return { kind: 'retriable', code: name || 'connection' };
    }
    if (/Specified group generation id is not valid|The coordinator is not aware of this member|group is rebalancing/i.test(e.message)) {
      return { kind: 'migrated', code: name || 'generation' };
    }
  }
  return undefined;
}

export function classifyError(error: unknown): ErrorClass {
  const links = chain(error);
  // A task that failed on a handler's answer is fatal whatever caused it.
  if (links[0]?.name === 'TaskFailedError') return { kind: 'fatal', code: 'TaskFailedError' };
  // Innermost first: a wrapper (KafkaJSNumberOfRetriesExceeded, KafkaJSNonRetriableError) says less
  // than what it wraps.
  for (let i = links.length - 1; i >= 0; i--) {
    const c = classifyOne(links[i]!);
    if (c) return c;
  }
  // An unlisted KafkaJS error that says it is retriable (its own or, under a retries-exhausted
  // wrapper, its cause's flag) is retried like the listed ones.
  for (let i = links.length - 1; i >= 0; i--) {
    const e = links[i]!;
    if (e.retriable === true) return { kind: 'retriable', code: protocolType(e) ?? (typeof e.name === 'string' ? e.name : 'Error') };
  }
  const first = links[0];
  const code = first ? (protocolType(first) ?? (typeof first.name === 'string' ? first.name : 'Error')) : typeof error;
  return { kind: 'fatal', code };
}

/** A record larger than the destination topic accepts; raised before sending, so no batch is poisoned. */
export class RecordTooLargeError extends Error {
  readonly kind = 'per-record';
  readonly reason = 'RECORD_TOO_LARGE';
  constructor(
    readonly topic: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`record of ${size} bytes for ${topic} exceeds the ${limit}-byte limit (max.message.bytes less batch overhead)`);
    this.name = 'RecordTooLargeError';
  }
}

/** A task whose local state or transaction can no longer be trusted: wipe it and restore. */
export class TaskCorruptedError extends Error {
  readonly kind = 'corrupted';
  constructor(
    readonly taskId: string,
    override readonly cause: unknown,
  ) {
    super(`task ${taskId} corrupted: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'TaskCorruptedError';
  }
}
