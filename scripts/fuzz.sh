#!/usr/bin/env bash
# Runs every fuzz target (or those named) for a fixed time each, one after the other on
# one core, and prints per target: executions, coverage (libFuzzer's cov and ft) and
# crashes. Crash inputs land in fuzz/artifacts/TARGET/; logs in fuzz/logs/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      (default 600 s per target, all targets)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); stable Rust acts as nightly through
# RUSTC_BOOTSTRAP=1. Seeds come from scripts/fuzz-seeds.py (real formats and the
# Sigstore vectors in ../shared/testvectors). Not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
export RUSTC_BOOTSTRAP=1
# cargo fuzz keeps its own target dir under fuzz/; a CARGO_TARGET_DIR meant for the main
# build would force a second full build.
unset CARGO_TARGET_DIR
# Release with overflow checks and debug assertions, no sanitizer: kverify forbids
# unsafe code, so ASan would only slow the search; panics and aborts are the findings.
build_flags=(-O -a -s none)
mapfile -t all < <(cargo fuzz list)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

python3 scripts/fuzz-seeds.py >/dev/null
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo fuzz build "${build_flags[@]}" >/dev/null
mkdir -p fuzz/logs
# Scratch space for the archive target's extractions, removed when the script ends.
KVERIFY_FUZZ_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kverify-fuzz-XXXXXX")
export KVERIFY_FUZZ_TMP
trap 'rm -rf "$KVERIFY_FUZZ_TMP"' EXIT

printf '%-14s %8s %12s %8s %8s %7s %8s\n' target seconds execs cov ft corpus crashes >fuzz/logs/summary.txt
for t in "${targets[@]}"; do
    mkdir -p "fuzz/artifacts/$t" "fuzz/corpus/$t"
    before=$(find "fuzz/artifacts/$t" -type f | wc -l)
    log="fuzz/logs/$t.log"
    # fork=1: one worker process (one core) that goes on after a crash, so each target
    # gets its full time and every distinct crash is kept.
    cargo fuzz run "${build_flags[@]}" "$t" "fuzz/corpus/$t" -- \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1 || true
    after=$(find "fuzz/artifacts/$t" -type f | wc -l)
    # Fork mode's progress lines: "#EXECS: cov: C ft: F corp: N exec/s: E oom/timeout/crash: a/b/c time: Ts ..."
    last=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -1 || true)
    execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
    ft=$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$last")
    corp=$(sed -E 's/.* corp: ([0-9]+).*/\1/' <<<"$last")
    crashes=$(sed -E 's#.* oom/timeout/crash: ([0-9]+/[0-9]+/[0-9]+).*#\1#' <<<"$last")
    printf '%-14s %8s %12s %8s %8s %7s %8s\n' "$t" "$seconds" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" \
        "${crashes:-?} (+$((after - before)) files)" | tee -a fuzz/logs/summary.txt
done
echo
echo "$(date -u +%F) $(uname -m) $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
cat fuzz/logs/summary.txt
echo "oom/timeout/crash counts are libFuzzer's; crash inputs: fuzz/artifacts/TARGET/"
