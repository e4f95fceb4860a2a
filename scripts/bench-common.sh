# shellcheck shell=bash
# Helpers shared by kverify's benchmark scripts. Source it; it defines functions only.
#
# Timings are wall-clock seconds from bash's $EPOCHREALTIME (no fork per sample). The
# machine these scripts target is small and often shared, so every benchmark runs its
# commands interleaved, round after round, and reports the best and the median run:
# a neighbour's burst of work then slows one sample of each command, not every sample
# of one command. Each sample also records how much CPU other processes took while it
# ran (from /proc/stat, minus our own children's time), so a figure measured on a busy
# machine says so.

# Where samples go; the caller sets it to a directory of its own.
: "${BENCH_SAMPLES:=}"

bench_die() {
    echo "error: $*" >&2
    exit 1
}

bench_need() {
    local tool=$1 package=${2:-$1}
    command -v "$tool" >/dev/null 2>&1 || bench_die "$tool not found; install it (apt-get install -y $package)"
}

# The machine, for the record: CPU model, cores, memory, kernel.
bench_machine() {
    local model cores mem
    model=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)
    cores=$(nproc)
    mem=$(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
    printf '%s, %s cores, %s RAM, Linux %s\n' "${model:-unknown CPU}" "$cores" "$mem" "$(uname -r)"
}

# Percentage of all CPUs busy over the next second (other people's work included).
bench_cpu_busy() {
    local u n s i w q sq st b1 t1 b2 t2
    read -r _ u n s i w q sq st _ </proc/stat
    b1=$((u + n + s + q + sq + st))
    t1=$((b1 + i + w))
    sleep 1
    read -r _ u n s i w q sq st _ </proc/stat
    b2=$((u + n + s + q + sq + st))
    t2=$((b2 + i + w))
    echo $((100 * (b2 - b1) / (t2 - t1)))
}

# Writes MIB mebibytes of incompressible bytes to PATH. AES-CTR over zeros runs at
# several GB/s where /dev/urandom runs at a few hundred MB/s.
bench_random_file() {
    local path=$1 mib=$2 bytes
    bytes=$((mib * 1024 * 1024))
    { openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass "pass:kverify-bench-$RANDOM-$mib" -in /dev/zero 2>/dev/null || true; } |
        head -c "$bytes" >"$path"
    [ "$(stat -c %s "$path")" -eq "$bytes" ] || bench_die "could not write $mib MiB to $path"
}

# Builds kverify in release mode and prints the path of the binary.
bench_build_kverify() {
    local root=$1 target
    (cd "$root" && cargo build --release --locked --quiet) >&2 || bench_die "cargo build --release --locked failed"
    target=${CARGO_TARGET_DIR:-}
    if [ -z "$target" ]; then
        target=$(cd "$root" && cargo metadata --format-version 1 --no-deps |
            sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    fi
    [ -x "$target/release/kverify" ] || bench_die "no kverify binary under $target/release"
    echo "$target/release/kverify"
}

# Sets BENCH_ALL_TICKS to the CPU time (1/100 s) every process on the machine has used,
# and BENCH_CHILD_TICKS to what this shell's finished children have used. `times` must
# run in this shell, not in a $(...) subshell whose children are not ours.
bench_ticks() {
    local u n s i w q sq st
    read -r _ u n s i w q sq st _ </proc/stat
    BENCH_ALL_TICKS=$((u + n + s + q + sq + st))
    times >"$BENCH_SAMPLES/.times"
    BENCH_CHILD_TICKS=$(awk 'NR == 2 {
        t = 0
        for (j = 1; j <= 2; j++) { split($j, m, "m"); sub(/s$/, "", m[2]); t += m[1] * 60 + m[2] }
        printf "%d", t * 100
    }' "$BENCH_SAMPLES/.times")
}

# Waits up to SECONDS for a second in which the machine is under 5% busy.
bench_wait_idle() {
    local deadline=$((SECONDS + $1))
    while [ "$SECONDS" -lt "$deadline" ]; do
        [ "$(bench_cpu_busy)" -lt 5 ] && return 0
    done
    return 0
}

# Runs a command once with its output discarded and records, under KEY, its wall time
# and the share of the machine's CPU that other processes used meanwhile.
# A command that fails stops the benchmark: timing a failure measures nothing.
bench_sample() {
    local key=$1 start end status=0 all0 child0
    shift
    bench_ticks
    all0=$BENCH_ALL_TICKS
    child0=$BENCH_CHILD_TICKS
    start=$EPOCHREALTIME
    "$@" >/dev/null 2>"$BENCH_SAMPLES/$key.err" || status=$?
    end=$EPOCHREALTIME
    bench_ticks
    if [ "$status" -ne 0 ]; then
        cat "$BENCH_SAMPLES/$key.err" >&2
        bench_die "'$*' failed (exit $status)"
    fi
    awk -v s="$start" -v e="$end" -v all=$((BENCH_ALL_TICKS - all0)) -v own=$((BENCH_CHILD_TICKS - child0)) \
        -v cores="$(nproc)" 'BEGIN {
            other = (all - own) / ((e - s) * 100 * cores) * 100
            printf "%.6f %.0f\n", e - s, (other < 0) ? 0 : other
        }' >>"$BENCH_SAMPLES/$key.times"
}

# The best (fastest) sample of KEY in seconds, whatever else ran.
bench_best() {
    sort -g "$BENCH_SAMPLES/$1.times" | head -n1 | cut -d' ' -f1
}

# The best sample of KEY among those other processes left alone (they used under 5% of
# the CPU), or the best of all when none was, as "SECONDS OTHER%". For commands whose
# helpers (a local server) are not our children, the share counts those helpers too.
bench_best_clean() {
    sort -g "$BENCH_SAMPLES/$1.times" | awk '$2 < 5 { print; found = 1; exit } NR == 1 { first = $0 } END { if (!found) print first }'
}

# The median sample of KEY in seconds, whatever else ran.
bench_median() {
    sort -g "$BENCH_SAMPLES/$1.times" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Peak resident set size of one run of a command, in KiB (GNU time's %M).
bench_peak_rss_kib() {
    local out
    out=$(mktemp)
    /usr/bin/time -f '%M' -o "$out" "$@" >/dev/null 2>&1 || {
        rm -f "$out"
        bench_die "'$*' failed"
    }
    tail -n1 "$out"
    rm -f "$out"
}

# --boost: re-runs the calling script (SCRIPT ARGS...) in a session of its own, then
# raises that session's autogroup to nice -20. The scheduler shares the CPU between
# sessions (autogroups) first and between a session's processes second, so plain nice
# would not help. Needs root and a kernel with autogroup scheduling.
bench_boost() {
    if [ -z "${KVERIFY_BENCH_SESSION:-}" ]; then
        bench_need setsid util-linux
        KVERIFY_BENCH_SESSION=1 exec setsid --wait "$@"
    fi
    { echo -20 >/proc/self/autogroup; } 2>/dev/null ||
        bench_die "--boost needs root and a kernel with autogroup scheduling (/proc/self/autogroup)"
}
