/**
 * Which training examples a label produces. Pure functions: the label-join processor feeds them
 * the stored snapshot and what was already emitted, and writes what they return.
 *
 * The rules, per transaction:
 *  - A fraud chargeback or an analyst FRAUD verdict is label 1; an analyst LEGITIMATE verdict is 0.
 *    A FAILED step-up challenge is 1 and a PASSED one 0 (a chargeback that comes later still
 *    corrects it: passing 3-D Secure proves who answered, not that the payment was theirs); an
 *    ABANDONED challenge says nothing and produces nothing.
 *    A non-fraud chargeback (a service dispute) says nothing about fraud and produces nothing.
 *  - The first label emits an example. A later label with the same value emits nothing (duplicate
 *    chargebacks, a chargeback confirming an analyst's FRAUD): the training set already says so.
 *    A later label with another value emits a correction (isCorrection = true); the latest
 *    explicit label wins, so an analyst can overrule a miscoded fraud chargeback and vice versa.
 *  - Maturity: a transaction with no label by `eventTime + maturityMs` (the deadline) is a
 *    negative, labelled MATURITY at the deadline. Maturity never overrides an explicit label.
 *  - A label whose own event time is at or after the deadline, for a transaction that has no
 *    example yet, first emits the maturity negative and then applies on top of it (usually as a
 *    correction). By event time that is what happened: the deadline passed unlabelled. Doing it
 *    here, rather than relying on the maturity punctuator having run first, makes the examples of a
 *    transaction independent of where punctuations fall between records, which differs between
 *    the test driver (after every record) and the Kafka runtime (after every poll).
 */
import type { AnalystOutcome, ChallengeResult, LabelSource, TokenizedChargeback, TrainingExample } from '../../schemas/types.js';
import type { DecisionSnapshot } from '../snapshotStore.js';

export type LabelEvent = TokenizedChargeback | AnalystOutcome | ChallengeResult;

/**
 * Header of a chargeback's copy under a previous account-token key (processors/chargebackIngress.ts,
 * during a key rotation): the label join drops such a copy quietly when it finds no snapshot.
 */
export const LABEL_COPY_HEADER = 'riskloop-label-copy';

export function isChargeback(event: LabelEvent): event is TokenizedChargeback {
  return 'chargebackId' in event;
}

/** What was last emitted for a transaction: the value kept in `StoreNames.labels`. */
export interface EmittedLabel {
  label: 0 | 1;
  labelSource: LabelSource;
  labeledAt: number;
}

/** A label event reduced to what the join needs. */
export interface LabelObservation {
  label: 0 | 1;
  labelSource: 'CHARGEBACK' | 'ANALYST' | 'CHALLENGE';
  labeledAt: number;
}

export function isChallengeResult(event: LabelEvent): event is ChallengeResult {
  return 'completedAt' in event;
}

/** null for a chargeback that is not about fraud and for an abandoned challenge. */
export function observe(event: LabelEvent): LabelObservation | null {
  if (isChargeback(event)) return event.fraud ? { label: 1, labelSource: 'CHARGEBACK', labeledAt: event.reportedAt } : null;
  if (isChallengeResult(event)) {
    if (event.result === 'ABANDONED') return null;
    return { label: event.result === 'FAILED' ? 1 : 0, labelSource: 'CHALLENGE', labeledAt: event.completedAt };
  }
  return { label: event.outcome === 'FRAUD' ? 1 : 0, labelSource: 'ANALYST', labeledAt: event.decidedAt };
}

export function maturityDeadline(snapshot: DecisionSnapshot, maturityMs: number): number {
  return snapshot.eventTime + maturityMs;
}

/** The example for a snapshot and a label: features and facts exactly as stored at decision time. */
export function trainingExample(snapshot: DecisionSnapshot, label: EmittedLabel, isCorrection: boolean): TrainingExample {
  const example: TrainingExample = {
    transactionId: snapshot.transactionId,
    accountToken: snapshot.accountToken,
    eventTime: snapshot.eventTime,
    features: snapshot.features,
    facts: snapshot.facts,
    label: label.label,
    labelSource: label.labelSource,
    labeledAt: label.labeledAt,
    // Kept as is even if negative (a label stamped before its transaction): clamping would hide a
    // clock problem in the label feed from whoever trains on it.
    labelDelayMs: label.labeledAt - snapshot.eventTime,
    modelVersion: snapshot.modelVersion,
    decision: snapshot.decision,
    isCorrection,
  };
  // The feature set that computed the snapshot's features, for the trainer's model card.
  if (snapshot.featureSetVersion != null) example.featureSetVersion = snapshot.featureSetVersion;
  return example;
}

export interface LabelResult {
  /** In the order they must be written. */
  examples: TrainingExample[];
  /** The new value for `StoreNames.labels`. */
  emitted: EmittedLabel;
}

export function maturityLabel(snapshot: DecisionSnapshot, maturityMs: number): EmittedLabel {
  return { label: 0, labelSource: 'MATURITY', labeledAt: maturityDeadline(snapshot, maturityMs) };
}

export function applyLabel(
  snapshot: DecisionSnapshot,
  emitted: EmittedLabel | undefined,
  observation: LabelObservation,
  maturityMs: number,
): LabelResult {
  const examples: TrainingExample[] = [];
  let current = emitted;
  if (current === undefined && observation.labeledAt >= maturityDeadline(snapshot, maturityMs)) {
    current = maturityLabel(snapshot, maturityMs);
    examples.push(trainingExample(snapshot, current, false));
  }
  if (current !== undefined && current.label === observation.label) return { examples, emitted: current };
  const next: EmittedLabel = { label: observation.label, labelSource: observation.labelSource, labeledAt: observation.labeledAt };
  examples.push(trainingExample(snapshot, next, current !== undefined));
  return { examples, emitted: next };
}
