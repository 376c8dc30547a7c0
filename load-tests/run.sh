#!/usr/bin/env bash
# `make load` and `make bench-overload`: one k6 run against the local stack (make up), its outputs
# in .data/load/<scenario>-<UTC time>/, their paths printed at the end.
#   load-tests/run.sh load SCENARIO [RATE] [DURATION]   k6/bulkhead.js: summary.json, plot.html
#   load-tests/run.sh bench-overload                    k6/overload.js: also bench.json and a table
# Extra knobs reach k6 as environment variables (load-tests/README.md). Exits with k6's status:
# 0, or 99 when a threshold was crossed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../infra/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../infra/local/lib.sh"
cd "$REPO_ROOT"
export PATH="$TOOLS_DIR/bin:$PATH"
export K6_NO_USAGE_REPORT=true

mode=${1:?usage: run.sh load SCENARIO [RATE] [DURATION] | bench-overload}
case $mode in
  load)
    name=${2:?SCENARIO is required}
    script=load-tests/k6/bulkhead.js
    export SCENARIO=$name
    [[ -z ${3:-} ]] || export RATE=$3
    [[ -z ${4:-} ]] || export DURATION=$4
    ;;
  bench-overload)
    name=bench-overload
    script=load-tests/k6/overload.js
    ;;
  *) die "run.sh: unknown mode $mode" ;;
esac

bash infra/kind/tools.sh k6
# The public URLs as the manifest renders them (ports may be overridden), unless already set.
while IFS='=' read -r var url; do
  [[ -n ${!var:-} ]] || export "$var=$url"
done < <(node packages/manifest/dist/local-plan.js urls)

out="$DATA_DIR/load/$name-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
k6 inspect --include-system-env-vars --execution-requirements "$script" >"$out/options.json"
log "k6 $name → ${out#"$REPO_ROOT"/}/"
status=0
K6_CSV_TIME_FORMAT=unix_milli k6 run --quiet --summary-export "$out/summary.json" \
  --out "csv=$out/points.csv.gz" "$script" || status=$?
if [[ $mode == load ]]; then
  node load-tests/report.mjs plot "$out" || status=$((status ? status : 1))
else
  node load-tests/report.mjs bench "$out" | tee "$out/bench.txt" || status=$((status ? status : 1))
fi
echo "summary: ${out#"$REPO_ROOT"/}/summary.json"
[[ $mode == load ]] || echo "bench:   ${out#"$REPO_ROOT"/}/bench.json"
echo "plot:    ${out#"$REPO_ROOT"/}/plot.html"
exit "$status"
