# shellcheck shell=bash
# Counting for the test runners (infra/local/test.sh, infra/kind/test.sh): each adds to the
# globals `passed` and `failed` and ends with "$passed passed, $failed failed". Source it after
# setting RESULTS (where vitest writes its JSON reports) and defining log.

count() { # count NAME STATUS: one check that passed (0) or failed
  if (($2 == 0)); then passed=$((passed + 1)); else failed=$((failed + 1)); log "FAILED: $1"; fi
}

# vitest_suite NAME ARGS...: runs vitest with a JSON report and adds its totals.
vitest_suite() {
  local name=$1 json="$RESULTS/$1.json" counts
  shift
  rm -f "$json"
  pnpm exec vitest run "$@" --reporter=default --reporter=json --outputFile.json="$json"
  if [[ -s $json ]] && counts=$(node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      console.log(r.numPassedTests, r.numFailedTests + (r.success || r.numFailedTests ? 0 : 1));' "$json"); then
    read -r p f <<<"$counts"
    passed=$((passed + p))
    failed=$((failed + f))
    log "$name: $p passed, $f failed"
  else
    count "$name (no report: vitest did not run)" 1
  fi
}

# script_suite NAME COMMAND...: runs a script that ends with its own "N passed, N failed" (the
# image smoke checks, the fuzzer), shows its output indented — the only unindented such line is
# the runner's own, at the end — and adds its totals.
script_suite() {
  local name=$1 output totals p f
  shift
  output=$("$@" 2>&1)
  # shellcheck disable=SC2001 # every line of a multi-line output
  sed 's/^/  /' <<<"$output"
  if totals=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$output" | tail -n 1) && [[ -n $totals ]]; then
    read -r p _ f _ <<<"${totals//,/}"
    passed=$((passed + p))
    failed=$((failed + f))
    log "$name: $p passed, $f failed"
  else
    count "$name (no summary line)" 1
  fi
}
