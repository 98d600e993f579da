#!/usr/bin/env bash
# The load benchmark of BENCHMARKS.md: loads a dataset through the project's migrations, starts
# the release server on loopback, drives it with wrk, and prints markdown tables.
#
#   bench/run.sh [--backend postgres|sqlite|mariadb] [--layout scattered|clustered] [--books N]
#                [--runs N] [--seconds S] [--no-curve]
#   bench/run.sh --quick      # tiny dataset, debug build, seconds: keeps the benchmark from rotting
#   bench/run.sh --soak S [--rate R]   # instead: the soak of RELIABILITY.md, S seconds at R requests/s
#   bench/run.sh --postgraphile        # instead: this service against PostGraphile 5, Q1-Q4,
#                                      # alternating, one and two Node processes
#
# The catalogue (bench/src/dataset.rs): AUTHORS authors, BOOKS books, each book for a random
# author (scattered) or each author's books together (clustered), titles and names of words.
set -euo pipefail
cd "$(dirname "$0")/.."

BACKEND=postgres RUNS=3 DURATION=10 CONCURRENCY=16 AUTHORS=10000 BOOKS=100000 CURVE=1 PROFILE=release
LAYOUT=scattered SOAK="" RATE=200 POSTGRAPHILE=0 TERM_MIN=50
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) RUNS=1 DURATION=2 AUTHORS=200 BOOKS=2000 CURVE=0 PROFILE=dev TERM_MIN=5 ;;
    --backend) BACKEND="$2"; shift ;;
    --layout) LAYOUT="$2"; shift ;;
    --authors) AUTHORS="$2"; shift ;;
    --books) BOOKS="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    --seconds) DURATION="$2"; shift ;;
    --no-curve) CURVE=0 ;;
    --soak) SOAK="$2"; shift ;;
    --rate) RATE="$2"; shift ;;
    --postgraphile) POSTGRAPHILE=1 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
BIN=target/$([ "$PROFILE" = dev ] && echo debug || echo release)
PORT=18088
URL="http://127.0.0.1:$PORT"

cargo build --quiet --profile "$PROFILE" -p api -p bench --bins
if ! command -v wrk >/dev/null; then
  echo "installing wrk" >&2
  apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null
fi

PG_ADMIN="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
PG_DB="bench_$$"
# MariaDB (--backend mariadb): root without a password on 127.0.0.1:3306 unless BENCH_MYSQL_URL.
MYSQL_ADMIN="${BENCH_MYSQL_URL:-mysql://root@127.0.0.1:3306/test}"
mariadb_admin() { mariadb -uroot -h127.0.0.1 -P3306 -e "$1"; }
SQLITE_FILE="$(pwd)/target/bench_$$.db"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  if [ "$BACKEND" = postgres ]; then psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true; fi
  if [ "$BACKEND" = mariadb ]; then mariadb_admin "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
  rm -f "$SQLITE_FILE" "$SQLITE_FILE-wal" "$SQLITE_FILE-shm" target/bench_row_$$*
}
trap cleanup EXIT

if [ "$BACKEND" = postgres ]; then
  psql -q "$PG_ADMIN" -c "CREATE DATABASE $PG_DB" >/dev/null
  DATABASE_URL="${PG_ADMIN%/*}/$PG_DB"
elif [ "$BACKEND" = mariadb ]; then
  mariadb_admin "CREATE DATABASE $PG_DB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
  DATABASE_URL="${MYSQL_ADMIN%/*}/$PG_DB"
else
  DATABASE_URL="sqlite://$SQLITE_FILE?mode=rwc"
fi
export DATABASE_URL

# load AUTHORS BOOKS: the catalogue, through the project's migrations.
load() { "$BIN/bench" load --authors "$1" --books "$2" --layout "$LAYOUT" >&2; }
# term AUTHORS BOOKS: a search term of that catalogue that matches TERM_MIN to 200 books, a tab,
# and how many it matches.
term() { "$BIN/bench" term --authors "$1" --books "$2" --layout "$LAYOUT" --min "$TERM_MIN" --max 200; }

start_server() {
  LISTEN_ADDR="127.0.0.1:$PORT" RUST_LOG=warn NO_MIGRATE=1 "$BIN/api" serve &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "$URL/readyz" >/dev/null && return; sleep 0.1; done
  echo "the server did not become ready" >&2; exit 1
}
stop_server() { kill "$SERVER"; wait "$SERVER" || true; SERVER=""; }
metric() { curl -s "$URL/metrics" | awk -v name="$1" '$1 ~ "^"name {sum += $2} END {print sum + 0}'; }
peak_mb() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status"; }
median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
body() { printf '{"query":"%s"}' "$1"; }

# settle: waits until requests still in flight from the last wrk run have finished.
settle() {
  local previous=-1 current
  current=$(metric sql_statements_total)
  while [ "$current" != "$previous" ]; do
    sleep 0.5
    previous=$current
    current=$(metric sql_statements_total)
  done
}

# statements BODY: the SQL statements one request runs, read from /metrics around it ("-" for a
# server without them).
statements() {
  local before
  curl -sf "$URL/metrics" >/dev/null || { echo -; return; }
  settle
  before=$(metric sql_statements_total)
  curl -sf -H 'content-type: application/json' -d "$1" "$URL/graphql" >/dev/null
  echo $(( $(metric sql_statements_total) - before ))
}

# floor QUERY: one run of the same statements straight through the driver: "rps p50 p99".
floor() {
  "$BIN/bench" floor --query "$1" --author "$((AUTHORS / 2))" --term "$SEARCH_TERM" --after "$AFTER" \
    --concurrency "$CONCURRENCY" --seconds "$DURATION" \
    | sed -n 's/.*requests\/s \([^ ]*\) p50_ms \([^ ]*\) p99_ms \([^ ]*\).*/\1 \2 \3/p'
}

# ticks PID...: CPU time (user + system, all threads) of the processes and of their children that
# ended (PostgreSQL's backends that closed), in clock ticks.
# A process may end meanwhile: its file is skipped. The fields are counted from the end of the
# name, which may hold spaces.
ticks() {
  local pid
  for pid in "$@"; do cat "/proc/$pid/stat" 2>/dev/null || true; done |
    sed 's/^.*) //' | awk '{t += $12 + $13 + $14 + $15} END {print t + 0}'
}
# postgres_pids: every process of the PostgreSQL server (its backends serve both contestants).
postgres_pids() { pgrep -x postgres | tr '\n' ' ' || true; }
# tree PID: the process and its children (PostGraphile's cluster workers).
tree() { echo "$1 $(pgrep -P "$1" | tr '\n' ' ')"; }

# contest NAME URL PIDS BODY [WRITE_TEMPLATE]: one wrk run against URL; prints "rps p50 p99
# server_cpu_ms_per_request postgres_cpu_ms_per_request errors".
contest() {
  local url="$2" pids="$3" body="$4" template="${5:-}" hz server_before pg_before result requests
  hz=$(getconf CLK_TCK)
  server_before=$(ticks $pids) pg_before=$(ticks $(postgres_pids))
  result=$(BENCH_BODY="$body" BENCH_WRITE=$([ -n "$template" ] && echo 1 || echo 0) \
    BENCH_WRITE_TEMPLATE="$template" BENCH_AUTHORS="$AUTHORS" \
    wrk -t2 -c"$CONCURRENCY" -d"${DURATION}s" -s bench/wrk/graphql.lua "$url/graphql" | grep '^RESULT')
  requests=$(echo "$result" | sed -n 's/.*requests=\([^ ]*\).*/\1/p')
  awk -v r="$result" -v req="$requests" -v hz="$hz" -v s="$(( $(ticks $pids) - server_before ))" \
    -v p="$(( $(ticks $(postgres_pids)) - pg_before ))" 'BEGIN {
      n = split(r, kv, /[ =]/); for (i = 2; i < n; i += 2) v[kv[i]] = kv[i + 1]
      if (req + 0 == 0) req = 1
      printf "%s %s %s %.3f %.3f %s\n", v["rps"], v["p50_ms"], v["p99_ms"],
        1000 * s / hz / req, 1000 * p / hz / req, v["errors"] }'
}

# compare_postgraphile: this service against PostGraphile 5 (one Node process, then two) on the
# same database, same transport (TCP on loopback, no TLS, on both sides) and the same load; the
# three alternate run by run. Prints the medians of RUNS runs and each one's ratio.
compare_postgraphile() {
  local pg_js=target/postgraphile5 node=node ours_url="$URL"
  if [ ! -x "$pg_js/node_modules/.bin/postgraphile" ]; then
    echo "installing PostGraphile 5 under $pg_js" >&2
    local wanted="postgraphile@5.1.5 @graphile/simplify-inflection@8.0.0"
    # PostGraphile 5 needs Node 22 or later: the npm registry's `node` package when the system's
    # is older.
    [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 22 ] || wanted="$wanted node@22"
    npm install --silent --no-audit --no-fund --prefix "$pg_js" $wanted >&2
  fi
  [ -x "$pg_js/node_modules/.bin/node" ] && node="$(pwd)/$pg_js/node_modules/.bin/node"
  cp bench/postgraphile/*.mjs "$pg_js/"
  start_pg5() {  # WORKERS PORT: prints the pid of the (primary) Node process
    (cd "$pg_js" && WORKERS="$1" PORT="$2" NODE_ENV=production GRAPHILE_ENV=production \
      exec "$node" server.mjs >/dev/null 2>&1) &
    local pid=$!
    for _ in $(seq 1 150); do
      if curl -sf -H 'content-type: application/json' -d '{"query":"{ __typename }"}' "http://127.0.0.1:$2/graphql" >/dev/null; then
        echo "$pid"
        return
      fi
      sleep 0.2
    done
    echo "PostGraphile ($1 processes) did not start on port $2" >&2
    kill "$pid" 2>/dev/null || true
    exit 1
  }
  # Plain TCP for both: node-postgres connects without TLS unless told to, sqlx would prefer TLS.
  DATABASE_URL="$DATABASE_URL?sslmode=disable" start_server
  PG1=$(start_pg5 1 $((PORT + 1)))
  PG2=$(start_pg5 2 $((PORT + 2)))
  trap 'kill $PG1 $PG2 2>/dev/null || true; cleanup' EXIT
  local author=$((AUTHORS / 2))
  # PostGraphile's names for the same queries: its row id is `rowId`, an author's books
  # `authoredBooks`; the page sizes are the same as this service's defaults.
  local -A ours=(
    [Q1]="$(body "$Q1")" [Q2]="$(body "$Q2")" [Q3]="$(body "$Q3")"
    [Q4]='{"query":"mutation($a: ID!) { createBook(input: { authorId: $a, title: \"Benchmark\", publishedYear: 2000 }) { id } }","variables":{"a":"%d"}}'
  )
  local -A theirs=(
    [Q1]="$(body '{ authors(first: 100, orderBy: PRIMARY_KEY_ASC) { nodes { rowId name authoredBooks(first: 20, orderBy: PRIMARY_KEY_ASC) { nodes { rowId title publishedYear } } } } }')"
    [Q2]="$(body '{ books(first: 100, orderBy: PRIMARY_KEY_ASC) { nodes { title author { name authoredBooks(first: 3, orderBy: PRIMARY_KEY_ASC) { nodes { title } } } } } }')"
    [Q3]="$(body '{ author(rowId: \"'$author'\") { name authoredBooks(first: 20, orderBy: PRIMARY_KEY_ASC) { nodes { title } } } }')"
    [Q4]='{"query":"mutation($a: BigInt!) { createBook(input: { book: { authorId: $a, title: \"Benchmark\", publishedYear: 2000 } }) { book { rowId } } }","variables":{"a":"%d"}}'
  )
  echo
  echo "PostGraphile $(cd "$pg_js" && "$node" -p 'JSON.parse(require("fs").readFileSync("node_modules/postgraphile/package.json")).version') (Amber, simplify-inflection, production) on Node $("$node" --version); both over TCP on loopback without TLS; $RUNS alternating runs of ${DURATION}s at concurrency $CONCURRENCY, medians."
  echo
  echo "| query | server | requests/s | p50 ms | p99 ms | server CPU ms/request | PostgreSQL CPU ms/request | errors | this service / it |"
  echo "|---|---|---|---|---|---|---|---|---|"
  local q server
  for q in Q1 Q2 Q3 Q4; do
    local -A rows=()
    for _ in $(seq 1 "$RUNS"); do
      for server in ours pg1 pg2; do
        local url pids request template=""
        case $server in
          ours) url="$ours_url" pids="$SERVER" request="${ours[$q]}" ;;
          pg1) url="http://127.0.0.1:$((PORT + 1))" pids="$(tree "$PG1")" request="${theirs[$q]}" ;;
          pg2) url="http://127.0.0.1:$((PORT + 2))" pids="$(tree "$PG2")" request="${theirs[$q]}" ;;
        esac
        [ "$q" = Q4 ] && template="$request" request=""
        rows[$server]+="$(contest "$q" "$url" "$pids" "$request" "$template")"$'\n'
      done
    done
    med() { printf '%s' "${rows[$1]}" | awk -v c="$2" 'NF {print $c}' | median; }
    local ours_rps
    ours_rps=$(med ours 1)
    for server in ours pg1 pg2; do
      local label ratio
      case $server in ours) label="this service" ;; pg1) label="PostGraphile 5, 1 process" ;; pg2) label="PostGraphile 5, 2 processes" ;; esac
      ratio=$(awk -v a="$ours_rps" -v b="$(med $server 1)" 'BEGIN {if (b + 0 > 0) printf "%.2f ×", a / b; else print "-"}')
      [ "$server" = ours ] && ratio="-"
      echo "| $q | $label | $(med $server 1) | $(med $server 2) | $(med $server 3) | $(med $server 4) | $(med $server 5) | $(med $server 6) | $ratio |"
    done
  done
  kill "$PG1" "$PG2" 2>/dev/null || true
  stop_server
}

# Q6 is a page of authors by name; Q7 is page DEPTH of it (page 50 unless the catalogue is
# smaller), after the cursors of the pages before it are walked as a client would.
Q6_FIELDS='nodes { name books(first: 3, orderBy: [{ field: PUBLISHED_YEAR, direction: DESC }]) { nodes { title } } }'
walk() {
  local cursor=null page
  for _ in $(seq 2 "$DEPTH"); do
    page=$(curl -sf -H 'content-type: application/json' \
      -d "{\"query\":\"query(\$c: String) { authors(first: 20, after: \$c, orderBy: [{ field: NAME }]) { pageInfo { endCursor } } }\",\"variables\":{\"c\":$cursor}}" \
      "$URL/graphql")
    cursor=$(echo "$page" | sed -n 's/.*"endCursor":\("[^"]*"\).*/\1/p')
  done
  cursor=$(echo "$cursor" | tr -d '"')
  if [ "$DEPTH" -gt 1 ] && { [ -z "$cursor" ] || [ "$cursor" = null ]; }; then
    echo "walking the pages of Q6 found no cursor: $page" >&2; exit 1
  fi
  echo "$cursor"
}

# drive NAME BODY [WRITE [STATEMENTS [FLOOR]]]: RUNS runs of wrk; prints one markdown row with
# medians. Fails when a request errs or, given STATEMENTS, runs another number of SQL
# statements. Given FLOOR (q1, q2 or q3), each run of wrk is followed by a run of that query's
# floor, so that both see the machine in the same minute; the floor's row, with the median of
# the runs' server / floor ratios, goes to FLOOR_ROWS.
FLOOR_ROWS=()
drive() {
  local name="$1" request="$2" write="${3:-0}" expected="${4:-}" floor_query="${5:-}"
  local results=() floors=() per_request=1
  [ "$write" = 1 ] || per_request=$(statements "$request")
  for _ in $(seq 1 "$RUNS"); do
    results+=("$(BENCH_BODY="$request" BENCH_WRITE="$write" BENCH_AUTHORS="$AUTHORS" \
      wrk -t2 -c"$CONCURRENCY" -d"${DURATION}s" -s bench/wrk/graphql.lua "$URL/graphql" | grep '^RESULT')")
    [ -z "$floor_query" ] || floors+=("$(floor "$floor_query")")
  done
  field() { printf '%s\n' "${results[@]}" | sed -n "s/.*$1=\([^ ]*\).*/\1/p" | median; }
  echo "| $name | $(field rps) | $(field p50_ms) | $(field p99_ms) | $(field errors) | $per_request | $(peak_mb) |"
  if [ -n "$floor_query" ]; then
    column() { printf '%s\n' "${floors[@]}" | awk -v c="$1" '{print $c}' | median; }
    local ratio
    ratio=$(for i in "${!results[@]}"; do
      echo "${results[$i]}" | sed -n 's/.*rps=\([^ ]*\).*/\1/p' | awk -v f="${floors[$i]%% *}" '{printf "%.1f\n", 100 * $1 / f}'
    done | median)
    FLOOR_ROWS+=("| $floor_query | $(column 1) | $(column 2) | $(column 3) | $ratio% |")
  fi
  if [ "$(field errors)" != 0 ] || { [ -n "$expected" ] && [ "$per_request" != "$expected" ]; }; then
    echo "FAILED: $name had errors or ran $per_request SQL statements (expected ${expected:-any})" >&2
    exit 1
  fi
}

Q1='{ authors(first: 100) { nodes { id name books { nodes { id title publishedYear } } } } }'
Q2='{ books(first: 100) { nodes { title author { name books(first: 3) { nodes { title } } } } } }'
Q3='{ author(id: \"'$((AUTHORS / 2))'\") { name books { nodes { title } } } }'
Q6='{ authors(first: 20, orderBy: [{ field: NAME }]) { '"$Q6_FIELDS"' } }'
Q8='{ books(first: 20, orderBy: [{ field: PUBLISHED_YEAR, direction: DESC }, { field: TITLE }]) { nodes { title publishedYear author { name } } } }'
q5() { echo '{ books(first: 10, filter: { titleContains: \"'"$1"'\" }, orderBy: [{ field: TITLE }]) { totalCount nodes { id title } } }'; }
q7() { echo '{ authors(first: 20, after: \"'"$1"'\", orderBy: [{ field: NAME }]) { '"$Q6_FIELDS"' } }'; }
depth() { local pages=$(($1 / 20)); echo $((pages < 50 ? pages : 50)); }
SEARCH_TERM="" AFTER=""

if [ -n "$SOAK" ]; then
  echo "soak: backend $BACKEND, $AUTHORS authors x $BOOKS books, $RATE requests/s for ${SOAK}s, $(nproc) cores"
  load "$AUTHORS" "$BOOKS"
  start_server
  "$BIN/bench" soak --url "$URL" --pid "$SERVER" --seconds "$SOAK" --rate "$RATE" --authors "$AUTHORS" \
    --sample-secs "$(( SOAK >= 60 ? 10 : 1 ))"
  stop_server
  exit
fi

echo "backend: $BACKEND, $LAYOUT layout, $AUTHORS authors, $BOOKS books, concurrency $CONCURRENCY, ${DURATION}s x $RUNS runs (median), $(nproc) cores"
load "$AUTHORS" "$BOOKS"
IFS=$'\t' read -r SEARCH_TERM MATCHES < <(term "$AUTHORS" "$BOOKS")
DEPTH=$(depth "$AUTHORS")
if [ "$POSTGRAPHILE" = 1 ] && [ "$BACKEND" = postgres ]; then
  compare_postgraphile
  exit
fi

start_server
AFTER=$(walk) || exit 1
echo
echo "Q5 searches for \"$SEARCH_TERM\" ($MATCHES books); Q7 is page $DEPTH of Q6."
echo
echo "| query | requests/s | p50 ms | p99 ms | errors | SQL statements/request | server peak RSS MB |"
echo "|---|---|---|---|---|---|---|"
# Each read query alternates with its floor, on the same untouched data (Q4 adds books).
drive "Q1 nested page" "$(body "$Q1")" 0 2 q1
drive "Q2 deep" "$(body "$Q2")" 0 2 q2
drive "Q3 point" "$(body "$Q3")" 0 1 q3
drive "Q5 search page" "$(body "$(q5 "$SEARCH_TERM")")" 0 2 q5
drive "Q6 authors by name" "$(body "$Q6")" 0 2 q6
drive "Q7 page $DEPTH of Q6" "$(body "$(q7 "$AFTER")")" 0 2 q7
drive "Q8 books by year, title" "$(body "$Q8")" 0 2 q8
drive "Q4 createBook" "" 1
stop_server

echo
echo "| floor (same SQL, same pool, no HTTP/GraphQL), after each run of its query | requests/s | p50 ms | p99 ms | server / floor |"
echo "|---|---|---|---|---|"
printf '%s\n' "${FLOOR_ROWS[@]}"

if [ "$CURVE" = 1 ]; then
  echo
  echo "Cost curve: the same queries as the catalogue grows ($LAYOUT, 10 books per author on average); requests/s, and server / floor for Q5"
  echo
  echo "| books | authors | Q1 | Q5 | Q5 matches | Q5 / floor | Q6 | Q7 | Q8 |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for books in ${CURVE_BOOKS:-10000 100000 1000000}; do
    AUTHORS=$((books / 10))
    load "$AUTHORS" "$books"
    IFS=$'\t' read -r SEARCH_TERM matches < <(term "$AUTHORS" "$books")
    DEPTH=$(depth "$AUTHORS")
    start_server
    AFTER=$(walk) || exit 1
    FLOOR_ROWS=()
    row=target/bench_row_$$
    # rps QUERY BODY [FLOOR]: the median requests/s of the query (drive's row, third column).
    rps() { drive x "$2" 0 2 "${3:-}" >"$row"; awk -F'|' '{gsub(/ /, "", $3); print $3}' "$row"; }
    rps Q1 "$(body "$Q1")" >"$row.q1"
    rps Q5 "$(body "$(q5 "$SEARCH_TERM")")" q5 >"$row.q5"
    rps Q6 "$(body "$Q6")" >"$row.q6"
    rps Q7 "$(body "$(q7 "$AFTER")")" >"$row.q7"
    rps Q8 "$(body "$Q8")" >"$row.q8"
    read -r q1 <"$row.q1"; read -r q5 <"$row.q5"; read -r q6 <"$row.q6"; read -r q7 <"$row.q7"; read -r q8 <"$row.q8"
    rm -f "$row" "$row".q*
    ratio=$(echo "${FLOOR_ROWS[0]}" | awk -F'|' '{gsub(/ /, "", $6); print $6}')
    echo "| $books | $AUTHORS | $q1 | $q5 | $matches | $ratio | $q6 | $q7 | $q8 |"
    stop_server
  done
fi
