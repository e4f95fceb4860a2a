#!/usr/bin/env bash
# Benchmarks `kverify verify` against the tools it replaces, on the same files, in the
# same run, page cache warm:
#
#   directory, SHA-256     kverify verify DIR --checksums SHA256SUMS   vs  sha256sum -c
#   directory, SHA-512     kverify verify DIR --checksums SHA512SUMS   vs  sha512sum -c
#   one file, SHA-256      kverify verify FILE --sha256 HEX            vs  openssl dgst -sha256
#   one file, SHA-512      kverify verify FILE --sha512 HEX            vs  openssl dgst -sha512
#   one file, both         kverify verify FILE --all-digests           vs  openssl dgst -sha512
#                          (against a file listing its SHA-256 and its SHA-512)
#
# and kverify's peak RSS. Targets (DESIGN.md section 7): a directory
# at least 6x faster than sha256sum -c and 2.5x faster than sha512sum -c; one file's
# SHA-256 at least 0.95x openssl; peak RSS under 64 MiB.
#
# Usage: scripts/bench-verify.sh [--files N] [--size MIB] [--large MIB] [--runs N]
#                                [--wait-idle SECONDS] [--boost] [--keep]
# Defaults: 8 files of 256 MiB plus one of 1024 MiB (3 GiB), 5 interleaved runs,
# about two minutes on 2 cores. Needs cargo, openssl, coreutils and GNU time
# (apt-get install -y time), and free memory for the files to stay in the page cache.
#
# The table shows the best run that other processes left alone (the "others" column is
# the share of all CPUs they used during it: on 2 cores, 50% is a whole core, which a
# one-thread command does not miss but a two-thread one does) and the median of all
# runs. On a shared machine, --wait-idle 60 waits up to a minute before each run for an idle second, and
# --boost (root, Linux) runs the whole benchmark in a session of its own with autogroup
# nice -20, so that other sessions' work (builds, fuzzers) barely takes CPU from any of
# the commands measured, kverify and baselines alike.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=scripts/bench-common.sh
. "$here/bench-common.sh"

files=8
size=256
large=1024
runs=5
wait_idle=0
boost=0
keep=0
args=("$@")
while [ $# -gt 0 ]; do
    case $1 in
    --files) files=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --large) large=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --wait-idle) wait_idle=$2; shift 2 ;;
    --boost) boost=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) bench_die "unknown argument $1 (try --help)" ;;
    esac
done
for n in "$files" "$size" "$large" "$runs" "$wait_idle"; do
    [[ $n =~ ^[0-9]+$ ]] || bench_die "expected a whole number, got '$n'"
done
[ "$large" -gt 0 ] || bench_die "--large must be at least 1 MiB: the single-file cases hash it"
[ "$runs" -gt 0 ] || bench_die "--runs must be at least 1"

if [ "$boost" -eq 1 ]; then
    bench_boost "$0" "${args[@]}"
fi

bench_need cargo
bench_need openssl
bench_need sha256sum coreutils
bench_need sha512sum coreutils
[ -x /usr/bin/time ] || bench_die "/usr/bin/time not found; install GNU time (apt-get install -y time)"

echo "building kverify (cargo build --release --locked)..." >&2
kverify=$(bench_build_kverify "$root")

total_mib=$((files * size + large))
avail_mib=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
if [ "$avail_mib" -lt $((total_mib + 1024)) ]; then
    echo "warning: ${total_mib} MiB of files but ${avail_mib} MiB of memory available;" \
        "the page cache may not hold them and the disk will be measured too" >&2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kverify-bench.XXXXXX")
if [ "$keep" -eq 1 ]; then
    echo "keeping $work" >&2
else
    trap 'rm -rf "$work"' EXIT
fi
BENCH_SAMPLES=$work/samples
mkdir -p "$BENCH_SAMPLES" "$work/data"

# The large file sorts last on purpose: a scheduler that hands out files in name order
# would start it when the other core is about to run out of work.
echo "writing $files x $size MiB + 1 x $large MiB of random bytes under $work..." >&2
for i in $(seq -w 1 "$files"); do
    bench_random_file "$work/data/part-$i.bin" "$size"
done
bench_random_file "$work/data/zz-large.bin" "$large"
echo "writing SHA256SUMS and SHA512SUMS..." >&2
(cd "$work/data" && sha256sum -- *) >"$work/SHA256SUMS"
(cd "$work/data" && sha512sum -- *) >"$work/SHA512SUMS"
grep -h ' zz-large.bin$' "$work/SHA256SUMS" "$work/SHA512SUMS" >"$work/BOTHSUMS"
sha256=$(awk '$2 == "zz-large.bin" { print $1 }' "$work/SHA256SUMS")
sha512=$(awk '$2 == "zz-large.bin" { print $1 }' "$work/SHA512SUMS")
# Flush the new files to disk now so that writeback does not run during the timings,
# then read everything once so the page cache is warm.
sync
cat "$work"/data/* >/dev/null

total_bytes=$((total_mib * 1024 * 1024))
large_bytes=$((large * 1024 * 1024))

# Every case: key, bytes, the command (run inside the data directory).
cd "$work/data"
cases=(
    "kv_dir256|$total_bytes|$kverify verify . --checksums ../SHA256SUMS"
    "cu_dir256|$total_bytes|sha256sum -c --quiet ../SHA256SUMS"
    "kv_dir512|$total_bytes|$kverify verify . --checksums ../SHA512SUMS"
    "cu_dir512|$total_bytes|sha512sum -c --quiet ../SHA512SUMS"
    "kv_one256|$large_bytes|$kverify verify zz-large.bin --sha256 $sha256"
    "os_one256|$large_bytes|openssl dgst -sha256 zz-large.bin"
    "kv_one512|$large_bytes|$kverify verify zz-large.bin --sha512 $sha512"
    "os_one512|$large_bytes|openssl dgst -sha512 zz-large.bin"
    "kv_both|$large_bytes|$kverify verify zz-large.bin --checksums ../BOTHSUMS --all-digests"
)

declare -A keys
for c in "${cases[@]}"; do keys[${c%%|*}]=1; done
busy_before=$(bench_cpu_busy)
for round in $(seq 1 "$runs"); do
    echo "run $round of $runs..." >&2
    for c in "${cases[@]}"; do
        IFS='|' read -r key _ cmd <<<"$c"
        [ "$wait_idle" -gt 0 ] && bench_wait_idle "$wait_idle"
        # shellcheck disable=SC2086 # the command is split into words on purpose
        bench_sample "$key" $cmd
    done
done
busy_after=$(bench_cpu_busy)

echo "measuring peak RSS..." >&2
rss_one256=$(bench_peak_rss_kib "$kverify" verify zz-large.bin --sha256 "$sha256")
rss_both=$(bench_peak_rss_kib "$kverify" verify zz-large.bin --checksums ../BOTHSUMS --all-digests)
rss_dir=$(bench_peak_rss_kib "$kverify" verify . --checksums ../SHA512SUMS)

best() { bench_best_clean "$1" | cut -d' ' -f1; }
others() { bench_best_clean "$1" | cut -d' ' -f2; }
# ratio BASELINE KVERIFY: how many times faster kverify is, from the best runs.
ratio() { awk -v b="$(best "$1")" -v k="$(best "$2")" 'BEGIN { printf "%.2f", b / k }'; }
met() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "met" : "NOT met" }'; }

row() { # key label bytes [baseline-key target]
    local key=$1 label=$2 bytes=$3 base=${4:-} target=${5:-} b m gbs vs=""
    b=$(best "$key")
    m=$(bench_median "$key")
    gbs=$(awk -v n="$bytes" -v s="$b" 'BEGIN { printf "%.2f", n / s / 1e9 }')
    if [ -n "$base" ]; then
        vs="$(ratio "$base" "$key")x"
        [ -n "$target" ] && vs="$vs (target >= ${target}x: $(met "$(ratio "$base" "$key")" "$target"))"
    fi
    printf '  %-54s %7.3f %6s%% %8.3f %6s  %s\n' "$label" "$b" "$(others "$key")" "$m" "$gbs" "$vs"
}

gib() { awk -v n="$1" 'BEGIN { printf "%.2f GiB", n / 1073741824 }'; }

echo
echo "machine:  $(bench_machine)"
echo "tools:    $("$kverify" --version), $(openssl version | cut -d' ' -f1-2), $(sha256sum --version | head -n1)"
echo "files:    $files x $size MiB + 1 x $large MiB = $(gib "$total_bytes"), page cache warm," \
    "best and median of $runs interleaved runs"
echo "CPU busy with other work just before/after the runs: ${busy_before}% / ${busy_after}%" \
    "$([ "$boost" -eq 1 ] && echo "(benchmark boosted: autogroup nice -20)")"
echo
printf '  %-54s %7s %7s %8s %6s  %s\n' "command" "best s" "others" "median s" "GB/s" "kverify vs baseline (best runs)"
echo "directory of $((files + 1)) files, $(gib "$total_bytes"):"
row kv_dir256 "kverify verify DIR --checksums SHA256SUMS" "$total_bytes" cu_dir256 6
row cu_dir256 "sha256sum -c SHA256SUMS" "$total_bytes"
row kv_dir512 "kverify verify DIR --checksums SHA512SUMS" "$total_bytes" cu_dir512 2.5
row cu_dir512 "sha512sum -c SHA512SUMS" "$total_bytes"
echo "one file, $(gib "$large_bytes"):"
row kv_one256 "kverify verify FILE --sha256 HEX" "$large_bytes" os_one256 0.95
row os_one256 "openssl dgst -sha256 FILE" "$large_bytes"
row kv_one512 "kverify verify FILE --sha512 HEX" "$large_bytes" os_one512
row kv_both "kverify verify FILE --all-digests (SHA-256 + SHA-512)" "$large_bytes" os_one512
row os_one512 "openssl dgst -sha512 FILE" "$large_bytes"
for key in "${!keys[@]}"; do
    if [ "$boost" -eq 0 ] && [ "$(others "$key")" -ge 5 ]; then
        echo "warning: other processes used the CPU during every run of some commands (see 'others');" \
            "their figures may be low; rerun on an idle machine, with --wait-idle 60, or with --boost" >&2
        break
    fi
done
echo
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
peak=$(printf '%s\n' "$rss_one256" "$rss_both" "$rss_dir" | sort -n | tail -n1)
echo "peak RSS: $(mib "$rss_one256") (one file, SHA-256), $(mib "$rss_both") (one file, both digests)," \
    "$(mib "$rss_dir") (directory, SHA-512); target < 64 MiB: $([ "$peak" -lt 65536 ] && echo met || echo "NOT met")"
