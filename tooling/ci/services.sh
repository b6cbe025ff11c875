#!/usr/bin/env bash
# Makes sure the servers the test suites talk to are running on this machine: PostgreSQL, Redis,
# NATS (with JetStream) and etcd. Starts a stopped one; installs a missing one from Debian's packages.
# Sourced by .ci/run; safe to run again.
set -euo pipefail

log() { printf '[services] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}
wait_until() { # wait_until SECONDS COMMAND...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    log "installing PostgreSQL from Debian"
    apt_install postgresql
  fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    # Tests connect as postgres over TCP without a password, as on the development machines.
    if ! grep -qE '^host\s+all\s+all\s+127\.0\.0\.1/32\s+trust' "$hba"; then
      log "allowing trusted local TCP connections in $hba"
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    fi
    log "starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    wait_until 30 pg_isready -h 127.0.0.1 -p 5432 -q || { log "PostgreSQL did not start"; return 1; }
  fi
  if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'select 1' >/dev/null 2>&1; then
    log "creating database test"
    psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test' >/dev/null
  fi
}

ensure_redis() {
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing Redis from Debian"
    apt_install redis-server
  fi
  if ! port_open 6379; then
    log "starting Redis"
    as_root mkdir -p /var/lib/redis /var/log/redis
    as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
    wait_until 20 port_open 6379 || { log "Redis did not start"; return 1; }
  fi
}

ensure_nats() {
  if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
    log "installing NATS from Debian"
    apt_install nats-server
  fi
  if ! port_open 4222; then
    log "starting NATS with JetStream"
    as_root mkdir -p /var/lib/nats-server
    as_root start-stop-daemon --start --oknodo --background --exec "$(command -v nats-server || echo /usr/sbin/nats-server)" -- \
      -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_until 20 port_open 4222 || { log "NATS did not start"; return 1; }
  fi
}

ensure_etcd() {
  if ! command -v etcd >/dev/null 2>&1; then
    log "installing etcd from Debian"
    apt_install etcd-server
  fi
  if ! port_open 2379; then
    # The Store suite commits 2,000 ops in one transaction and values of several MiB: raise
    # etcd's per-transaction op limit (default 128) and request size (default 1.5 MiB).
    log "starting etcd"
    as_root mkdir -p /var/lib/etcd-troupe
    as_root start-stop-daemon --start --oknodo --background --exec "$(command -v etcd)" -- \
      --name troupe --data-dir /var/lib/etcd-troupe \
      --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
      --listen-peer-urls http://127.0.0.1:2380 --max-txn-ops 10000 --max-request-bytes 33554432
    wait_until 30 port_open 2379 || { log "etcd did not start"; return 1; }
  fi
}

ensure_postgres
ensure_redis
ensure_nats
ensure_etcd
log "PostgreSQL, Redis, NATS and etcd are up"
