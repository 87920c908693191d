#!/usr/bin/env bash
# Prometheus (Debian package): scrapes every process of the suite and
# evaluates the alert rules (infra/prometheus/). Data in .data/prometheus/.
#   infra/prometheus.sh up|down|status|check
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PROMETHEUS_PORT="${PROMETHEUS_PORT:-59090}"
PROM_DIR="$DATA/prometheus"
PROM_SRC="$ROOT/infra/prometheus"

# The checked-in config names the default ports; a port changed through the
# environment is substituted here, and the rules are referred to by path.
render_config() {
  mkdir -p "$PROM_DIR/data"
  local sed_args=() pair def var port
  for pair in 7070:RELAY_HTTP_PORT 7101:ORDER_HTTP_PORT 7102:INVENTORY_HTTP_PORT \
    7103:COUPON_HTTP_PORT 7104:POINT_HTTP_PORT 7105:DEADLETTER_HTTP_PORT \
    7106:CONSOLE_HTTP_PORT 59090:PROMETHEUS_PORT; do
    def=${pair%%:*} var=${pair#*:}
    port=${!var:-$def}
    sed_args+=(-e "s#\"127.0.0.1:$def\"#\"127.0.0.1:$port\"#")
  done
  sed "${sed_args[@]}" -e "s#^  - alerts.yml\$#  - $PROM_SRC/alerts.yml#" \
    "$PROM_SRC/prometheus.yml" >"$PROM_DIR/prometheus.yml"
}

ready() { curl -fsS "http://127.0.0.1:$PROMETHEUS_PORT/-/ready" >/dev/null 2>&1; }

case "${1:-}" in
  up)
    step "Prometheus on http://127.0.0.1:$PROMETHEUS_PORT (scrapes the suite, alert rules)"
    command -v prometheus >/dev/null || apt_install prometheus
    render_config
    promtool check config "$PROM_DIR/prometheus.yml" >/dev/null ||
      die "invalid Prometheus config: promtool check config $PROM_DIR/prometheus.yml"
    if pid_alive prometheus; then
      # Already running: pick up a changed config or rules.
      curl -fsS -X POST "http://127.0.0.1:$PROMETHEUS_PORT/-/reload" >/dev/null || true
    else
      start_bg prometheus prometheus \
        --config.file="$PROM_DIR/prometheus.yml" \
        --storage.tsdb.path="$PROM_DIR/data" \
        --storage.tsdb.retention.time=7d \
        --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
        --web.enable-lifecycle
    fi
    deadline=$((SECONDS + 60))
    until ready; do
      # An exit (e.g. the port taken) is reported at once, not after the timeout.
      pid_alive prometheus || die "Prometheus exited: $(tail -n 1 "$LOGS/prometheus.log")"
      [ $SECONDS -lt $deadline ] || die "Prometheus did not come up (see $LOGS/prometheus.log)"
      sleep 0.5
    done
    ok "prometheus up (pid $(cat "$RUN/prometheus.pid"))"
    ;;
  down) step "stopping Prometheus"; stop_pid prometheus ;;
  status)
    if pid_alive prometheus && ready; then
      echo "prometheus up    http://127.0.0.1:$PROMETHEUS_PORT  pid $(cat "$RUN/prometheus.pid")"
    else
      echo "prometheus DOWN  http://127.0.0.1:$PROMETHEUS_PORT"
    fi
    ;;
  check)
    render_config
    promtool check config "$PROM_DIR/prometheus.yml"
    promtool test rules "$PROM_SRC/alerts_test.yml"
    ;;
  *) die "usage: infra/prometheus.sh up|down|status|check" ;;
esac
