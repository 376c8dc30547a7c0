#!/usr/bin/env bash
# Installs pinned tools under .tools/ (gitignored), only those named: the Kubernetes ones,
# Schemathesis (tests/fuzz), k6 (the load tests, load-tests/) and toxiproxy (the TCP fault proxy
# of make chaos: its server and its CLI, toxiproxy-server and toxiproxy-cli), and the observability
# backends of make up: Jaeger v2 (traces), Prometheus and promtool (metrics, rule checks) and the
# OpenTelemetry Collector (otelcol, linked as otelcol-bulkhead; built by the collector builder
# from infra/kind/otelcol-builder.yaml):
#   infra/kind/tools.sh helm helm4 kubeconform kind kubernetes-validate kube-schemas schemathesis k6 toxiproxy
#   infra/kind/tools.sh jaeger prometheus promtool otelcol
# Go tools are `go install`ed from the Go module proxy into .tools/go/<name>-<version>/ and
# linked as .tools/bin/<name>; Go's module and build caches stay in their default places
# outside the clone, so a fresh clone on the same machine relinks in seconds instead of
# compiling for minutes. Python tools come from PyPI, each into its own venv under .tools/:
# kubernetes-validate (the Kubernetes OpenAPI schemas, strict) and schemathesis (the
# property-based fuzzer make test runs over the OpenAPI documents, tests/fuzz). Idempotent;
# prints the path of nothing, logs to stderr.
set -euo pipefail
REPO_ROOT="$(cd -P "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS_DIR="$REPO_ROOT/.tools"

KIND_VERSION=v0.33.0
HELM3_VERSION=v3.22.0
HELM4_VERSION=v4.3.1
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VALIDATE_VERSION=1.37.0
SCHEMATHESIS_VERSION=4.32.5
K6_VERSION=v1.8.1
TOXIPROXY_VERSION=v2.5.0
# Jaeger v2's code line; only this module tag of it is on the Go proxy here (v2.13's code).
JAEGER_VERSION=v1.76.0
# Prometheus 3.16.0 (its Go module is tagged v0.316.0), with every service discovery but
# Kubernetes's (the chart's) and the file-based one (make up's) compiled out: a smaller binary and
# a shorter build. Its web UI assets are not in the module: the API works, the UI page does not.
PROMETHEUS_VERSION=v0.316.0
PROMETHEUS_RELEASE=3.16.0
PROMETHEUS_TAGS=remove_all_sd,enable_kubernetes_sd
# The collector builder's release and the release of every component in
# infra/kind/otelcol-builder.yaml (change them together).
OTELCOL_VERSION=v0.161.0
# The Kubernetes version the chart targets; Helm's built-in capabilities default to it.
KUBE_MINOR=34
KUBE_SCHEMA_VERSION=1.34.0

log() { printf '[bulkhead] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# go_tool NAME PACKAGE@VERSION [LDFLAGS] [BUILD_TAGS]
go_tool() {
  local name=$1 pkg=$2 ldflags=${3:-} tags=${4:-} version=${2##*@}
  local dir="$TOOLS_DIR/go/$name-$version"
  if [[ ! -f $dir/.complete ]]; then
    command -v go >/dev/null || die "Go is needed to build $name (go install $pkg)"
    log "go install $pkg (first time on this machine: minutes; later: seconds, from Go's cache)"
    local tmp="$TOOLS_DIR/go/.tmp-$name-$$" out
    rm -rf "$tmp" && mkdir -p "$tmp"
    out="$TOOLS_DIR/go/$name-$version.log"
    if ! GOBIN="$tmp" GOFLAGS=-mod=mod CGO_ENABLED=0 go install -trimpath ${tags:+-tags "$tags"} ${ldflags:+-ldflags "$ldflags"} "$pkg" >"$out" 2>&1; then
      tail -n 20 "$out" >&2
      rm -rf "$tmp"
      die "go install $pkg failed (log: $out)"
    fi
    local bin
    bin=$(find "$tmp" -maxdepth 1 -type f | head -n 1)
    [[ $bin == "$tmp/$name" ]] || mv "$bin" "$tmp/$name"
    touch "$tmp/.complete"
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  mkdir -p "$TOOLS_DIR/bin"
  ln -sfn "$dir/$name" "$TOOLS_DIR/bin/$name"
}

# wrapped_go_tool NAME MODULE VERSION PACKAGE ["OLD => NEW VERSION" ...]: for a module `go install`
# refuses (its go.mod has replace directives): builds PACKAGE inside a throwaway module that
# requires MODULE@VERSION, repeats the replaces given, and starts from upstream's own go.sum
# (some of its dependencies' versions are missing from the checksum database). Same layout and
# caches as go_tool.
wrapped_go_tool() {
  local name=$1 module=$2 version=$3 pkg=$4
  shift 4
  local dir="$TOOLS_DIR/go/$name-$version"
  if [[ ! -f $dir/.complete ]]; then
    command -v go >/dev/null || die "Go is needed to build $name ($module@$version)"
    log "go build $pkg@$version (first time on this machine: many minutes; later: seconds, from Go's cache)"
    local tmp="$TOOLS_DIR/go/.tmp-$name-$$" out upstream replace
    out="$TOOLS_DIR/go/$name-$version.log"
    rm -rf "$tmp" && mkdir -p "$tmp/src"
    upstream=$(cd "$tmp/src" && go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -f $upstream/go.mod ]] || die "could not download $module@$version"
    {
      printf 'module bulkhead.local/%s-build\n\ngo %s\n\nrequire %s %s\n' \
        "$name" "$(sed -n 's/^go //p' "$upstream/go.mod")" "$module" "$version"
      for replace in "$@"; do printf 'replace %s\n' "$replace"; done
    } >"$tmp/src/go.mod"
    cp "$upstream/go.sum" "$tmp/src/go.sum" && chmod u+w "$tmp/src/go.sum"
    if ! (cd "$tmp/src" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$tmp/$name" "$pkg") >"$out" 2>&1; then
      tail -n 20 "$out" >&2
      rm -rf "$tmp"
      die "go build $pkg@$version failed (log: $out)"
    fi
    rm -rf "$tmp/src"
    touch "$tmp/.complete"
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  mkdir -p "$TOOLS_DIR/bin"
  ln -sfn "$dir/$name" "$TOOLS_DIR/bin/$name"
}

# otelcol_tool: the OpenTelemetry Collector with exactly the components of
# infra/kind/otelcol-builder.yaml, built by the collector builder (itself go_tool'ed) in a
# throwaway folder; the builder generates the main module and runs go build, so Go's caches make
# a rebuild on the same machine quick. The folder's name carries a hash of the manifest: a changed
# component list builds a new binary.
otelcol_tool() {
  local name=otelcol-bulkhead manifest="$REPO_ROOT/infra/kind/otelcol-builder.yaml" hash
  hash=$(sha256sum "$manifest" | cut -c1-12)
  local dir="$TOOLS_DIR/go/$name-$OTELCOL_VERSION-$hash"
  if [[ ! -f $dir/.complete ]]; then
    go_tool otelcol-builder "go.opentelemetry.io/collector/cmd/builder@$OTELCOL_VERSION"
    log "building the OpenTelemetry Collector $OTELCOL_VERSION (first time on this machine: minutes; later: seconds, from Go's cache)"
    local tmp="$TOOLS_DIR/go/.tmp-$name-$$" out="$TOOLS_DIR/go/$name-$OTELCOL_VERSION.log"
    rm -rf "$tmp" && mkdir -p "$tmp/src"
    cp "$manifest" "$tmp/src/builder.yaml"
    if ! (cd "$tmp/src" && GOFLAGS=-mod=mod CGO_ENABLED=0 "$TOOLS_DIR/bin/otelcol-builder" --config builder.yaml) >"$out" 2>&1; then
      tail -n 20 "$out" >&2
      rm -rf "$tmp"
      die "building the collector failed (log: $out)"
    fi
    mv "$tmp/src/build/$name" "$tmp/$name"
    rm -rf "$tmp/src"
    touch "$tmp/.complete"
    rm -rf "$dir" && mv "$tmp" "$dir"
  fi
  ln -sfn "$dir/$name" "$TOOLS_DIR/bin/$name"
}

# pip_tool NAME VERSION [COMMAND]: NAME==VERSION from PyPI into .tools/NAME-VERSION (a venv),
# its COMMAND (default NAME) linked as .tools/bin/COMMAND.
pip_tool() {
  local name=$1 version=$2 command=${3:-$1}
  local venv="$TOOLS_DIR/$name-$version"
  if [[ ! -f $venv/.complete ]]; then
    log "pip install $name==$version"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "$name==$version" >"$venv.log" 2>&1 ||
      { tail -n 20 "$venv.log" >&2; die "pip install $name failed"; }
    touch "$venv/.complete"
  fi
  mkdir -p "$TOOLS_DIR/bin"
  ln -sfn "$venv/bin/$command" "$TOOLS_DIR/bin/$command"
}

install_one() {
  case "$1" in
  kind) go_tool kind "sigs.k8s.io/kind@$KIND_VERSION" ;;
  helm)
    go_tool helm "helm.sh/helm/v3/cmd/helm@$HELM3_VERSION" \
      "-X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$KUBE_MINOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$KUBE_MINOR"
    ;;
  helm4)
    go_tool helm4 "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION" \
      "-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION"
    ;;
  kubeconform) go_tool kubeconform "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" ;;
  kubernetes-validate) pip_tool kubernetes-validate "$KUBERNETES_VALIDATE_VERSION" ;;
  schemathesis) pip_tool schemathesis "$SCHEMATHESIS_VERSION" st ;;
  k6) go_tool k6 "go.k6.io/k6@$K6_VERSION" ;;
  toxiproxy)
    go_tool toxiproxy-server "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION"
    go_tool toxiproxy-cli "github.com/Shopify/toxiproxy/v2/cmd/cli@$TOXIPROXY_VERSION"
    ;;
  jaeger)
    wrapped_go_tool jaeger github.com/jaegertracing/jaeger "$JAEGER_VERSION" \
      github.com/jaegertracing/jaeger/cmd/jaeger \
      "github.com/Shopify/sarama => github.com/Shopify/sarama v1.33.0"
    ;;
  prometheus | promtool)
    go_tool "$1" "github.com/prometheus/prometheus/cmd/$1@$PROMETHEUS_VERSION" \
      "-X github.com/prometheus/common/version.Version=$PROMETHEUS_RELEASE" "$PROMETHEUS_TAGS"
    ;;
  otelcol) otelcol_tool ;;
  kube-schemas)
    # kubeconform reads kubernetes-validate's strict schemas once their absolute
    # "/api/_definitions.json" references point at a file.
    install_one kubernetes-validate
    local src dst="$TOOLS_DIR/kube-schemas/v$KUBE_SCHEMA_VERSION-local-strict"
    src=$(echo "$TOOLS_DIR"/kubernetes-validate-"$KUBERNETES_VALIDATE_VERSION"/lib/python3*/site-packages/kubernetes_validate/kubernetes-json-schema/v"$KUBE_SCHEMA_VERSION"-local-strict)
    [[ -d $src ]] || die "no Kubernetes $KUBE_SCHEMA_VERSION schemas in kubernetes-validate $KUBERNETES_VALIDATE_VERSION"
    if [[ ! -f $dst/.complete ]]; then
      rm -rf "$dst" && mkdir -p "$dst"
      local f
      for f in "$src"/*.json; do
        sed "s#\"/api/_definitions.json\##\"file://$dst/_definitions.json\##g" "$f" >"$dst/${f##*/}"
      done
      touch "$dst/.complete"
    fi
    ;;
  *) die "tools.sh: unknown tool $1" ;;
  esac
}

(($# > 0)) || die "usage: tools.sh helm|helm4|kubeconform|kind|kubernetes-validate|kube-schemas|schemathesis|k6|toxiproxy|jaeger|prometheus|promtool|otelcol ..."
mkdir -p "$TOOLS_DIR/go"
exec {lock}>"$TOOLS_DIR/.kind-tools.lock"
flock -w 1800 "$lock" || die "another tools.sh is still running"
for tool in "$@"; do install_one "$tool"; done
