#!/usr/bin/env bash
# Installs what infra.sh needs: Redis, PostgreSQL 15, Java and Maven (apt) and
# the Kafka broker jars (Maven Central, into $TOOLS_DIR). Idempotent: when all
# is in place it only checks and returns in milliseconds.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POM="$BULKHEAD_LOCAL_DIR/kafka/pom.xml"
KAFKA_MARKER="$KAFKA_HOME/.complete"

# --- apt packages -----------------------------------------------------------

apt_missing=()
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  apt_missing+=(redis-server redis-tools)
fi
[[ -x /usr/lib/postgresql/15/bin/postgres ]] || apt_missing+=(postgresql-15)
command -v java >/dev/null || apt_missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || apt_missing+=(maven)
command -v curl >/dev/null || apt_missing+=(curl)
# The fonts the dashboard PNGs are drawn with (make dashboards-png, packages/dashboards).
[[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || apt_missing+=(fonts-dejavu-core)

if ((${#apt_missing[@]} > 0)); then
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null || die "need root (or sudo) to apt-get install: ${apt_missing[*]}"
    sudo=(sudo)
  fi
  log "apt-get install ${apt_missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Wait for a dpkg lock held by someone else's apt run instead of failing.
  apt_opts=(-o DPkg::Lock::Timeout=300 -qq)
  apt_log=$(mktemp)
  if ! { "${sudo[@]}" apt-get "${apt_opts[@]}" update &&
    "${sudo[@]}" apt-get "${apt_opts[@]}" install -y --no-install-recommends "${apt_missing[@]}"; } >"$apt_log" 2>&1; then
    tail -n 30 "$apt_log" >&2
    die "apt-get install failed"
  fi
  rm -f "$apt_log"
  # The packages do not start services here; if one did, leave it alone:
  # our servers use their own ports.
  for p in 6379 5432; do
    if port_listening "$p"; then
      log "note: a system service listens on port $p (left running; Bulkhead uses its own ports)"
    fi
  done
fi

# --- Kafka jars -------------------------------------------------------------

# The marker holds a hash of the pom and version: a changed pom or a
# half-finished download (no marker) means a fresh copy.
stamp="$KAFKA_VERSION $(sha256sum "$POM" | cut -d' ' -f1)"
if [[ -f $KAFKA_MARKER && $(<"$KAFKA_MARKER") == "$stamp" ]]; then
  exit 0
fi

mkdir -p "$TOOLS_DIR"
exec {install_lock}>"$TOOLS_DIR/.install.lock"
flock -w 600 "$install_lock" || die "another install.sh is still running"
# Someone else may have finished it while we waited for the lock.
if [[ -f $KAFKA_MARKER && $(<"$KAFKA_MARKER") == "$stamp" ]]; then
  exit 0
fi

log "fetching Kafka $KAFKA_VERSION jars from Maven Central into ${KAFKA_HOME#"$REPO_ROOT"/} (~45 MB)"
t0=0 t1=0
_now_ms t0
rm -rf "$KAFKA_HOME"
mkdir -p "$KAFKA_HOME"
mvn_log="$TOOLS_DIR/kafka-$KAFKA_VERSION.mvn.log"
if ! mvn -B -Dstyle.color=never -f "$POM" \
  -Dmaven.repo.local="$TOOLS_DIR/m2" \
  -Dkafka.version="$KAFKA_VERSION" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/libs" \
  >"$mvn_log" 2>&1; then
  grep -E 'ERROR|FAIL' "$mvn_log" | head -n 20 >&2 || true
  die "mvn failed to fetch the Kafka jars (see $mvn_log)"
fi
compgen -G "$KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null || die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"
printf '%s\n' "$stamp" >"$KAFKA_MARKER"
_now_ms t1
log "Kafka jars ready: $(find "$KAFKA_HOME/libs" -name '*.jar' | wc -l) jars, $(du -sh "$KAFKA_HOME/libs" | cut -f1), $(((t1 - t0) / 1000)) s"
