#!/usr/bin/env bash
# Streaming replicas of the local PostgreSQL 15 cluster `main` (127.0.0.1:5432), for trying and
# testing DATABASE_REPLICA_URLS on one machine: N more clusters, `replica1` on port 5433,
# `replica2` on 5434, …, each made by pg_basebackup -R and started. Idempotent: a replica that
# already runs is left as it is. Run as root (it uses Debian's pg_createcluster and pg_ctlcluster).
#
#   deploy/replicas.sh 2      # then DATABASE_REPLICA_URLS=postgres://postgres@127.0.0.1:5433/DB,...
#
# The primary's pg_hba.conf gets a `replication` entry for 127.0.0.1, first (trust: any local user
# may then copy the databases, which suits a test machine, not a shared one), and each replica
# accepts local connections the same way. A replica left paused or stopped (a test killed midway)
# is resumed or started; one that does not stream from this primary within 10 s is made again.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root: it manages PostgreSQL clusters" >&2; exit 1; }
count="${1:-1}"
version=15
primary_port=5432
hba="/etc/postgresql/$version/main/pg_hba.conf"

as_postgres() { runuser -u postgres -- "$@"; }

if ! grep -qE '^host\s+replication\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
  # First: pg_hba.conf takes the first line that matches.
  sed -i '1i host replication all 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster "$version" main reload
fi

in_recovery() { [ "$(as_postgres psql -h 127.0.0.1 -p "$1" -qAtc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "t" ]; }
system_id() { as_postgres psql -h 127.0.0.1 -p "$1" -qAtc 'SELECT system_identifier FROM pg_control_system()' 2>/dev/null; }
# A copy of this primary (same system identifier) whose WAL receiver streams from it within 10 s.
# A cluster left from another primary (a machine image, a re-initialised main) is in recovery
# too but never catches up: it is made again.
streams_from_primary() {
  [ "$(system_id "$1")" = "$(system_id "$primary_port")" ] || return 1
  for _ in $(seq 1 50); do
    [ "$(as_postgres psql -h 127.0.0.1 -p "$1" -qAtc 'SELECT status FROM pg_stat_wal_receiver' 2>/dev/null)" = streaming ] &&
      return 0
    sleep 0.2
  done
  return 1
}

for i in $(seq 1 "$count"); do
  name="replica$i"
  port=$((primary_port + i))
  if pg_lsclusters -h | awk '{print $2, $4}' | grep -qE "^$name down" &&
    [ -f "/var/lib/postgresql/$version/$name/standby.signal" ]; then
    pg_ctlcluster "$version" "$name" start || true
  fi
  if pg_lsclusters -h | awk '{print $2, $4}' | grep -qE "^$name online" && in_recovery "$port"; then
    as_postgres psql -h 127.0.0.1 -p "$port" -qAtc "SELECT pg_wal_replay_resume()" >/dev/null
    if streams_from_primary "$port"; then
      echo "$name: running on port $port"
      continue
    fi
    echo "$name: not streaming from 127.0.0.1:$primary_port; making it again" >&2
  fi
  if pg_lsclusters -h | awk '{print $2}' | grep -qx "$name"; then
    pg_dropcluster --stop "$version" "$name"
  fi
  pg_createcluster -p "$port" "$version" "$name" >/dev/null
  data="/var/lib/postgresql/$version/$name"
  rm -rf "$data"
  install -d -o postgres -g postgres -m 700 "$data"
  as_postgres pg_basebackup -h 127.0.0.1 -p "$primary_port" -U postgres -D "$data" -R -X stream -c fast
  conf="/etc/postgresql/$version/$name"
  cat >"$conf/pg_hba.conf" <<HBA
local all all trust
host all all 127.0.0.1/32 trust
host all all ::1/128 trust
HBA
  # Queries on the replica are not cancelled by replay conflicts while the tests pause replay.
  echo "max_standby_streaming_delay = -1" >>"$conf/postgresql.conf"
  pg_ctlcluster "$version" "$name" start
  streams_from_primary "$port" ||
    { echo "$name: not streaming from 127.0.0.1:$primary_port after 10 s (see /var/log/postgresql)" >&2; exit 1; }
  echo "$name: started on port $port, replicating 127.0.0.1:$primary_port"
done
