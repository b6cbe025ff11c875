#!/usr/bin/env bash
# Assembles the build context of the Troupe image in <dir>, then `podman build` turns it into an
# image FROM scratch (no base image is pulled):
#
#   bash deploy/image/stage.sh <dir> [--drivers postgres,redis,nats,etcd]
#   podman build --format docker -t troupe:dev <dir>
#
# <dir>/rootfs holds:
#   /usr/local/bin/node   this machine's Node (or $TROUPE_IMAGE_NODE) and the shared libraries
#                         it and the native addons link, found with ldd
#   /app                  `pnpm deploy --prod` of the troupe CLI: the runtime, the dashboard's
#                         static files and @troupe/sqlite (the CLI's default storage), with their
#                         production dependencies only
#   /app/node_modules/@troupe/<driver>
#                         each driver named by --drivers, deployed the same way; the runtime
#                         imports a driver only when the config names it
#   /etc/passwd, /etc/group, /etc/nsswitch.conf, /tmp, /usr/local/lib/troupe/healthcheck.mjs
set -euo pipefail

usage() { echo "usage: stage.sh <dir> [--drivers postgres,redis,nats,etcd]" >&2; exit 2; }
[ $# -ge 1 ] || usage
context=$1
shift
drivers=""
while [ $# -gt 0 ]; do
  case $1 in
    --drivers) drivers=${2:-}; shift 2 ;;
    --drivers=*) drivers=${1#--drivers=}; shift ;;
    *) usage ;;
  esac
done
for driver in ${drivers//,/ }; do
  case $driver in
    postgres | redis | nats | etcd) ;;
    *) echo "stage.sh: --drivers: unknown driver '$driver' (expected postgres, redis, nats or etcd)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
node_bin=$(readlink -f "${TROUPE_IMAGE_NODE:-$(command -v node)}")
export TURBO_TELEMETRY_DISABLED=1

rm -rf "$context"
mkdir -p "$context/rootfs" "$context/data"
context=$(cd "$context" && pwd)
rootfs=$context/rootfs

echo "[stage] building the CLI and what it depends on"
filters=(--filter=@troupe/cli...)
for driver in ${drivers//,/ }; do filters+=("--filter=@troupe/$driver..."); done
(cd "$repo" && pnpm exec turbo run build "${filters[@]}" --output-logs=errors-only >/dev/null)

echo "[stage] pruned production install of @troupe/cli"
(cd "$repo" && pnpm --filter @troupe/cli deploy --prod "$rootfs/app" >/dev/null)
for driver in ${drivers//,/ }; do
  echo "[stage] driver @troupe/$driver"
  (cd "$repo" && pnpm --filter "@troupe/$driver" deploy --prod "$rootfs/app/node_modules/@troupe/$driver" >/dev/null)
done
# What pnpm deploy leaves that a running image never reads.
find "$rootfs/app" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' \) -type f -delete
rm -f "$rootfs/app/pnpm-lock.yaml" "$rootfs/app/pnpm-workspace.yaml"

echo "[stage] node $("$node_bin" --version) and its shared libraries"
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
copy_libraries() { # copies every library `ldd $1` names, at the same path
  ldd "$1" | awk '/=> \// { print $3 } /^\t\// { print $1 }' | while read -r library; do
    [ -e "$rootfs$library" ] || cp -L --parents "$library" "$rootfs/"
  done
}
copy_libraries "$node_bin"
while IFS= read -r addon; do copy_libraries "$addon"; done < <(find "$rootfs/app" -name '*.node' -type f)

echo "[stage] users and files"
mkdir -p "$rootfs/etc" "$rootfs/tmp" "$rootfs/usr/local/lib/troupe"
chmod 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\ntroupe:x:10001:10001:troupe:/data:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\ntroupe:x:10001:\n' >"$rootfs/etc/group"
printf 'hosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
install -m 0644 "$here/healthcheck.mjs" "$rootfs/usr/local/lib/troupe/healthcheck.mjs"
cp "$here/Containerfile" "$context/Containerfile"

echo "[stage] $(du -sh "$rootfs" | cut -f1) in $context (drivers: sqlite${drivers:+,$drivers})"
