#!/usr/bin/env bash
# make bench-telemetry [ROUNDS=2 VUS=64 DURATION=60s MODES="off on sampled" SAMPLED_RATIO=0.1]:
# what exporting traces and metrics costs. Against the local stack (make up; infra kept running),
# ROUNDS times in turn (the MODES in order, then reversed, …), the services restarted in each mode:
#   off      no OpenTelemetry Collector, Jaeger or Prometheus running: no OTLP endpoint, so the SDK
#            samples nothing, and nothing scrapes
#   on       the three backends up, every span exported (and kept: 100% locally), every ops port
#            scraped every 5 s
#   sampled  as on, with head sampling in the services: OTEL_TRACES_SAMPLER=parentbased_traceidratio
#            at SAMPLED_RATIO (a trace the gateway does not sample is not recorded anywhere)
# and each time the k6 `capacity` scenario (closed loop at saturation) for DURATION. In-process
# metric recording (prom-client) is always on; what is measured is the export. Writes
# DIR/overhead.json and prints a table: completed orders/s, POST p50/p99, accepted → terminal p99,
# CPU per order by process (/proc, load-tests/process-cpu.mjs: each process with its descendants,
# the backends included), and each mode ÷ off. Leaves the stack as make up does.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../infra/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../infra/local/lib.sh"
cd "$REPO_ROOT"
export PATH="$TOOLS_DIR/bin:$PATH"
rounds=${ROUNDS:-2}
duration=${DURATION:-60s}
export VUS=${VUS:-64}
# The mode decides the endpoint (services.sh sets it only while the collector runs) and the sampler.
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER_ARG
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "bench-telemetry: ROUNDS must be a positive integer, not '$rounds'"
[[ $VUS =~ ^[1-9][0-9]*$ ]] || die "bench-telemetry: VUS must be a positive integer, not '$VUS'"
read -r -a modes <<<"${MODES:-off on sampled}"
ratio=${SAMPLED_RATIO:-0.1}
for mode in "${modes[@]}"; do
  [[ $mode == off || $mode == on || $mode == sampled ]] || die "bench-telemetry: MODES holds off, on and sampled, not '$mode'"
done
[[ $ratio =~ ^(0(\.[0-9]+)?|1)$ ]] || die "bench-telemetry: SAMPLED_RATIO must be a number from 0 to 1, not '$ratio'"
[[ $duration =~ ^[1-9][0-9]*[sm]$ ]] || die "bench-telemetry: DURATION must look like 60s or 2m, not '$duration'"

if [[ $duration == *m ]]; then seconds=$((${duration%m} * 60)); else seconds=${duration%s}; fi
out="$DATA_DIR/load/telemetry-overhead-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
bash infra/local/infra.sh start
: >"$out/runs.tsv"
for ((round = 1; round <= rounds; round++)); do
  # off, on, then on, off, …: a drift over the runs (a warming cache, growing tables) weighs on
  # both modes alike instead of on the later one.
  if ((round % 2)); then order=("${modes[@]}"); else order=(); for ((i = ${#modes[@]} - 1; i >= 0; i--)); do order+=("${modes[i]}"); done; fi
  for mode in "${order[@]}"; do
    log "round $round/$rounds, export $mode"
    bash infra/local/services.sh stop >/dev/null
    if [[ $mode == off ]]; then bash infra/local/observability.sh stop; else bash infra/local/observability.sh start; fi
    if [[ $mode == sampled ]]; then
      OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=$ratio bash infra/local/services.sh start >/dev/null
    else
      bash infra/local/services.sh start >/dev/null
    fi
    node load-tests/process-cpu.mjs sample "$RUN_DIR" >"$out/$mode-$round.before.json"
    # k6's own status is not the figure (a capacity run crosses no threshold); its summary is.
    run_log="$out/$mode-$round.k6.log"
    bash load-tests/run.sh load capacity "" "$duration" >"$run_log" 2>&1 || true
    node load-tests/process-cpu.mjs sample "$RUN_DIR" >"$out/$mode-$round.after.json"
    summary=$(sed -n 's/^summary: //p' "$run_log")
    [[ -n $summary && -f $REPO_ROOT/$summary ]] || die "bench-telemetry: k6 left no summary (see ${run_log#"$REPO_ROOT"/})"
    node load-tests/process-cpu.mjs diff "$out/$mode-$round.before.json" "$out/$mode-$round.after.json" >"$out/$mode-$round.cpu.json"
    printf '%s\t%s\t%s\t%s\t%s\n' "$mode" "$round" "$REPO_ROOT/$summary" "$out/$mode-$round.cpu.json" "$seconds" >>"$out/runs.tsv"
  done
done
# As make up leaves it: the backends on, the services exporting.
bash infra/local/services.sh stop >/dev/null
bash infra/local/observability.sh start
bash infra/local/services.sh start >/dev/null
node load-tests/telemetry-overhead.mjs "$out" | tee "$out/table.txt"
echo "figures: ${out#"$REPO_ROOT"/}/overhead.json"
