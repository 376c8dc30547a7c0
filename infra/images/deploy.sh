#!/usr/bin/env bash
# Runs inside the Dockerfile's build stage (after codegen and `tsc -b`):
#
#   infra/images/deploy.sh SERVICE OUT
#
# Writes to OUT exactly what the SERVICE image runs: services/SERVICE's package.json and dist/,
# its production dependencies (versions from the shared pnpm-lock.yaml) and, for each workspace
# package it uses, that package's dist/ and migrations/ (read at run time by @bulkhead/db's
# migrationsDir(import.meta.url)), nothing else.
#
# Why `--config.inject-workspace-packages=true` on this one command: pnpm 10's `deploy` requires
# injected workspace packages (or `--legacy`, which re-resolves dependencies instead of using the
# lockfile). Setting it for the workspace would make every developer's node_modules hold copies
# of the workspace packages, stale after each `tsc -b`; here it only shapes OUT.
set -euo pipefail

SERVICE=${1:?usage: deploy.sh SERVICE OUT}
OUT=${2:?usage: deploy.sh SERVICE OUT}
STORE=${PNPM_STORE_DIR:-/pnpm/store}
PKG="@bulkhead/$SERVICE-service"
# The Dockerfile's ENTRYPOINT; it must stay what `pnpm start` runs.
ENTRY='node --enable-source-maps --import @bulkhead/telemetry/register dist/main.js'

fail() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }

[[ -f services/$SERVICE/package.json ]] || fail "no services/$SERVICE/package.json"
start=$(node -p "require('./services/$SERVICE/package.json').scripts.start")
[[ $start == "$ENTRY" ]] ||
  fail "services/$SERVICE start script is '$start'; the Dockerfile's ENTRYPOINT runs '$ENTRY': change both"

# The build's CA bundle (a BuildKit secret), for a store that lacks a package.
if [[ -s /run/secrets/build-ca ]]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; fi
rm -rf "$OUT"
pnpm --config.inject-workspace-packages=true --store-dir "$STORE" --prefer-offline \
  --filter "$PKG" deploy --prod "$OUT" >/tmp/deploy-"$SERVICE".log 2>&1 ||
  { cat /tmp/deploy-"$SERVICE".log >&2; fail "pnpm deploy failed"; }

# The workspace packages are copied whole (they have no "files" list): keep what runs.
prune_workspace_package() {
  local dir=$1
  rm -rf "$dir"/src "$dir"/test "$dir"/tsconfig*.json "$dir"/*.tsbuildinfo "$dir"/buf.gen.yaml
  find "$dir" -path "$dir/node_modules" -prune -o -type f \
    \( -name '*.d.ts' -o -name '*.d.ts.map' \) -print0 | xargs -0r rm -f
}
prune_workspace_package "$OUT"
rm -f "$OUT/pnpm-lock.yaml"
for dir in "$OUT"/node_modules/.pnpm/@bulkhead+*/node_modules/@bulkhead/*; do
  [[ -L $dir ]] || prune_workspace_package "$dir"
done

# Third-party packages: type declarations and docs are never loaded (licences stay).
find "$OUT/node_modules/.pnpm" -type f \
  \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.d.ts.map' \
  -o -name '*.d.mts.map' -o -name '*.d.cts.map' -o -iname 'README*' -o -iname 'CHANGELOG*' \
  -o -iname 'HISTORY.md' \) -print0 | xargs -0r rm -f
find "$OUT/node_modules/.pnpm" -maxdepth 1 -name '@types+*' -exec rm -rf {} +
find "$OUT/node_modules" -name .bin -type d -prune -exec rm -rf {} +

# What the image must hold, checked here rather than at the first pod start.
[[ -f $OUT/dist/main.js ]] || fail "$OUT/dist/main.js missing"
[[ -f $OUT/node_modules/@bulkhead/telemetry/dist/register.js ]] || fail "@bulkhead/telemetry/register missing"
for src in packages/*/migrations; do
  name=${src#packages/}
  name=${name%/migrations}
  found=$(find "$OUT/node_modules/.pnpm" -maxdepth 4 -path "*/node_modules/@bulkhead/$name" 2>/dev/null | head -n 1)
  [[ -z $found ]] && continue # not a dependency of this service
  diff -rq "$src" "$found/migrations" >/dev/null || fail "@bulkhead/$name: migrations differ from $src"
done
printf 'deploy.sh: %s -> %s (%s)\n' "$PKG" "$OUT" "$(du -sh "$OUT" | cut -f1)"
