#!/usr/bin/env bash
# A private Redis with the append-only file on, so data survives a restart.
#   infra/redis.sh up|down|status|restart|kill
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_secrets

REDIS_DIR="$DATA/redis"
cli() { REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }
redis_ready() { [ "$(cli ping 2>/dev/null)" = "PONG" ]; }

start_redis() {
  mkdir -p "$REDIS_DIR"
  if ! redis_ready; then
    # The password goes in through a config file, not argv (ps shows argv).
    umask 077
    cat >"$RUN/redis.conf" <<CONF
port $REDIS_PORT
bind 127.0.0.1
dir $REDIS_DIR
appendonly yes
appendfsync everysec
save ""
requirepass $REDIS_PASSWORD
maxclients 10000
CONF
    umask 022
    start_bg redis redis-server "$RUN/redis.conf"
  fi
  wait_for redis 30 redis_ready || die "redis did not come up (see $LOGS/redis.log)"
}

case "${1:-}" in
  up) step "Redis on 127.0.0.1:$REDIS_PORT (AOF on)"; start_redis; ok "redis up" ;;
  down) step "stopping Redis"; redis_ready && cli shutdown >/dev/null 2>&1 || true; stop_pid redis ;;
  restart) redis_ready && cli shutdown >/dev/null 2>&1 || true; stop_pid redis; start_redis ;;
  kill)
    pid_alive redis && kill -KILL "$(cat "$RUN/redis.pid")"
    while redis_ready; do sleep 0.1; done
    rm -f "$RUN/redis.pid"
    ;;
  status)
    if redis_ready; then
      echo "redis    up    127.0.0.1:$REDIS_PORT  aof=$(cli config get appendonly | tail -n 1)"
    else
      echo "redis    DOWN  127.0.0.1:$REDIS_PORT"
    fi
    ;;
  *) die "usage: infra/redis.sh up|down|status|restart|kill" ;;
esac
