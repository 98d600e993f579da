#!/usr/bin/env bash
# Read replicas and a pooler under load (SCALING.md): one catalogue served by the release binary
# with 0, 1 and 2 local streaming replicas (deploy/replicas.sh 2), then with none but through
# PgBouncer in transaction mode (deploy/pgbouncer.sh, DATABASE_POOLER=transaction), for Q1 (a
# page of 100 authors with their books), Q3 (one author with their books) and Q4 (createBook).
# Prints requests/s, p50 and p99 latency (medians of RUNS runs of SECONDS each, wrk at
# CONCURRENCY) and the SQL statements per request on each pool, read from /metrics.
#
#   bench/replicas.sh                 # AUTHORS=10000 BOOKS=100000 RUNS=3 SECONDS_EACH=10 CONCURRENCY=16
#   bench/replicas.sh --quick         # tiny catalogue, debug build, 1 s runs: keeps it from rotting
#   SETUPS="0 pooled" bench/replicas.sh   # some of the setups: 0 1 2 (replicas) unpooled pooled
#
# Every server here shares the same 2 cores: this measures what replicas cost, not what they
# add (each replica competes with the primary and the service for the same CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
AUTHORS="${AUTHORS:-10000}" BOOKS="${BOOKS:-100000}" RUNS="${RUNS:-3}"
DURATION="${SECONDS_EACH:-10}" CONCURRENCY="${CONCURRENCY:-16}" PROFILE=release
if [ "${1:-}" = --quick ]; then
  AUTHORS=200 BOOKS=2000 RUNS=1 DURATION=1 PROFILE=dev
fi
BIN="target/$([ "$PROFILE" = dev ] && echo debug || echo release)"
ADMIN="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PORT=18100
URL="http://127.0.0.1:$PORT"
DB="bench_replicas_$$"

command -v wrk >/dev/null || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
deploy/replicas.sh 2 >&2
deploy/pgbouncer.sh >&2
cargo build --quiet --profile "$PROFILE" -p api -p bench --bins

SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  psql -q "$ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -q "$ADMIN" -c "CREATE DATABASE $DB" >/dev/null
base="${ADMIN%/*}"
export DATABASE_URL="$base/$DB?sslmode=disable"
replica_url() { echo "postgres://postgres@127.0.0.1:$((5432 + $1))/$DB?sslmode=disable"; }
"$BIN/bench" load --authors "$AUTHORS" --books "$BOOKS" --layout scattered >&2
# Both replicas replay the whole catalogue before anything is measured.
target=$(psql -qAt "$ADMIN" -c "SELECT pg_current_wal_lsn()")
replayed() { [ "$(psql -qAt "postgres://postgres@127.0.0.1:$1/postgres" -c "SELECT pg_last_wal_replay_lsn() >= '$target'")" = t ]; }
for port in 5433 5434; do
  for _ in $(seq 1 300); do replayed "$port" && break; sleep 0.1; done
  replayed "$port" || { echo "the replica on port $port has not replayed the catalogue after 30 s" >&2; exit 1; }
done

metric() { curl -s "$URL/metrics" | awk -v name="$1" 'index($1, name) == 1 {sum += $2} END {print sum + 0}'; }
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

Q1='{"query":"{ authors(first: 100) { nodes { id name books { nodes { id title publishedYear } } } } }"}'
Q3='{"query":"{ author(id: \"'$((AUTHORS / 2))'\") { name books { nodes { title } } } }"}'

echo "| setup | query | requests/s | p50 ms | p99 ms | statements/request: primary | replica1 | replica2 |"
echo "|---|---|---|---|---|---|---|---|"
# `pooled`: through PgBouncer; `unpooled`: the same settings straight to PostgreSQL, which
# tells the service's own part of the cost (a transaction per request, no statement cache) from
# PgBouncer's.
for setup in ${SETUPS:-0 1 2 unpooled pooled}; do
  urls="" count=0 pooler=()
  case $setup in
    pooled) pooler=(DATABASE_URL="postgres://postgres@127.0.0.1:6432/$DB?sslmode=disable"
      DATABASE_POOLER=transaction DATABASE_LISTEN_URL="$DATABASE_URL") ;;
    unpooled) pooler=(DATABASE_POOLER=transaction DATABASE_LISTEN_URL="$DATABASE_URL") ;;
    *) count=$setup ;;
  esac
  for i in $(seq 1 "$count"); do urls="${urls:+$urls,}$(replica_url "$i")"; done
  # The replicas have replayed the catalogue before the server starts.
  env "${pooler[@]}" DATABASE_REPLICA_URLS="$urls" LISTEN_ADDR="127.0.0.1:$PORT" NO_MIGRATE=true \
    RUST_LOG=warn "$BIN/api" >/dev/null 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && break; sleep 0.1; done
  for _ in $(seq 1 100); do
    [ "$(metric 'db_replicas{state="in_service"}')" = "$count" ] && break
    sleep 0.1
  done
  [ "$(metric 'db_replicas{state="in_service"}')" = "$count" ] ||
    { echo "$count replicas are not in service after 10 s:" >&2; curl -s "$URL/metrics" | grep '^db_replica' >&2; exit 1; }
  for query in Q1 Q3 Q4; do
    write=0 body=""
    case $query in Q1) body="$Q1" ;; Q3) body="$Q3" ;; Q4) write=1 ;; esac
    rps=() p50=() p99=()
    before=(0 0 0) after=(0 0 0) requests=0
    for pool in 0 1 2; do
      name=primary; [ "$pool" -gt 0 ] && name="replica$pool"
      before[$pool]=$(metric "sql_statements_total{pool=\"$name\"}")
    done
    for _ in $(seq 1 "$RUNS"); do
      result=$(BENCH_BODY="$body" BENCH_WRITE="$write" BENCH_AUTHORS="$AUTHORS" \
        wrk -t2 -c"$CONCURRENCY" -d"${DURATION}s" -s bench/wrk/graphql.lua "$URL/graphql" | grep '^RESULT')
      rps+=("$(echo "$result" | sed -n 's/.*rps=\([^ ]*\).*/\1/p')")
      p50+=("$(echo "$result" | sed -n 's/.*p50_ms=\([^ ]*\).*/\1/p')")
      p99+=("$(echo "$result" | sed -n 's/.*p99_ms=\([^ ]*\).*/\1/p')")
      requests=$((requests + $(echo "$result" | sed -n 's/.*requests=\([^ ]*\).*/\1/p')))
      errors=$(echo "$result" | sed -n 's/.*errors=\([^ ]*\).*/\1/p')
      [ "$errors" = 0 ] || { echo "$errors failed requests (setup $setup, $query)" >&2; exit 1; }
    done
    sleep 1
    per=()
    for pool in 0 1 2; do
      name=primary; [ "$pool" -gt 0 ] && name="replica$pool"
      after[$pool]=$(metric "sql_statements_total{pool=\"$name\"}")
      per+=("$(awk -v d="$((after[pool] - before[pool]))" -v r="$requests" 'BEGIN {printf "%.2f", d / r}')")
    done
    case $setup in
      pooled) label="PgBouncer, DATABASE_POOLER=transaction" ;;
      unpooled) label="no PgBouncer, DATABASE_POOLER=transaction" ;;
      1) label="1 replica" ;;
      *) label="$count replicas" ;;
    esac
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$query" \
      "$(printf '%s\n' "${rps[@]}" | median)" "$(printf '%s\n' "${p50[@]}" | median)" \
      "$(printf '%s\n' "${p99[@]}" | median)" "${per[0]}" "${per[1]}" "${per[2]}"
  done
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
done
