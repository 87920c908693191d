#!/usr/bin/env bash
# Jaeger v2 (built by infra/install.sh): OTLP receiver + query API, in memory.
#   infra/jaeger.sh up|down|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"

case "${1:-}" in
  up)
    step "Jaeger: OTLP http 127.0.0.1:$JAEGER_OTLP_HTTP_PORT, query API 127.0.0.1:$JAEGER_QUERY_PORT"
    [ -x "$JAEGER_BIN" ] || die "Jaeger missing: run infra/install.sh jaeger"
    if ! pid_alive jaeger; then
      export JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT JAEGER_HEALTH_PORT JAEGER_OTLP_GRPC_PORT JAEGER_OTLP_HTTP_PORT
      start_bg jaeger "$JAEGER_BIN" --config "file:$ROOT/infra/jaeger/config.yaml"
    fi
    wait_for jaeger 60 curl -fsS "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services" \
      || die "Jaeger did not come up (see $LOGS/jaeger.log)"
    ok "jaeger up (pid $(cat "$RUN/jaeger.pid"))"
    ;;
  down) step "stopping Jaeger"; stop_pid jaeger ;;
  status)
    if pid_alive jaeger && curl -fsS "http://127.0.0.1:$JAEGER_QUERY_PORT/api/services" >/dev/null 2>&1; then
      echo "jaeger   up    otlp-http 127.0.0.1:$JAEGER_OTLP_HTTP_PORT  query http://127.0.0.1:$JAEGER_QUERY_PORT  pid $(cat "$RUN/jaeger.pid")"
    else
      echo "jaeger   DOWN  otlp-http 127.0.0.1:$JAEGER_OTLP_HTTP_PORT  query http://127.0.0.1:$JAEGER_QUERY_PORT"
    fi
    ;;
  *) die "usage: infra/jaeger.sh up|down|status" ;;
esac
