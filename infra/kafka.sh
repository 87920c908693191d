#!/usr/bin/env bash
# The local 3-broker Kafka cluster (KRaft, no ZooKeeper) from Maven Central jars.
#   infra/kafka.sh up|down|status          the whole cluster
#   infra/kafka.sh start N | stop N | kill N   one broker (kill = SIGKILL, for chaos)
#   infra/kafka.sh elect                    move every partition's leadership back to
#                                           its preferred replica (after restarts)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

KAFKA_HOME="$TOOLS/kafka-$KAFKA_VERSION"
CLUSTER_ID_FILE="$DATA/kafka-cluster-id"

# 256–512 MB heap per broker is plenty for tests on 2 cores (NOTES.md). The
# serial collector: three brokers share 2 cores with everything else, and
# G1's concurrent refinement and parallel GC threads cost more CPU than the
# few-millisecond pauses of a young collection on a heap this small (issue #5).
JAVA_ARGS=(java -Xms256m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true
  "-Dlog4j.configuration=file:$ROOT/infra/kafka/log4j.properties" -cp "$KAFKA_HOME/libs/*")
java_cmd() { "${JAVA_ARGS[@]}" "$@"; }

voters() {
  local i out=""
  for i in $(seq 1 "$KAFKA_BROKERS_N"); do out="$out${out:+,}$i@127.0.0.1:$(kafka_controller_port "$i")"; done
  echo "$out"
}

render_config() {
  local i=$1 dir="$DATA/kafka-$1"
  mkdir -p "$dir/data"
  sed -e "s|@NODE_ID@|$i|" -e "s|@PORT@|$(kafka_port "$i")|" \
    -e "s|@CONTROLLER_PORT@|$(kafka_controller_port "$i")|" -e "s|@VOTERS@|$(voters)|" \
    -e "s|@LOG_DIR@|$dir/data|" "$ROOT/infra/kafka/server.properties.template" >"$dir/server.properties"
}

format_storage() {
  local i=$1 dir="$DATA/kafka-$1"
  [ -f "$dir/data/meta.properties" ] && return 0
  if [ ! -f "$CLUSTER_ID_FILE" ]; then
    java_cmd kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1 >"$CLUSTER_ID_FILE"
  fi
  info "formatting broker $i storage (cluster $(cat "$CLUSTER_ID_FILE"))"
  java_cmd kafka.tools.StorageTool format -t "$(cat "$CLUSTER_ID_FILE")" -c "$dir/server.properties" \
    >>"$LOGS/kafka-$i.log" 2>&1 || die "formatting broker $i failed (see $LOGS/kafka-$i.log)"
}

start_broker() {
  local i=$1
  [ -f "$KAFKA_HOME/.complete" ] || die "Kafka jars missing: run infra/install.sh kafka"
  if pid_alive "kafka-$i"; then return 0; fi
  render_config "$i"
  format_storage "$i"
  start_bg "kafka-$i" "${JAVA_ARGS[@]}" kafka.Kafka "$DATA/kafka-$i/server.properties"
  info "broker $i starting on 127.0.0.1:$(kafka_port "$i") (pid $(cat "$RUN/kafka-$i.pid"))"
}

wait_broker() {
  wait_for "kafka broker $1" 90 port_open "$(kafka_port "$1")"
}

case "${1:-}" in
  up)
    step "Kafka $KAFKA_VERSION: $KAFKA_BROKERS_N brokers (KRaft)"
    for i in $(seq 1 "$KAFKA_BROKERS_N"); do start_broker "$i"; done
    for i in $(seq 1 "$KAFKA_BROKERS_N"); do wait_broker "$i" || die "broker $i did not come up (see $LOGS/kafka-$i.log)"; done
    ok "brokers listening on $(kafka_bootstrap)"
    ;;
  down)
    step "stopping Kafka"
    for i in $(seq 1 "$KAFKA_BROKERS_N"); do stop_pid "kafka-$i"; done
    ;;
  start) start_broker "${2:?broker number}"; wait_broker "$2" ;;
  stop) stop_pid "kafka-${2:?broker number}" ;;
  kill)
    n=${2:?broker number}
    if pid_alive "kafka-$n"; then
      kill -KILL "$(cat "$RUN/kafka-$n.pid")"
      # Wait until the port is released, so a quick restart can bind it.
      while port_open "$(kafka_port "$n")"; do sleep 0.1; done
      rm -f "$RUN/kafka-$n.pid"
      echo "broker $n killed"
    else
      echo "broker $n was not running"
    fi
    ;;
  elect)
    # Stopping brokers one after another (down, chaos) leaves every leader on
    # the last one standing, and the controller's own rebalance
    # (auto.leader.rebalance.enable, every 300 s) was not seen to move them
    # back here. Benchmarks elect before measuring: leader placement changes
    # Kafka's CPU per transaction (README, the saga benchmark).
    java -cp "$KAFKA_HOME/libs/*" "-Dlog4j.configuration=file:$ROOT/infra/kafka/tools-log4j.properties" \
      org.apache.kafka.tools.LeaderElectionCommand --bootstrap-server "$(kafka_bootstrap)" \
      --election-type PREFERRED --all-topic-partitions >"$LOGS/kafka-elect.log" 2>&1 ||
      die "preferred leader election failed: $(grep -m 3 -i 'error\|exception' "$LOGS/kafka-elect.log")"
    # The tool lists the partitions it moved, or prints nothing when every
    # leader already is the preferred one.
    moved=$({ grep -o '[A-Za-z0-9._-]*-[0-9]\+' "$LOGS/kafka-elect.log" || true; } | sort -u | wc -l)
    echo "preferred leaders elected: $moved partition(s) moved"
    ;;
  status)
    for i in $(seq 1 "$KAFKA_BROKERS_N"); do
      if pid_alive "kafka-$i" && port_open "$(kafka_port "$i")"; then
        echo "kafka-$i  up    127.0.0.1:$(kafka_port "$i")  pid $(cat "$RUN/kafka-$i.pid")"
      else
        echo "kafka-$i  DOWN  127.0.0.1:$(kafka_port "$i")"
      fi
    done
    ;;
  *) die "usage: infra/kafka.sh up|down|status|elect|start N|stop N|kill N" ;;
esac
