#!/usr/bin/env bash
# Property-based fuzzing of both OpenAPI documents against the running stack (make test runs it
# after the end-to-end suite): Schemathesis, pinned in infra/kind/tools.sh, with every check,
# a fixed seed and a bounded number of cases (schemathesis.toml, hooks.py beside this file).
#   - the gateway's public API (BULKHEAD_GATEWAY_URL, default http://127.0.0.1:8080) with the API
#     key of a tenant this script creates through the admin API,
#   - the control plane's admin API (BULKHEAD_CONTROL_PLANE_URL, default http://127.0.0.1:8081)
#     with the admin token (CONTROL_PLANE_ADMIN_TOKEN, default dev-admin-token).
# Each operation of each document (and each document's stateful run) counts as one test; ends
# with "N passed, N failed". Reports: .data/test-results/fuzz-*.xml (JUnit).
set -uo pipefail
HERE="$(cd -P "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd -P "$HERE/../.." && pwd)"
GATEWAY=${BULKHEAD_GATEWAY_URL:-http://127.0.0.1:8080}
ADMIN=${BULKHEAD_CONTROL_PLANE_URL:-http://127.0.0.1:8081}
ADMIN_TOKEN=${CONTROL_PLANE_ADMIN_TOKEN:-dev-admin-token}
RESULTS="$REPO_ROOT/.data/test-results"
# A safety net only: each run takes well under a minute.
RUN_TIMEOUT_S=180
passed=0
failed=0
trap 'echo "$passed passed, $failed failed"' EXIT
log() { printf '[bulkhead] %s\n' "$*" >&2; }
mkdir -p "$RESULTS"

if ! bash "$REPO_ROOT/infra/kind/tools.sh" schemathesis; then
  failed=1
  exit 1
fi
export PATH="$REPO_ROOT/.tools/bin:$PATH"

# A tenant of its own, usable once its key works at the gateway (the snapshot reaches the
# gateway well within a second; bounded at 10 s).
created=$(curl -sS --fail-with-body -X POST -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"schemathesis"}' "$ADMIN/v1/tenants") &&
  key=$(node -e 'console.log(JSON.parse(process.argv[1]).apiKey)' "$created") || {
  log "FAILED: creating the fuzzing tenant: ${created:-no answer}"
  failed=1
  exit 1
}
deadline=$((SECONDS + 10))
until [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" \
  "$GATEWAY/v1/products/schemathesis-probe") == 404 ]]; do
  if ((SECONDS >= deadline)); then
    log "FAILED: the fuzzing tenant's key does not work at the gateway after 10 s"
    failed=1
    exit 1
  fi
  sleep 0.1
done

# fuzz NAME URL TOKEN: one document; adds its JUnit totals.
fuzz() {
  local name=$1 url=$2 token=$3 junit="$RESULTS/fuzz-$1.xml" counts
  rm -f "$junit"
  log "schemathesis: $name ($url/openapi.json)"
  (cd "$HERE" && timeout "$RUN_TIMEOUT_S" st --config-file schemathesis.toml run "$url/openapi.json" \
    --checks all -H "Authorization: Bearer $token" --no-color \
    --report junit --report-junit-path "$junit") | sed 's/^/  /'
  if [[ -s $junit ]] && counts=$(python3 - "$junit" <<'PY'
import sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
bad = [c for c in cases if c.find("failure") is not None or c.find("error") is not None]
total = len(list(ET.parse(sys.argv[1]).getroot().iter("testcase")))
print(total - len(bad), len(bad))
PY
  ); then
    read -r p f <<<"$counts"
    passed=$((passed + p))
    failed=$((failed + f))
    log "schemathesis $name: $p passed, $f failed"
  else
    log "FAILED: schemathesis $name wrote no report"
    failed=$((failed + 1))
  fi
}

fuzz gateway "$GATEWAY" "$key"
fuzz admin-api "$ADMIN" "$ADMIN_TOKEN"
