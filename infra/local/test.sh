#!/usr/bin/env bash
# `make test`: every suite, on a fresh machine or a warm one.
#   1. toolchain, dependencies, codegen, build
#   2. static checks: tsconfig references, test typecheck, lint, format check (each counted as one test)
#   2b. the Helm chart, rendered and checked without a cluster (tests/chart), and the Prometheus
#       rules it provisions under promtool: check rules, the unit tests of every alert (tests/alerts)
#   2c. every container image built (infra/images) and started hardened, answering its probe
#   3. unit + integration tests (vitest) against real PostgreSQL, Kafka and Redis
#   3b. the observability configs checked (promtool check config, otelcol validate, jaeger validate)
#       and the tail-sampling policies run on a private collector and Jaeger
#   4. end-to-end tests of the public contract against the running stack (both cells), with the
#      observability backends (Jaeger, the OpenTelemetry Collector, Prometheus) up
#   5. the k6 smoke scenario against the same stack (make load SCENARIO=smoke, ~25 s), its
#      thresholds judged: one check; then every panel query of every dashboard against the local
#      Prometheus (packages/dashboards, vitest project dashboards): one check per query
#   6. property-based fuzzing of both OpenAPI documents against the running stack (tests/fuzz)
#   7. a short chaos run (make chaos PROFILE=short: every fault kind once, gaps shortened) in the
#      runner's own mode — the stack above is stopped first and, if it was running before make
#      test, started again after — one check per invariant of the consistency checker
# Starts the infrastructure and the services if they are not running, and stops exactly what it
# started. Ends with one line "N passed, N failed" totalled over every suite.
set -uo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT" || exit 1
export PATH="$TOOLS_DIR/bin:$PATH"
RESULTS="$DATA_DIR/test-results"
mkdir -p "$RESULTS"
passed=0
failed=0
started_infra=0
started_observability=0
started_services=0

finish() {
  if ((started_services)); then bash infra/local/services.sh stop >/dev/null 2>&1; fi
  if ((started_observability)); then bash infra/local/observability.sh stop >/dev/null 2>&1; fi
  if ((started_infra)); then bash infra/local/infra.sh stop >/dev/null 2>&1; fi
  echo
  echo "$passed passed, $failed failed"
}
trap finish EXIT

step() { log "== $*"; }
# count, vitest_suite, script_suite: the totals every suite adds to (shared with infra/kind/test.sh).
# shellcheck source-path=SCRIPTDIR source=suites.sh
. "$BULKHEAD_LOCAL_DIR/suites.sh"

step "build"
if ! make --no-print-directory build; then
  count "build" 1
  exit 1
fi

step "static checks"
node infra/local/check-references.mjs
count "tsconfig references match dependencies" $?
pnpm exec tsc -p tsconfig.test.json
count "typecheck of the tests" $?
pnpm exec eslint .
count "eslint" $?
pnpm exec prettier --check . >/dev/null
count "prettier --check" $?

step "Helm chart (no cluster: lint, render matrix under Helm 3 and 4, strict schemas, policy)"
if bash infra/kind/tools.sh helm helm4 kubeconform kube-schemas promtool otelcol jaeger; then
  vitest_suite chart --project chart
else
  count "chart tools install" 1
fi

step "Prometheus rules (promtool check rules and test rules: every alert fires when it should and not when it should not)"
if bash infra/kind/tools.sh promtool; then
  vitest_suite alerts --project alerts
else
  count "promtool install" 1
fi

step "infrastructure"
if ! { is_running postgres && is_running redis && is_running kafka; }; then started_infra=1; fi
if ! bash infra/local/infra.sh start; then
  count "infrastructure start" 1
  exit 1
fi

step "container images (infra/images: build, then each started hardened with --network host and probed)"
if bash infra/images/build.sh; then
  count "every image builds" 0
  script_suite "image smoke checks" bash infra/images/smoke.sh
else
  count "every image builds" 1
fi

step "unit + integration tests"
vitest_suite unit-integration --project unit --project integration

step "observability configs (promtool check config, otelcol validate, jaeger validate) and tail sampling"
script_suite "observability configs" bash infra/local/observability.sh check

step "end-to-end tests (the running stack, 2 cells, with Jaeger, the collector and Prometheus)"
if ! { is_running jaeger && is_running otelcol && is_running prometheus; }; then started_observability=1; fi
if ! bash infra/local/observability.sh start; then count "observability backends start" 1; fi
if ! is_running gateway; then started_services=1; fi
if bash infra/local/services.sh start; then
  # The public URLs as the manifest renders them (ports may be overridden).
  urls=$(node packages/manifest/dist/local-plan.js urls) && while IFS= read -r line; do export "${line?}"; done <<<"$urls"
  vitest_suite e2e --project e2e
  step "k6 smoke scenario (load-tests/: every endpoint and the gRPC path, thresholds per endpoint)"
  make --no-print-directory load SCENARIO=smoke
  count "k6 smoke scenario within its thresholds" $?

  step "dashboards: every panel query of every dashboard against the local Prometheus, after the load above"
  vitest_suite dashboards --project dashboards

  step "property-based fuzzing (schemathesis over the gateway's and the admin API's OpenAPI documents)"
  script_suite "property-based fuzzing" bash tests/fuzz/run.sh
else
  count "services start" 1
fi

step "chaos: a short seeded fault schedule under order load, then the consistency checker"
# The runner starts the services itself (cell-1 through toxiproxy) and stops them.
bash infra/local/services.sh stop >/dev/null 2>&1
script_suite "chaos (short profile)" bash infra/local/chaos.sh "${BULKHEAD_CHAOS_SEED:-1}" 2m short
if ((!started_services)); then bash infra/local/services.sh start >/dev/null || count "services restart after chaos" 1; fi
