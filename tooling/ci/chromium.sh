#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the dashboard's browser tests (driven by
# playwright-core, which never downloads a browser of its own here). Quick and silent when it is
# already there; safe to run again.
set -euo pipefail

log() { printf '[chromium] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
log "installing chromium from Debian"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version 2>/dev/null | sed 's/^/[chromium] /' || true
