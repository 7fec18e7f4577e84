#!/usr/bin/env bash
# PostgreSQL for riskloop's audit trail, from Debian's packages (apt-get install -y postgresql),
# like the broker runs without Docker: a cluster in .stack/postgres (or, as root, wherever the
# postgres user can reach it: see below) on 127.0.0.1:${PG_PORT:-5432},
# database "riskloop" with two roles (loopback only):
#   riskloop_owner (password "riskloop_owner"): owns the database and the audit tables and applies
#                  their DDL (ops/auditSchema.ts): migrations, never the running loop;
#   riskloop       (password "riskloop"): what `riskloop run` connects as (RISKLOOP_AUDIT_DB): SELECT
#                  and INSERT on decision_audit and privileged_audit, nothing else (append-only; a
#                  trigger refuses UPDATE/DELETE/TRUNCATE even for the owner).
# A cluster made before the owner role existed (riskloop owned everything) is moved over on `up`.
# The cluster trusts loopback connections (initdb --auth=trust): a development stack, not a server.
#   postgres.sh up | down | status
# PostgreSQL refuses to run as root, so when we are root the server runs as the OS user "postgres"
# (created by the Debian package) via runuser; otherwise as the calling user.
# Every failure prints one line saying what is wrong and exits non-zero; nothing waits forever.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${RISKLOOP_STACK_DIR:-$ROOT/.stack}"
PG_PORT="${PG_PORT:-5432}"
PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
READY_TIMEOUT="${STACK_READY_TIMEOUT:-90}"

die() { echo "postgres: $*" >&2; exit 1; }
info() { echo "postgres: $*"; }

[[ -n "$PG_BIN" && -x "$PG_BIN/pg_ctl" ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: apt-get install -y postgresql (or set PG_BIN)"

# Where the cluster lives. Inside the clone (.stack/postgres) when the server's user can reach it;
# as root the server runs as "postgres", which cannot enter a clone under a mode-700 folder (/root,
# any mktemp -d), so then the cluster and its log go to /var/tmp/riskloop-postgres-<uid>-<port>,
# owned by postgres. The choice depends only on the clone's path and the port, so up, down and
# status always agree. RISKLOOP_PG_DIR names another folder.
mkdir -p "$STACK_DIR"
if [[ -n "${RISKLOOP_PG_DIR:-}" ]]; then
  PG_DIR="$RISKLOOP_PG_DIR"
elif [[ $(id -u) -ne 0 ]] || { id postgres >/dev/null 2>&1 && runuser -u postgres -- test -x "$STACK_DIR" 2>/dev/null; }; then
  PG_DIR="$STACK_DIR/postgres"
else
  PG_DIR="/var/tmp/riskloop-postgres-$(id -u)-$PG_PORT"
fi
PG_DATA="$PG_DIR/data"
if [[ "$PG_DIR" == "$STACK_DIR/postgres" ]]; then PG_LOGS="$STACK_DIR/logs"; else PG_LOGS="$PG_DIR"; fi
PG_LOG="$PG_LOGS/postgres.log"

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no 'postgres' OS user to run the server as"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

running() { as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; }
ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }
psql_admin() { as_owner "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
psql_as() { local user="$1"; shift; as_owner "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$user" -d riskloop -v ON_ERROR_STOP=1 -qtA "$@"; }

up() {
  mkdir -p "$PG_DIR" "$PG_LOGS"
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres: "$PG_DIR" && touch "$PG_LOG" && chown postgres: "$PG_LOG"
    runuser -u postgres -- test -w "$PG_DIR" 2>/dev/null \
      || die "the postgres OS user cannot write $PG_DIR (a parent folder shuts it out); set RISKLOOP_PG_DIR to a folder it can reach"
  fi
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    as_owner "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_LOGS/postgres-initdb.log" 2>&1 \
      || die "initdb failed: $(tail -n 1 "$PG_LOGS/postgres-initdb.log" 2>/dev/null) (see $PG_LOGS/postgres-initdb.log)"
    info "initialised a cluster in $PG_DATA"
  fi
  if running; then
    info "already running on 127.0.0.1:$PG_PORT"
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null && die "port $PG_PORT is already taken by another process; stop it or set PG_PORT"
    # Socket in the data folder: /var/run/postgresql may not exist or be writable outside a service.
    as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA" -w -t "$READY_TIMEOUT" start >/dev/null \
      || die "server did not start within ${READY_TIMEOUT}s; last log line: $(tail -n 1 "$PG_LOG" 2>/dev/null || echo '(no log)') (see $PG_LOG)"
  fi
  ready || die "server is up but not accepting connections on 127.0.0.1:$PG_PORT (see $PG_LOG)"
  for role in riskloop_owner riskloop; do
    if [[ -z $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$role'") ]]; then
      psql_admin -c "CREATE ROLE $role LOGIN PASSWORD '$role'" || die "could not create role $role"
    fi
  done
  if [[ -z $(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'riskloop'") ]]; then
    psql_admin -c "CREATE DATABASE riskloop OWNER riskloop_owner" || die "could not create database riskloop"
  fi
  # Least privilege: the loop's role owns nothing (an older cluster gave it the database and tables).
  psql_as postgres -c "ALTER DATABASE riskloop OWNER TO riskloop_owner" -c "REASSIGN OWNED BY riskloop TO riskloop_owner" -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC" >/dev/null \
    || die "could not hand the database riskloop to riskloop_owner"
  # The audit tables, their append-only trigger and the loop's grants, applied as the owner; one
  # definition, in ops/auditSchema.ts.
  local sql
  sql="$(cd "$ROOT" && bash stack/node.sh node --import tsx ops/auditSchema.ts --loop-role riskloop 2>&1)" \
    || die "could not render the audit schema (npm ci first?): $(tail -n 1 <<<"$sql")"
  psql_as riskloop_owner <<<"SET client_min_messages = warning;
$sql" >/dev/null || die "could not apply the audit schema as riskloop_owner"
  info "ready on 127.0.0.1:$PG_PORT (database riskloop; owner riskloop_owner; loop role riskloop: SELECT/INSERT on the audit tables, UPDATE on review_cases only; logs in $PG_LOG)"
}

down() {
  if [[ ! -f "$PG_DATA/PG_VERSION" ]] || ! running; then info "not running"; return; fi
  as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null || die "did not stop within 30s (see $PG_LOG)"
  info "stopped"
}

status() {
  if [[ -f "$PG_DATA/PG_VERSION" ]] && running && ready; then info "running on 127.0.0.1:$PG_PORT"
  elif [[ -f "$PG_DATA/PG_VERSION" ]] && running; then info "process up but not accepting connections"; return 1
  else info "stopped"; return 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: postgres.sh up|down|status" ;;
esac
