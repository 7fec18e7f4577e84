/**
 * Traffic and counting for the fault tests: transactions sent at a steady rate through faults
 * (a failed send is retried until the broker takes it, so a broker outage delays traffic but
 * loses none), and counts by transaction id of what reached the transactions topic, the decisions
 * topic and the dead-letter topic, read back from the broker (read_committed).
 */
import { Kafka, logLevel, type Message, type Producer } from 'kafkajs';
import type { Catalogue } from '../../schemas/catalogue.js';
import type { TopicSerdes } from '../../schemas/createSerdes.js';
import type { DeadLetter, Decision, Transaction } from '../../schemas/types.js';
import { randomUUID } from 'node:crypto';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function kafka(brokers: string[], clientId: string): Kafka {
  // Short retries: a send that fails is retried by Traffic itself, so an outage never ends it.
  return new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 }, connectionTimeout: 3000 });
}

export interface Keyed<T> {
  key: string;
  value: T;
}

/** Sends transactions at `rate` per second in 100 ms ticks; a failed tick is resent until it lands. */
export class Traffic {
  private producer: Producer | undefined;
  sent = 0;
  failedSends = 0;
  /** Transaction ids acknowledged by the broker, in order. */
  readonly sentIds: string[] = [];
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly brokers: string[],
    private readonly topic: string,
    private readonly serdes: Pick<TopicSerdes, 'transactions'>,
  ) {}

  private async connected(): Promise<Producer> {
    if (!this.producer) {
      // Idempotent: a retried request inside one send never doubles a record. A send retried after
      // it failed may (the broker may have written it): the counts read inputs back for that.
      this.producer = kafka(this.brokers, 'riskloop-fault-traffic').producer({ idempotent: true, maxInFlightRequests: 1 });
      await this.producer.connect();
    }
    return this.producer;
  }

  /** Starts sending in the background; `done()` resolves when all are acknowledged. */
  start(records: readonly Keyed<Transaction>[], rate: number): void {
    this.stopped = false;
    this.running = this.send(records, rate);
  }

  /** Stops after the send in flight; resolves when it has landed. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done();
  }

  done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private async send(records: readonly Keyed<Transaction>[], rate: number): Promise<void> {
    const perTick = Math.max(1, Math.round(rate / 10));
    const t0 = Date.now();
    for (let i = 0, tick = 0; i < records.length && !this.stopped; i += perTick, tick++) {
      const wait = t0 + tick * 100 - Date.now();
      if (wait > 0) await sleep(wait);
      const messages: Message[] = records.slice(i, i + perTick).map((r) => ({ key: r.key, value: this.serdes.transactions.serialize(r.value), timestamp: String(r.value.eventTime) }));
      for (;;) {
        try {
          const p = await this.connected();
          await p.send({ topic: this.topic, messages, acks: -1 });
          break;
        } catch {
          this.failedSends++;
          await this.producer?.disconnect().catch(() => undefined);
          this.producer = undefined;
          await sleep(500);
        }
      }
      this.sent += messages.length;
      for (const r of records.slice(i, i + perTick)) this.sentIds.push(r.value.transactionId);
    }
  }

  /** Sends raw records (a hostile producer's), retried like the rest. */
  async sendRaw(messages: Message[]): Promise<void> {
    for (;;) {
      try {
        await (await this.connected()).send({ topic: this.topic, messages, acks: -1 });
        return;
      } catch (err) {
        this.failedSends++;
        if (/too large|MESSAGE_TOO_LARGE/i.test((err as Error).message)) throw err;
        await sleep(500);
      }
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
  }
}

/** Reads a whole topic from the beginning (read_committed), decoding each value, until `done` holds. */
async function readAll<T>(
  brokers: string[],
  topic: string,
  decode: (values: Buffer[]) => Promise<(T | null)[]>,
  done: (items: T[]) => boolean,
  timeoutMs: number,
): Promise<{ items: T[]; timedOut: boolean }> {
  const consumer = kafka(brokers, 'riskloop-fault-reader').consumer({ groupId: `fault-reader-${randomUUID()}`, readUncommitted: false, maxWaitTimeInMs: 200 });
  const items: T[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      const decoded = await decode(batch.messages.map((m) => m.value ?? Buffer.alloc(0)));
      for (const d of decoded) if (d !== null) items.push(d);
      last = Date.now();
    },
  });
  const deadline = Date.now() + timeoutMs;
  let timedOut = false;
  try {
    // Done when the predicate holds and nothing new came for 2 s (late duplicates would show).
    while (!(done(items) && Date.now() - last > 2000)) {
      if (Date.now() > deadline) {
        timedOut = true;
        break;
      }
      await sleep(200);
    }
  } finally {
    await consumer.disconnect();
  }
  return { items, timedOut };
}

export interface Counts {
  /** Transaction ids sent in this phase. */
  expected: number;
  /** Ids with no decision. */
  lost: number;
  /** Ids with more decisions than times the transaction is on the input topic. */
  duplicates: number;
  /** Decisions flagged `duplicate` (a repeat of a stored decision: the input was on the topic twice). */
  flaggedRepeats: number;
  /** Ids on the input topic more than once (a send retried after a failure the broker had in fact written). */
  inputRepeats: number;
  decisions: number;
  /** Dead letters whose source is the transactions topic, in this phase's offset range. */
  deadLetters: DeadLetter[];
  timedOut: boolean;
}

/**
 * Counts, by transaction id, what the loop made of `ids`: reads the inputs back (to know how often
 * each id is really on the topic), then decisions until every id has one (or `timeoutMs`).
 */
export async function countDecisions(
  brokers: string[],
  catalogue: Catalogue,
  serdes: Pick<TopicSerdes, 'transactions' | 'decisions' | 'deadLetters'>,
  ids: ReadonlySet<string>,
  timeoutMs: number,
): Promise<Counts> {
  const inputs = new Map<string, number>();
  let inputOffsets: { partition: number; offset: number }[] = [];
  {
    const consumer = kafka(brokers, 'riskloop-fault-reader').consumer({ groupId: `fault-reader-${randomUUID()}`, maxWaitTimeInMs: 200 });
    let last = Date.now();
    await consumer.connect();
    await consumer.subscribe({ topic: catalogue.transactions.name, fromBeginning: true });
    const seen: { partition: number; offset: number }[] = [];
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (!m.value || m.value.length === 0 || m.value.length > 100_000) continue;
          try {
            await serdes.transactions.prefetch?.([m.value]);
            const id = serdes.transactions.deserialize(m.value).transactionId;
            if (ids.has(id)) {
              inputs.set(id, (inputs.get(id) ?? 0) + 1);
              seen.push({ partition: batch.partition, offset: Number(m.offset) });
            }
          } catch {
            // not a transaction (the hostile records): not counted here
          }
        }
        last = Date.now();
      },
    });
    const deadline = Date.now() + 60_000;
    while (!(inputs.size >= ids.size && Date.now() - last > 1500) && Date.now() < deadline) await sleep(200);
    await consumer.disconnect();
    inputOffsets = seen;
  }
  const decoded = await readAll<Decision>(
    brokers,
    catalogue.decisions.name,
    async (values) => {
      await serdes.decisions.prefetch?.(values);
      return values.map((v) => serdes.decisions.deserialize(v));
    },
    (items) => {
      const have = new Set<string>();
      for (const d of items) if (ids.has(d.transactionId)) have.add(d.transactionId);
      return have.size >= ids.size;
    },
    timeoutMs,
  );
  const per = new Map<string, number>();
  let flaggedRepeats = 0;
  for (const d of decoded.items) {
    if (!ids.has(d.transactionId)) continue;
    per.set(d.transactionId, (per.get(d.transactionId) ?? 0) + 1);
    if (d.duplicate) flaggedRepeats++;
  }
  let lost = 0;
  let duplicates = 0;
  let inputRepeats = 0;
  let decisions = 0;
  for (const id of ids) {
    const n = per.get(id) ?? 0;
    const inputsOf = inputs.get(id) ?? 0;
    decisions += n;
    if (n === 0) lost++;
    if (n > Math.max(1, inputsOf)) duplicates++;
    if (inputsOf > 1) inputRepeats++;
  }
  // Dead letters from this phase's part of the transactions topic.
  const lo = new Map<number, number>();
  const hi = new Map<number, number>();
  for (const o of inputOffsets) {
    lo.set(o.partition, Math.min(lo.get(o.partition) ?? Infinity, o.offset));
    hi.set(o.partition, Math.max(hi.get(o.partition) ?? -1, o.offset));
  }
  const letters = await deadLetters(brokers, catalogue, serdes, 5_000);
  const inPhase = letters.filter((l) => l.sourceTopic === catalogue.transactions.name && l.offset >= (lo.get(l.partition) ?? Infinity) && l.offset <= (hi.get(l.partition) ?? -1));
  return { expected: ids.size, lost, duplicates, flaggedRepeats, inputRepeats, decisions, deadLetters: inPhase, timedOut: decoded.timedOut };
}

/** Every dead letter on the topic so far. */
export async function deadLetters(brokers: string[], catalogue: Catalogue, serdes: Pick<TopicSerdes, 'deadLetters'>, idleMs: number, atLeast = 0): Promise<DeadLetter[]> {
  const r = await readAll<DeadLetter>(
    brokers,
    catalogue.deadLetters.name,
    async (values) => {
      await serdes.deadLetters.prefetch?.(values);
      return values.map((v) => serdes.deadLetters.deserialize(v));
    },
    (items) => items.length >= atLeast,
    Math.max(idleMs, 60_000),
  );
  return r.items;
}

export function describeCounts(name: string, c: Counts): string {
  return `${name}: ${c.expected} transactions, ${c.decisions} decisions, lost ${c.lost}, duplicates ${c.duplicates}, repeats flagged ${c.flaggedRepeats} (inputs on the topic twice: ${c.inputRepeats}), dead letters ${c.deadLetters.length}${c.timedOut ? ' (TIMED OUT waiting)' : ''}`;
}

/** Deletes the topics `which` selects (a test's own, at its end). */
export async function deleteTopics(brokers: string[], which: (topic: string) => boolean): Promise<void> {
  const admin = kafka(brokers, 'riskloop-fault-cleanup').admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter(which);
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
  } finally {
    await admin.disconnect();
  }
}
