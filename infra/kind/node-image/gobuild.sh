# shellcheck shell=bash
# Go builds for the offline node image (sourced by infra/kind/node-image.sh).
#
# Every binary lands in $BIN_CACHE/<name>-<version>/ (outside the clone, keyed by version) with
# a .complete marker, so a fresh clone on the same machine never recompiles. Go's module and
# build caches stay in their default places (~/go/pkg/mod, ~/.cache/go-build).
#
# Needs: log, die, CACHE_DIR, BIN_CACHE, HERE_IMG (the node-image/ folder) and versions.sh.

# Wrapper modules live here: `go install mod@ver` refuses modules with replace directives
# (k8s.io/kubernetes, etcd), so we build them from a throwaway module that requires them.
GO_WORK_DIR="$CACHE_DIR/kind/go-wrappers"

# bin_done NAME VERSION: 0 when the cached build is complete.
bin_done() { [[ -f $BIN_CACHE/$1-$2/.complete ]]; }

# run_logged LOGFILE CMD...: run quietly, show the log tail on failure.
run_logged() {
  local logfile=$1
  shift
  if ! "$@" >>"$logfile" 2>&1; then
    tail -n 30 "$logfile" >&2
    die "failed: $* (log: $logfile)"
  fi
}

# finish_bin NAME VERSION TMPDIR: atomically publish a finished build.
finish_bin() {
  local name=$1 version=$2 tmp=$3
  touch "$tmp/.complete"
  rm -rf "${BIN_CACHE:?}/$name-$version"
  mv "$tmp" "$BIN_CACHE/$name-$version"
}

# The Kubernetes binaries. k8s.io/kubernetes points every staging module (k8s.io/api, ...) at
# ./staging/..., which is not in its module zip: the wrapper replaces each with the published
# module of the same patch (v0.34.4), or the nearest served one, or an empty stub.
KUBE_CMDS="kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"

kube_wrapper() {
  local dir=$1 staging_version=${KUBERNETES_VERSION/v1./v0.}
  local upstream
  upstream=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $upstream ]] || die "go mod download k8s.io/kubernetes@$KUBERNETES_VERSION failed"
  rm -rf "$dir" && mkdir -p "$dir/stubs"
  {
    echo "module bulkhead.local/kube-build"
    echo
    echo "go 1.24.0"
    echo
    echo "godebug default=go1.24" # upstream's, which the main module decides
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    local mod name version stub
    # shellcheck disable=SC2013 # module names have no spaces
    for mod in $(sed -n 's#^\tk8s.io/\([a-z0-9-]*\) => ./staging/.*#\1#p' "$upstream/go.mod"); do
      version=$staging_version
      for name in $KUBE_STAGING_OVERRIDES; do
        [[ ${name%%=*} == "$mod" ]] && version=${name#*=}
      done
      stub=
      for name in $KUBE_STAGING_STUBS; do [[ $name == "$mod" ]] && stub=1; done
      if [[ -n $stub ]]; then
        mkdir -p "$dir/stubs/$mod"
        printf 'module k8s.io/%s\n\ngo 1.24.0\n' "$mod" >"$dir/stubs/$mod/go.mod"
        echo "	k8s.io/$mod => ./stubs/$mod"
      else
        echo "	k8s.io/$mod => k8s.io/$mod $version"
      fi
    done
    echo ")"
  } >"$dir/go.mod"
  # Upstream's go.sum: some of its old dependency versions are missing from the checksum
  # database, so the sums must come from there.
  cp "$upstream/go.sum" "$dir/go.sum"
  printf 'package main\n\nfunc main() {}\n' >"$dir/main.go"
}

kube_ldflags() {
  local v=$KUBERNETES_VERSION minor
  minor=${v#v1.}
  minor=${minor%%.*}
  local p=k8s.io/component-base/version x=""
  local kv
  for kv in "gitVersion=$v" gitMajor=1 "gitMinor=$minor" gitTreeState=clean \
    "gitCommit=0000000000000000000000000000000000000000" "buildDate=1970-01-01T00:00:00Z"; do
    x+=" -X $p.$kv -X k8s.io/client-go/pkg/version.$kv"
  done
  echo "-s -w$x"
}

build_kube() {
  bin_done kubernetes "$KUBERNETES_VERSION" && return 0
  local dir="$GO_WORK_DIR/kubernetes-$KUBERNETES_VERSION" logfile="$CACHE_DIR/kind/logs/kubernetes-$KUBERNETES_VERSION.log"
  local tmp="$BIN_CACHE/.tmp-kubernetes-$$"
  mkdir -p "${logfile%/*}" && : >"$logfile"
  log "building Kubernetes $KUBERNETES_VERSION ($KUBE_CMDS) from the Go proxy: 4-7 min on 2 cores with empty Go caches, once per machine (log: $logfile)"
  kube_wrapper "$dir"
  local cmd pkgs=()
  for cmd in $KUBE_CMDS; do
    # go get each command so go.mod/go.sum gain exactly what it imports.
    (cd "$dir" && run_logged "$logfile" env GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/$cmd@$KUBERNETES_VERSION")
    pkgs+=("k8s.io/kubernetes/cmd/$cmd")
  done
  rm -rf "$tmp" && mkdir -p "$tmp"
  local start=$SECONDS
  (cd "$dir" && run_logged "$logfile" env CGO_ENABLED=0 go build -trimpath -ldflags "$(kube_ldflags)" -o "$tmp/" "${pkgs[@]}")
  "$tmp/kubelet" --version >>"$logfile" 2>&1 || die "the built kubelet does not run (log: $logfile)"
  finish_bin kubernetes "$KUBERNETES_VERSION" "$tmp"
  log "Kubernetes binaries built in $((SECONDS - start)) s"
}

# go_install_bin NAME VERSION PKG@VER [LDFLAGS]: a plain `go install` into the cache.
go_install_bin() {
  local name=$1 version=$2 pkg=$3 ldflags=${4:-}
  bin_done "$name" "$version" && return 0
  local tmp="$BIN_CACHE/.tmp-$name-$$" logfile="$CACHE_DIR/kind/logs/$name-$version.log"
  mkdir -p "${logfile%/*}" && : >"$logfile"
  log "building $name $version (go install $pkg; minutes the first time on this machine)"
  rm -rf "$tmp" && mkdir -p "$tmp"
  run_logged "$logfile" env GOBIN="$tmp" CGO_ENABLED=0 GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w $ldflags" "$pkg"
  finish_bin "$name" "$version" "$tmp"
}

# etcd's server module has replace directives (its sibling modules), so: a wrapper module.
build_etcd() {
  bin_done etcd "$ETCD_VERSION" && return 0
  local dir="$GO_WORK_DIR/etcd-$ETCD_VERSION" logfile="$CACHE_DIR/kind/logs/etcd-$ETCD_VERSION.log"
  local tmp="$BIN_CACHE/.tmp-etcd-$$" mod=go.etcd.io/etcd/server/v3 upstream
  mkdir -p "${logfile%/*}" && : >"$logfile"
  log "building etcd $ETCD_VERSION ($mod, ~2 min the first time)"
  upstream=$(go mod download -json "$mod@$ETCD_VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $upstream ]] || die "go mod download $mod@$ETCD_VERSION failed"
  rm -rf "$dir" && mkdir -p "$dir"
  printf 'module bulkhead.local/etcd-build\n\ngo %s\n\nrequire %s %s\n' \
    "$(sed -n 's/^go //p' "$upstream/go.mod")" "$mod" "$ETCD_VERSION" >"$dir/go.mod"
  cp "$upstream/go.sum" "$dir/go.sum"
  printf 'package main\n\nfunc main() {}\n' >"$dir/main.go"
  (cd "$dir" && run_logged "$logfile" env GOFLAGS=-mod=mod go get "$mod@$ETCD_VERSION")
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$dir" && run_logged "$logfile" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" "$mod")
  "$tmp/etcd" --version >>"$logfile" 2>&1 || die "the built etcd does not run (log: $logfile)"
  finish_bin etcd "$ETCD_VERSION" "$tmp"
}

build_coredns() {
  go_install_bin coredns "$COREDNS_VERSION" "github.com/coredns/coredns@$COREDNS_VERSION"
}

build_local_path() {
  go_install_bin local-path-provisioner "$LOCAL_PATH_VERSION" \
    "github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION" "-X main.VERSION=$LOCAL_PATH_VERSION"
}

# pause: our own few lines of Go (node-image/pause/), keyed by the hash of its source.
build_pause() {
  local src="$HERE_IMG/pause" version
  version="$PAUSE_TAG-$(cat "$src"/* | sha256sum | cut -c1-12)"
  bin_done pause "$version" || {
    local tmp="$BIN_CACHE/.tmp-pause-$$" logfile="$CACHE_DIR/kind/logs/pause.log"
    mkdir -p "${logfile%/*}" && : >"$logfile"
    rm -rf "$tmp" && mkdir -p "$tmp"
    (cd "$src" && run_logged "$logfile" env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$tmp/pause" .)
    finish_bin pause "$version" "$tmp"
  }
  # shellcheck disable=SC2034 # read by node-image.sh
  PAUSE_BIN="$BIN_CACHE/pause-$version/pause"
}

# kube-network-policies (what kindnet enforces NetworkPolicy with), patched: upstream queues
# packets with nftables' `queue` expression, which kernels without CONFIG_NFT_QUEUE (this
# machine's) refuse; node-image/netpol/*.patch uses the xtables NFQUEUE target instead. Built
# from a patched copy of the module zip; keyed by version + patch hash.
build_netpol() {
  local v=$KUBE_NETWORK_POLICIES_VERSION mod=sigs.k8s.io/kube-network-policies
  local key
  key="$v-$(cat "$HERE_IMG"/netpol/*.patch | sha256sum | cut -c1-12)"
  # shellcheck disable=SC2034 # read by node-image.sh
  NETPOL_BIN="$BIN_CACHE/kube-network-policies-$key/netpol"
  bin_done kube-network-policies "$key" && return 0
  local upstream src="$GO_WORK_DIR/kube-network-policies-$key" logfile="$CACHE_DIR/kind/logs/kube-network-policies-$key.log"
  local tmp="$BIN_CACHE/.tmp-kube-network-policies-$$" p
  mkdir -p "${logfile%/*}" && : >"$logfile"
  log "building kube-network-policies $v (patched: xtables NFQUEUE target; ~2 min the first time)"
  upstream=$(go mod download -json "$mod@$v" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [[ -d $upstream ]] || die "go mod download $mod@$v failed"
  rm -rf "$src" && mkdir -p "${src%/*}" && cp -r "$upstream" "$src" && chmod -R u+w "$src"
  for p in "$HERE_IMG"/netpol/*.patch; do
    run_logged "$logfile" patch -d "$src" -p1 -i "$p"
  done
  rm -rf "$tmp" && mkdir -p "$tmp"
  (cd "$src" && run_logged "$logfile" env CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$tmp/netpol" ./cmd)
  finish_bin kube-network-policies "$key" "$tmp"
}
