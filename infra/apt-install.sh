#!/usr/bin/env bash
# apt-install.sh PKG...: installs Debian packages the project needs (root), after an
# `apt-get update` so a fresh machine's empty package lists are no obstacle. Waits for a dpkg
# lock held by someone else's apt run; on failure prints apt's last lines and exits non-zero.
set -euo pipefail
(($# > 0)) || { echo "usage: apt-install.sh PKG..." >&2; exit 2; }
((EUID == 0)) || { echo "[bulkhead] ERROR: installing $* needs root" >&2; exit 1; }
echo "[bulkhead] apt-get install $*" >&2
export DEBIAN_FRONTEND=noninteractive
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! { apt-get -o DPkg::Lock::Timeout=300 -qq update &&
  apt-get -o DPkg::Lock::Timeout=300 -qq install -y --no-install-recommends "$@"; } >"$out" 2>&1; then
  tail -n 20 "$out" >&2
  echo "[bulkhead] ERROR: apt-get install $* failed" >&2
  exit 1
fi
