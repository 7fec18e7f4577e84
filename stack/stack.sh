#!/usr/bin/env bash
# riskloop's local stack without Docker: a real Apache Kafka broker (KRaft, single node)
# resolved from Maven Central, and riskloop's Confluent-compatible schema registry.
#   stack.sh up | down | status | reset
#   stack.sh kafka-stop | kafka-start | registry-stop | registry-start   (one service, for fault drills)
# Secured mode: RISKLOOP_KAFKA_SECURITY=sasl_ssl stack.sh up — the broker's only client listener is
# SASL_SSL (SCRAM-SHA-512/256, certificates made with the JDK's keytool into $STACK_DIR/tls), and
# $STACK_DIR/kafka-client.env holds the client settings (`source` it). The mode is remembered in
# $STACK_DIR/kafka-security until `reset`; plaintext loopback stays the default.
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
SECURITY_FILE="$STACK_DIR/kafka-security"
TLS_DIR="$STACK_DIR/tls"
SECRETS_DIR="$STACK_DIR/secrets"
CLIENT_ENV="$STACK_DIR/kafka-client.env"

die() { echo "stack: $*" >&2; exit 1; }
info() { echo "stack: $*"; }

docker_engine() { command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1; }

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# In secured mode the probe reads the same client settings as every riskloop process (bin/kafkaConnection.ts).
probe() {
  if [[ $(security_mode) == sasl_ssl ]]; then
    (cd "$ROOT" && set -a && . "$CLIENT_ENV" && set +a && timeout 20 "${NODE_TSX[@]}" stack/probe.mjs "$@" >/dev/null 2>&1)
  else
    (cd "$ROOT" && timeout 20 node stack/probe.mjs "$@" >/dev/null 2>&1)
  fi
}

# plaintext | sasl_ssl: what this stack folder was started as, else what RISKLOOP_KAFKA_SECURITY asks.
security_mode() {
  if [[ -f "$SECURITY_FILE" ]]; then cat "$SECURITY_FILE"; else echo "${RISKLOOP_KAFKA_SECURITY:-plaintext}" | tr '[:upper:]' '[:lower:]'; fi
}

mode_words() {
  if [[ $(security_mode) == sasl_ssl ]]; then echo "secured: SASL_SSL only, SCRAM-SHA-512/256 (client settings in $CLIENT_ENV)"; else echo "plaintext"; fi
}

choose_security() {
  local asked="${RISKLOOP_KAFKA_SECURITY:-}"
  asked=$(echo "$asked" | tr '[:upper:]' '[:lower:]')
  [[ -z $asked || $asked == plaintext || $asked == sasl_ssl ]] || die "RISKLOOP_KAFKA_SECURITY must be plaintext or sasl_ssl"
  if [[ -f "$SECURITY_FILE" ]]; then
    local was; was=$(cat "$SECURITY_FILE")
    [[ -z $asked || $asked == "$was" ]] || die "this stack ($STACK_DIR) runs $was; RISKLOOP_KAFKA_SECURITY=$asked needs 'stack.sh reset' first"
  elif [[ -f "$STACK_DIR/kafka-data/meta.properties" && $asked == sasl_ssl ]]; then
    die "this stack's Kafka storage was formatted without SCRAM users; run 'stack.sh reset' before starting it secured"
  else
    echo "${asked:-plaintext}" >"$SECURITY_FILE"
  fi
}

random_secret() { head -c 32 /dev/urandom | base64 | tr -d '/+=\n' | cut -c1-32; }

# Secrets of the secured stack, made once per stack folder (mode 600): the keystore password, the
# broker's own SCRAM user (admin, the super user it talks to itself as) and the clients' (riskloop).
make_secrets() {
  mkdir -p "$SECRETS_DIR"
  chmod 700 "$SECRETS_DIR"
  local name
  for name in store admin riskloop; do
    [[ -s "$SECRETS_DIR/$name.password" ]] || (umask 077 && random_secret >"$SECRETS_DIR/$name.password")
  done
}

# A CA and a broker certificate for 127.0.0.1/localhost, with the JDK's keytool (passwords via the
# environment, never argv): ca.pem for clients, broker.p12 (key + chain) and truststore.p12 for Kafka.
make_certs() {
  [[ -s "$TLS_DIR/ca.pem" && -s "$TLS_DIR/broker.p12" && -s "$TLS_DIR/truststore.p12" ]] && return
  command -v keytool >/dev/null 2>&1 || die "keytool not found on PATH: it comes with the JDK (stack/setup.sh installs one)"
  rm -rf "$TLS_DIR"
  mkdir -p "$TLS_DIR"
  local log="$LOG_DIR/tls.log" san="SAN=dns:localhost,ip:127.0.0.1"
  (
    set -e
    cd "$TLS_DIR"
    export STOREPASS; STOREPASS=$(cat "$SECRETS_DIR/store.password")
    kt() { keytool "$@" -storepass:env STOREPASS >>"$log" 2>&1; }
    kt -genkeypair -alias ca -keyalg RSA -keysize 2048 -validity 825 -dname "CN=riskloop local stack CA" \
      -ext bc:c -ext ku:c=keyCertSign,cRLSign -keystore ca.p12 -storetype PKCS12
    kt -exportcert -rfc -alias ca -keystore ca.p12 -file ca.pem
    kt -genkeypair -alias broker -keyalg RSA -keysize 2048 -validity 825 -dname "CN=localhost" -ext "$san" \
      -keystore broker.p12 -storetype PKCS12
    kt -certreq -alias broker -keystore broker.p12 -file broker.csr
    kt -gencert -alias ca -keystore ca.p12 -infile broker.csr -outfile broker.pem -rfc -validity 825 \
      -ext "$san" -ext ku:c=digitalSignature,keyEncipherment -ext eku=serverAuth,clientAuth
    kt -importcert -alias ca -file ca.pem -keystore broker.p12 -noprompt
    kt -importcert -alias broker -file broker.pem -keystore broker.p12
    kt -importcert -alias ca -file ca.pem -keystore truststore.p12 -storetype PKCS12 -noprompt
    rm -f broker.csr
    chmod 600 ca.p12 broker.p12
  ) || die "making the stack's certificates with keytool failed (see $log)"
  info "made a CA and a broker certificate for 127.0.0.1 in $TLS_DIR"
}

# The broker settings of secured mode, appended to the plaintext ones (later keys win in a
# properties file): one SASL_SSL client listener, the controller on PLAINTEXT loopback.
secured_properties() {
  local store admin jaas
  store=$(cat "$SECRETS_DIR/store.password")
  admin=$(cat "$SECRETS_DIR/admin.password")
  jaas="org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$admin\";"
  cat <<PROPS
# --- secured mode (RISKLOOP_KAFKA_SECURITY=sasl_ssl): SASL_SSL is the only client listener
listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_PORT
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$jaas
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$jaas
super.users=User:admin
ssl.keystore.type=PKCS12
ssl.keystore.location=$TLS_DIR/broker.p12
ssl.keystore.password=$store
ssl.key.password=$store
ssl.truststore.type=PKCS12
ssl.truststore.location=$TLS_DIR/truststore.p12
ssl.truststore.password=$store
ssl.client.auth=none
ssl.endpoint.identification.algorithm=https
PROPS
}

# What clients source: the same variable names every riskloop process reads (bin/kafkaConnection.ts).
write_client_env() {
  cat >"$CLIENT_ENV" <<ENV
# Kafka client settings of the secured local stack ($STACK_DIR); source it. No secret in here:
# the password stays in its file.
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
export KAFKA_SECURITY_PROTOCOL=SASL_SSL
export KAFKA_SSL_CA_FILE=$TLS_DIR/ca.pem
export KAFKA_SASL_MECHANISM=SCRAM-SHA-512
export KAFKA_SASL_USERNAME=riskloop
export KAFKA_SASL_PASSWORD_FILE=$SECRETS_DIR/riskloop.password
ENV
}

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
  local mode scram=()
  mode=$(security_mode)
  # 600: in secured mode the file holds the keystore and the broker's own SCRAM password.
  (umask 077 && sed -e "s#@KAFKA_PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" -e "s#@DATA_DIR@#$data#g" \
    "$ROOT/stack/server.properties.template" >"$conf")
  if [[ $mode == sasl_ssl ]]; then
    make_secrets
    make_certs
    secured_properties >>"$conf"
    write_client_env
    # SCRAM users go into the metadata log when storage is formatted (KIP-900), so the broker can
    # authenticate its own inter-broker connections from the first start. The credentials are on
    # this one command line for the seconds the format takes (Kafka's tool has no other input).
    local user mech
    for user in admin riskloop; do
      for mech in SCRAM-SHA-512 SCRAM-SHA-256; do scram+=(--add-scram "$mech=[name=$user,password=$(cat "$SECRETS_DIR/$user.password")]"); done
    done
  fi
  local jvm=(java -Xms256m -Xmx1g -XX:+UseG1GC -cp "$LIB_DIR/*"
    "-Dlog4j2.configurationFile=$ROOT/stack/log4j2.properties" "-Driskloop.logDir=$LOG_DIR")
  if [[ ! -f "$data/meta.properties" ]]; then
    local cluster_id
    cluster_id=$("${jvm[@]}" kafka.tools.StorageTool random-uuid 2>>"$LOG_DIR/kafka-format.log") \
      || die "kafka storage tool failed to make a cluster id (see $LOG_DIR/kafka-format.log)"
    "${jvm[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" "${scram[@]}" >>"$LOG_DIR/kafka-format.log" 2>&1 \
      || die "formatting kafka storage failed (see $LOG_DIR/kafka-format.log)"
    info "formatted KRaft storage in $data (cluster $cluster_id${scram:+, SCRAM users admin and riskloop})"
  fi
  nohup "${jvm[@]}" kafka.Kafka "$conf" >"$LOG_DIR/kafka.out" 2>&1 </dev/null &
  echo $! >"$KAFKA_PID"
  wait_ready kafka "$KAFKA_PID" "$LOG_DIR/kafka.out" kafka "127.0.0.1:$KAFKA_PORT"
  info "kafka ready on 127.0.0.1:$KAFKA_PORT ($(mode_words), pid $(cat "$KAFKA_PID"), logs in $LOG_DIR)"
  [[ $mode == sasl_ssl ]] && info "client settings: source $CLIENT_ENV"
  return 0
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
  # Secured mode: the registry is a Kafka client like any other, with the same settings.
  if [[ $(security_mode) == sasl_ssl ]]; then set -a; . "$CLIENT_ENV"; set +a; fi
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
    info "kafka: running (pid $(cat "$KAFKA_PID")) on 127.0.0.1:$KAFKA_PORT, $(mode_words)"
  elif pid_alive "$KAFKA_PID"; then info "kafka: process up (pid $(cat "$KAFKA_PID")) but not answering metadata requests"; rc=1
  else info "kafka: stopped ($(mode_words))"; rc=1; fi
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
# The secured mode is this script's own broker (certificates, SCRAM users); docker-compose.yml stays plaintext.
if [[ $(security_mode) == sasl_ssl ]]; then RISKLOOP_NO_DOCKER=1; fi
case "${1:-}" in
  up)
    if docker_engine && [[ -z "${RISKLOOP_NO_DOCKER:-}" ]]; then
      info "docker engine found: using docker-compose.yml"
      exec docker compose -f "$ROOT/docker-compose.yml" up -d --wait
    fi
    choose_security
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
    # bash, not "$0": the script need not be executable (npm scripts and tests run it with bash).
    bash "$0" down
    # The mode and its client settings go with the data (SCRAM users live in the metadata log);
    # certificates and secrets stay for the next secured start.
    rm -rf "$STACK_DIR/kafka-data" "$SECURITY_FILE" "$CLIENT_ENV"
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
      kafka-start) choose_security; kafka_up ;;
      registry-start) registry_up ;;
    esac
    ;;
  *) die "usage: stack.sh up|down|status|reset [postgres] | kafka-stop|kafka-start|registry-stop|registry-start" ;;
esac
