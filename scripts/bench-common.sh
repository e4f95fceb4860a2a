# Helpers shared by kverify's benchmark scripts. Source it; it defines functions only.
#
# Timings are wall-clock seconds from bash's $EPOCHREALTIME (no fork per sample). The
# machine these scripts target is small and often shared, so every benchmark runs its
# commands interleaved, round after round, and reports the best and the median run:
# a neighbour's burst of work then slows one sample of each command, not every sample
# of one command.

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

# Runs a command once with its output discarded and records its wall time under KEY.
# A command that fails stops the benchmark: timing a failure measures nothing.
bench_sample() {
    local key=$1 start end status=0
    shift
    start=$EPOCHREALTIME
    "$@" >/dev/null 2>"$BENCH_SAMPLES/$key.err" || status=$?
    end=$EPOCHREALTIME
    if [ "$status" -ne 0 ]; then
        cat "$BENCH_SAMPLES/$key.err" >&2
        bench_die "'$*' failed (exit $status)"
    fi
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f\n", e - s }' >>"$BENCH_SAMPLES/$key.times"
}

# The best (smallest) and median samples of KEY, in seconds.
bench_best() {
    sort -g "$BENCH_SAMPLES/$1.times" | head -n1
}

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
