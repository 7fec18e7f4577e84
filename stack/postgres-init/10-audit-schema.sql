-- Generated from ops/auditSchema.ts (node --import tsx ops/auditSchema.ts --loop-role riskloop);
-- test/unit/stack/dockerCompose.test.ts checks it is still equal. Runs as the owner role.

CREATE TABLE IF NOT EXISTS public.decision_audit (
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
CREATE INDEX IF NOT EXISTS decision_audit_event_time ON public.decision_audit (event_time);
CREATE INDEX IF NOT EXISTS decision_audit_account_token ON public.decision_audit (account_token, event_time);
CREATE TABLE IF NOT EXISTS public.privileged_audit (
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
CREATE INDEX IF NOT EXISTS privileged_audit_at ON public.privileged_audit (at);
CREATE INDEX IF NOT EXISTS privileged_audit_action ON public.privileged_audit (action, at);
CREATE OR REPLACE FUNCTION public.riskloop_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit table %.% is append-only: % refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE OR REPLACE TRIGGER decision_audit_append_only BEFORE UPDATE OR DELETE ON public.decision_audit FOR EACH ROW EXECUTE FUNCTION public.riskloop_audit_append_only();
CREATE OR REPLACE TRIGGER decision_audit_no_truncate BEFORE TRUNCATE ON public.decision_audit FOR EACH STATEMENT EXECUTE FUNCTION public.riskloop_audit_append_only();
CREATE OR REPLACE TRIGGER privileged_audit_append_only BEFORE UPDATE OR DELETE ON public.privileged_audit FOR EACH ROW EXECUTE FUNCTION public.riskloop_audit_append_only();
CREATE OR REPLACE TRIGGER privileged_audit_no_truncate BEFORE TRUNCATE ON public.privileged_audit FOR EACH STATEMENT EXECUTE FUNCTION public.riskloop_audit_append_only();
REVOKE ALL ON public.decision_audit, public.privileged_audit FROM PUBLIC;
REVOKE ALL ON public.decision_audit, public.privileged_audit FROM riskloop;
GRANT USAGE ON SCHEMA public TO riskloop;
GRANT SELECT, INSERT ON public.decision_audit, public.privileged_audit TO riskloop;
CREATE TABLE IF NOT EXISTS public.review_cases (
  case_id          text PRIMARY KEY,
  kind             text NOT NULL CHECK (kind IN ('decision', 'screening')),
  transaction_id   text,
  account_token    text NOT NULL,
  opened_at        timestamptz NOT NULL,
  event_time       timestamptz,
  payload          jsonb NOT NULL,
  status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
  claimed_by       text,
  claimed_at       timestamptz,
  claim_expires_at timestamptz,
  verdict          text,
  note             text,
  closed_by        text,
  closed_at        timestamptz,
  source_partition integer,
  source_offset    bigint,
  recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS review_cases_open ON public.review_cases (opened_at) WHERE status = 'open';
CREATE INDEX IF NOT EXISTS review_cases_account ON public.review_cases (account_token, opened_at);
CREATE TABLE IF NOT EXISTS public.review_labels (
  transaction_id text NOT NULL,
  labeled_at     timestamptz NOT NULL,
  account_token  text NOT NULL,
  label          smallint NOT NULL,
  label_source   text NOT NULL,
  is_correction  boolean NOT NULL,
  decision       text NOT NULL,
  PRIMARY KEY (transaction_id, labeled_at, label_source)
);
CREATE INDEX IF NOT EXISTS review_labels_account ON public.review_labels (account_token, labeled_at);
REVOKE ALL ON public.review_cases, public.review_labels FROM PUBLIC;
REVOKE ALL ON public.review_cases, public.review_labels FROM riskloop;
GRANT SELECT, INSERT, UPDATE ON public.review_cases TO riskloop;
GRANT SELECT, INSERT ON public.review_labels TO riskloop;
