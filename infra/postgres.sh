#!/usr/bin/env bash
# A private PostgreSQL 15 cluster in .data/pg (or outside the clone, see
# locate_cluster) with logical replication on.
#   infra/postgres.sh up|down|status|restart|kill
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_secrets

PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl)")}"

# Postgres refuses to run as root: as root, run it as the `postgres` user that
# Debian's package creates.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pg_owner() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }

# Where the cluster lives: normally .data/pg, its socket in .data/run/pg, its
# log in .data/logs. As root, Postgres runs as `postgres`, which cannot enter a
# clone under a 0700 folder (root's home, mktemp -d). Then the cluster, socket
# and log live outside, in $PG_OUTSIDE_DIR/<hash of the clone's .data path>,
# and .data/pg and .data/logs/postgres.log are symlinks to them: every command
# (up, down, status, restart, kill, ./dev logs) finds them by the same names.
# A cluster already in .data/pg stays there.
PG_OUTSIDE_DIR="${PG_OUTSIDE_DIR:-$(getent passwd postgres | cut -d: -f6 || true)/outbox-suite}"
pg_reaches() { runuser -u postgres -- test -x "$RUN" -a -x "$LOGS"; }
# locate_cluster COMMAND: sets PGDATA_DIR, PG_SOCKET_DIR, PG_RUN_DIR, PG_LOG;
# only `up` makes the outside folder.
locate_cluster() {
  local data_real base
  PGDATA_DIR="$DATA/pg" PG_SOCKET_DIR="$RUN/pg" PG_RUN_DIR="$RUN" PG_LOG="$LOGS/postgres.log"
  if [ -L "$DATA/pg" ]; then
    base="$(dirname "$(readlink -f "$DATA/pg")")"
  elif [ "$1" = up ] && [ "$(id -u)" -eq 0 ] && [ ! -f "$DATA/pg/PG_VERSION" ] && ! pg_reaches; then
    rmdir "$DATA/pg" 2>/dev/null || true # an earlier initdb that failed here left it empty
    data_real="$(cd "$DATA" && pwd -P)"
    base="$PG_OUTSIDE_DIR/$(printf '%s' "$data_real" | sha256sum | cut -c1-16)"
    mkdir -p "$base/pg" "$base/run"
    chown postgres "$PG_OUTSIDE_DIR" "$base" "$base/pg" "$base/run"
    chmod 700 "$base/pg"
    echo "$data_real" >"$base/clone-data-dir" # whose cluster this is, for people
    ln -sfn "$base/pg" "$DATA/pg"
    info "$DATA is out of the postgres user's reach: the cluster lives in $base"
  else
    return 0
  fi
  PGDATA_DIR="$base/pg" PG_SOCKET_DIR="$base/run/pg" PG_RUN_DIR="$base/run" PG_LOG="$base/postgres.log"
  ln -sfn "$PG_LOG" "$LOGS/postgres.log"
}
locate_cluster "${1:-}"

init_cluster() {
  [ -f "$PGDATA_DIR/PG_VERSION" ] && return 0
  info "initdb $PGDATA_DIR"
  mkdir -p "$PGDATA_DIR"
  chown "$(pg_owner)" "$PGDATA_DIR"
  chmod 700 "$PGDATA_DIR"
  local pwfile="$PG_RUN_DIR/pg-pw.tmp"
  (umask 077 && printf '%s\n' "$PG_SUPERUSER_PASSWORD" >"$pwfile")
  chown "$(pg_owner)" "$pwfile"
  as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U "$PG_SUPERUSER" --pwfile="$pwfile" \
    --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >>"$LOGS/postgres.log" 2>&1 \
    || { rm -f "$pwfile"; die "initdb failed (see $LOGS/postgres.log)"; }
  rm -f "$pwfile"
  echo "include 'suite.conf'" >>"$PGDATA_DIR/postgresql.conf"
  # Replication connections (the relay) authenticate like any other.
  echo "host replication all 127.0.0.1/32 scram-sha-256" >>"$PGDATA_DIR/pg_hba.conf"
}

# The suite's settings live in their own file, rewritten on every `up`, so a
# changed setting reaches clusters made before the change.
write_settings() {
  cat >"$PGDATA_DIR/suite.conf" <<CONF
# Written by infra/postgres.sh on every start; edit there, not here.
listen_addresses = '127.0.0.1'
max_connections = 300
shared_buffers = 256MB
# Logical replication for the outbox relay (NOTES.md).
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
# An abandoned slot may not fill the disk.
max_slot_wal_keep_size = 2GB
# A relay that stops answering (paused, partitioned) loses its slot after 5 s,
# so a standby relay can take over within the 10 s the relay issue asks.
wal_sender_timeout = 5s
# Per-statement counts and times (pg_stat_statements view, created by db/migrate.ts):
# where a benchmark's database time goes, issue #5.
shared_preload_libraries = 'pg_stat_statements'
log_min_messages = warning
log_line_prefix = '%m [%p] %u@%d '
CONF
  chown "$(pg_owner)" "$PGDATA_DIR/suite.conf"
}

psql_admin() {
  PGPASSWORD="$PG_SUPERUSER_PASSWORD" "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" -d postgres -tAc "$1"
}

# Applies a rewritten suite.conf: reload, and restart if a setting needs it.
apply_settings() {
  psql_admin "select pg_reload_conf()" >/dev/null
  if [ "$(psql_admin "select count(*) from pg_settings where pending_restart")" != "0" ]; then
    info "settings changed that need a restart"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null
    start_pg
  fi
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

start_pg() {
  mkdir -p "$PG_SOCKET_DIR"
  touch "$PG_LOG"
  chown "$(pg_owner)" "$PG_SOCKET_DIR" "$PG_LOG"
  if ! pg_ready; then
    (close_inherited_fds && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" -w -t 60 \
      -o "-p $PG_PORT -k $PG_SOCKET_DIR" start >/dev/null) || die "postgres did not start (see $LOGS/postgres.log)"
  fi
  wait_for postgres 60 pg_ready || die "postgres not ready"
}

create_database() {
  if ! psql_admin "select 1 from pg_database where datname = '$PG_DATABASE'" | grep -q 1; then
    info "creating database $PG_DATABASE"
    PGPASSWORD="$PG_SUPERUSER_PASSWORD" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_SUPERUSER" "$PG_DATABASE"
  fi
}

case "${1:-}" in
  up)
    step "PostgreSQL 15 on 127.0.0.1:$PG_PORT (wal_level=logical)"
    init_cluster
    write_settings
    start_pg
    apply_settings
    create_database
    ok "postgres up, database $PG_DATABASE"
    ;;
  down) step "stopping PostgreSQL"; pg_ready && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null || true ;;
  restart)
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w stop >/dev/null || true
    start_pg
    ;;
  kill)
    # SIGKILL of the postmaster, for crash tests; children die with it.
    pid=$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
    while pg_ready; do sleep 0.1; done
    ;;
  status)
    if pg_ready; then
      echo "postgres up    127.0.0.1:$PG_PORT  db $PG_DATABASE  wal_level=$(psql_admin 'show wal_level')"
    else
      echo "postgres DOWN  127.0.0.1:$PG_PORT"
    fi
    ;;
  *) die "usage: infra/postgres.sh up|down|status|restart|kill" ;;
esac
