#!/usr/bin/env bash
# Installs what the suite needs and is missing: Debian packages, a pinned Deno
# (npm package `deno`), the Kafka jars (Maven Central) and Jaeger (built from
# the Go module proxy). Idempotent: a second run only checks.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

install_apt() {
  # postgresql-15: server; redis-server: Redis; kcat: look at topics by hand;
  # docker-compose: validates docker-compose.yml (no engine needed);
  # procps: pgrep/ps for status; wrk: the coupon burst's load generator;
  # prometheus: scrapes every process, promtool tests the alert rules;
  # chromium: the saga console's browser tests (driven by npm playwright-core).
  apt_install postgresql-15 postgresql-client-15 redis-server kcat docker-compose procps \
    wrk prometheus chromium "$@"
}

install_deno() {
  local dir="$TOOLS/deno-$DENO_VERSION"
  if [ -x "$dir/node_modules/.bin/deno" ]; then return 0; fi
  step "installing Deno $DENO_VERSION (npm package deno) into $dir"
  mkdir -p "$dir"
  # A folder of its own: a package.json beside the project's deno.json would
  # switch Deno into manual node_modules mode (NOTES.md).
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION") \
    || die "npm install deno@$DENO_VERSION failed"
  "$dir/node_modules/.bin/deno" --version | head -n 1 | sed 's/^/    /'
}

install_kafka() {
  local dir="$TOOLS/kafka-$KAFKA_VERSION"
  if [ -f "$dir/.complete" ]; then return 0; fi
  step "resolving Kafka $KAFKA_VERSION jars from Maven Central into $dir"
  mkdir -p "$dir/libs"
  sed "s/@KAFKA_VERSION@/$KAFKA_VERSION/g" "$ROOT/infra/kafka/pom.xml" >"$dir/pom.xml"
  (cd "$dir" && mvn -B -q dependency:copy-dependencies -DoutputDirectory=libs -DincludeScope=runtime) \
    || die "mvn could not resolve Kafka $KAFKA_VERSION"
  info "$(ls "$dir/libs" | wc -l) jars"
  touch "$dir/.complete"
}

install_jaeger() {
  local bin="$TOOLS/jaeger-$JAEGER_MODULE_VERSION/jaeger"
  if [ -x "$bin" ]; then return 0; fi
  step "building Jaeger v2 (github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION, cmd/jaeger) — a few minutes the first time"
  # `go install pkg@version` refuses modules whose go.mod has replace
  # directives (Jaeger's has), so build inside the downloaded module instead,
  # where its replace directives apply.
  local gomod dir
  gomod=$(GOTOOLCHAIN=auto GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION") \
    || die "go mod download jaeger failed"
  dir=$(echo "$gomod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$dir" ] || die "jaeger module not found after download"
  mkdir -p "$(dirname "$bin")"
  (cd "$dir" && GOTOOLCHAIN=auto GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" ./cmd/jaeger) \
    || die "building jaeger failed"
  mv "$bin.tmp" "$bin"
}

what=${1:-all}
case "$what" in
  all) install_apt; install_deno; install_kafka; install_jaeger ;;
  apt) shift; install_apt "$@" ;;
  deno) install_deno ;;
  kafka) install_kafka ;;
  jaeger) install_jaeger ;;
  *) die "install.sh: unknown part '$what' (all|apt|deno|kafka|jaeger)" ;;
esac
