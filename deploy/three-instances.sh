#!/usr/bin/env bash
# Three instances of the service on one PostgreSQL database behind HAProxy, on this machine: the
# shape of a deployment scaled out, with live updates reaching every subscriber whichever
# instance it is connected to. Ctrl-C (or SIGTERM) stops them all.
#
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/books deploy/three-instances.sh
#
# DATABASE_URL    the PostgreSQL database (required); the migrations are applied first, once
# BALANCER_PORT   where HAProxy listens (default 8000): http://127.0.0.1:PORT/graphql
# INSTANCE_PORTS  the instances' ports (default "8001 8002 8003")
# API_BIN         the binary (default target/release/api, else target/debug/api)
# Other settings (JWT_SECRET, CORS_ALLOWED_ORIGINS, …) pass through to every instance.
#
# It prints `instance NAME PID http://ADDRESS` for each instance, then `balancer http://…/graphql`.
# Installs haproxy from Debian when it is missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${DATABASE_URL:?set DATABASE_URL to a PostgreSQL database}"
balancer_port="${BALANCER_PORT:-8000}"
read -r -a ports <<<"${INSTANCE_PORTS:-8001 8002 8003}"
bin="${API_BIN:-}"
if [ -z "$bin" ]; then
  bin="$root/target/release/api"
  [ -x "$bin" ] || bin="$root/target/debug/api"
fi
[ -x "$bin" ] || { echo "no api binary: cargo build --release -p api, or set API_BIN" >&2; exit 1; }
if ! command -v haproxy >/dev/null; then
  echo "installing haproxy from Debian" >&2
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
fi

dir="$(mktemp -d)"
pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT INT TERM

# Migrations once, as a release step; the instances start without them.
"$bin" migrate up >&2
servers=""
for i in "${!ports[@]}"; do
  name="api$((i + 1))"
  address="127.0.0.1:${ports[$i]}"
  LISTEN_ADDR="$address" NO_MIGRATE=true "$bin" serve 2>"$dir/$name.log" &
  pids+=("$!")
  for _ in $(seq 1 100); do
    curl -fsS "http://$address/readyz" >/dev/null 2>&1 && break
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$dir/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "instance $name ${pids[-1]} http://$address"
  servers+="  server $name $address check"$'\n'
done

# Round robin; an instance is out of rotation while /readyz fails (no database, or not listening
# for changes), back after two good checks; a request refused at connect goes to another one.
# `timeout tunnel` lets WebSockets stay open for an hour without traffic.
cat >"$dir/haproxy.cfg" <<CFG
global
  maxconn 4000
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
  retries 3
  option redispatch 1
frontend api
  bind 127.0.0.1:$balancer_port
  default_backend instances
backend instances
  balance roundrobin
  option httpchk GET /readyz
  default-server inter 200ms fall 1 rise 2
$servers
CFG
haproxy -f "$dir/haproxy.cfg" -db 2>"$dir/haproxy.log" &
pids+=("$!")
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$balancer_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "balancer http://127.0.0.1:$balancer_port/graphql"
# Until HAProxy ends or a signal comes: an instance that dies leaves the others serving.
wait "${pids[-1]}" || true
