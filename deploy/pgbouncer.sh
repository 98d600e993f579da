#!/usr/bin/env bash
# PgBouncer in transaction mode in front of the local PostgreSQL (127.0.0.1:5432), on
# 127.0.0.1:6432, for trying and testing DATABASE_POOLER=transaction on one machine. Every
# database name is passed through (`* =`), so a database made on PostgreSQL is reachable at once:
#
#   deploy/pgbouncer.sh    # then DATABASE_URL=postgres://postgres@127.0.0.1:6432/DB
#                          #      DATABASE_POOLER=transaction
#                          #      DATABASE_LISTEN_URL=postgres://postgres@127.0.0.1:5432/DB
#
# Installs Debian's `pgbouncer` when missing. Idempotent: one already running with these
# settings is left as it is; one running with others is restarted. Run as root; PgBouncer runs
# as the `postgres` user. Its settings are those docs/reference.md § Behind PgBouncer asks for:
# `pool_mode = transaction`; `server_reset_query_always = 1`, because sqlx names the statements
# it prepares and never closes them (with Debian 12's PgBouncer 1.18, which does not track
# prepared statements, a name left on a server connection would collide with the next client's);
# `ignore_startup_parameters = extra_float_digits`, which sqlx sends at connection. Trust
# authentication suits a test machine, not a shared one.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root: it installs and starts PgBouncer" >&2; exit 1; }
port=6432
dir=/etc/pgbouncer
ini="$dir/authors-api.ini"

if ! command -v pgbouncer >/dev/null; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null
fi

install -d -o postgres -g postgres "$dir" /var/run/postgresql /var/log/postgresql
cat >"$dir/authors-api.users" <<'USERS'
"postgres" ""
USERS
cat >"$ini" <<INI
[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/authors-api.users
admin_users = postgres
pool_mode = transaction
server_reset_query = DISCARD ALL
server_reset_query_always = 1
ignore_startup_parameters = extra_float_digits
max_client_conn = 1000
default_pool_size = 20
pidfile = /var/run/postgresql/authors-api-pgbouncer.pid
logfile = /var/log/postgresql/authors-api-pgbouncer.log
INI
chown postgres:postgres "$ini" "$dir/authors-api.users"

admin() { psql -h 127.0.0.1 -p "$port" -U postgres -qAt pgbouncer -c "$1" 2>/dev/null; }
configured() {
  local config
  config=$(admin "SHOW CONFIG") || return 1
  grep -qx 'pool_mode|transaction|.*' <<<"$config" && grep -qx 'server_reset_query_always|1|.*' <<<"$config"
}

if configured; then
  echo "pgbouncer: running on port $port (transaction mode)"
  exit 0
fi
# Debian's own instance (/etc/pgbouncer/pgbouncer.ini, session mode) would hold the port.
service pgbouncer stop >/dev/null 2>&1 || true
pidfile=/var/run/postgresql/authors-api-pgbouncer.pid
if [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; then
  for _ in $(seq 1 50); do kill -0 "$(cat "$pidfile" 2>/dev/null)" 2>/dev/null || break; sleep 0.1; done
fi
runuser -u postgres -- pgbouncer -d "$ini"
for _ in $(seq 1 50); do
  configured && break
  sleep 0.1
done
configured || { echo "pgbouncer: not answering on port $port (see /var/log/postgresql/authors-api-pgbouncer.log)" >&2; exit 1; }
echo "pgbouncer: started on port $port (transaction mode), in front of 127.0.0.1:5432"
