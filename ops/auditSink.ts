/**
 * Audit trail in PostgreSQL, for auditors to query with SQL:
 *  - decision_audit: decisions from the decisions topic, one row per transaction (the decision,
 *    reason codes, versions and the feature snapshot as JSONB);
 *  - privileged_audit: privileged actions (model releases, rule loads and reloads, replays, ops
 *    logins, registry writes) from the audit-events topic (ops/auditEvents.ts), one row per event id.
 * Both are append-only for the loop's role (ops/auditSchema.ts: INSERT and SELECT only, and a
 * trigger refusing UPDATE/DELETE/TRUNCATE for everyone).
 *
 * Idempotent on transaction id (event id): `INSERT … ON CONFLICT DO NOTHING`. DO NOTHING rather
 * than DO UPDATE because the audit must show what the customer actually got: the first decision
 * recorded for a transaction is the one that was acted on, and a redelivery after a crash
 * (at-least-once between Kafka and the database) or a replay carries the same decision anyway.
 * The consumer commits its offsets only after the rows are in, so a crash re-inserts a batch and
 * the conflict clause absorbs it.
 */
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import pg from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Catalogue } from '../schemas/catalogue.js';
import type { TopicSerdes } from '../schemas/createSerdes.js';
import type { Decision } from '../schemas/types.js';
import { parseAuditEvent, type AuditEvent } from './auditEvents.js';
import { SupervisedConsumer } from './supervisedConsumer.js';
import { kafkajsConnectionOptions, type KafkaConnection } from '../topology/kafka/connection.js';

/** `table` or `schema.table`, plain lower-case identifiers (they are put into SQL text). */
const TableName = z.string().regex(/^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/, 'table must be a plain lower-case identifier, optionally schema-qualified');

export const AuditConfig = z.object({
  /** e.g. postgres://riskloop:riskloop@127.0.0.1:5432/riskloop */
  connectionString: z.string().min(1),
  table: TableName.default('decision_audit'),
  privilegedTable: TableName.default('privileged_audit'),
  /** Rows per INSERT statement: 17 parameters each, under PostgreSQL's 65 535 parameter limit. */
  batchSize: z.number().int().min(1).max(3000).default(500),
});
export type AuditConfigInput = z.input<typeof AuditConfig>;

const COLUMNS = [
  'transaction_id', 'account_token', 'card_token', 'event_time', 'decided_at', 'decision', 'score', 'model_version',
  'shadow_scores', 'rule_set_version', 'reason_codes', 'features', 'facts', 'top_contributions', 'pipeline_latency_ms',
  'source_partition', 'source_offset',
] as const;

export function createTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  transaction_id      text PRIMARY KEY,
  account_token       text NOT NULL,
  card_token          text NOT NULL,
  event_time          timestamptz NOT NULL,
  decided_at          timestamptz NOT NULL,
  decision            text NOT NULL,
  score               double precision,
  model_version       text,
  shadow_scores       jsonb NOT NULL,
  rule_set_version    text NOT NULL,
  reason_codes        text[] NOT NULL,
  features            jsonb NOT NULL,
  facts               jsonb NOT NULL,
  top_contributions   jsonb NOT NULL,
  pipeline_latency_ms double precision NOT NULL,
  source_partition    integer,
  source_offset       bigint,
  recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${baseName(table)}_event_time ON ${table} (event_time);
CREATE INDEX IF NOT EXISTS ${baseName(table)}_account_token ON ${table} (account_token, event_time);`;
}

/** An index is created in its table's schema and named without it. */
export function baseName(table: string): string {
  return table.slice(table.lastIndexOf('.') + 1);
}

export function privilegedTableSql(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${table} (
  id            uuid PRIMARY KEY,
  at            timestamptz NOT NULL,
  principal     text NOT NULL,
  authenticated boolean NOT NULL,
  source        text NOT NULL,
  "from"        text NOT NULL,
  action        text NOT NULL,
  target        text NOT NULL,
  outcome       text NOT NULL,
  details       jsonb NOT NULL,
  topic         text,
  "partition"   integer,
  "offset"      bigint,
  recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ${baseName(table)}_at ON ${table} (at);
CREATE INDEX IF NOT EXISTS ${baseName(table)}_action ON ${table} (action, at);`;
}

const PRIVILEGED_COLUMNS = ['id', 'at', 'principal', 'authenticated', 'source', 'from', 'action', 'target', 'outcome', 'details', 'topic', 'partition', 'offset'] as const;

export interface PrivilegedRow {
  event: AuditEvent;
  topic?: string;
  partition?: number;
  offset?: number;
}

export interface AuditRow {
  decision: Decision;
  partition?: number;
  offset?: number;
}

export class AuditSink {
  private readonly config: z.output<typeof AuditConfig>;
  readonly pool: pg.Pool;

  constructor(
    config: AuditConfigInput,
    private readonly logger?: Logger,
  ) {
    this.config = AuditConfig.parse(config);
    this.pool = new pg.Pool({ connectionString: this.config.connectionString, max: 2 });
    // An idle connection dropped by the server (a database restart) is emitted here; without a
    // listener it would end the process. The next query opens a new connection.
    this.pool.on('error', (err) => logger?.warn({ err: err.message, database: this.where() }, 'audit database connection lost'));
  }

  /** Host, port and database only: the connection string may hold a password. */
  where(): string {
    const url = new URL(this.config.connectionString);
    return `${url.hostname}:${url.port || 5432}${url.pathname}`;
  }

  get table(): string {
    return this.config.table;
  }

  get privilegedTable(): string {
    return this.config.privilegedTable;
  }

  /**
   * Checks that both tables exist and that this role may insert into them. A missing table is
   * created when the role may (a development database where the loop's role owns the schema); in
   * a least-privilege setup the owner creates them (ops/auditSchema.ts, stack/postgres.sh). A role
   * that may also UPDATE or DELETE gets a warning: the trail is then not append-only for it.
   * Fails with a clear message when the database is unreachable or the tables are unusable.
   */
  async init(): Promise<void> {
    try {
      for (const [table, sql] of [
        [this.config.table, createTableSql(this.config.table)],
        [this.config.privilegedTable, privilegedTableSql(this.config.privilegedTable)],
      ] as const) {
        const found = await this.pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
        if (found.rows[0]?.t === null || found.rows[0]?.t === undefined) {
          try {
            await this.pool.query(sql);
          } catch (err) {
            throw new Error(`table ${table} is missing and this role cannot create it (${(err as Error).message}); create it as the owner role: bash stack/postgres.sh up, or node --import tsx ops/auditSchema.ts | psql`);
          }
        }
        const priv = await this.pool.query<{ ins: boolean; upd: boolean; del: boolean }>(
          "SELECT has_table_privilege($1, 'INSERT') AS ins, has_table_privilege($1, 'UPDATE') AS upd, has_table_privilege($1, 'DELETE') AS del",
          [table],
        );
        const p = priv.rows[0]!;
        if (!p.ins) throw new Error(`this role may not INSERT into ${table}: GRANT SELECT, INSERT ON ${table} TO <the loop's role>`);
        if (p.upd || p.del) this.logger?.warn({ table, database: this.where() }, 'the audit role may UPDATE or DELETE audit rows: the trail is not append-only for it (grant INSERT and SELECT only, ops/auditSchema.ts)');
      }
    } catch (err) {
      throw new Error(`audit database ${this.where()} not usable: ${(err as Error).message}`);
    }
  }

  /** Inserts rows in batches; returns how many were new (the rest were already recorded). */
  async write(rows: readonly AuditRow[]): Promise<number> {
    let inserted = 0;
    for (let i = 0; i < rows.length; i += this.config.batchSize) {
      const chunk = rows.slice(i, i + this.config.batchSize);
      const params: unknown[] = [];
      const tuples = chunk.map((r) => {
        const d = r.decision;
        const base = params.length;
        params.push(
          d.transactionId, d.accountToken, d.cardToken, new Date(d.eventTime), new Date(d.decidedAt), d.decision, d.score, d.modelVersion,
          JSON.stringify(d.shadowScores), d.ruleSetVersion, d.reasonCodes, JSON.stringify(d.features), JSON.stringify(d.facts),
          JSON.stringify(d.topContributions), d.pipelineLatencyMs, r.partition ?? null, r.offset ?? null,
        );
        return `(${COLUMNS.map((_, j) => `$${base + j + 1}`).join(',')})`;
      });
      const res = await this.pool.query(
        `INSERT INTO ${this.config.table} (${COLUMNS.join(',')}) VALUES ${tuples.join(',')} ON CONFLICT (transaction_id) DO NOTHING`,
        params,
      );
      inserted += res.rowCount ?? 0;
    }
    return inserted;
  }

  /** Inserts privileged-action events; returns how many were new (a redelivery inserts nothing). */
  async writePrivileged(rows: readonly PrivilegedRow[]): Promise<number> {
    if (rows.length === 0) return 0;
    const params: unknown[] = [];
    const tuples = rows.map(({ event: e, topic, partition, offset }) => {
      const base = params.length;
      params.push(e.id, new Date(e.at), e.principal, e.authenticated, e.source, e.from, e.action, e.target, e.outcome, JSON.stringify(e.details), topic ?? null, partition ?? null, offset ?? null);
      return `(${PRIVILEGED_COLUMNS.map((_, j) => `$${base + j + 1}`).join(',')})`;
    });
    const res = await this.pool.query(
      `INSERT INTO ${this.config.privilegedTable} (${PRIVILEGED_COLUMNS.map((c) => `"${c}"`).join(',')}) VALUES ${tuples.join(',')} ON CONFLICT (id) DO NOTHING`,
      params,
    );
    return res.rowCount ?? 0;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Reads the decisions topic into the sink under a committed group (`<app>-audit`).
 *
 * Errors: a failed write (database down) throws out of the batch, so kafkajs retries it with
 * back-off and then restarts the consumer from the last committed offset; nothing is skipped and
 * each failure is logged. When kafkajs gives up on an error the runtime classifies as transient (a
 * coordinator not found while the broker restarts), a new consumer is started; only a fatal one
 * emits 'error' (riskloop run then exits for its supervisor to restart it). A decision that cannot be decoded is skipped with a
 * log line (partition, offset): it would fail the same way after every restart.
 */
export class AuditConsumer extends SupervisedConsumer {
  constructor(
    private readonly opts: {
      connection: KafkaConnection;
      applicationId: string;
      catalogue: Catalogue;
      serdes: Pick<TopicSerdes, 'decisions'>;
      logger: Logger;
      /** The privileged-action topic (ops/auditEvents.ts) read into privileged_audit; it must exist. */
      auditTopic?: string;
    },
    private readonly sink: AuditSink,
  ) {
    super('audit', opts.logger);
  }

  protected createConsumer(): Consumer {
    const kafka = new Kafka({ clientId: `${this.opts.applicationId}-audit`, ...kafkajsConnectionOptions(this.opts.connection), logLevel: logLevel.NOTHING });
    return kafka.consumer({ groupId: `${this.opts.applicationId}-audit`, readUncommitted: false });
  }

  protected async run(consumer: Consumer): Promise<void> {
    const { catalogue, serdes, logger } = this.opts;
    // From the beginning on first start: the audit trail must hold every decision still on the topic.
    const auditTopic = this.opts.auditTopic;
    await consumer.subscribe({ topics: auditTopic ? [catalogue.decisions.name, auditTopic] : [catalogue.decisions.name], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset }) => {
        if (batch.topic === auditTopic) {
          const events: PrivilegedRow[] = [];
          for (const m of batch.messages) {
            if (m.value === null) continue;
            try {
              events.push({ event: parseAuditEvent(m.value), topic: batch.topic, partition: batch.partition, offset: Number(m.offset) });
            } catch (err) {
              // Not an event at all: it would fail the same way after every restart. Logged with its
              // position so that it can be found; never its content.
              logger.error({ component: 'audit', topic: batch.topic, partition: batch.partition, offset: m.offset, err: (err as Error).message }, 'audit skipped a privileged-action record it cannot read');
            }
          }
          try {
            await this.sink.writePrivileged(events);
          } catch (err) {
            logger.warn({ component: 'audit', database: this.sink.where(), topic: batch.topic, err: (err as Error).message }, 'privileged audit write failed; the batch will be retried');
            throw err;
          }
          for (const m of batch.messages) resolveOffset(m.offset);
          const last = batch.messages[batch.messages.length - 1];
          if (last) await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
          return;
        }
        const values = batch.messages.filter((m) => m.value !== null);
        // A registry that cannot be reached rejects here: the batch is retried, nothing skipped.
        await serdes.decisions.prefetch?.(values.map((m) => m.value!));
        const rows: AuditRow[] = [];
        for (const m of values) {
          try {
            rows.push({ decision: serdes.decisions.deserialize(m.value!), partition: batch.partition, offset: Number(m.offset) });
          } catch (err) {
            logger.warn({ component: 'audit', topic: batch.topic, partition: batch.partition, offset: m.offset, err: (err as Error).message }, 'audit skipped a decision it cannot decode');
          }
        }
        let inserted: number;
        try {
          inserted = await this.sink.write(rows);
        } catch (err) {
          logger.warn({ component: 'audit', database: this.sink.where(), partition: batch.partition, err: (err as Error).message }, 'audit write failed; the batch will be retried');
          throw err;
        }
        for (const m of batch.messages) resolveOffset(m.offset);
        const last = batch.messages[batch.messages.length - 1];
        if (last) await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(last.offset) + 1) }]);
        logger.debug({ partition: batch.partition, rows: rows.length, inserted }, 'audit batch written');
      },
    });
  }
}
