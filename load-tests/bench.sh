#!/usr/bin/env bash
# make bench [STEPS="25 50 100 150 200 250" STEP=30s SUSTAIN_RATE= SUSTAIN=10m LIMITS=1 TRACES=1]: the
# platform's throughput on this box, each figure next to the machine's own limit, in one go.
#   1. the limits (load-tests/limits.sh): PostgreSQL's commit rate (the same server and settings),
#      a bare HTTP hello and a bare gRPC echo under k6, raw Kafka produce/consume; the services
#      stopped meanwhile (LIMITS=0 skips them);
#   2. the stack as make up starts it (TRACES=0: without the observability backends, so no
#      process runs telemetry at all), at rest: memory per process;
#   3. the k6 `load` scenario (orders with their polls, and product reads) at each rate of STEPS
#      orders/s for STEP, one k6 run per step; around each, CPU seconds and memory per process
#      (load-tests/process-cpu.mjs) and the platform's own counters (load-tests/platform-stats.mjs:
#      PostgreSQL commits and WAL syncs, Kafka messages, gRPC and HTTP requests served, open sagas);
#   4. with SUSTAIN_RATE, the same at that rate for SUSTAIN (issue 11's 10 minutes at 250/s).
# Writes .data/load/bench-<UTC time>/bench.json and prints the table (load-tests/bench.mjs): per
# step, completed orders/s, POST p99, accepted → confirmed p50/p99, whether open sagas grew, CPU
# per order by process, commits and syncs per order, relay rounds and consumer runs per order
# (and the messages each held: how far batching goes), and each rate as a ratio to its limit.
# Leaves the stack as make up does.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../infra/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../infra/local/lib.sh"
cd "$REPO_ROOT"
export PATH="$TOOLS_DIR/bin:$PATH"

read -r -a steps <<<"${STEPS:-25 50 100 150 200 250}"
step=${STEP:-30s}
sustain_rate=${SUSTAIN_RATE:-}
sustain=${SUSTAIN:-10m}
for rate in "${steps[@]}" ${sustain_rate:+"$sustain_rate"}; do
  [[ $rate =~ ^[1-9][0-9]*$ ]] || die "bench: STEPS and SUSTAIN_RATE hold orders/s as positive integers, not '$rate'"
done
for d in "$step" "$sustain"; do
  [[ $d =~ ^[1-9][0-9]*[sm]$ ]] || die "bench: STEP and SUSTAIN must look like 30s or 10m, not '$d'"
done
((${#steps[@]} > 0)) || [[ -n $sustain_rate ]] || die "bench: STEPS is empty and no SUSTAIN_RATE is given: nothing to run"
[[ ${LIMITS:-1} == 0 || ${LIMITS:-1} == 1 ]] || die "bench: LIMITS is 0 or 1, not '${LIMITS}'"
[[ ${TRACES:-1} == 0 || ${TRACES:-1} == 1 ]] || die "bench: TRACES is 0 or 1, not '${TRACES}'"
seconds_of() { if [[ $1 == *m ]]; then echo $((${1%m} * 60)); else echo "${1%s}"; fi; }

out="$DATA_DIR/load/bench-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
bash infra/local/infra.sh start
if [[ ${LIMITS:-1} == 1 ]]; then
  log "bench: the machine's limits (services stopped)"
  bash infra/local/services.sh stop >/dev/null
  bash load-tests/limits.sh "$out/limits"
fi

if [[ ${TRACES:-1} == 1 ]]; then
  log "bench: the stack as make up starts it"
  bash infra/local/observability.sh start
else
  log "bench: the stack as make up starts it, without the observability backends (TRACES=0)"
  bash infra/local/services.sh stop >/dev/null
  bash infra/local/observability.sh stop
fi
bash infra/local/services.sh start >/dev/null
node load-tests/process-cpu.mjs sample "$RUN_DIR" >"$out/rest.json"

: >"$out/steps.tsv"
# run_step NAME RATE DURATION: one k6 run of the load scenario, sampled before, during and after.
run_step() {
  local name=$1 rate=$2 duration=$3 sampler
  log "bench: $rate orders/s for $duration ($name)"
  local started
  started=$(date +%s%3N)
  node load-tests/process-cpu.mjs sample "$RUN_DIR" >"$out/$name.cpu-before.json"
  node load-tests/platform-stats.mjs sample >"$out/$name.stats-before.json"
  # Every 5 s while k6 runs: memory (the report keeps each process's peak) and open sagas (the
  # report compares the first and the last sample while orders arrive: do they grow?).
  node load-tests/platform-stats.mjs watch "$RUN_DIR" 5 >"$out/$name.watch.jsonl" &
  sampler=$!
  # k6's status is not the figure (a step past capacity crosses thresholds); its summary is.
  bash load-tests/run.sh load load "$rate" "$duration" >"$out/$name.k6.log" 2>&1 || true
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  node load-tests/process-cpu.mjs sample "$RUN_DIR" >"$out/$name.cpu-after.json"
  node load-tests/platform-stats.mjs sample >"$out/$name.stats-after.json"
  local summary
  summary=$(sed -n 's/^summary: //p' "$out/$name.k6.log")
  # Relative to the repository, or absolute (BULKHEAD_DATA_DIR outside it).
  [[ -z $summary || $summary == /* ]] || summary=$REPO_ROOT/$summary
  [[ -n $summary && -f $summary ]] || die "bench: k6 left no summary (see ${out#"$REPO_ROOT"/}/$name.k6.log)"
  node load-tests/process-cpu.mjs diff "$out/$name.cpu-before.json" "$out/$name.cpu-after.json" >"$out/$name.cpu.json"
  node load-tests/platform-stats.mjs diff "$out/$name.stats-before.json" "$out/$name.stats-after.json" >"$out/$name.stats.json"
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rate" "$(seconds_of "$duration")" "$summary" "$started" >>"$out/steps.tsv"
}
for rate in "${steps[@]}"; do run_step "step-$rate" "$rate" "$step"; done
[[ -z $sustain_rate ]] || run_step "sustain-$sustain_rate" "$sustain_rate" "$sustain"

node load-tests/bench.mjs "$out" | tee "$out/table.txt"
echo "figures: ${out#"$REPO_ROOT"/}/bench.json"
