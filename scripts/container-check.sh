#!/usr/bin/env bash
# The node audit in a real container, run the way manifests/deploy/daemonset.yaml's pod
# runs it, against fixture hosts; the image built from manifests/deploy/Dockerfile.
#
#   scripts/container-check.sh          # as root; prints one line per assertion
#
# What it does, with no registry:
#   1. installs what is missing (docker.io, PyYAML);
#   2. builds a static kverify outside any image (cargo, into $CARGO_TARGET_DIR or
#      target/) and proves it static (no ELF interpreter, no NEEDED entries);
#   3. starts a private containerd and dockerd (their own config, data, state and
#      sockets in a temp dir; vfs storage, no iptables, no bridge), stopped by their pids
#      on exit: a daemon this script did not start is never used or touched;
#   4. builds the image from the Dockerfile's runtime stage with the binary above and
#      BASE_IMAGE=scratch (nothing pulled), and checks it is what the Dockerfile says;
#   5. derives the `docker run` flags from daemonset.yaml (user, capabilities,
#      no-new-privileges, read-only root, seccomp, mounts, env, limits, args) and fails on
#      any setting it cannot map; job.yaml must map to the same flags;
#   6. runs the audit on a clean fixture host (exit 0) and on one with a tampered binary,
#      a group-writable directory and an unreadable file (exit 1), with a lock written by
#      `kverify lock` from a file:// mirror and mounted as the kubelet mounts a ConfigMap;
#      checks the exact findings, the running process's credentials, capabilities,
#      seccomp, mounts and network from /proc, and that nothing under the host roots or
#      the lock changed.
#
# Exit status: 0 every assertion held, 1 some did not, 2 it could not run.
# KEEP_TMP=1 keeps the temp dir (fixtures, outputs; dockerd is stopped all the same).
# Not part of `cargo test`: it needs root and a container runtime.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HELPER=$REPO/scripts/container-check.py
DEPLOY=$REPO/manifests/deploy
IMAGE=kverify:container-check
NODE=fixture-node-1
START=$SECONDS

die() { echo "container-check: $*" >&2; exit 2; }
step() { echo; echo "== $* (at $((SECONDS - START)) s)"; }

PASS=0 FAIL=0 FAILED=()
# check NAME CMD...: one assertion; its output is shown only when it fails.
check() {
  local name=$1 out; shift
  if out=$("$@" 2>&1); then
    PASS=$((PASS + 1)); echo "ok    $name"
    [ -z "${VERBOSE:-}" ] || printf '%s\n' "$out" | sed 's/^/      /'
  else
    FAIL=$((FAIL + 1)); FAILED+=("$name"); echo "FAIL  $name"
    printf '%s\n' "$out" | sed 's/^/      /'
  fi
}
# shown NAME CMD...: an assertion whose output is worth reading when it passes too.
shown() { VERBOSE=1 check "$@"; }

[ "$(id -u)" -eq 0 ] || die "needs root (dockerd, and fixture files owned by root as on a node)"

# ------------------------------------------------------------------------- 1. tools
step "tools"
missing=()
{ command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; } || missing+=(docker.io)
command -v file >/dev/null || missing+=(file)
command -v readelf >/dev/null || missing+=(binutils)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (Debian)"
  # docker.io's own daemon must not start: a policy-rc.d that says no, for the install
  # only, where the machine has none.
  policy=
  if ! [ -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d; printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 0755 "$policy"
  fi
  installed=0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null && installed=1
  [ -z "$policy" ] || rm -f "$policy"
  [ "$installed" = 1 ] || die "apt-get install ${missing[*]} failed"
fi
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml || die "cannot install PyYAML"
# The client shipped with the daemon (Debian's /usr/bin/docker), not whatever else is
# first on PATH: it speaks the daemon's API and drives its built-in BuildKit.
DOCKER_CLI=/usr/bin/docker
"$DOCKER_CLI" --version
dockerd --version

# ------------------------------------------------------------------------- 2. static binary
step "static kverify, built outside the image"
# glibc linked statically (crt-static) by default: the toolchain alone builds it, no
# musl target or musl C compiler needed (aws-lc-sys's C code links in statically too).
# KVERIFY_STATIC_TARGET=x86_64-unknown-linux-musl builds what the Dockerfile builds,
# where that target and musl-gcc (Debian's musl-tools) are installed. With --target,
# RUSTFLAGS reach the target only, not build scripts or proc macros.
TARGET=${KVERIFY_STATIC_TARGET:-x86_64-unknown-linux-gnu}
if [ "$TARGET" = x86_64-unknown-linux-musl ]; then
  rustup target list --installed | grep -qx "$TARGET" && command -v musl-gcc >/dev/null ||
    die "$TARGET needs: rustup target add $TARGET; apt-get install musl-tools"
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
echo "cargo build --release --locked --target $TARGET, RUSTFLAGS=-C target-feature=+crt-static,"
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR (a clean build takes minutes)"
(cd "$REPO" && RUSTFLAGS="-C target-feature=+crt-static" cargo build --release --locked --target "$TARGET" --quiet) ||
  die "cargo build --target $TARGET failed"
BIN=$CARGO_TARGET_DIR/$TARGET/release/kverify
"$BIN" --version

# ------------------------------------------------------------------------- 3. private dockerd
step "private containerd and dockerd"
TMP=$(mktemp -d /tmp/kverify-container-check.XXXXXX)
DOCKERD_PID='' CONTAINERD_PID=''
stop() { # stop PID NAME: TERM, then KILL after 30 s; only ever a pid this script started
  kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1"
  for _ in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$1" 2>/dev/null; then echo "$2 $1 did not stop in 30 s: killing it" >&2; kill -KILL "$1"; fi
  echo "stopped $2 $1"
}
cleanup() {
  local rc=$?
  [ -z "$DOCKERD_PID" ] || stop "$DOCKERD_PID" dockerd   # it stops its containers first
  [ -z "$CONTAINERD_PID" ] || stop "$CONTAINERD_PID" containerd
  # Anything still mounted below TMP (a dockerd killed mid-way) is left for a human:
  # rm -r would descend into it.
  if [ -n "${KEEP_TMP:-}" ]; then
    echo "kept $TMP (KEEP_TMP)"
  elif grep -q " $TMP/" /proc/self/mountinfo; then
    echo "mounts remain under $TMP: not removing it" >&2
  else
    rm -rf "$TMP"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 2' INT TERM
mkdir -p "$TMP/data" "$TMP/exec" "$TMP/client" "$TMP/containerd"
# containerd too is started here, with its own config: given none, dockerd 20.10 would
# use a containerd already listening on /run/containerd/containerd.sock.
cat >"$TMP/containerd.toml" <<EOF
version = 2
root = "$TMP/containerd/root"
state = "$TMP/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt"]
[grpc]
  address = "$TMP/containerd.sock"
EOF
containerd --config "$TMP/containerd.toml" >"$TMP/containerd.log" 2>&1 &
CONTAINERD_PID=$!
for _ in $(seq 60); do [ -S "$TMP/containerd.sock" ] && break
  kill -0 "$CONTAINERD_PID" 2>/dev/null || { tail -20 "$TMP/containerd.log" >&2; die "containerd exited"; }; sleep 0.5; done
echo '{}' >"$TMP/daemon.json"   # not /etc/docker/daemon.json
SOCK=$TMP/docker.sock
dockerd --config-file "$TMP/daemon.json" --containerd "$TMP/containerd.sock" \
  --data-root "$TMP/data" --exec-root "$TMP/exec" --pidfile "$TMP/dockerd.pid" \
  -H "unix://$SOCK" --storage-driver=vfs --iptables=false --ip-masq=false --bridge=none \
  >"$TMP/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST=unix://$SOCK DOCKER_CONFIG=$TMP/client DOCKER_BUILDKIT=1
docker() { "$DOCKER_CLI" -H "unix://$SOCK" "$@"; }
for _ in $(seq 60); do docker version >/dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -20 "$TMP/dockerd.log" >&2; die "dockerd exited"; }; sleep 0.5; done
docker version >/dev/null 2>&1 || { tail -20 "$TMP/dockerd.log" >&2; die "dockerd did not answer on $SOCK"; }
echo "dockerd $(docker version --format '{{.Server.Version}}'), pid $DOCKERD_PID, socket $SOCK; containerd pid $CONTAINERD_PID"
check "dockerd's default seccomp profile is on (what RuntimeDefault means here)" \
  eval 'docker info --format "{{json .SecurityOptions}}" | grep -q "name=seccomp,profile=default"'

# ------------------------------------------------------------------------- 4. image
step "image: manifests/deploy/Dockerfile, KVERIFY_BINARY=prebuilt, BASE_IMAGE=scratch"
mkdir -p "$TMP/context" "$TMP/extracted"
install -m 0755 "$BIN" "$TMP/context/kverify"
docker build --quiet --network none -f "$DEPLOY/Dockerfile" \
  --build-arg KVERIFY_BINARY=prebuilt --build-arg BASE_IMAGE=scratch -t "$IMAGE" "$TMP/context" >/dev/null ||
  die "docker build failed"
docker save "$IMAGE" -o "$TMP/image.tar"
shown "the image is what the Dockerfile's last stage says: its user, its entrypoint, one root-owned 0755 file" \
  python3 "$HELPER" image "$TMP/image.tar" "$DEPLOY/Dockerfile" --out "$TMP/extracted"
X=$TMP/extracted/kverify
check "the binary in the image is the one built above" cmp "$X" "$BIN"
no_interp() { ! readelf -lW "$1" | grep -q 'INTERP'; }
no_needed() { ! readelf -dW "$1" | grep -q '(NEEDED)'; }
ldd_static() { local o; o=$(ldd "$1" 2>&1) || true; echo "$o"; grep -qE 'not a dynamic executable|statically linked' <<<"$o"; }
shown "static: file(1) says so" eval 'file -b "$X" | tee /dev/stderr | grep -qE "static(-pie)? linked"'
check "static: no PT_INTERP program header (readelf -l)" no_interp "$X"
check "static: no NEEDED shared library (readelf -d)" no_needed "$X"
shown "static: ldd finds no dependency" ldd_static "$X"
shown "it runs on FROM scratch (the image's only file), no network" \
  docker run --rm --network none --pull never "$IMAGE" --version

# ------------------------------------------------------------------------- 5. the pod's settings
step "the pod's settings, from daemonset.yaml"
pod_flags() { # pod_flags MANIFEST HOST-ROOT LOCK-DIR [--quiet]: docker run argv, one per line
  python3 "$HELPER" pod-flags "$1" --host-root "$2" --lock-dir "$3" --node "$NODE" --image "$IMAGE" \
    --facts "$TMP/facts.json" "${@:4}"
}
pod_flags "$DEPLOY/daemonset.yaml" /HOST /LOCK >/dev/null || die "daemonset.yaml has settings the check cannot map"
echo "  (the DaemonSet's other container, idle, is registry.k8s.io/pause: not run)"
check "job.yaml's audit container maps to the same docker run flags" \
  cmp <(pod_flags "$DEPLOY/daemonset.yaml" /HOST /LOCK --quiet) <(pod_flags "$DEPLOY/job.yaml" /HOST /LOCK --quiet)
unmappable() {
  python3 - "$DEPLOY/daemonset.yaml" "$TMP/unmappable.yaml" <<'PY'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
docs[0]["spec"]["template"]["spec"]["securityContext"]["fsGroup"] = 2000
yaml.safe_dump_all(docs, open(sys.argv[2], "w"))
PY
  local rc=0; pod_flags "$TMP/unmappable.yaml" /HOST /LOCK --quiet >/dev/null 2>"$TMP/unmappable.err" || rc=$?
  cat "$TMP/unmappable.err"; [ "$rc" -eq 2 ] && grep -q fsGroup "$TMP/unmappable.err"
}
shown "a setting the check cannot map (fsGroup) stops it: exit 2, named" unmappable

# ------------------------------------------------------------------------- 6. fixtures
step "fixtures: a file:// mirror, a lock, two host roots"
V=v1.29.4
M=$TMP/mirror/release/$V/bin/linux/amd64
mkdir -p "$M" "$TMP/bytes"
for b in kubelet kubectl kubeadm runc; do head -c 300000 /dev/urandom >"$TMP/bytes/$b"; done
for b in kubelet kubectl kubeadm; do
  cp "$TMP/bytes/$b" "$M/$b"
  printf '%s' "$(sha256sum "$M/$b" | cut -d' ' -f1)" >"$M/$b.sha256"
  printf '%s' "$(sha512sum "$M/$b" | cut -d' ' -f1)" >"$M/$b.sha512"
done
"$BIN" lock "kubelet@$V" "kubectl@$V" "kubeadm@$V" --platform linux/amd64 \
  --mirror "https://dl.k8s.io=file://$TMP/mirror" --insecure-skip-signature --no-progress \
  -o "$TMP/kverify.lock" >"$TMP/lock.log" 2>&1 || { cat "$TMP/lock.log" >&2; die "kverify lock failed"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# make_host DIR: a node's root, everything root-owned and 0755 as a package manager leaves it.
make_host() {
  local r=$1
  mkdir -p "$r"/{usr/bin,usr/local/bin,opt/k8s/bin,etc/systemd/system,var/lib/kubelet}
  find "$r" -type d -exec chmod 0755 {} +
  echo "$NODE" >"$r/etc/hostname"
  install -m 0755 "$TMP/bytes/kubelet" "$r/usr/bin/kubelet"
  install -m 0755 "$TMP/bytes/kubectl" "$r/usr/local/bin/kubectl"
  # A unit that starts a binary outside the search path, under a name of its own.
  install -m 0755 "$TMP/bytes/kubelet" "$r/opt/k8s/bin/kubelet-$V"
  printf '[Service]\nExecStart=/opt/k8s/bin/kubelet-%s --config=/var/lib/kubelet/config.yaml\n' "$V" \
    >"$r/etc/systemd/system/kubelet.service"
  chmod 0644 "$r/etc/systemd/system/kubelet.service" "$r/etc/hostname"
  chown -R 0:0 "$r"
}
CLEAN=$TMP/host-clean BAD=$TMP/host-bad
make_host "$CLEAN"
make_host "$BAD"
# Tampered: one byte of kubelet changed. Group-writable: /usr/local/bin 0775 (kubectl's
# bytes are right). Unreadable: runc 0700, which root could read and uid 65532 cannot.
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(4096); b=f.read(1)[0]; f.seek(4096); f.write(bytes([b^0xff]))' "$BAD/usr/bin/kubelet"
chmod 0775 "$BAD/usr/local/bin"
install -m 0700 -o 0 -g 0 "$TMP/bytes/runc" "$BAD/usr/bin/runc"
for h in clean bad; do
  python3 "$HELPER" configmap-dir "$DEPLOY/daemonset.yaml" "$DEPLOY/configmap.yaml" \
    --key-file "kverify.lock=$TMP/kverify.lock" --out "$TMP/lock-$h" >/dev/null
done
PROBE_FIFO=$(python3 "$HELPER" configmap-dir "$DEPLOY/daemonset.yaml" "$DEPLOY/configmap.yaml" \
  --key-file "kverify.lock=$TMP/kverify.lock" --out "$TMP/lock-probe" --fifo)/kverify.lock
echo "lock pins kubelet, kubectl, kubeadm $V linux/amd64; hosts $CLEAN, $BAD"

# expected NAME: the findings each run must produce, exactly.
finding() { # finding STATUS SEVERITY CHECK REASON PATH NAME [EXTRA-JSON]
  local path=null; [ "$5" = - ] || path="\"$5\""
  printf '{"status":"%s","severity":"%s","check":"%s","reason":"%s","path":%s,"name":"%s"%s}' \
    "$1" "$2" "$3" "$4" "$path" "$6" "${7:+,$7}"
}
pinned() { printf '"component":"%s","version":"%s","platform":"linux/amd64"' "$1" "$V"; }
UNIT='"found_by":"unit /etc/systemd/system/kubelet.service"'
cat >"$TMP/expect-clean.json" <<EOF
{"node": "$NODE",
 "sha256": {"/usr/bin/kubelet": "$(sha "$CLEAN/usr/bin/kubelet")", "/usr/local/bin/kubectl": "$(sha "$CLEAN/usr/local/bin/kubectl")",
            "/opt/k8s/bin/kubelet-$V": "$(sha "$CLEAN/opt/k8s/bin/kubelet-$V")"},
 "findings": [
  $(finding ok info digest match /usr/bin/kubelet kubelet "$(pinned kubelet)"),
  $(finding ok info digest match /usr/local/bin/kubectl kubectl "$(pinned kubectl)"),
  $(finding ok info digest match "/opt/k8s/bin/kubelet-$V" "kubelet-$V" "$(pinned kubelet),$UNIT"),
  $(finding missing info digest not-installed - kubeadm "$(pinned kubeadm)")
 ]}
EOF
cat >"$TMP/expect-bad.json" <<EOF
{"node": "$NODE",
 "sha256": {"/usr/bin/kubelet": "$(sha "$BAD/usr/bin/kubelet")", "/usr/local/bin/kubectl": "$(sha "$BAD/usr/local/bin/kubectl")",
            "/opt/k8s/bin/kubelet-$V": "$(sha "$BAD/opt/k8s/bin/kubelet-$V")"},
 "findings": [
  $(finding fail critical digest mismatch /usr/bin/kubelet kubelet),
  $(finding ok info digest match /usr/local/bin/kubectl kubectl "$(pinned kubectl)"),
  $(finding fail critical parent-writable group-writable /usr/local/bin/kubectl kubectl "$(pinned kubectl)"),
  $(finding ok info digest match "/opt/k8s/bin/kubelet-$V" "kubelet-$V" "$(pinned kubelet),$UNIT"),
  $(finding error warning digest unreadable /usr/bin/runc runc),
  $(finding missing info digest not-installed - kubeadm "$(pinned kubeadm)")
 ]}
EOF
snapshot() { python3 "$HELPER" snapshot "$1"; }
for d in host-clean host-bad lock-clean lock-bad; do snapshot "$TMP/$d" >"$TMP/$d.before"; done

# ------------------------------------------------------------------------- 7. the audits
# audit NAME HOST LOCK-DIR WANT-RC: the pod's container, run to completion.
audit() {
  local name=$1 rc=0; local -a argv
  mapfile -t argv < <(pod_flags "$DEPLOY/daemonset.yaml" "$2" "$3" --quiet)
  [ "${#argv[@]}" -gt 0 ] || return 1
  docker run --rm --name "kverify-check-$name" "${argv[@]}" >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
  sed 's/^/      stderr: /' "$TMP/$name.err"
  [ "$rc" -eq "$4" ] || { echo "exit $rc, wanted $4"; cat "$TMP/$name.out"; return 1; }
  echo "exit $rc"
}

step "audit while it runs: the process, as the kernel sees it"
# The lock is a FIFO here, so kverify blocks opening it, running with the pod's settings,
# while /proc/PID is read; then the lock is written into the FIFO and the audit goes on.
probe() {
  local argv cid pid="" rc
  mapfile -t argv < <(pod_flags "$DEPLOY/daemonset.yaml" "$CLEAN" "$TMP/lock-probe" --quiet)
  cid=$(docker run -d --name kverify-check-probe "${argv[@]}")
  for _ in $(seq 100); do
    pid=$(docker inspect -f '{{.State.Pid}}' "$cid")
    [ "$pid" != 0 ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = kverify ] && break; sleep 0.1
  done
  python3 "$HELPER" process "$pid" --expect-json "$(cat "$TMP/facts.json")"; rc=$?
  timeout 30 sh -c 'cat "$1" >"$2"' - "$TMP/kverify.lock" "$PROBE_FIFO" || { echo "kverify never opened the lock"; rc=1; }
  [ "$(docker wait "$cid")" = 0 ] || { echo "the probed audit did not exit 0"; rc=1; }
  docker logs "$cid" >"$TMP/probe.out" 2>/dev/null
  docker rm "$cid" >/dev/null
  return $rc
}
shown "uid/gid 65532, no capabilities, no_new_privs, seccomp filter, / and /host and the lock read-only, only lo" probe
check "the probed audit found what the clean host holds" python3 "$HELPER" findings "$TMP/probe.out" "$TMP/expect-clean.json"

step "audit: the clean host"
shown "clean host: exit 0" audit clean "$CLEAN" "$TMP/lock-clean" 0
shown "clean host: kubelet, kubectl, the unit's kubelet-$V verified; kubeadm missing" \
  python3 "$HELPER" findings "$TMP/clean.out" "$TMP/expect-clean.json"

step "audit: a tampered binary, a group-writable directory, an unreadable file"
shown "bad host: exit 1" audit bad "$BAD" "$TMP/lock-bad" 1
shown "bad host: kubelet mismatch, /usr/local/bin group-writable, runc unreadable to uid 65532, the rest as before" \
  python3 "$HELPER" findings "$TMP/bad.out" "$TMP/expect-bad.json"

step "nothing written"
for d in host-clean host-bad lock-clean lock-bad; do
  check "$d: every path, mode, owner, size, mtime, ctime and sha256 as before" \
    diff "$TMP/$d.before" <(snapshot "$TMP/$d")
done

echo
echo "container-check: $((SECONDS - START)) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ] || { printf 'failed: %s\n' "${FAILED[@]}"; exit 1; }
