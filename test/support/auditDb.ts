/**
 * PostgreSQL for the audit tests (bash stack/postgres.sh up): the audit tables in a schema of the
 * test's own, created by the owner role exactly as stack/postgres.sh creates them in public
 * (ops/auditSchema.ts), and written through the loop's role, which may only INSERT and SELECT.
 */
import pg from 'pg';
import { auditSchemaSql } from '../../ops/auditSchema.js';

export const LOOP_DB = process.env.RISKLOOP_AUDIT_DB ?? 'postgres://riskloop:riskloop@127.0.0.1:5432/riskloop';
/** The owner role on the same server (stack/postgres.sh creates it), unless named explicitly. */
export const OWNER_DB = process.env.RISKLOOP_AUDIT_OWNER_DB ?? ownerOf(LOOP_DB);

function ownerOf(url: string): string {
  const u = new URL(url);
  u.username = 'riskloop_owner';
  u.password = 'riskloop_owner';
  return u.toString();
}

export interface AuditSchema {
  schema: string;
  decisionTable: string;
  privilegedTable: string;
  drop(): Promise<void>;
}

export async function createAuditSchema(prefix: string): Promise<AuditSchema> {
  const schema = `${prefix}_${process.pid}_${Date.now().toString(36)}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const owner = new pg.Client({ connectionString: OWNER_DB });
  try {
    await owner.connect();
  } catch (err) {
    throw new Error(`PostgreSQL is not reachable as riskloop_owner (${(err as Error).message}); start it with: bash stack/postgres.sh up`);
  }
  try {
    await owner.query(`SET client_min_messages = warning; ${auditSchemaSql({ loopRole: new URL(LOOP_DB).username, schema })}`);
  } finally {
    await owner.end();
  }
  return {
    schema,
    decisionTable: `${schema}.decision_audit`,
    privilegedTable: `${schema}.privileged_audit`,
    async drop() {
      const c = new pg.Client({ connectionString: OWNER_DB });
      await c.connect();
      // DROP is DDL: the owner may, which is the point (a visible schema change, not a quiet DELETE).
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => c.end());
    },
  };
}
