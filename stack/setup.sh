#!/usr/bin/env bash
# Everything the test suite needs that is not an npm package, found or installed before any test
# runs. `npm test` runs it (the pretest script) and so does .ci/run; it is idempotent and takes a
# second or two when everything is there. `setup.sh demo` (npm run demo's predemo) checks only what
# the demo needs: Node, the broker's Java and Maven, Python.
#   - Node 22.22+ (stack/node.sh installs Node 24 from the npm registry when the system's is older)
#   - Chromium, for the dashboard's browser test (Debian's `chromium`, driven by playwright-core)
#   - Prometheus with promtool, for the alert-rules test (Debian's `prometheus`)
#   - PostgreSQL, for the audit-trail test (Debian's `postgresql`), unless RISKLOOP_AUDIT_DB names one
#   - Java 17+ and Maven, for the local Kafka broker, unless KAFKA_BROKERS names one or a Docker
#     engine answers (then testcontainers runs the broker)
#   - Python 3.10+ with venv, and the trainer's virtualenv (training/setup.sh, packages from PyPI)
#   - test/outside/setup.sh, when present (clients from outside the Node world)
# Missing system packages are installed with apt-get when we are root and apt-get exists (update
# first). Otherwise it stops before any test with one line naming what is missing and the exact
# command that installs it. Nothing is skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
for_demo=""; [[ "${1:-}" == demo ]] && for_demo=1

say() { echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }

# ---- Node ---------------------------------------------------------------------------------------
PATH="$(bash "$ROOT/stack/node.sh" --bin-dir):$PATH"
export PATH
[[ -d node_modules ]] || die "node_modules is missing: run npm ci first"

# ---- what is missing ----------------------------------------------------------------------------
chromium_path="${CHROMIUM_PATH:-/usr/bin/chromium}"
java_major() { java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1; }
docker_engine() { [[ -z "${RISKLOOP_NO_DOCKER:-}" ]] && command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1; }
needs_broker() { [[ -z "${KAFKA_BROKERS:-}" || -z "${SCHEMA_REGISTRY_URL:-}" ]] && ! docker_engine; }

missing=() # "what:apt-package" pairs
check() {
  missing=()
  [[ -n "$for_demo" || -x "$chromium_path" ]] || missing+=("Chromium for the dashboard browser test ($chromium_path):chromium")
  # Debian's prometheus (2.42, with promtool) scrapes a running loop in test/integration/prometheus.test.ts.
  [[ -n "$for_demo" ]] || { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; } || missing+=("Prometheus for the alert-rules test:prometheus")
  if [[ -z "$for_demo" && -z "${RISKLOOP_AUDIT_DB:-}" ]] && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    missing+=("PostgreSQL for the audit-trail test:postgresql")
  fi
  # The test suite always needs the local broker's tools: test/integration/secureKafka.test.ts starts
  # its own SASL_SSL broker (stack.sh, keytool from the JRE) whatever broker the other tests use.
  if needs_broker || [[ -z "$for_demo" ]]; then
    if ! command -v java >/dev/null 2>&1; then missing+=("Java 17+ for the Kafka broker:default-jre-headless")
    elif (( $(java_major || echo 0) < 17 )); then missing+=("Java 17+ for the Kafka broker (found $(java_major)):openjdk-17-jre-headless"); fi
    command -v mvn >/dev/null 2>&1 || missing+=("Maven to resolve the Kafka broker from Maven Central:maven")
  fi
  if ! command -v python3 >/dev/null 2>&1; then missing+=("Python 3.10+ for the trainer:python3 python3-venv")
  elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then missing+=("Python's venv module for the trainer's virtualenv:python3-venv"); fi
}

check
if ((${#missing[@]})); then
  names=() pkgs=()
  for m in "${missing[@]}"; do names+=("${m%%:*}"); pkgs+=("${m#*:}"); done
  what="$(IFS=';'; echo "${names[*]}" | sed 's/;/; /g')"
  install="apt-get update && apt-get install -y ${pkgs[*]}"
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    die "missing: $what. Install with: $install (as root), then run again"
  fi
  say "installing from Debian's packages: ${pkgs[*]} ($what)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed; run by hand: $install"
  # shellcheck disable=SC2068 # pkgs holds "python3 python3-venv" as two words on purpose
  apt-get install -y -qq ${pkgs[@]} >/dev/null || die "apt-get install failed; run by hand: $install"
  check
  ((${#missing[@]} == 0)) || die "still missing after apt-get install: ${missing[*]}"
fi

# ---- report what the suite will use -------------------------------------------------------------
say "node $(node --version) ($(command -v node))"
if [[ -z "$for_demo" ]]; then
  say "chromium: $("$chromium_path" --version 2>/dev/null | head -n 1 || echo "$chromium_path")"
  say "prometheus: $(prometheus --version 2>&1 | head -n 1)"
  if [[ -n "${RISKLOOP_AUDIT_DB:-}" ]]; then say "postgresql: RISKLOOP_AUDIT_DB is set; using that database"
  else say "postgresql: $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"; fi
fi
if needs_broker; then say "broker: local stack, $(java -version 2>&1 | head -n 1), $(mvn -v 2>/dev/null | head -n 1 | sed 's/\x1b\[[0-9;]*m//g')"
elif [[ -n "${KAFKA_BROKERS:-}" ]]; then say "broker: KAFKA_BROKERS=$KAFKA_BROKERS"
else say "broker: testcontainers (a Docker engine answers)"; fi

# ---- Python environments ------------------------------------------------------------------------
bash "$ROOT/training/setup.sh"
say "trainer venv: $("$ROOT/.venv/bin/python" --version 2>&1) in .venv/"
if [[ -z "$for_demo" && -f "$ROOT/test/outside/setup.sh" ]]; then
  bash "$ROOT/test/outside/setup.sh"
  say "outside clients: test/outside/setup.sh done"
fi
