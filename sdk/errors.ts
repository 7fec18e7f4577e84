/**
 * The SDK's errors, each with `retriable` so that a caller can tell "try again with the same
 * transaction id" from "this will never work". No message quotes a field value: transactions
 * carry the PAN and the clear account id.
 */

export abstract class RiskloopClientError extends Error {
  abstract readonly retriable: boolean;
}

/**
 * decide() passed its deadline without a decision (and the client is configured to fail rather
 * than fall back). The transaction WAS handed to Kafka (or is still being handed): the loop will
 * decide it, once, and a retry with the same transaction id gets that decision back.
 */
export class DecisionTimeoutError extends RiskloopClientError {
  override readonly name = 'DecisionTimeoutError';
  readonly retriable = true;
  constructor(
    readonly transactionId: string,
    readonly deadlineMs: number,
    /** Whether the broker had acknowledged the transaction when the deadline passed. */
    readonly published: boolean,
  ) {
    super(`no decision for transaction ${JSON.stringify(transactionId)} within ${deadlineMs} ms${published ? '' : ' (not yet acknowledged by Kafka)'}`);
  }
}

/**
 * The loop refused the transaction: ingress wrote it to the dead-letter topic with `reason`
 * (e.g. INVALID_PAN_LUHN, INVALID_CURRENCY). Retrying the same content gives the same answer.
 */
export class TransactionRejectedError extends RiskloopClientError {
  override readonly name = 'TransactionRejectedError';
  readonly retriable = false;
  constructor(
    readonly transactionId: string,
    readonly reason: string,
  ) {
    super(`transaction ${JSON.stringify(transactionId)} was rejected by the loop: ${reason}`);
  }
}

/** The input does not match the contract; checked before anything is sent. `issues` name paths only. */
export class InvalidInputError extends RiskloopClientError {
  override readonly name = 'InvalidInputError';
  readonly retriable = false;
  constructor(
    readonly what: string,
    readonly issues: readonly { path: string; message: string }[],
  ) {
    super(`invalid ${what}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`);
  }
}

/** Kafka did not take the record (broker down, not leader for too long, ...). Safe to retry. */
export class PublishError extends RiskloopClientError {
  override readonly name = 'PublishError';
  readonly retriable = true;
}

/** The client was closed (or never connected) while the call was pending. */
export class ClientClosedError extends RiskloopClientError {
  override readonly name = 'ClientClosedError';
  readonly retriable = true;
  constructor() {
    super('the riskloop client is not connected (connect() first, or it was closed)');
  }
}
