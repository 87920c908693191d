# Shared settings and helpers for the infra scripts. Sourced, never run.
# Every port and path can be overridden from the environment; the defaults
# sit away from the usual ports so a system Postgres/Redis/Kafka can coexist.

ROOT="${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
TOOLS="${TOOLS_DIR:-$ROOT/.tools}"
DATA="${DATA_DIR:-$ROOT/.data}"
LOGS="$DATA/logs"
RUN="$DATA/run"

# Pinned versions (README lists them).
DENO_VERSION="${DENO_VERSION:-2.9.6}"
KAFKA_VERSION="${KAFKA_VERSION:-3.9.2}"
# Jaeger's v2 binary (cmd/jaeger) is tagged v1.x on the Go module proxy:
# v1.76.0 is Jaeger v2.13.
JAEGER_MODULE_VERSION="${JAEGER_MODULE_VERSION:-v1.76.0}"

PG_PORT="${PG_PORT:-55432}"
PG_SUPERUSER="${PG_SUPERUSER:-postgres}"
PG_DATABASE="${PG_DATABASE:-shop}"
REDIS_PORT="${REDIS_PORT:-56379}"
KAFKA_BROKERS_N=3
KAFKA_PORT_BASE="${KAFKA_PORT_BASE:-59091}"            # broker i: base+i-1 (59091..59093)
KAFKA_CONTROLLER_PORT_BASE="${KAFKA_CONTROLLER_PORT_BASE:-59191}"
JAEGER_OTLP_GRPC_PORT="${JAEGER_OTLP_GRPC_PORT:-54317}"
JAEGER_OTLP_HTTP_PORT="${JAEGER_OTLP_HTTP_PORT:-54318}"
JAEGER_QUERY_PORT="${JAEGER_QUERY_PORT:-56686}"

kafka_port() { echo $((KAFKA_PORT_BASE + $1 - 1)); }
kafka_controller_port() { echo $((KAFKA_CONTROLLER_PORT_BASE + $1 - 1)); }
kafka_bootstrap() {
  local i out=""
  for i in $(seq 1 "$KAFKA_BROKERS_N"); do out="$out${out:+,}127.0.0.1:$(kafka_port "$i")"; done
  echo "$out"
}

mkdir -p "$LOGS" "$RUN" "$TOOLS"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
  _b=$'\e[1m'; _g=$'\e[32m'; _r=$'\e[31m'; _y=$'\e[33m'; _n=$'\e[0m'
else
  _b=""; _g=""; _r=""; _y=""; _n=""
fi
step() { echo "${_b}==> $*${_n}"; }
info() { echo "    $*"; }
ok() { echo "    ${_g}ok${_n} $*"; }
warn() { echo "    ${_y}warn${_n} $*" >&2; }
die() { echo "${_r}error:${_n} $*" >&2; exit 1; }

# port_open PORT: true when something listens on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.5 s.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && { warn "$what not ready after ${secs}s"; return 1; }
    sleep 0.5
  done
}

# pid_alive NAME: the process recorded in $RUN/NAME.pid is running.
pid_alive() {
  local f="$RUN/$1.pid"
  [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null
}

# close_inherited_fds: closes every file descriptor above stderr in this
# shell. A daemon started from here must not keep what its caller had open:
# a test runner's lock file or pipe held by a Kafka broker or Postgres that
# a test restarted outlives the test and blocks whoever waits on it.
close_inherited_fds() {
  local fd
  for fd in /proc/$BASHPID/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ] && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

# start_bg NAME COMMAND...: starts COMMAND detached, logs to $LOGS/NAME.log.
start_bg() {
  local name=$1; shift
  (close_inherited_fds; exec nohup setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null) &
  echo $! >"$RUN/$name.pid"
}

# stop_pid NAME [SIGNAL]: signals the recorded process, waits up to 30 s.
stop_pid() {
  local name=$1 sig=${2:-TERM} f="$RUN/$1.pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
}

# apt_install PKG...: installs the Debian packages that are missing.
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "apt-get install ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=""; fi
  if [ ! -f "$RUN/apt-updated" ]; then
    $SUDO apt-get update -q || die "apt-get update failed"
    touch "$RUN/apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
}

JAEGER_QUERY_GRPC_PORT="${JAEGER_QUERY_GRPC_PORT:-56685}"
JAEGER_HEALTH_PORT="${JAEGER_HEALTH_PORT:-53133}"
JAEGER_BIN="$TOOLS/jaeger-$JAEGER_MODULE_VERSION/jaeger"

# Secrets are made on first use, per machine, into a git-ignored file — never
# in the repo. Every process started by ./dev gets them from the environment.
SECRETS_FILE="$DATA/secrets.env"
ensure_secrets() {
  if [ ! -f "$SECRETS_FILE" ]; then
    umask 077
    {
      echo "# Made by infra/lib.sh on $(date -u +%FT%TZ). Local development secrets."
      for name in PG_SUPERUSER_PASSWORD REDIS_PASSWORD JWT_SECRET \
        ORDER_DB_PASSWORD INVENTORY_DB_PASSWORD COUPON_DB_PASSWORD POINT_DB_PASSWORD RELAY_DB_PASSWORD \
        DEADLETTER_DB_PASSWORD; do
        echo "$name=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
      done
    } >"$SECRETS_FILE"
    umask 022
  fi
  # Secrets added after the file was made (a new service's role) are appended.
  local name
  for name in DEADLETTER_DB_PASSWORD; do
    grep -q "^$name=" "$SECRETS_FILE" ||
      echo "$name=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$SECRETS_FILE"
  done
  set -a
  # shellcheck disable=SC1090
  source "$SECRETS_FILE"
  set +a
}
