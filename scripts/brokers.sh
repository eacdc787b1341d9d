#!/usr/bin/env bash
# Local Apache Kafka (KRaft, single node) and ElasticMQ (SQS-compatible) on 127.0.0.1, without Docker.
#
#   scripts/brokers.sh start     download (first time), start both, wait until ready, print addresses
#   scripts/brokers.sh stop      stop both by their recorded PIDs
#   scripts/brokers.sh status    show what runs and where
#   scripts/brokers.sh env       print export lines for KAFKA_BROKERS and SQS_ENDPOINT
#   scripts/brokers.sh kafka-stop    stop Kafka only, keeping its data (a broker outage)
#   scripts/brokers.sh kafka-resume  start Kafka again on the data it had, wait until ready
#
# Jars come from Maven Central through the POM files in scripts/brokers/ and are cached under
# $REFUND_RELAY_CACHE (default ~/.cache/refund-relay). Logs, PIDs and data live in
# $BROKERS_RUN_DIR (default .brokers/ in the repository). Every start begins with empty data.
#
# Settings (environment): KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093), SQS_PORT (9324),
# BROKERS_START_TIMEOUT seconds (90), KAFKA_HEAP (-Xms256m -Xmx768m), SQS_HEAP (-Xms64m -Xmx256m).
# Needs java (17 or newer) and mvn on PATH.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="${REFUND_RELAY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/refund-relay}"
run_dir="${BROKERS_RUN_DIR:-$repo/.brokers}"
kafka_port="${KAFKA_PORT:-9092}"
controller_port="${KAFKA_CONTROLLER_PORT:-9093}"
sqs_port="${SQS_PORT:-9324}"
timeout_s="${BROKERS_START_TIMEOUT:-90}"
kafka_heap="${KAFKA_HEAP:--Xms256m -Xmx768m}"
sqs_heap="${SQS_HEAP:--Xms64m -Xmx256m}"

pom_property() { # pom-file property-name
  sed -n "s:.*<$2>\(.*\)</$2>.*:\1:p" "$1" | head -n 1
}
kafka_version="$(pom_property "$here/brokers/kafka-pom.xml" kafka.version)"
elasticmq_version="$(pom_property "$here/brokers/elasticmq-pom.xml" elasticmq.version)"
kafka_jars="$cache/jars/kafka-$kafka_version"
elasticmq_jars="$cache/jars/elasticmq-$elasticmq_version"

log() { echo "brokers: $*" >&2; }

need_tools() {
  local missing=()
  command -v java >/dev/null 2>&1 || missing+=(java)
  command -v mvn >/dev/null 2>&1 || missing+=(mvn)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "missing ${missing[*]}: install Java 17+ and Maven, or use Docker (docker compose up -d)"
    exit 1
  fi
}

# Resolves one POM's runtime dependencies into a cache folder; the marker file makes it atomic.
fetch_jars() { # pom-file target-dir
  local pom="$1" target="$2"
  [ -f "$target/.complete" ] && return 0
  log "downloading $(basename "$pom" -pom.xml) jars from Maven Central into $target"
  rm -rf "$target.tmp"
  mvn -q -B -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$target.tmp" >&2
  rm -rf "$target"
  mv "$target.tmp" "$target"
  touch "$target/.complete"
}

pid_alive() { # pid-file
  [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

port_open() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

fail_start() { # name log-file reason
  log "$1 $3; last lines of $2:"
  tail -n 40 "$2" >&2 || true
  stop_all
  exit 1
}

write_kafka_config() {
  mkdir -p "$run_dir/kafka-data"
  cat >"$run_dir/kafka.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$kafka_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$kafka_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run_dir/kafka-data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

start_kafka() { # [keep-data]
  if pid_alive "$run_dir/kafka.pid"; then log "kafka already running (pid $(cat "$run_dir/kafka.pid"))"; return 0; fi
  if port_open "$kafka_port"; then log "port $kafka_port is taken by another process"; exit 1; fi
  local cp="$kafka_jars/*"
  local jvm=(java -cp "$cp" "-Dlog4j2.configurationFile=$here/brokers/log4j2.xml")
  if [ "${1:-}" = keep-data ]; then
    [ -f "$run_dir/kafka.properties" ] && [ -d "$run_dir/kafka-data" ] ||
      { log "no Kafka data in $run_dir to resume from: use start"; exit 1; }
  else
    rm -rf "$run_dir/kafka-data"
    write_kafka_config
    "${jvm[@]}" kafka.tools.StorageTool format --ignore-formatted \
      -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)" \
      -c "$run_dir/kafka.properties" >"$run_dir/kafka-format.log" 2>&1 ||
      { log "kafka storage format failed:"; cat "$run_dir/kafka-format.log" >&2; exit 1; }
  fi
  # shellcheck disable=SC2086
  nohup "${jvm[@]}" $kafka_heap -XX:+UseG1GC -Djava.awt.headless=true \
    kafka.Kafka "$run_dir/kafka.properties" >"$run_dir/kafka.log" 2>&1 &
  echo $! >"$run_dir/kafka.pid"
}

wait_kafka() {
  local deadline=$((SECONDS + timeout_s))
  until grep -q "Kafka Server started" "$run_dir/kafka.log" 2>/dev/null && port_open "$kafka_port"; do
    pid_alive "$run_dir/kafka.pid" || fail_start kafka "$run_dir/kafka.log" "exited during start-up"
    [ "$SECONDS" -lt "$deadline" ] || fail_start kafka "$run_dir/kafka.log" "did not become ready within ${timeout_s}s"
    sleep 0.3
  done
}

start_elasticmq() {
  if pid_alive "$run_dir/elasticmq.pid"; then log "elasticmq already running (pid $(cat "$run_dir/elasticmq.pid"))"; return 0; fi
  if port_open "$sqs_port"; then log "port $sqs_port is taken by another process"; exit 1; fi
  cat >"$run_dir/elasticmq.conf" <<EOF
include classpath("application.conf")
node-address {
  protocol = http
  host = 127.0.0.1
  port = $sqs_port
  context-path = ""
}
rest-sqs {
  enabled = true
  bind-port = $sqs_port
  bind-hostname = "127.0.0.1"
  sqs-limits = strict
}
rest-stats {
  enabled = false
}
generate-node-address = false
aws {
  region = us-east-1
  accountId = 000000000000
}
EOF
  # shellcheck disable=SC2086
  nohup java $sqs_heap -Dconfig.file="$run_dir/elasticmq.conf" -cp "$elasticmq_jars/*" \
    org.elasticmq.server.Main >"$run_dir/elasticmq.log" 2>&1 &
  echo $! >"$run_dir/elasticmq.pid"
}

wait_elasticmq() {
  local deadline=$((SECONDS + timeout_s))
  until curl -fsS -o /dev/null "http://127.0.0.1:$sqs_port/?Action=ListQueues" 2>/dev/null; do
    pid_alive "$run_dir/elasticmq.pid" || fail_start elasticmq "$run_dir/elasticmq.log" "exited during start-up"
    [ "$SECONDS" -lt "$deadline" ] || fail_start elasticmq "$run_dir/elasticmq.log" "did not become ready within ${timeout_s}s"
    sleep 0.3
  done
}

stop_one() { # name
  local pid_file="$run_dir/$1.pid"
  [ -f "$pid_file" ] || return 0
  local pid
  pid="$(cat "$pid_file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "$1 (pid $pid) ignored SIGTERM; killing"; kill -9 "$pid" 2>/dev/null || true; fi
    log "stopped $1 (pid $pid)"
  fi
  rm -f "$pid_file"
}

stop_all() {
  stop_one kafka
  stop_one elasticmq
}

print_env() {
  echo "export KAFKA_BROKERS=127.0.0.1:$kafka_port"
  echo "export SQS_ENDPOINT=http://127.0.0.1:$sqs_port"
}

status() {
  local rc=0
  if pid_alive "$run_dir/kafka.pid"; then echo "kafka $kafka_version: running, pid $(cat "$run_dir/kafka.pid"), 127.0.0.1:$kafka_port"; else echo "kafka: stopped"; rc=3; fi
  if pid_alive "$run_dir/elasticmq.pid"; then echo "elasticmq $elasticmq_version: running, pid $(cat "$run_dir/elasticmq.pid"), http://127.0.0.1:$sqs_port"; else echo "elasticmq: stopped"; rc=3; fi
  return "$rc"
}

case "${1:-}" in
  start)
    need_tools
    mkdir -p "$run_dir"
    started=$SECONDS
    fetch_jars "$here/brokers/kafka-pom.xml" "$kafka_jars" &
    fetch_kafka=$!
    fetch_jars "$here/brokers/elasticmq-pom.xml" "$elasticmq_jars"
    wait "$fetch_kafka"
    start_kafka
    start_elasticmq
    wait_kafka
    wait_elasticmq
    log "ready in $((SECONDS - started))s (kafka $kafka_version, elasticmq $elasticmq_version; logs in $run_dir)"
    print_env
    ;;
  stop) stop_all ;;
  kafka-stop) stop_one kafka ;;
  kafka-resume)
    need_tools
    started=$SECONDS
    start_kafka keep-data
    wait_kafka
    log "kafka resumed on its data in $((SECONDS - started))s"
    ;;
  status) status ;;
  env) print_env ;;
  *)
    echo "usage: $0 start|stop|status|env|kafka-stop|kafka-resume" >&2
    exit 2
    ;;
esac
