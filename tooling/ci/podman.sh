#!/usr/bin/env bash
# Makes sure podman and runc are installed for the image test (deploy/test/image.test.ts), which
# builds the Troupe image FROM scratch and runs it. runc, because podman's default crun refuses
# hosts with hybrid cgroups. About a minute from Debian on a fresh machine; quick and silent when
# both are there. A failed install only warns: the image test then skips, saying podman is absent.
set -uo pipefail

log() { printf '[podman] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1; then
  exit 0
fi
log "installing podman and runc from Debian"
if ! { as_root apt-get update -qq &&
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq podman runc >/dev/null; }; then
  log "WARNING: could not install podman; deploy/test/image.test.ts will be skipped"
  exit 0
fi
podman --version | sed 's/^/[podman] /'
