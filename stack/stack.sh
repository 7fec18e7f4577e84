#!/usr/bin/env bash
# riskloop's local stack without Docker: a real Apache Kafka broker (KRaft, single node)
# resolved from Maven Central, and riskloop's Confluent-compatible schema registry.
#   stack.sh up | down | status | reset
#   stack.sh kafka-stop | kafka-start | registry-stop | registry-start   (one service, for fault drills)
# Where a Docker engine answers, the same verbs drive docker-compose.yml instead.
# Every failure prints one line saying what is wrong and exits non-zero; nothing waits forever.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${RISKLOOP_STACK_DIR:-$ROOT/.stack}"
CACHE_DIR="$ROOT/stack/.cache"
LIB_DIR="$CACHE_DIR/kafka/lib"
KAFKA_PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
REGISTRY_PORT="${REGISTRY_PORT:-8081}"
READY_TIMEOUT="${STACK_READY_TIMEOUT:-90}"
LOG_DIR="$STACK_DIR/logs"
KAFKA_PID="$STACK_DIR/kafka.pid"
REGISTRY_PID="$STACK_DIR/registry.pid"
NODE_TSX=(node --import tsx)

die() { echo "stack: $*" >&2; exit 1; }
info() { echo "stack: $*"; }

docker_engine() { command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

probe() { (cd "$ROOT" && timeout 20 node stack/probe.mjs "$@" >/dev/null 2>&1); }

wait_ready() { # name pidfile logfile probe-args...
  local name=$1 pidfile=$2 logfile=$3; shift 3
  local deadline=$((SECONDS + READY_TIMEOUT))
  until probe "$@"; do
    if ! pid_alive "$pidfile"; then
      die "$name exited during start-up; last log line: $(tail -n 1 "$logfile" 2>/dev/null || echo '(no log)') (see $logfile)"
    fi
    if ((SECONDS >= deadline)); then
      die "$name did not become ready within ${READY_TIMEOUT}s (see $logfile)"
    fi
    sleep 0.5
  done
}

resolve_kafka() {
  # The marker carries the pom's hash, so a changed pom (another Kafka version) resolves again.
  local marker="$LIB_DIR/.resolved-$(sha1sum "$ROOT/stack/pom.xml" | cut -c1-12)"
  if [[ -f "$marker" ]]; then return; fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found on PATH: Maven is needed once to resolve the Kafka broker from Maven Central"
  info "resolving org.apache.kafka:kafka_2.13 from Maven Central into stack/.cache (first run only)"
  rm -rf "$LIB_DIR"
  mkdir -p "$LIB_DIR" "$LOG_DIR"
  if ! mvn -q -B -f "$ROOT/stack/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIB_DIR" -DincludeScope=runtime >"$LOG_DIR/maven.log" 2>&1; then
    die "Maven could not resolve the Kafka broker (see $LOG_DIR/maven.log)"
  fi
  touch "$marker"
}

kafka_up() {
  if pid_alive "$KAFKA_PID"; then
    probe kafka "127.0.0.1:$KAFKA_PORT" || wait_ready kafka "$KAFKA_PID" "$LOG_DIR/kafka.log" kafka "127.0.0.1:$KAFKA_PORT"
    info "kafka already running (pid $(cat "$KAFKA_PID")) on 127.0.0.1:$KAFKA_PORT"
    return
  fi
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT is already taken by another process; stop it or set KAFKA_PORT"
  port_open "$CONTROLLER_PORT" && die "port $CONTROLLER_PORT (KRaft controller) is already taken; stop it or set KAFKA_CONTROLLER_PORT"
  command -v java >/dev/null 2>&1 || die "java not found on PATH: Kafka 4.x needs Java 17 or newer"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}' | cut -d. -f1)
  ((major >= 17)) || die "java $major found; Kafka 4.x needs Java 17 or newer"
  resolve_kafka

  local data="$STACK_DIR/kafka-data" conf="$STACK_DIR/server.properties"
  mkdir -p "$data" "$LOG_DIR"
  sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" -e "s#@DATA_DIR@#$data#g" \
    "$ROOT/stack/server.properties.template" >"$conf"
  local jvm=(java -Xms256m -Xmx1g -XX:+UseG1GC -cp "$LIB_DIR/*"
    "-Dlog4j2.configurationFile=$ROOT/stack/log4j2.properties" "-Driskloop.logDir=$LOG_DIR")
  if [[ ! -f "$data/meta.properties" ]]; then
    local cluster_id
    cluster_id=$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka-format.log") \
      || die "kafka storage tool failed to make a cluster id (see $LOG_DIR/kafka-format.log)"
    "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" >>"$LOG_DIR/kafka-format.log" 2>&1 \
      || die "formatting kafka storage failed (see $LOG_DIR/kafka-format.log)"
    info "formatted KRaft storage in $data (cluster $cluster_id)"
  fi
  nohup "${jvm[@]}" kafka.Kafka "$conf" >"$LOG_DIR/kafka.out" 2>&1 </dev/null &
  echo $! >"$KAFKA_PID"
  wait_ready kafka "$KAFKA_PID" "$LOG_DIR/kafka.out" kafka "127.0.0.1:$KAFKA_PORT"
  info "kafka ready on 127.0.0.1:$KAFKA_PORT (pid $(cat "$KAFKA_PID"), logs in $LOG_DIR)"
}

registry_up() {
  if pid_alive "$REGISTRY_PID"; then
    info "schema registry already running (pid $(cat "$REGISTRY_PID")) on http://127.0.0.1:$REGISTRY_PORT"
    return
  fi
  port_open "$REGISTRY_PORT" && die "port $REGISTRY_PORT is already taken by another process; stop it or set REGISTRY_PORT"
  [[ -d "$ROOT/node_modules" ]] || die "node_modules missing: run npm ci first"
  # A plain background command (no && list), so $! is the node process itself, not a wrapper shell.
  cd "$ROOT"
  KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT" REGISTRY_PORT="$REGISTRY_PORT" REGISTRY_HOST=127.0.0.1 \
    nohup "${NODE_TSX[@]}" registry/main.ts >"$LOG_DIR/registry.log" 2>&1 </dev/null &
  echo $! >"$REGISTRY_PID"
  wait_ready "schema registry" "$REGISTRY_PID" "$LOG_DIR/registry.log" registry "http://127.0.0.1:$REGISTRY_PORT"
  info "schema registry ready on http://127.0.0.1:$REGISTRY_PORT (pid $(cat "$REGISTRY_PID"))"
}

stop_pid() { # name pidfile
  local name=$1 pidfile=$2
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; info "$name not running"; return; fi
  local pid; pid=$(cat "$pidfile")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; info "$name did not stop in 30s; killed"; fi
  rm -f "$pidfile"
  info "$name stopped"
}

status() {
  local rc=0
  if pid_alive "$KAFKA_PID" && probe kafka "127.0.0.1:$KAFKA_PORT"; then
    info "kafka: running (pid $(cat "$KAFKA_PID")) on 127.0.0.1:$KAFKA_PORT"
  elif pid_alive "$KAFKA_PID"; then info "kafka: process up (pid $(cat "$KAFKA_PID")) but not answering metadata requests"; rc=1
  else info "kafka: stopped"; rc=1; fi
  if pid_alive "$REGISTRY_PID" && probe registry "http://127.0.0.1:$REGISTRY_PORT"; then
    info "schema registry: running (pid $(cat "$REGISTRY_PID")) on http://127.0.0.1:$REGISTRY_PORT"
  elif pid_alive "$REGISTRY_PID"; then info "schema registry: process up but not answering"; rc=1
  else info "schema registry: stopped"; rc=1; fi
  return $rc
}

# Opt-in services after the verb (`stack.sh up postgres`) or RISKLOOP_POSTGRES=1: the audit trail's
# PostgreSQL (stack/postgres.sh). Without them the stack is exactly Kafka and the registry.
with_postgres() { [[ -n "${RISKLOOP_POSTGRES:-}" || " ${*:2} " == *" postgres "* ]]; }

mkdir -p "$STACK_DIR" "$LOG_DIR"
case "${1:-}" in
  up)
    if docker_engine && [[ -z "${RISKLOOP_NO_DOCKER:-}" ]]; then
      info "docker engine found: using docker-compose.yml"
      exec docker compose -f "$ROOT/docker-compose.yml" up -d --wait
    fi
    kafka_up
    registry_up
    if with_postgres "$@"; then bash "$ROOT/stack/postgres.sh" up; fi
    ;;
  down)
    if docker_engine && [[ -z "${RISKLOOP_NO_DOCKER:-}" ]]; then exec docker compose -f "$ROOT/docker-compose.yml" down; fi
    if with_postgres "$@"; then bash "$ROOT/stack/postgres.sh" down; fi
    stop_pid "schema registry" "$REGISTRY_PID"
    stop_pid kafka "$KAFKA_PID"
    ;;
  status)
    if docker_engine && [[ -z "${RISKLOOP_NO_DOCKER:-}" ]]; then exec docker compose -f "$ROOT/docker-compose.yml" ps; fi
    status
    if with_postgres "$@"; then bash "$ROOT/stack/postgres.sh" status; fi
    ;;
  reset)
    "$0" down
    rm -rf "$STACK_DIR/kafka-data"
    info "kafka data removed; the next 'up' formats fresh storage"
    ;;
  # Fault drills (test/integration/faults*.test.ts, bench/recovery.ts): one service down or up
  # while the rest of the stack stays as it is. kafka-stop is a clean broker shutdown (SIGTERM).
  kafka-stop | registry-stop | kafka-start | registry-start)
    service=${1%-*} action=${1#*-}
    if docker_engine && [[ -z "${RISKLOOP_NO_DOCKER:-}" ]]; then
      [[ $service == registry ]] && service=schema-registry
      if [[ $action == stop ]]; then exec docker compose -f "$ROOT/docker-compose.yml" stop "$service"; fi
      exec docker compose -f "$ROOT/docker-compose.yml" up -d --wait "$service"
    fi
    case "$1" in
      kafka-stop) stop_pid kafka "$KAFKA_PID" ;;
      registry-stop) stop_pid "schema registry" "$REGISTRY_PID" ;;
      kafka-start) kafka_up ;;
      registry-start) registry_up ;;
    esac
    ;;
  *) die "usage: stack.sh up|down|status|reset [postgres] | kafka-stop|kafka-start|registry-stop|registry-start" ;;
esac
