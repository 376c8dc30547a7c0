#!/usr/bin/env bash
# What a kind cluster could change on the host, recorded so `make kind-down` can show that
# deleting the cluster left the host as it was before `make kind-up`:
#
#   host-state.sh snapshot FILE   write the host's state to FILE
#   host-state.sh diff FILE       compare the host now with FILE; exit 1 if they differ
#   host-state.sh show            print the state (what snapshot writes)
#
# Recorded: iptables/ip6tables rules (iptables-nft and -legacy; counters stripped), the nft
# ruleset, network links (names, flags, masters), addresses, routes, mounts, the sysctls kubelet
# writes (kernel.panic, kernel.panic_on_oops, vm.overcommit_memory, vm.panic_on_oom,
# kernel.keys.root_maxkeys/root_maxbytes) and the host's other global sysctls, cgroups left
# under Docker's parent, /lib/modules, docker-proxy listeners, and ~/.kube/config (must stay
# untouched).
#
# Left out on purpose: mounts inside the Docker engine's own data-root and exec-root (the
# engine is shared, and other people's containers and builds mount there all the time; that
# our node container is gone from the engine is checked by cluster.sh delete), the bridges of
# the engine's other networks and the veths on them (other people's containers), per-interface
# sysctls (they come and go with interfaces, which are recorded), and counters that change
# by themselves (conntrack count, random, inode/dentry/file counts).
set -euo pipefail
HERE="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -P "$HERE/../.." && pwd)"
CACHE_DIR="${BULKHEAD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bulkhead}"
# The Docker engine's own state, not host configuration: infra/docker/engine.sh's locations,
# a machine engine's defaults, and the data root of whichever engine answers.
engine_dirs_re() {
  local dirs="${CACHE_DIR}/docker|/run/bulkhead/exec|/var/lib/docker|/run/docker" root
  root=$(timeout 5 docker info -f '{{.DockerRootDir}}' 2>/dev/null || true)
  [[ -n $root ]] && dirs+="|$root"
  echo "^(${dirs})(/| )"
}
eval "$(bash "$REPO_ROOT/infra/docker/engine.sh" env 2>/dev/null)" || true
ENGINE_DIRS_RE=$(engine_dirs_re)

KUBELET_SYSCTLS="kernel.panic kernel.panic_on_oops vm.overcommit_memory vm.panic_on_oom kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
# sysctls that change by themselves, or belong to one interface.
VOLATILE_SYSCTLS_RE='^(kernel\.random\.|fs\.(dentry-state|inode-|file-nr|quota\.)|kernel\.(ns_last_pid|pty\.nr|tainted)|net\.netfilter\.nf_conntrack_count|net\.ipv[46]\.(conf|neigh)\.[^.]+\.|net\.ipv6\.route\.|vm\.(stat_|nr_)|kernel\.sched_domain|net\.core\.netdev_rss_key|dev\.)'

log() { printf '[bulkhead] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

section() { printf '## %s\n' "$1"; }

rules() {
  local tool
  for tool in iptables-save ip6tables-save iptables-legacy-save ip6tables-legacy-save; do
    section "$tool"
    # A tool not installed has no rules to show: the same as an empty table (on a fresh machine
    # the engine's apt install brings iptables between the two snapshots; that is not a change).
    if command -v "$tool" >/dev/null; then
      "$tool" 2>/dev/null | grep -v '^#' | sed -E 's/ \[[0-9]+:[0-9]+\]$//' || true
    fi
  done
  section "nft list ruleset"
  if command -v nft >/dev/null; then
    nft list ruleset 2>&1 || true
  else
    echo "(nft not installed; iptables-nft rules are above)"
  fi
}

# Bridges of the engine's other networks (not bulkhead-kind): other people's containers attach
# to them and leave them all the time; they are the engine's, not the cluster's.
other_bridges_re() {
  local id name bridges=""
  while read -r id name; do
    [[ $name == bulkhead-kind ]] && continue
    local br
    br=$(timeout 5 docker network inspect -f '{{index .Options "com.docker.network.bridge.name"}}' "$id" 2>/dev/null || true)
    [[ -n $br ]] || br="br-${id:0:12}"
    bridges+="${bridges:+|}$br"
  done < <(timeout 5 docker network ls -q --no-trunc --filter driver=bridge --format '{{.ID}} {{.Name}}' 2>/dev/null || true)
  [[ -n $bridges ]] || { echo '^$'; return 0; }
  # ... and the links enslaved to them (containers' veths).
  local links
  links=$(ip -o link show | awk -v re="^(${bridges})$" '{
      for (i = 1; i < NF; i++) if ($i == "master" && $(i + 1) ~ re) { n = $2; sub(/@.*/, "", n); sub(/:$/, "", n); print n }
    }' | paste -sd'|')
  echo "${bridges}${links:+|$links}"
}

network() {
  local others
  others=$(other_bridges_re)
  section "ip -o link (name, flags, master; the engine's other bridges and their veths left out)"
  # Link indexes and counters are left out: they change without meaning anything.
  ip -o link show | sed -E 's/^[0-9]+: //; s/ qlen [0-9]+//; s/\\.*link\/(ether|loopback|none) ([0-9a-f:]+).*/ \1 \2/' |
    grep -Ev "^($others)[:@]| master ($others) " | sort || true
  section "ip -o addr"
  ip -o addr show | sed -E 's/^[0-9]+: //; s/ valid_lft.*//' | grep -Ev "^($others) " | sort || true
  section "ip route (v4, v6)"
  ip route show table all 2>/dev/null | grep -v '^local\|^broadcast\|^multicast' | grep -Ev " dev ($others)( |$)" | sort || true
  ip -6 route show 2>/dev/null | grep -Ev " dev ($others)( |$)" | sort || true
}

mounts() {
  section "mounts (findmnt; the Docker engine's own directories left out)"
  findmnt -rn -o TARGET,SOURCE,FSTYPE,OPTIONS | grep -Ev "$ENGINE_DIRS_RE" | sort
}

sysctls() {
  section "sysctls kubelet writes"
  local s
  for s in $KUBELET_SYSCTLS; do
    printf '%s = %s\n' "$s" "$(sysctl -n "$s" 2>&1)"
  done
  section "other global sysctls"
  sysctl -a 2>/dev/null | grep -Ev "$VOLATILE_SYSCTLS_RE" | sort
}

# Cgroups under Docker's parent (cgroupfs driver: <controller>/docker/<container id>/...): a
# node's kubelet makes its own below its container's; they must go with it. Running
# containers' own and BuildKit's (builds come and go) are left out.
cgroups() {
  section "cgroups under docker/ (running containers and BuildKit left out)"
  local live
  live=$(timeout 5 docker ps -q --no-trunc 2>/dev/null | paste -sd'|' || true)
  find /sys/fs/cgroup -mindepth 2 -maxdepth 5 -type d -path '*/docker/*' 2>/dev/null |
    grep -v '/docker/buildkit' | { if [[ -n $live ]]; then grep -Ev "/docker/($live)(/|$)"; else cat; fi; } |
    sort || true
}

files() {
  section "/lib/modules"
  if [[ -e /lib/modules ]]; then
    stat -c '%A %n' /lib/modules
    find /lib/modules -mindepth 1 -maxdepth 1 -printf '%M %f\n' | sort
  else
    echo "(absent)"
  fi
  section "docker-proxy listeners"
  { ss -Hltnp 2>/dev/null | grep docker-proxy | awk '{print $4}' | sort; } || true
  section "\$HOME/.kube/config"
  if [[ -f $HOME/.kube/config ]]; then sha256sum "$HOME/.kube/config" | cut -c1-64; else echo "(absent)"; fi
}

show() {
  rules
  network
  mounts
  sysctls
  cgroups
  files
}

case "${1:-}" in
snapshot)
  [[ -n ${2:-} ]] || die "usage: host-state.sh snapshot FILE"
  mkdir -p "$(dirname "$2")"
  show >"$2.tmp" && mv "$2.tmp" "$2"
  log "host state recorded in ${2#"$REPO_ROOT"/}"
  ;;
diff)
  [[ -f ${2:-} ]] || die "usage: host-state.sh diff FILE (a snapshot)"
  now=$(mktemp)
  trap 'rm -f "$now"' EXIT
  show >"$now"
  if diff -u --label "before ($2)" --label "now" "$2" "$now" >"$now.diff"; then
    rm -f "$now.diff"
    log "host state: unchanged since the snapshot (iptables, nft, links, addresses, routes, mounts, sysctls, cgroups, /lib/modules, ~/.kube/config)"
  else
    cat "$now.diff"
    rm -f "$now.diff"
    log "host state: DIFFERS from the snapshot (above: - before, + now)"
    exit 1
  fi
  ;;
show) show ;;
*) die "usage: host-state.sh snapshot FILE | diff FILE | show" ;;
esac
