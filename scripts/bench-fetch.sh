#!/usr/bin/env bash
# Benchmarks `kverify fetch` against the manual steps it replaces, from one local nginx
# (started by this script on 127.0.0.1, stopped at the end), in the same run:
#
# Unthrottled loopback (the CPU cost of verification):
#   curl -o f                                download only
#   curl -o f && sha512sum f                 the kubectl docs' way (one digest, second read)
#   curl -o f && sha256sum f && sha512sum f  both digests, two more reads
#   kverify fetch                            download + SHA-256 + SHA-512 in one pass,
#                                            kept in the cache as it arrives, compare,
#                                            chmod, fsync, rename
#   kverify fetch --no-cache                 the same without the copy kept in the cache
# Over a 1 Gbit/s link (nginx `limit_rate 125000000`: 125 MB/s per connection):
#   curl -o f                                the time the bytes take
#   kverify fetch (first, and --no-cache)    does verification cost wall time?
#   kverify fetch (second, from the cache)   no artifact bytes on the wire
#   kverify fetch (resume after a kill at half)   what it transfers, and how long
#
# and kverify's peak RSS. Targets (DESIGN.md section 7): 1 Gbit/s within 3% of `curl -o
# f`; loopback at least 1.5x `curl && sha512sum`; the second fetch at least 3x faster
# than the first over 1 Gbit/s with no artifact bytes sent; a resume at half transfers
# about half; peak RSS under 64 MiB. What nginx sent is read from its access log.
#
# Destinations and the cache are on /dev/shm (tmpfs) when it exists, so the figures
# measure the pipeline, not this machine's disk (kverify fsyncs what it installs; curl
# does not).
#
# Usage: scripts/bench-fetch.sh [--size MIB] [--runs N] [--boost]
# Defaults: a 512 MiB artifact, 5 interleaved runs. Needs cargo, curl, nginx, python3,
# coreutils and GNU time (apt-get install -y nginx time). --boost (root, Linux) runs the
# whole benchmark in a session of its own at autogroup nice -20, so that other work on
# a shared machine barely takes CPU from any command (kverify, nginx and baselines alike).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
# shellcheck source=scripts/bench-common.sh
. "$here/bench-common.sh"

size=512
runs=5
boost=0
args=("$@")
while [ $# -gt 0 ]; do
    case $1 in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --boost) boost=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) bench_die "unknown argument $1 (try --help)" ;;
    esac
done
if [ "$boost" -eq 1 ]; then
    bench_boost "$0" "${args[@]}"
fi
for tool in curl python3 sha256sum sha512sum openssl; do bench_need "$tool"; done
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || bench_die "nginx not found; install it (apt-get install -y nginx)"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[ -x /usr/bin/time ] || bench_die "GNU time not found; install it (apt-get install -y time)"

kverify=$(bench_build_kverify "$root")
work=$(mktemp -d)
shm=$work
[ -d /dev/shm ] && shm=$(mktemp -d /dev/shm/kverify-bench.XXXXXX)
nginx_pid=
cleanup() {
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
    rm -rf "$work" "$shm"
}
trap cleanup EXIT
BENCH_SAMPLES=$work/samples
mkdir -p "$BENCH_SAMPLES"

# The artifact, laid out as dl.k8s.io serves it.
rel=release/v1.29.0/bin/linux/amd64
dir=$work/www/$rel
mkdir -p "$dir"
bench_random_file "$dir/kubelet" "$size"
printf '%s' "$(sha256sum "$dir/kubelet" | cut -d' ' -f1)" >"$dir/kubelet.sha256"
printf '%s' "$(sha512sum "$dir/kubelet" | cut -d' ' -f1)" >"$dir/kubelet.sha512"
cat "$dir/kubelet" >/dev/null # page cache warm
chmod -R a+rX "$work/www"

# nginx: one server as fast as loopback goes, one limited to 1 Gbit/s per connection;
# sendfile, so the server is never the bottleneck; ETag, Last-Modified and ranges as any
# static server sends them. Each request is logged with the bytes of body it sent.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fast_port=$(free_port)
slow_port=$(free_port)
mkdir -p "$work/nginx"
user_line=
[ "$(id -u)" -eq 0 ] && user_line="user root root;"
cat >"$work/nginx/nginx.conf" <<EOF
$user_line
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 64; }
http {
    log_format bench '\$msec \$server_port \$uri \$status \$body_bytes_sent "\$http_range"';
    access_log $work/nginx/access.log bench;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 5;
    server { listen 127.0.0.1:$fast_port; root $work/www; }
    server { listen 127.0.0.1:$slow_port; root $work/www; limit_rate 125000000; }
}
EOF
"$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" &
nginx_pid=$!
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$fast_port/$rel/kubelet.sha256" && break; sleep 0.1; done
curl -sf -o /dev/null "http://127.0.0.1:$slow_port/$rel/kubelet.sha256" || bench_die "nginx did not start ($(tail -3 "$work/nginx/error.log"))"

out=$shm/curl-out
dest=$shm/dest
cache=$shm/cache
kv() { # kv PORT CACHE-DIR [ARG...]: kverify fetch kubelet into $dest (emptied first)
    local port=$1 c=$2
    shift 2
    rm -f "$dest/kubelet"
    KVERIFY_CACHE_DIR=$c "$kverify" fetch kubelet v1.29.0 --dest "$dest" --os linux --arch amd64 --no-progress -q \
        --insecure-skip-signature --mirror "https://dl.k8s.io=http://127.0.0.1:$port" "$@"
}
mkdir -p "$dest"
# The cache is emptied before a first fetch is timed (not while).
kv_fast() { kv "$fast_port" "$cache"; }
kv_fast_nocache() { kv "$fast_port" "$cache" --no-cache; }
kv_slow() { kv "$slow_port" "$cache"; }
kv_slow_nocache() { kv "$slow_port" "$cache" --no-cache; }
kv_cached() { kv "$slow_port" "$shm/warm"; }
curl_fast() { curl -sf -o "$out" "http://127.0.0.1:$fast_port/$rel/kubelet"; }
curl_512() { curl -sf -o "$out" "http://127.0.0.1:$fast_port/$rel/kubelet" && sha512sum "$out"; }
curl_both() { curl -sf -o "$out" "http://127.0.0.1:$fast_port/$rel/kubelet" && sha256sum "$out" && sha512sum "$out"; }
curl_slow() { curl -sf -o "$out" "http://127.0.0.1:$slow_port/$rel/kubelet"; }

# Bytes of the artifact nginx sent on PORT since log line N: "REQUESTS BYTES".
sent_since() {
    awk -v n="$1" -v port="$2" -v uri="/$rel/kubelet" \
        'NR > n && $2 == port && $3 == uri { r++; b += $5 } END { printf "%d %d\n", r, b }' "$work/nginx/access.log"
}
log_lines() { wc -l <"$work/nginx/access.log"; }

# A fetch over 1 Gbit/s killed (SIGKILL) once half the artifact is in the cache's partial
# download; the sample is the run that resumes it. Records bytes sent for the resume.
half=$((size * 1024 * 1024 / 2))
resume_cut() {
    rm -rf "$shm/resume" "$dest/kubelet"
    KVERIFY_CACHE_DIR=$shm/resume "$kverify" fetch kubelet v1.29.0 --dest "$dest" --os linux --arch amd64 \
        --no-progress -q --insecure-skip-signature --mirror "https://dl.k8s.io=http://127.0.0.1:$slow_port" &
    local pid=$! part
    for _ in $(seq 600); do
        part=$(find "$shm/resume/partial" -name data -size +$((half / 1024))k 2>/dev/null | head -n1 || true)
        [ -n "$part" ] && break
        sleep 0.01
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    [ -n "$part" ] || bench_die "the download to cut never reached half"
    stat -c %s "$part" >>"$BENCH_SAMPLES/resume.kept"
}
kv_resume() { kv "$slow_port" "$shm/resume"; }

rm -rf "$cache"
kv_fast && cmp -s "$dest/kubelet" "$dir/kubelet" || bench_die "kverify fetch did not install the artifact"
kv "$slow_port" "$shm/warm" && cmp -s "$dest/kubelet" "$dir/kubelet" || bench_die "kverify fetch (cache warm-up) failed"
echo "machine: $(bench_machine)"
echo "artifact: $size MiB from nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///') on 127.0.0.1, $runs interleaved runs, destination and cache in $shm"
echo "cpu busy before the run: $(bench_cpu_busy)% (other work on the machine skews every figure)"
mark=$(log_lines)
for _ in $(seq "$runs"); do
    bench_sample curl curl_fast
    bench_sample curl512 curl_512
    bench_sample curlboth curl_both
    rm -rf "$cache"
    bench_sample kverify kv_fast
    bench_sample kvnocache kv_fast_nocache
    bench_sample slowcurl curl_slow
    rm -rf "$cache"
    bench_sample slowkv kv_slow
    bench_sample slownocache kv_slow_nocache
    n=$(log_lines)
    bench_sample cached kv_cached
    sent_since "$n" "$slow_port" >>"$BENCH_SAMPLES/cached.sent"
    resume_cut
    n=$(log_lines)
    bench_sample resume kv_resume
    sent_since "$n" "$slow_port" >>"$BENCH_SAMPLES/resume.sent"
    cmp -s "$dest/kubelet" "$dir/kubelet" || bench_die "the resumed fetch installed other bytes"
done
rm -rf "$cache"
rss=$(bench_peak_rss_kib bash -c "$(declare -f kv kv_fast); kverify=$kverify dest=$dest cache=$cache fast_port=$fast_port; kv_fast")

mb=$((size * 1024 * 1024))
ratio() { awk -v a="$(bench_best "$1")" -v b="$(bench_best "$2")" 'BEGIN { printf "%.2f", a / b }'; }
row() { # row LABEL KEY [BASELINE-KEY]: kverify's ratio to the baseline (how many times faster)
    local best median
    best=$(bench_best "$2")
    median=$(bench_median "$2")
    awk -v l="$1" -v b="$best" -v m="$median" -v n="$mb" -v r="${3:+$(ratio "${3:-}" "$2")}" \
        'BEGIN { printf "%-58s %8.3fs %8.3fs %7.0f %10s\n", l, b, m, n / b / 1e6, (r == "" ? "" : r "x") }'
}
printf '\n%-58s %9s %9s %7s %10s\n' "unthrottled loopback" best median MB/s "vs it"
row "curl -o f" curl
row "curl -o f && sha512sum f" curl512
row "curl -o f && sha256sum f && sha512sum f" curlboth
row "kverify fetch (sha256 + sha512, cache, install)" kverify curl512
row "kverify fetch --no-cache" kvnocache curl512
printf '\n%-58s %9s %9s %7s %10s\n' "1 Gbit/s (nginx limit_rate 125000000)" best median MB/s "vs it"
row "curl -o f" slowcurl
row "kverify fetch, first (cache written)" slowkv slowcurl
row "kverify fetch --no-cache" slownocache slowcurl
row "kverify fetch, second (from the cache)" cached slowkv
row "kverify fetch resuming a download killed at half" resume slowkv
awk -v r="$rss" 'BEGIN { printf "\nkverify peak RSS: %.1f MiB (target: under 64 MiB)\n", r / 1024 }'
awk '{ r += $1; b += $2 } END { printf "second fetch: %d artifact requests, %d artifact bytes sent in %d runs (target: 0)\n", r, b, NR }' \
    "$BENCH_SAMPLES/cached.sent"
paste "$BENCH_SAMPLES/resume.kept" "$BENCH_SAMPLES/resume.sent" | awk -v n="$mb" '
    { kept += $1; req += $2; sent += $3 } END {
    printf "resume: %.1f%% of the artifact on disk when killed; the resume sent %.1f%% of it (%d bytes per run, %.1f requests)\n",
        100 * kept / NR / n, 100 * sent / NR / n, sent / NR, req / NR }'
awk -v k="$(bench_best slowkv)" -v c="$(bench_best slowcurl)" -v kc="$(bench_best kverify)" -v c5="$(bench_best curl512)" \
    -v s="$(bench_best cached)" 'BEGIN {
    printf "targets: 1 Gbit/s %.1f%% slower than curl (within 3%%); loopback %.2fx curl && sha512sum (>= 1.5x); second fetch %.2fx faster than the first (>= 3x)\n",
        100 * (k / c - 1), c5 / kc, k / s }'
