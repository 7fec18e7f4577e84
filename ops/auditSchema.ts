/**
 * The audit tables and who may do what to them, as one idempotent SQL script, applied by the
 * tables' owner role (not the loop's): `stack/postgres.sh up` pipes it into psql, a DBA can do the
 * same with
 *   node --import tsx ops/auditSchema.ts --loop-role riskloop | psql -U riskloop_owner -d riskloop
 *
 * Append-only: the loop's role gets SELECT and INSERT only, and a trigger refuses UPDATE, DELETE and
 * TRUNCATE for everyone, the owner included. Changing a recorded row therefore needs a DDL change
 * (dropping the trigger) by the owner, which PostgreSQL's own log shows (log_statement = ddl).
 * The review queue's tables (ops/reviewQueueStore.ts) come last: the loop's role may UPDATE cases
 * (claims, verdicts) but never DELETE them.
 */
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { createTableSql, privilegedTableSql } from './auditSink.js';
import { reviewSchemaSql } from './reviewQueueStore.js';

const Ident = z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a plain lower-case identifier');

/**
 * The whole script. `schema` puts the tables in their own schema (tests); default: public.
 * `loopRole` is the role `riskloop run` connects as (RISKLOOP_AUDIT_DB).
 */
export function auditSchemaSql(opts: { loopRole: string; schema?: string }): string {
  const loopRole = Ident.parse(opts.loopRole);
  const schema = opts.schema === undefined ? 'public' : Ident.parse(opts.schema);
  const q = (t: string): string => `${schema}.${t}`;
  const decision = q('decision_audit');
  const privileged = q('privileged_audit');
  const refuse = q('riskloop_audit_append_only');
  return `${opts.schema === undefined ? '' : `CREATE SCHEMA IF NOT EXISTS ${schema};\n`}
${createTableSql(decision)}
${privilegedTableSql(privileged)}
CREATE OR REPLACE FUNCTION ${refuse}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit table %.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE OR REPLACE TRIGGER decision_audit_append_only BEFORE UPDATE OR DELETE ON ${decision} FOR EACH ROW EXECUTE FUNCTION ${refuse}();
CREATE OR REPLACE TRIGGER decision_audit_no_truncate BEFORE TRUNCATE ON ${decision} FOR EACH STATEMENT EXECUTE FUNCTION ${refuse}();
CREATE OR REPLACE TRIGGER privileged_audit_append_only BEFORE UPDATE OR DELETE ON ${privileged} FOR EACH ROW EXECUTE FUNCTION ${refuse}();
CREATE OR REPLACE TRIGGER privileged_audit_no_truncate BEFORE TRUNCATE ON ${privileged} FOR EACH STATEMENT EXECUTE FUNCTION ${refuse}();
REVOKE ALL ON ${decision}, ${privileged} FROM PUBLIC;
REVOKE ALL ON ${decision}, ${privileged} FROM ${loopRole};
GRANT USAGE ON SCHEMA ${schema} TO ${loopRole};
GRANT SELECT, INSERT ON ${decision}, ${privileged} TO ${loopRole};
${reviewSchemaSql({ loopRole, schema })}`;
}

// `node --import tsx ops/auditSchema.ts --loop-role riskloop [--schema S]` prints the script.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const schema = opt('schema');
  process.stdout.write(auditSchemaSql({ loopRole: opt('loop-role') ?? 'riskloop', ...(schema ? { schema } : {}) }));
}
