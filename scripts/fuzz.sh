#!/usr/bin/env bash
# Run voc's fuzz targets (fuzz/, cargo-fuzz + libFuzzer), one after another.
#
#   scripts/fuzz.sh                  # every target, FUZZ_SECS seconds each (default 60)
#   scripts/fuzz.sh smoke            # CI smoke run: every target a few seconds (FUZZ_SECS, default 5)
#   FUZZ_SECS=600 scripts/fuzz.sh    # the long runs recorded in FUZZING.md
#   scripts/fuzz.sh [smoke] classify # only the named target(s)
#
# Needs cargo-fuzz (installed from crates.io when missing) and a C++ compiler
# (libfuzzer-sys builds libFuzzer). Runs on the stable toolchain with
# RUSTC_BOOTSTRAP=1. The seed corpus in fuzz/corpus/<target> is read, never
# written: new inputs go to fuzz/target/corpus-work/<target>, logs to
# fuzz/target/logs/<target>.log, crashes to fuzz/artifacts/<target>/ (all
# git-ignored). Exits non-zero when a target finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=long
if [[ "${1:-}" == "smoke" ]]; then
  mode=smoke
  shift
fi
if [[ $mode == smoke ]]; then secs=${FUZZ_SECS:-5}; else secs=${FUZZ_SECS:-60}; fi
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then targets=(classify load_model read_examples); fi

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# -a: debug assertions and overflow checks on, so arithmetic bugs panic.
build_flags=(--fuzz-dir fuzz -a)
echo "== cargo fuzz build (${targets[*]})"
start=$(date +%s)
for t in "${targets[@]}"; do
  cargo fuzz build "${build_flags[@]}" "$t"
done
echo "built in $(( $(date +%s) - start ))s"

mkdir -p fuzz/target/logs
status=0
for t in "${targets[@]}"; do
  work=fuzz/target/corpus-work/$t
  mkdir -p "$work" "fuzz/artifacts/$t"
  log=fuzz/target/logs/$t.log
  echo "== $t: ${secs}s (log $log)"
  t0=$(date +%s)
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: memory
  # beyond 2 GiB is a failure. The work corpus comes first: libFuzzer writes
  # new inputs there only.
  if cargo fuzz run "${build_flags[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1; then
    result=ok
  else
    result="FAILED (see $log and fuzz/artifacts/$t/)"
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -oE 'DONE[[:space:]]+cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)
  echo "$t: $result; $(( $(date +%s) - t0 ))s, $execs executions; ${cov:-no final stats}"
done
exit $status
