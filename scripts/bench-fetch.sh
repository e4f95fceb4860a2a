#!/usr/bin/env bash
# Benchmarks `kverify fetch` against the manual steps it replaces, over loopback, from
# the same local server, in the same run:
#
#   curl -o f                              download only
#   curl -o f && sha512sum f               the kubectl docs' way (one digest, second read)
#   curl -o f && sha256sum f && sha512sum f  both digests, two more reads
#   kverify fetch kubelet v1.29.0          download + SHA-256 + SHA-512 in one pass,
#                                          compare, chmod, fsync, rename
#
# and kverify's peak RSS. Targets (DESIGN.md section 7): at least 2x `curl && sha512sum`,
# at least 0.7x `curl` alone, peak RSS under 64 MiB.
#
# Destinations are on /dev/shm (tmpfs) when it exists, so the figures measure the
# pipeline, not this machine's disk (kverify fsyncs what it installs; curl does not).
#
# Usage: scripts/bench-fetch.sh [--size MIB] [--runs N] [--boost]
# Defaults: a 512 MiB artifact, 5 interleaved runs. Needs cargo, curl, python3,
# coreutils and GNU time (apt-get install -y time). --boost (root, Linux) runs the
# whole benchmark in a session of its own at autogroup nice -20, so that other work on
# a shared machine barely takes CPU from any command (kverify and baselines alike).
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
[ -x /usr/bin/time ] || bench_die "GNU time not found; install it (apt-get install -y time)"

kverify=$(bench_build_kverify "$root")
work=$(mktemp -d)
shm=$work
[ -d /dev/shm ] && shm=$(mktemp -d /dev/shm/kverify-bench.XXXXXX)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$work" "$shm"
}
trap cleanup EXIT
BENCH_SAMPLES=$work/samples
mkdir -p "$BENCH_SAMPLES"

# The artifact, laid out as dl.k8s.io serves it.
dir=$work/www/release/v1.29.0/bin/linux/amd64
mkdir -p "$dir"
bench_random_file "$dir/kubelet" "$size"
printf '%s' "$(sha256sum "$dir/kubelet" | cut -d' ' -f1)" >"$dir/kubelet.sha256"
printf '%s' "$(sha512sum "$dir/kubelet" | cut -d' ' -f1)" >"$dir/kubelet.sha512"
cat "$dir/kubelet" >/dev/null # page cache warm

# A static server that hands the file to the kernel (sendfile), so the server is never
# the bottleneck for either client.
cat >"$work/serve.py" <<'PY'
import http.server, os, sys
root, portfile = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        path = os.path.join(root, self.path.split("?")[0].lstrip("/"))
        if not os.path.isfile(path):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.flush()
            self.connection.sendfile(f)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile, "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
python3 "$work/serve.py" "$work/www" "$work/port" &
server_pid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$work/port")/release/v1.29.0/bin/linux/amd64/kubelet

out=$shm/curl-out
dest=$shm/dest
mkdir -p "$dest"
kv_fetch() {
    rm -f "$dest/kubelet"
    "$kverify" fetch kubelet v1.29.0 --dest "$dest" --os linux --arch amd64 --no-progress -q \
        --insecure-skip-signature --mirror "https://dl.k8s.io=http://127.0.0.1:$(cat "$work/port")"
}
curl_only() { curl -sf -o "$out" "$url"; }
curl_512() { curl -sf -o "$out" "$url" && sha512sum "$out"; }
curl_both() { curl -sf -o "$out" "$url" && sha256sum "$out" && sha512sum "$out"; }

kv_fetch && cmp -s "$dest/kubelet" "$dir/kubelet" || bench_die "kverify fetch did not install the artifact"
echo "machine: $(bench_machine)"
echo "artifact: $size MiB over loopback, $runs interleaved runs, destination $shm"
echo "cpu busy before the run: $(bench_cpu_busy)% (other work on the machine skews every figure)"
for _ in $(seq "$runs"); do
    bench_sample curl curl_only
    bench_sample curl512 curl_512
    bench_sample curlboth curl_both
    bench_sample kverify kv_fetch
done
rss=$(bench_peak_rss_kib bash -c "$(declare -f kv_fetch); kverify=$kverify dest=$dest work=$work; kv_fetch")

mb=$((size * 1024 * 1024))
kv=$(bench_best kverify)
printf '\n%-46s %9s %9s %9s %14s\n' command best median MB/s "kverify is"
row() { # row LABEL KEY
    local best median
    best=$(bench_best "$2")
    median=$(bench_median "$2")
    awk -v l="$1" -v b="$best" -v m="$median" -v k="$kv" -v n="$mb" \
        'BEGIN { printf "%-46s %8.3fs %8.3fs %9.0f %13.2fx\n", l, b, m, n / b / 1e6, b / k }'
}
row "curl -o f" curl
row "curl -o f && sha512sum f" curl512
row "curl -o f && sha256sum f && sha512sum f" curlboth
row "kverify fetch (sha256 + sha512, install)" kverify
awk -v r="$rss" 'BEGIN { printf "\nkverify peak RSS: %.1f MiB (target: under 64 MiB)\n", r / 1024 }'
awk -v c="$(bench_best curl512)" -v k="$kv" -v o="$(bench_best curl)" 'BEGIN {
    printf "vs curl && sha512sum: %.2fx (target 2x)   vs curl alone: %.2fx (target 0.7x)\n", c / k, o / k }'
