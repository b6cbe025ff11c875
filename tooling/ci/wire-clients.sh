#!/usr/bin/env bash
# Installs the real protocol clients the wire-protocol suites drive (@troupe/resp, @troupe/pgwire):
# redis-cli and redis-benchmark (redis-tools), psql and pgbench (postgresql-client). A missing
# tool fails those tests rather than skipping them. Safe to run again; call it from .ci/run.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ "${#missing[@]}" -gt 0 ]; then
  printf '[wire-clients] installing %s\n' "${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq redis-tools postgresql-client >/dev/null
fi
