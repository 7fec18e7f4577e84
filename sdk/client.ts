/**
 * RiskloopClient: publishes to the loop's ingress topics the way the loop expects (Avro through the
 * registry, keys = account tokens, Java-compatible partitioning) and asks for decisions with a
 * deadline (request-reply over the decisions topic).
 *
 * decide(): the transaction is published, then the call waits in a map of pending calls keyed by
 * transaction id; the one shared ReplyConsumer resolves every call waiting for an id when that
 * id's decision arrives, and rejects it when ingress dead-letters the record the call published
 * (matched by topic/partition/offset, which dead letters carry). Concurrent calls for one id share
 * the answer. A decision that arrives after its caller's deadline finds nobody waiting and is
 * dropped here (counted in `stats.lateReplies`); it is still on the decisions topic, written once by
 * the loop, and labelled and trained on as usual.
 */
import kafkajs, { type KafkaConfig, type Producer } from 'kafkajs';
import { loadRuleSet } from '../processors/ruleSet.js';
import { accountTokenOf } from '../processors/tokenizer.js';
import { AvroSerde } from '../schemas/avroSerde.js';
import { buildCatalogue, type Catalogue } from '../schemas/catalogue.js';
import { NAMESPACE, SCHEMAS, type AvroRecordSchema } from '../schemas/load.js';
import { kafkajsConnectionOptions } from '../topology/kafka/connection.js';
import type { AnalystOutcome, ChallengeResult, Chargeback, DeadLetter, Decision, DeviceSignal, KycRecord, Transaction } from '../schemas/types.js';
import { parseClientConfig, type RiskloopClientConfig, type RiskloopClientConfigInput } from './config.js';
import { ClientClosedError, DecisionTimeoutError, TransactionRejectedError } from './errors.js';
import { fallbackDecision, type FallbackPolicy } from './fallback.js';
import {
  AnalystOutcomeInput,
  ChallengeResultInput,
  ChargebackInput,
  DeviceSignalInput,
  KycInput,
  TransactionInput,
  parseInput,
  type AnalystOutcomeInput as AnalystOutcomeIn,
  type ChallengeResultInput as ChallengeResultIn,
  type ChargebackInput as ChargebackIn,
  type DeviceSignalInput as DeviceSignalIn,
  type KycInput as KycIn,
  type TransactionInput as TransactionIn,
} from './inputs.js';
import { Publisher, type RecordPosition } from './publisher.js';
import { ReplyConsumer } from './replyConsumer.js';
import { createRegistryClient } from '../schemas/registryClient.js';

// kafkajs is CommonJS: its named exports are not visible to Node's ESM loader.
const { Kafka, logLevel } = kafkajs;

export interface DecideOptions {
  /** Milliseconds from the call until the caller gets an answer; default from the config. */
  deadlineMs?: number;
}

export interface ClientStats {
  decided: number;
  fallbacks: number;
  timeouts: number;
  rejected: number;
  /** Decisions that arrived after their caller's deadline had answered it (dropped here; the loop wrote them once). */
  lateReplies: number;
  undecodable: number;
  pending: number;
}

interface Pending {
  resolve(d: Decision): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Ids remembered for counting late replies (oldest forgotten first). */
const MAX_AWAITING_LATE = 100_000;

const posKey = (p: { topic: string; partition: number; offset: number }): string => `${p.topic}/${p.partition}/${p.offset}`;

type Serdes = {
  transactions: AvroSerde<Transaction>;
  kyc: AvroSerde<KycRecord>;
  deviceSignals: AvroSerde<DeviceSignal>;
  chargebacks: AvroSerde<Chargeback>;
  analystOutcomes: AvroSerde<AnalystOutcome>;
  challengeResults: AvroSerde<ChallengeResult>;
  decisions: AvroSerde<Decision>;
  decisionIds: AvroSerde<{ transactionId: string }>;
  deadLetters: AvroSerde<DeadLetter>;
};

/** The Decision record reduced to its transaction id: a reader schema Avro resolves any writer version to. */
const DECISION_ID_ONLY: AvroRecordSchema = { type: 'record', name: 'Decision', namespace: NAMESPACE, fields: [{ name: 'transactionId', type: 'string' }] };

export class RiskloopClient {
  readonly catalogue: Catalogue;
  private readonly config: RiskloopClientConfig;
  private readonly kafka: InstanceType<typeof Kafka>;
  private producer: Producer | undefined;
  private publisher: Publisher | undefined;
  private replies: ReplyConsumer | undefined;
  private serdes: Serdes | undefined;
  private fallback: FallbackPolicy | undefined;
  private readonly pending = new Map<string, Pending[]>();
  /** Published position of a pending transaction → its id, to match dead letters; and back. */
  private readonly pendingPositions = new Map<string, string>();
  private readonly positionsOf = new Map<string, string[]>();
  /** Ids whose callers were answered by a deadline; their decision is expected late. */
  private readonly awaitingLate = new Set<string>();
  private readonly counters = { decided: 0, fallbacks: 0, timeouts: 0, rejected: 0, lateReplies: 0, undecodable: 0 };

  constructor(input: RiskloopClientConfigInput) {
    this.config = parseClientConfig(input);
    this.catalogue = buildCatalogue({ prefix: this.config.topicPrefix });
    const kafkaConfig: KafkaConfig = {
      clientId: this.config.clientId,
      brokers: this.config.brokers ?? [],
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 100, retries: 8 },
    };
    if (this.config.connection) Object.assign(kafkaConfig, kafkajsConnectionOptions(this.config.connection));
    else {
      if (this.config.ssl !== undefined) kafkaConfig.ssl = this.config.ssl as KafkaConfig['ssl'];
      if (this.config.sasl !== undefined) kafkaConfig.sasl = this.config.sasl as KafkaConfig['sasl'];
    }
    this.kafka = new Kafka(kafkaConfig);
  }

  /** Registers the producer schemas, reads partition counts, connects the producer and positions the reply consumer. */
  async connect(): Promise<void> {
    const c = this.catalogue;
    const registry = createRegistryClient({
      url: this.config.schemaRegistryUrl,
      ...(this.config.schemaRegistryAuth ? { auth: this.config.schemaRegistryAuth } : {}),
      ...(this.config.schemaRegistryCa ? { ca: this.config.schemaRegistryCa } : {}),
    });
    const serde = <T>(topic: string, schema: keyof typeof SCHEMAS | AvroRecordSchema, register: boolean) =>
      new AvroSerde<T>({ registry, topic, schema: typeof schema === 'string' ? SCHEMAS[schema] : schema, register }).init();
    this.serdes = {
      transactions: await serde<Transaction>(c.transactions.name, 'Transaction', true),
      kyc: await serde<KycRecord>(c.kyc.name, 'KycRecord', true),
      deviceSignals: await serde<DeviceSignal>(c.deviceSignals.name, 'DeviceSignal', true),
      chargebacks: await serde<Chargeback>(c.chargebacks.name, 'Chargeback', true),
      analystOutcomes: await serde<AnalystOutcome>(c.analystOutcomes.name, 'AnalystOutcome', true),
      challengeResults: await serde<ChallengeResult>(c.challengeResults.name, 'ChallengeResult', true),
      // The loop writes these; a reader must not change their subjects.
      decisions: await serde<Decision>(c.decisions.name, 'Decision', false),
      decisionIds: await serde<{ transactionId: string }>(c.decisions.name, DECISION_ID_ONLY, false),
      deadLetters: await serde<DeadLetter>(c.deadLetters.name, 'DeadLetter', false),
    };
    const onDeadline = this.config.onDeadline;
    if (onDeadline.mode === 'static') this.fallback = { kind: 'static', decision: onDeadline.decision };
    if (onDeadline.mode === 'rules') this.fallback = { kind: 'rules', ruleSet: await loadRuleSet(onDeadline.rulesPath), noHit: onDeadline.noHit };

    const topics = [c.transactions, c.kyc, c.deviceSignals, c.chargebacks, c.analystOutcomes, c.challengeResults, c.decisions].map((t) => t.name);
    const admin = this.kafka.admin();
    await admin.connect();
    const partitions = new Map<string, number>();
    try {
      const md = await admin.fetchTopicMetadata({ topics });
      for (const t of md.topics) partitions.set(t.name, t.partitions.length);
    } finally {
      await admin.disconnect();
    }
    const hot = partitions.get(c.transactions.name);
    for (const t of [c.kyc, c.chargebacks, c.analystOutcomes, c.challengeResults, c.decisions]) {
      if (partitions.get(t.name) !== hot) throw new Error(`${t.name} has ${partitions.get(t.name)} partitions, ${c.transactions.name} has ${hot}: the loop's topics are not co-partitioned`);
    }
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    await this.producer.connect();
    this.publisher = new Publisher(this.producer, partitions);
    this.replies = new ReplyConsumer(this.kafka, {
      clientId: this.config.clientId,
      decisionsTopic: c.decisions.name,
      deadLettersTopic: c.deadLetters.name,
      readCommitted: this.config.replyIsolation === 'read_committed',
      serdes: { decisions: this.serdes.decisions, decisionIds: this.serdes.decisionIds, deadLetters: this.serdes.deadLetters },
      timeoutMs: this.config.connectTimeoutMs,
      handlers: {
        wants: (id) => this.pending.has(id) || this.awaitingLate.has(id),
        onDecision: (d) => this.onDecision(d),
        onDeadLetter: (l) => this.onDeadLetter(l),
        onUndecodable: () => void this.counters.undecodable++,
      },
    });
    await this.replies.start();
  }

  /** The account token the loop keys this account's records by. */
  accountToken(accountId: string): string {
    return accountTokenOf(this.config.accountTokenKey, accountId);
  }

  /** The partition of the account-keyed topics that holds this account (Java/KafkaJS murmur2). */
  partitionOfAccount(accountId: string): number {
    return this.ready().publisher.partitionOf(this.catalogue.transactions.name, this.accountToken(accountId));
  }

  get stats(): ClientStats {
    let pending = 0;
    for (const list of this.pending.values()) pending += list.length;
    return { ...this.counters, pending };
  }

  async publishTransaction(input: TransactionIn): Promise<RecordPosition> {
    return this.sendTransaction(this.toTransaction(input));
  }

  async publishKyc(input: KycIn): Promise<RecordPosition> {
    const { accountId, updatedAt, ...rest } = parseInput(KycInput, 'KYC record', input);
    const { publisher, serdes } = this.ready();
    const accountToken = this.accountToken(accountId);
    const value: KycRecord = { ...rest, accountToken, updatedAt: updatedAt ?? Date.now() };
    return publisher.send(this.catalogue.kyc.name, accountToken, serdes.kyc.serialize(value), value.updatedAt);
  }

  async publishDeviceSignal(input: DeviceSignalIn): Promise<RecordPosition> {
    const { accountId, eventTime, ...rest } = parseInput(DeviceSignalInput, 'device signal', input);
    const { publisher, serdes } = this.ready();
    const value: DeviceSignal = { ...rest, eventTime: eventTime ?? Date.now(), accountToken: accountId === null ? null : this.accountToken(accountId) };
    // Keyed by device id (catalogue): the device table is global, every instance reads all of it.
    return publisher.send(this.catalogue.deviceSignals.name, value.deviceId, serdes.deviceSignals.serialize(value), value.eventTime);
  }

  async publishChargeback(input: ChargebackIn): Promise<RecordPosition> {
    const { reportedAt, ...rest } = parseInput(ChargebackInput, 'chargeback', input);
    const { publisher, serdes } = this.ready();
    const value: Chargeback = { ...rest, reportedAt: reportedAt ?? Date.now() };
    return publisher.send(this.catalogue.chargebacks.name, this.accountToken(value.accountId), serdes.chargebacks.serialize(value), value.reportedAt);
  }

  async publishAnalystOutcome(input: AnalystOutcomeIn): Promise<RecordPosition> {
    const { accountId, accountToken, decidedAt, ...rest } = parseInput(AnalystOutcomeInput, 'analyst outcome', input);
    const { publisher, serdes } = this.ready();
    const token = accountToken ?? this.accountToken(accountId!);
    const value: AnalystOutcome = { ...rest, accountToken: token, decidedAt: decidedAt ?? Date.now() };
    return publisher.send(this.catalogue.analystOutcomes.name, token, serdes.analystOutcomes.serialize(value), value.decidedAt);
  }

  /** Reports how the step-up a CHALLENGE decision asked for ended; the loop labels and learns from it. */
  async publishChallengeResult(input: ChallengeResultIn): Promise<RecordPosition> {
    const { accountId, accountToken, completedAt, ...rest } = parseInput(ChallengeResultInput, 'challenge result', input);
    const { publisher, serdes } = this.ready();
    const token = accountToken ?? this.accountToken(accountId!);
    const value: ChallengeResult = { ...rest, accountToken: token, completedAt: completedAt ?? Date.now() };
    return publisher.send(this.catalogue.challengeResults.name, token, serdes.challengeResults.serialize(value), value.completedAt);
  }

  /**
   * Publishes the transaction and resolves with the loop's decision for it, or, when `deadlineMs`
   * passes first, rejects with DecisionTimeoutError or resolves with the configured fallback
   * (reason DEADLINE_FALLBACK). Rejects with TransactionRejectedError when the loop refuses it,
   * InvalidInputError before sending anything when the input breaks the contract, PublishError
   * when Kafka does not take it. Safe to retry with the same transaction id.
   */
  decide(input: TransactionIn, opts: DecideOptions = {}): Promise<Decision> {
    const startedAt = Date.now();
    const deadlineMs = opts.deadlineMs ?? this.config.defaultDeadlineMs;
    let txn: Transaction;
    try {
      txn = this.toTransaction(input);
      this.ready();
    } catch (err) {
      return Promise.reject(err);
    }
    const id = txn.transactionId;
    let published = false;
    return new Promise<Decision>((resolve, reject) => {
      const entry: Pending = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.removePending(id, entry);
          this.expectLate(id);
          if (this.fallback) {
            this.counters.fallbacks++;
            resolve(fallbackDecision(txn, this.accountToken(txn.accountId), this.fallback, startedAt, Date.now()));
          } else {
            this.counters.timeouts++;
            reject(new DecisionTimeoutError(id, deadlineMs, published));
          }
        }, deadlineMs),
      };
      let list = this.pending.get(id);
      if (!list) this.pending.set(id, (list = []));
      list.push(entry);
      this.sendTransaction(txn).then(
        (pos) => {
          published = true;
          if (!this.pending.has(id)) return;
          const k = posKey(pos);
          this.pendingPositions.set(k, id);
          const ks = this.positionsOf.get(id);
          if (ks) ks.push(k);
          else this.positionsOf.set(id, [k]);
        },
        (err: Error) => {
          if (this.removePending(id, entry)) {
            clearTimeout(entry.timer);
            reject(err);
          }
        },
      );
    });
  }

  /** Closes the producer and the reply consumer; calls still waiting are rejected with ClientClosedError. */
  async close(): Promise<void> {
    for (const [id, list] of this.pending) {
      for (const p of list) {
        clearTimeout(p.timer);
        p.reject(new ClientClosedError());
      }
      this.pending.delete(id);
    }
    this.pendingPositions.clear();
    this.positionsOf.clear();
    const replies = this.replies;
    const producer = this.producer;
    this.replies = undefined;
    this.producer = undefined;
    this.publisher = undefined;
    await Promise.all([replies?.stop(), producer?.disconnect()]);
  }

  private ready(): { publisher: Publisher; serdes: Serdes } {
    if (!this.publisher || !this.serdes) throw new ClientClosedError();
    return { publisher: this.publisher, serdes: this.serdes };
  }

  private toTransaction(input: TransactionIn): Transaction {
    return parseInput(TransactionInput, 'transaction', input);
  }

  private sendTransaction(txn: Transaction): Promise<RecordPosition> {
    const { publisher, serdes } = this.ready();
    // The record timestamp is the event time, as the simulator writes it: ingress bounds the event
    // time against it, and a replay then sees the same timestamps.
    return publisher.send(this.catalogue.transactions.name, this.accountToken(txn.accountId), serdes.transactions.serialize(txn), txn.eventTime);
  }

  private removePending(id: string, entry: Pending): boolean {
    const list = this.pending.get(id);
    if (!list) return false;
    const i = list.indexOf(entry);
    if (i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) {
      this.pending.delete(id);
      this.forgetPositions(id);
    }
    return true;
  }

  private forgetPositions(id: string): void {
    for (const k of this.positionsOf.get(id) ?? []) this.pendingPositions.delete(k);
    this.positionsOf.delete(id);
  }

  private expectLate(id: string): void {
    // Bounded: a transaction that is dead-lettered after its deadline never gets a decision.
    if (this.awaitingLate.size >= MAX_AWAITING_LATE) this.awaitingLate.delete(this.awaitingLate.values().next().value!);
    this.awaitingLate.add(id);
  }

  private onDecision(d: Decision): void {
    const list = this.pending.get(d.transactionId);
    if (!list) {
      if (this.awaitingLate.delete(d.transactionId)) this.counters.lateReplies++;
      return;
    }
    this.pending.delete(d.transactionId);
    this.forgetPositions(d.transactionId);
    this.awaitingLate.delete(d.transactionId);
    for (const p of list) {
      clearTimeout(p.timer);
      this.counters.decided++;
      p.resolve(d);
    }
  }

  private onDeadLetter(l: DeadLetter): void {
    const k = posKey({ topic: l.sourceTopic, partition: l.partition, offset: l.offset });
    const id = this.pendingPositions.get(k);
    if (id === undefined) return;
    const list = this.pending.get(id) ?? [];
    this.pending.delete(id);
    this.forgetPositions(id);
    this.awaitingLate.delete(id);
    for (const p of list) {
      clearTimeout(p.timer);
      this.counters.rejected++;
      p.reject(new TransactionRejectedError(id, l.reason));
    }
  }
}
