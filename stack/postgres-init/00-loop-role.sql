-- The loop's role for docker compose's PostgreSQL, as stack/postgres.sh creates it: it logs in and
-- gets INSERT/SELECT on the audit tables from 10-audit-schema.sql; the owner is POSTGRES_USER.
CREATE ROLE riskloop LOGIN PASSWORD 'riskloop';
