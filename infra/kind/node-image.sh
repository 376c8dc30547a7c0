#!/usr/bin/env bash
# Builds the kind node image for offline use, bulkhead-local/kind-node:v1.34.4, from nothing but
# the Go module proxy and Debian's archive (no container registry is needed or used):
#
#   node-image.sh [build]   build the image unless it is present and its inputs are unchanged
#   node-image.sh kubectl   only put .tools/bin/kubectl (same version) in place
#   node-image.sh hash      print the hash of the inputs (the image's label)
#   node-image.sh name      print the image name
#
# What is in it (versions: node-image/versions.sh):
#   - Debian bookworm (debootstrap --variant=minbase) with systemd, containerd, runc, iptables,
#     CNI plugins, laid out with kind's own base files (entrypoint, units, containerd config)
#     taken from the kind Go module zip;
#   - kubelet, kubeadm, kubectl built from k8s.io/kubernetes (node-image/gobuild.sh);
#   - preloaded into containerd: kube-apiserver, kube-controller-manager, kube-scheduler,
#     kube-proxy, etcd, CoreDNS, pause (the names kubeadm asks for), and local-path-provisioner +
#     its helper for the default StorageClass `standard`;
#   - a bridge CNI conflist (single node; kind's kindnetd image cannot be had offline), put in
#     place once kube-proxy routes Services, and kube-network-policies (patched for kernels
#     without nft's queue expression) as kind's "default CNI" manifest: NetworkPolicy enforced;
#   - bulkhead-node-entrypoint: keeps the node from changing the host's sysctls.
#
# Cache: the image carries the label io.bulkhead.kind-node.inputs = hash of this script and
# node-image/; with the image present and that hash equal, nothing is done. Binaries are kept
# in $BULKHEAD_CACHE_DIR/kind/bin/<name>-<version> (outside the clone), so a fresh clone on the
# same machine does not compile again; Docker's layer cache keeps the base image.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -P "$HERE/../.." && pwd)"
HERE_IMG="$HERE/node-image"
CACHE_DIR="${BULKHEAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead}"
BIN_CACHE="$CACHE_DIR/kind/bin"
WORK="$CACHE_DIR/kind/work"
LABEL_KEY=io.bulkhead.kind-node.inputs

# shellcheck source=node-image/versions.sh
source "$HERE_IMG/versions.sh"
NODE_IMAGE="${BULKHEAD_KIND_NODE_IMAGE:-bulkhead-local/kind-node:$KUBERNETES_VERSION}"
DEBIAN_IMAGE="bulkhead-local/kind-debian:$DEBIAN_SUITE"
BASE_IMAGE="bulkhead-local/kind-node-base:$DEBIAN_SUITE"
STAGE_IMAGE="bulkhead-local/kind-node-stage:$KUBERNETES_VERSION"
# The names kubeadm v1.34 and the node ask containerd for, and the local image each one is.
PAUSE_IMAGE="registry.k8s.io/pause:$PAUSE_TAG"
BUSYBOX_TAG=1.35 # Debian bookworm's busybox-static, the local-path helper
LOCAL_PATH_IMAGE="docker.io/bulkhead-local/local-path-provisioner:$LOCAL_PATH_VERSION"
LOCAL_PATH_HELPER_IMAGE="docker.io/bulkhead-local/local-path-helper:$BUSYBOX_TAG"
NETPOL_IMAGE="docker.io/bulkhead-local/kube-network-policies:$KUBE_NETWORK_POLICIES_VERSION"

log() { printf '[bulkhead] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=node-image/gobuild.sh
source "$HERE_IMG/gobuild.sh"

# The 20.10 client: it has BuildKit (the machine's 28.x client has no buildx).
DOCKER=docker
[[ -x /usr/bin/docker ]] && DOCKER=/usr/bin/docker
export DOCKER_BUILDKIT=1

use_engine() {
  bash "$REPO_ROOT/infra/docker/engine.sh" start
  eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env)"
}

inputs_hash() {
  (
    cd "$HERE"
    find node-image.sh node-image -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  ) | sha256sum | cut -c1-16
}

image_label() {
  "$DOCKER" image inspect -f "{{index .Config.Labels \"$LABEL_KEY\"}}" "$1" 2>/dev/null || true
}

# .tools/bin/kubectl for the host (the machine's may be older): from the binary cache, or,
# when only the image is left, out of the image.
ensure_kubectl() {
  local bin="$BIN_CACHE/kubernetes-$KUBERNETES_VERSION/kubectl"
  if [[ ! -x $bin ]]; then
    bin="$BIN_CACHE/kubectl-$KUBERNETES_VERSION/kubectl"
    if [[ ! -x $bin ]]; then
      if [[ -n $(image_label "$NODE_IMAGE") ]]; then
        log "kubectl $KUBERNETES_VERSION: copying it out of $NODE_IMAGE"
        local cid
        cid=$("$DOCKER" create "$NODE_IMAGE")
        mkdir -p "${bin%/*}"
        "$DOCKER" cp "$cid:/usr/bin/kubectl" "$bin.tmp" && mv "$bin.tmp" "$bin"
        "$DOCKER" rm "$cid" >/dev/null
      else
        build_kube
        bin="$BIN_CACHE/kubernetes-$KUBERNETES_VERSION/kubectl"
      fi
    fi
  fi
  mkdir -p "$REPO_ROOT/.tools/bin"
  ln -sfn "$bin" "$REPO_ROOT/.tools/bin/kubectl"
}

# The Debian archive this machine's apt uses (deb822 or one-line sources): "MAIN SECURITY".
apt_mirrors() {
  local main="" security="" kind uri
  while read -r kind uri; do
    [[ $kind == main && -z $main ]] && main=$uri
    [[ $kind == security && -z $security ]] && security=$uri
  done < <(apt_source_uris)
  echo "${main:-http://deb.debian.org/debian} ${security:-http://deb.debian.org/debian-security}"
}

# "main URI" / "security URI" for each apt source of our suite.
apt_source_uris() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    # deb822: stanzas separated by blank lines; the URIs of a stanza whose Suites has our suite.
    awk -v suite="$DEBIAN_SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        uri = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { uri = $i; sub(/^URIs:[ \t]*/, "", uri); sub(/[ \t].*/, "", uri) }
          if ($i ~ /^Suites:/) { suites = " " $i " " }
        }
        if (uri == "") next
        if (suites ~ (" " suite "-security ")) print "security", uri
        else if (suites ~ (" " suite " ")) print "main", uri
      }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk -v suite="$DEBIAN_SUITE" '
      $1 == "deb" {
        for (i = 2; i <= NF; i++) if ($i !~ /^\[/) { uri = $i; s = $(i + 1); break }
        if (s == suite "-security") print "security", uri
        else if (s == suite) print "main", uri
      }' "$f"
  done
}

# bulkhead-local/kind-debian:bookworm: debootstrap minbase, imported (kept: ~200 MB).
build_debian() {
  if "$DOCKER" image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then
    return 0
  fi
  command -v debootstrap >/dev/null || bash "$REPO_ROOT/infra/apt-install.sh" debootstrap
  local mirror rootfs="$WORK/debootstrap-$$" logfile="$CACHE_DIR/kind/logs/debootstrap.log"
  read -r mirror _ < <(apt_mirrors)
  log "debootstrap --variant=minbase $DEBIAN_SUITE from $mirror (~1 min)"
  mkdir -p "${logfile%/*}" && : >"$logfile"
  rm -rf "$rootfs"
  # debootstrap mounts /proc and /sys inside the target while it runs: undo on any exit.
  # shellcheck disable=SC2064 # expand now: the locals are gone at exit
  trap "umount_below '$rootfs'; rm -rf '$rootfs'" EXIT
  run_logged "$logfile" debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$mirror"
  umount_below "$rootfs"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "$DOCKER" import \
    -c "LABEL io.bulkhead.debootstrap=$DEBIAN_SUITE-minbase io.bulkhead.debootstrap.mirror=$mirror" \
    - "$DEBIAN_IMAGE" >/dev/null
  rm -rf "$rootfs"
  trap - EXIT
}

umount_below() {
  local dir=$1 m
  [[ -d $dir ]] || return 0
  { findmnt -rn -o TARGET | grep -F "$dir/" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
}

# docker_build TAG CONTEXT [ARGS...]: quiet build, log kept, tail shown on failure.
docker_build() {
  local tag=$1 ctx=$2 name
  shift 2
  name=${tag#bulkhead-local/}
  local logfile="$CACHE_DIR/kind/logs/build-${name//[:\/]/-}.log"
  mkdir -p "${logfile%/*}" && : >"$logfile"
  run_logged "$logfile" "$DOCKER" build --network host --progress plain -t "$tag" "$@" "$ctx"
}

# The node's base: Debian + packages + kind's base files (from kind's module zip).
build_base() {
  local kind_dir ctx="$WORK/ctx-base"
  kind_dir=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $kind_dir/images/base/files ]] || die "kind $KIND_VERSION module has no images/base/files"
  rm -rf "$ctx" && mkdir -p "$ctx/kind-files"
  cp "$HERE_IMG/Dockerfile.base" "$ctx/Dockerfile"
  cp -r "$kind_dir/images/base/files/etc" "$kind_dir/images/base/files/kind" "$kind_dir/images/base/files/usr" "$ctx/kind-files/"
  # Modes as kind's Dockerfile sets them (COPY --chmod): scripts 0755, the rest 0644.
  chmod -R u+w "$ctx/kind-files"
  find "$ctx/kind-files" -type d -exec chmod 0755 {} +
  find "$ctx/kind-files" -type f -exec chmod 0644 {} +
  chmod 0755 "$ctx/kind-files/usr/local/bin/"* "$ctx/kind-files/kind/bin/"*
  rm -f "$ctx/kind-files/usr/local/bin/clean-install" # apt-get is used directly
  local main security
  read -r main security < <(apt_mirrors)
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
    "$main" "$DEBIAN_SUITE" "$main" "$DEBIAN_SUITE" "$security" "$DEBIAN_SUITE" >"$ctx/sources.list"
  log "node base image (Debian packages: ~2 min the first time, then Docker's cache)"
  docker_build "$BASE_IMAGE" "$ctx" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE"
}

# A FROM-scratch image holding one static binary, with a minimal /etc and /tmp.
static_image() {
  local tag=$1 bin=$2 entrypoint=$3 user=${4:-0:0}
  local ctx="$WORK/ctx-${tag//[:\/]/-}"
  rm -rf "$ctx" && mkdir -p "$ctx/root/etc" "$ctx/root/tmp" "$ctx/root/usr/local/bin"
  chmod 1777 "$ctx/root/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$ctx/root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$ctx/root/etc/group"
  echo 'hosts: files dns' >"$ctx/root/etc/nsswitch.conf"
  mkdir -p "$ctx/root/$(dirname "$entrypoint")"
  cp -l "$bin" "$ctx/root/$entrypoint" 2>/dev/null || cp "$bin" "$ctx/root/$entrypoint"
  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY root/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin
USER $user
ENTRYPOINT ["$entrypoint"]
EOF
  docker_build "$tag" "$ctx"
}

# kube-proxy runs iptables, ip6tables (nft and legacy backends) and conntrack: those binaries
# and the libraries they load, staged from Debian's packages onto scratch (~15 MB instead of a
# ~190 MB Debian). iptables* point at the nft backend, as Debian's alternatives do.
kube_proxy_image() {
  local tag=$1 ctx="$WORK/ctx-kube-proxy"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp -l "$BIN_CACHE/kubernetes-$KUBERNETES_VERSION/kube-proxy" "$ctx/kube-proxy" 2>/dev/null ||
    cp "$BIN_CACHE/kubernetes-$KUBERNETES_VERSION/kube-proxy" "$ctx/kube-proxy"
  cp "$WORK/ctx-base/sources.list" "$ctx/sources.list"
  cat >"$ctx/Dockerfile" <<'EOF'
ARG DEBIAN_IMAGE
FROM ${DEBIAN_IMAGE} AS debian
COPY sources.list /etc/apt/sources.list
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables conntrack
# Stage: the two xtables multi-call binaries, conntrack, every shared library they (and the
# xtables extensions) need, and the extensions themselves.
# Laid out merged-/usr like Debian (/lib, /lib64, /sbin are links into /usr), each library at
# its real path with its soname link beside it.
RUN set -e; s=/stage; lib=/usr/lib/x86_64-linux-gnu; \
    mkdir -p $s$lib $s/usr/lib64 $s/usr/sbin $s/etc; \
    ln -s usr/lib $s/lib; ln -s usr/lib64 $s/lib64; ln -s usr/sbin $s/sbin; \
    bins="/usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi /usr/sbin/conntrack"; \
    for b in $bins; do cp -a "$b" $s/usr/sbin/; done; \
    cp -a $lib/xtables $s$lib/; \
    for f in $bins $lib/xtables/*.so; do \
      ldd "$f" | awk '/=> \// {print $3} /^\t\/lib64/ {print $1}'; \
    done | sort -u | while read -r l; do \
      real=$(readlink -f "$l"); cp -a "$real" "$s$real"; \
      [ "$(basename "$l")" = "$(basename "$real")" ] || ln -sf "$(basename "$real")" "$s$(dirname "$real")/$(basename "$l")"; \
    done; \
    cp -a /usr/lib64/ld-linux-x86-64.so.2 $s/usr/lib64/; \
    for t in iptables ip6tables; do for x in "" -save -restore; do \
      ln -s xtables-nft-multi $s/usr/sbin/$t$x; ln -s xtables-nft-multi $s/usr/sbin/$t-nft$x; \
      ln -s xtables-legacy-multi $s/usr/sbin/$t-legacy$x; done; done; \
    cp /etc/protocols /etc/services /etc/ethertypes $s/etc/ 2>/dev/null || true; \
    mkdir -p $s/run $s/var/run $s/tmp; chmod 1777 $s/tmp
FROM scratch
COPY --from=debian /stage/ /
COPY kube-proxy /usr/local/bin/kube-proxy
ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
EOF
  docker_build "$tag" "$ctx" --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE"
}

# The local-path helper pod runs sh/mkdir/rm: Debian's static busybox, on scratch.
busybox_image() {
  local tag=$1 ctx="$WORK/ctx-busybox"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$WORK/ctx-base/sources.list" "$ctx/sources.list"
  cat >"$ctx/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE AS debian
COPY sources.list /etc/apt/sources.list
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static
FROM scratch
COPY --from=debian /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
CMD ["sh"]
EOF
  docker_build "$tag" "$ctx"
}

# Every image the node needs: docker tag => the name containerd must know it by.
declare -A PRELOAD=()

build_component_images() {
  log "component images (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, etcd, CoreDNS, pause, local-path-provisioner, kube-network-policies, busybox)"
  local k="$BIN_CACHE/kubernetes-$KUBERNETES_VERSION" c
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    static_image "bulkhead-local/kind-$c:$KUBERNETES_VERSION" "$k/$c" "/usr/local/bin/$c"
    PRELOAD["bulkhead-local/kind-$c:$KUBERNETES_VERSION"]="registry.k8s.io/$c:$KUBERNETES_VERSION"
  done
  kube_proxy_image "bulkhead-local/kind-kube-proxy:$KUBERNETES_VERSION"
  PRELOAD["bulkhead-local/kind-kube-proxy:$KUBERNETES_VERSION"]="registry.k8s.io/kube-proxy:$KUBERNETES_VERSION"
  static_image "bulkhead-local/kind-etcd:$ETCD_VERSION" "$BIN_CACHE/etcd-$ETCD_VERSION/etcd" /usr/local/bin/etcd
  PRELOAD["bulkhead-local/kind-etcd:$ETCD_VERSION"]="registry.k8s.io/etcd:$ETCD_TAG"
  static_image "bulkhead-local/kind-coredns:$COREDNS_VERSION" "$BIN_CACHE/coredns-$COREDNS_VERSION/coredns" /coredns
  PRELOAD["bulkhead-local/kind-coredns:$COREDNS_VERSION"]="registry.k8s.io/coredns/coredns:$COREDNS_TAG"
  static_image "bulkhead-local/kind-pause:$PAUSE_TAG" "$PAUSE_BIN" /pause 65535:65535
  PRELOAD["bulkhead-local/kind-pause:$PAUSE_TAG"]="$PAUSE_IMAGE"
  static_image "bulkhead-local/kind-local-path-provisioner:$LOCAL_PATH_VERSION" \
    "$BIN_CACHE/local-path-provisioner-$LOCAL_PATH_VERSION/local-path-provisioner" /usr/local/bin/local-path-provisioner
  PRELOAD["bulkhead-local/kind-local-path-provisioner:$LOCAL_PATH_VERSION"]="$LOCAL_PATH_IMAGE"
  static_image "bulkhead-local/kind-kube-network-policies:$KUBE_NETWORK_POLICIES_VERSION" \
    "$NETPOL_BIN" /bin/netpol
  PRELOAD["bulkhead-local/kind-kube-network-policies:$KUBE_NETWORK_POLICIES_VERSION"]="$NETPOL_IMAGE"
  busybox_image "bulkhead-local/kind-busybox:$BUSYBOX_TAG"
  PRELOAD["bulkhead-local/kind-busybox:$BUSYBOX_TAG"]="$LOCAL_PATH_HELPER_IMAGE"
}

# The node without its images: base + binaries + our files.
build_stage() {
  local ctx="$WORK/ctx-node" k="$BIN_CACHE/kubernetes-$KUBERNETES_VERSION" b
  rm -rf "$ctx" && mkdir -p "$ctx/bin" "$ctx/files"
  for b in kubelet kubeadm kubectl; do
    cp -l "$k/$b" "$ctx/bin/$b" 2>/dev/null || cp "$k/$b" "$ctx/bin/$b"
  done
  cp "$HERE_IMG/Dockerfile.node" "$ctx/Dockerfile"
  cp "$HERE_IMG/files/bulkhead-node-entrypoint" "$HERE_IMG/files/10-bulkhead-bridge.conflist" \
    "$HERE_IMG/files/bulkhead-cni-install" "$HERE_IMG/files/bulkhead-cni.service" "$ctx/files/"
  local m
  for m in default-storage.yaml default-cni.yaml; do
    sed -e "s#@LOCAL_PATH_IMAGE@#$LOCAL_PATH_IMAGE#g" -e "s#@LOCAL_PATH_HELPER_IMAGE@#$LOCAL_PATH_HELPER_IMAGE#g" \
      -e "s#@NETPOL_IMAGE@#$NETPOL_IMAGE#g" "$HERE_IMG/files/$m" >"$ctx/files/$m"
  done
  log "node image: binaries and configuration"
  docker_build "$STAGE_IMAGE" "$ctx" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "KUBERNETES_VERSION=$KUBERNETES_VERSION" --build-arg "PAUSE_IMAGE=$PAUSE_IMAGE"
}

# Import the images into the node's containerd content store (not unpacked: containerd
# unpacks on first use; that is how kind's own node images are built) in a privileged
# container running only containerd, then commit that container as the node image.
preload_and_commit() {
  local hash=$1 tars="$WORK/preload" name cid
  rm -rf "$tars" && mkdir -p "$tars"
  log "saving ${#PRELOAD[@]} images for the node's containerd"
  "$DOCKER" save -o "$tars/images.tar" "${!PRELOAD[@]}"
  name="bulkhead-kind-preload-$$"
  # shellcheck disable=SC2064 # expand now: the locals are gone at exit
  trap "'$DOCKER' rm -f '$name' >/dev/null 2>&1 || true" EXIT
  cid=$("$DOCKER" run -d --name "$name" --privileged --tmpfs /run --tmpfs /tmp \
    -v "$tars:/kind/preload:ro" --entrypoint /usr/bin/containerd "$STAGE_IMAGE")
  local i
  for ((i = 0; i < 100; i++)); do
    "$DOCKER" exec "$cid" ctr version >/dev/null 2>&1 && break
    sleep 0.2
  done
  "$DOCKER" exec "$cid" ctr version >/dev/null 2>&1 || die "containerd did not start in the preload container"
  log "importing them into containerd (k8s.io namespace)"
  "$DOCKER" exec "$cid" ctr -n k8s.io images import --no-unpack --all-platforms /kind/preload/images.tar >/dev/null
  local src
  for src in "${!PRELOAD[@]}"; do
    "$DOCKER" exec "$cid" ctr -n k8s.io images tag --force "docker.io/$src" "${PRELOAD[$src]}" >/dev/null
    "$DOCKER" exec "$cid" ctr -n k8s.io images rm "docker.io/$src" >/dev/null
  done
  local want names
  names=$("$DOCKER" exec "$cid" ctr -n k8s.io images ls -q)
  for want in "${PRELOAD[@]}"; do
    grep -qxF "$want" <<<"$names" || die "preload: $want is missing from the node's containerd"
  done
  "$DOCKER" stop -t 30 "$cid" >/dev/null
  local old
  old=$("$DOCKER" image inspect -f '{{.Id}}' "$NODE_IMAGE" 2>/dev/null || true)
  "$DOCKER" commit "$cid" "$STAGE_IMAGE-preloaded" >/dev/null
  "$DOCKER" rm "$cid" >/dev/null
  trap - EXIT
  local ctx="$WORK/ctx-final"
  rm -rf "$ctx" && mkdir -p "$ctx"
  # Image metadata after the commit (docker 20.10's commit cannot set STOPSIGNAL).
  cat >"$ctx/Dockerfile" <<EOF
FROM $STAGE_IMAGE-preloaded
LABEL $LABEL_KEY=$hash io.bulkhead.kind-node.kubernetes=$KUBERNETES_VERSION
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/bulkhead-node-entrypoint", "/sbin/init"]
CMD []
EOF
  docker_build "$NODE_IMAGE" "$ctx"
  "$DOCKER" rmi "$STAGE_IMAGE-preloaded" "$STAGE_IMAGE" >/dev/null 2>&1 || true
  # The previous build of our node image, now untagged, is ours to remove.
  if [[ -n $old && $old != "$("$DOCKER" image inspect -f '{{.Id}}' "$NODE_IMAGE")" ]]; then
    "$DOCKER" rmi "$old" >/dev/null 2>&1 || true
  fi
  rm -rf "$tars"
}

build() {
  use_engine
  local hash
  hash=$(inputs_hash)
  if [[ $(image_label "$NODE_IMAGE") == "$hash" ]]; then
    log "node image $NODE_IMAGE is up to date (inputs $hash)"
    ensure_kubectl
    return 0
  fi
  mkdir -p "$CACHE_DIR/kind" "$BIN_CACHE" "$WORK"
  exec {lock}>"$CACHE_DIR/kind/node-image.lock"
  flock -w 3600 "$lock" || die "another node-image.sh is still running"
  if [[ $(image_label "$NODE_IMAGE") == "$hash" ]]; then
    log "node image $NODE_IMAGE was built meanwhile (inputs $hash)"
    ensure_kubectl
    return 0
  fi
  local start=$SECONDS
  log "building node image $NODE_IMAGE (inputs $hash)"
  build_kube
  build_etcd
  build_coredns
  build_local_path
  build_pause
  build_netpol
  ensure_kubectl
  build_debian
  build_base
  build_component_images
  build_stage
  preload_and_commit "$hash"
  log "node image $NODE_IMAGE built in $((SECONDS - start)) s ($("$DOCKER" image inspect -f '{{.Size}}' "$NODE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
}

case "${1:-build}" in
build) build ;;
kubectl)
  use_engine
  ensure_kubectl
  ;;
hash) inputs_hash ;;
name) echo "$NODE_IMAGE" ;;
*) die "usage: node-image.sh [build|kubectl|hash|name]" ;;
esac
