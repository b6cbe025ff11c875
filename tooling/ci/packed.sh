#!/usr/bin/env bash
# CI: Troupe as a stranger gets it from the registry. Packs every public package (each `prepack`
# builds it), checks what each tarball holds, installs all of them into an empty project with npm
# (failing on any dependency whose engines exclude our Node), type-checks a consumer program with
# `tsc --strict --module nodenext`, runs it (flows on SQLite, stats, actors, the runtime with the
# installed dashboard), runs the installed CLI (`npx @troupe/cli dev`), and runs the example
# adapter in examples/ against the published conformance suites. Prints the time of each step.
# Usage: bash tooling/ci/packed.sh   (keeps its temp folder when TROUPE_CI_KEEP=1)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/troupe-packed-XXXXXX")
cleanup() { if [ "${TROUPE_CI_KEEP:-}" != 1 ]; then rm -rf "$work"; else echo "[packed] kept $work"; fi; }
trap cleanup EXIT

# better-sqlite3 compiles against the local Node headers when there are any (as bootstrap does).
if [ -z "${npm_config_nodedir:-}" ]; then
  prefix=$(dirname "$(dirname "$(command -v node)")")
  if [ -f "$prefix/include/node/node.h" ]; then export npm_config_nodedir=$prefix; fi
fi
# npm warns about settings it does not know; this one is for pnpm's installs only.
unset npm_config_build_from_source
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# better-sqlite3 installs with `prebuild-install || node-gyp rebuild`: a stranger's npm downloads
# the prebuilt addon for their Node, and compiles SQLite (minutes of one core) only when there is
# none. This machine has no network for the download, so it would compile every time. Instead the
# addon bootstrap already compiled for this Node and this exact version is packed as the prebuilt
# tarball prebuild-install looks for, and offered through a `.prebuild-installrc` in <dir>
# (`local-prebuilds`): the install script, the unpacking and prebuild-install's own load check run
# as on a stranger's machine. When the versions differ, or the workspace's addon does not load
# under this Node, nothing is offered and npm compiles as before.
offer_prebuilt_sqlite() { # offer_prebuilt_sqlite DIR
  local dir=$1 pkg version abi name
  pkg=$(cd "$root/packages/sqlite" && node -p 'require("path").dirname(require.resolve("better-sqlite3/package.json"))' 2>/dev/null) || return 0
  version=$(node -p "require('$pkg/package.json').version")
  [ "$version" = "$(node -p "require('$root/packages/sqlite/package.json').dependencies['better-sqlite3']")" ] || return 0
  [ -f "$pkg/build/Release/better_sqlite3.node" ] || return 0
  (cd "$pkg" && node -e 'new (require("better-sqlite3"))(":memory:").close()') 2>/dev/null || return 0
  abi=$(node -p process.versions.modules)
  name="better-sqlite3-v$version-node-v$abi-$(node -p 'process.platform + "-" + process.arch').tar.gz"
  mkdir -p "$dir/.prebuilds"
  tar -czf "$dir/.prebuilds/$name" -C "$pkg" build/Release/better_sqlite3.node
  printf 'local-prebuilds=%s\n' "$dir/.prebuilds" >"$dir/.prebuild-installrc"
  echo "[packed] better-sqlite3: offering the workspace's addon as $name"
}

started=$SECONDS
step_started=$SECONDS
step() {
  if [ -n "${step_name:-}" ]; then echo "[packed] $step_name: $((SECONDS - step_started)) s"; fi
  step_name=$1
  step_started=$SECONDS
  echo "[packed] — $step_name"
}

step "pack every public package"
mkdir -p "$work/tarballs"
public=()
for dir in packages/* apps/*; do
  [ -f "$dir/package.json" ] || continue
  if [ "$(node -p "require('./$dir/package.json').private === true")" = true ]; then continue; fi
  public+=("$dir")
  (cd "$dir" && pnpm pack --pack-destination "$work/tarballs" >/dev/null)
done
echo "[packed] ${#public[@]} packages: ${public[*]}"

step "check the tarballs"
for tarball in "$work"/tarballs/*.tgz; do
  name=$(basename "$tarball")
  listing=$(tar -tzf "$tarball")
  for file in package/package.json package/README.md package/LICENSE; do
    grep -qx "$file" <<<"$listing" || { echo "[packed] $name lacks $file"; exit 1; }
  done
  manifest=$(tar -xOzf "$tarball" package/package.json)
  if grep -q '"workspace:' <<<"$manifest"; then echo "[packed] $name keeps a workspace: range"; exit 1; fi
  if grep -q '"source"' <<<"$manifest"; then echo "[packed] $name exports its source condition"; exit 1; fi
  for field in repository homepage bugs license; do
    node -e "process.exit(JSON.parse(require('fs').readFileSync(0,'utf8')).$field ? 0 : 1)" <<<"$manifest" \
      || { echo "[packed] $name has no $field"; exit 1; }
  done
done
# The listing is read whole first: with pipefail, `tar | grep -q` fails whenever grep's early exit
# makes tar die of SIGPIPE (seen under load, with the file present).
dashboard_listing=$(tar -tzf "$work"/tarballs/troupe-dashboard-*.tgz)
grep -qx package/dist/index.html <<<"$dashboard_listing" \
  || { echo "[packed] the dashboard tarball holds no built dist/index.html"; exit 1; }

step "install the tarballs into an empty project with npm"
app="$work/app"
mkdir -p "$app"
cp tooling/ci/consumer/consumer.ts tooling/ci/consumer/cli-check.mjs "$app/"
cd "$app"
printf '{ "name": "troupe-consumer", "private": true, "type": "module" }\n' >package.json
offer_prebuilt_sqlite "$app"
npm install "$work"/tarballs/*.tgz typescript@5.9.3 @types/node@20 zod@4.6.7 2>&1 | tee install.log
if grep -q EBADENGINE install.log; then
  echo "[packed] a dependency's engines exclude Node $(node --version)"
  exit 1
fi

step "type-check the consumer (tsc --strict --module nodenext)"
npx tsc --strict --module nodenext --moduleResolution nodenext --target es2022 --types node \
  --outDir out consumer.ts

step "run the consumer: flows on SQLite, stats, actors, the runtime's dashboard"
node out/consumer.js

step "run the installed CLI: npx @troupe/cli dev, troupe stats resolve"
node cli-check.mjs

step "the example adapter against the published suites"
adapter="$work/adapter"
cp -r "$root/examples/json-file-store" "$adapter"
cd "$adapter"
rm -rf node_modules
npm install "$work"/tarballs/troupe-core-*.tgz "$work"/tarballs/troupe-testkit-*.tgz 2>&1 | tail -n 3
npx tsc --noEmit
npx vitest run

echo "[packed] $step_name: $((SECONDS - step_started)) s"
echo "[packed] done in $((SECONDS - started)) s"
