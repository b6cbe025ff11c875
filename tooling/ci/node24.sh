#!/usr/bin/env bash
# CI: the unit tests on Node 24 as well (we support Node ≥ 20.19; CI's main run is on the
# machine's Node). Node 24 comes from the npm registry's `node` package, installed into a temp
# prefix; it ships its headers, so better-sqlite3 compiles for it offline. A clean clone of the
# committed tree is bootstrapped with Node 24 first on PATH, then every test file under a `src/`
# folder runs (the unit tests beside the code, PostgreSQL/Redis/NATS adapter suites included),
# then every test of @troupe/sqlite (its conformance, crash and cross-process suites too): on
# Node 24 it runs on `node:sqlite`, not better-sqlite3 (whose 12.x addon can abort Node 24 when a
# statement is collected). The other slow cross-process tests in `test/` folders run on the main
# Node only: on Node 24 too they would double CI's time. Prints the time of each step.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
version="${TROUPE_CI_NODE24:-24}"
work=$(mktemp -d "${TMPDIR:-/tmp}/troupe-node24-XXXXXX")
cleanup() { if [ "${TROUPE_CI_KEEP:-}" != 1 ]; then rm -rf "$work"; else echo "[node24] kept $work"; fi; }
trap cleanup EXIT

started=$SECONDS
step_started=$SECONDS
step_name=""
step() {
  if [ -n "$step_name" ]; then echo "[node24] $step_name: $((SECONDS - step_started)) s"; fi
  step_name=$1
  step_started=$SECONDS
  [ -z "$step_name" ] || echo "[node24] — $step_name"
}

step "install node@$version from the npm registry"
npm install --prefix "$work/node" --no-audit --no-fund --loglevel=error "node@$version" >/dev/null
bin=$(dirname "$(find "$work/node/node_modules" -path '*/bin/node' -type f | head -n 1)")
[ -x "$bin/node" ] || { echo "[node24] no node binary under $work/node"; exit 1; }
export PATH="$bin:$PATH"
# bootstrap.mjs finds the headers beside this Node; a nodedir from the caller is for another Node.
unset npm_config_nodedir npm_config_build_from_source
echo "[node24] $(node --version) from $bin"

step "clone the committed tree"
git clone --quiet --no-hardlinks "$root" "$work/repo"
cd "$work/repo"

step "bootstrap with Node $(node --version)"
pnpm run bootstrap >"$work/bootstrap.log" 2>&1 || { cat "$work/bootstrap.log"; exit 1; }
# The native addon was built for this Node (a wrong ABI fails here, not in the middle of a test;
# only a connection, no statement: statements are what crash), and node:sqlite loads.
(cd packages/sqlite && node -e 'new (require("better-sqlite3"))(":memory:").close()')
node -e 'new (require("node:sqlite").DatabaseSync)(":memory:").close()'

step "unit tests (every src/ test file) on Node $(node --version)"
# Both test steps run even when the first fails, so one run shows every failure.
failed=0
pnpm exec vitest run src/ || failed=1

step "@troupe/sqlite, every test (node:sqlite) on Node $(node --version)"
pnpm exec vitest run packages/sqlite || failed=1

step ""
echo "[node24] done in $((SECONDS - started)) s"
exit "$failed"
