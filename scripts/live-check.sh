#!/usr/bin/env bash
# Live check, for maintainers with a network: kverify against the real upstreams.
#
# The test suite never leaves 127.0.0.1; what only the real dl.k8s.io, GitHub releases and
# get.helm.sh can tell (do the catalog's version ranges still match what was published?)
# is checked here: `fetch`, `verify --release`, `lock` and `mirror`, for a matrix with an
# old and a current version of every component and one version inside each range the
# catalog draws (../shared/UPSTREAMS.md, "What changes from version to version"), plus
# the combinations never published, which must be refused before any download (exit 2).
#
#   scripts/live-check.sh              build (cargo build --release --locked), then run all
#   scripts/live-check.sh --list       print the matrix, run nothing
#   KVERIFY=path/to/kverify scripts/live-check.sh   use that binary, build nothing
#
# Prints one line per check (`ok`/`FAILED`, the exit code, the command) and a summary;
# exits 1 when any check failed. Needs about 1.5 GB of downloads and a few minutes.
# .github/workflows/live-check.yml runs it weekly where the network exists; it is never
# part of the README's test command.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = --help ]; then sed -n '2,17p' "$0"; exit 0; fi
LIST=0; [ "${1:-}" = --list ] && LIST=1

# Each row: expected exit code | command and arguments (after `kverify`).
# Kubernetes: signed releases with their SBOM; before signing began; an older line cut
# after it began; an alpha.0 (published unsigned); windows node binaries; kubectl-convert.
MATRIX=$(cat <<'EOF'
0|fetch kubelet v1.29.0 --os linux --arch amd64
0|fetch kubectl@v1.31.0 kubeadm@v1.31.0 --os linux --arch arm64
0|fetch kubectl v1.25.4 --os linux --arch amd64
0|fetch kubectl v1.25.16 --os linux --arch amd64
0|fetch kubectl v1.33.0-alpha.0 --os linux --arch amd64
1|fetch kubectl v1.33.0-alpha.0 --os linux --arch amd64 --require-signature
0|fetch kubectl stable --os linux --arch amd64
0|fetch kubectl latest-1.31 --os linux --arch amd64
0|fetch kubectl v1.31.0 --os windows --arch amd64
0|fetch kubelet@v1.31.0 kube-proxy@v1.31.0 kube-log-runner@v1.31.0 --os windows --arch amd64
0|fetch kubectl-convert v1.31.0 --os darwin --arch arm64
0|fetch kubernetes-node v1.31.0 --os windows --arch amd64
0|verify-release kubectl v1.31.0 --os linux --arch amd64
0|verify-release kubectl v1.33.0-alpha.0 --os linux --arch amd64
0|fetch etcd v3.4.34 --os linux --arch amd64
0|fetch etcd v3.5.17 --os linux --arch s390x
0|fetch containerd 1.6.36 --os linux --arch amd64
0|fetch containerd 1.7.24 --os linux --arch s390x
0|fetch containerd 2.0.1 --os linux --arch amd64
0|fetch containerd-static 2.0.1 --os linux --arch amd64
0|fetch crictl v1.22.0 --os linux --arch amd64
0|fetch crictl v1.31.1 --os linux --arch riscv64
0|fetch cni-plugins v1.3.0 --os linux --arch amd64
0|fetch cni-plugins v1.6.0 --os linux --arch amd64
0|fetch runc 1.1.12 --os linux --arch amd64
0|fetch runc 1.2.5 --os linux --arch armhf
0|fetch helm 3.13.0 --os linux --arch amd64
0|fetch helm 3.16.3 --os darwin --arch arm64
2|fetch crictl 1.31.1 --os linux --arch arm
2|fetch etcd 3.4.34 --os linux --arch s390x
2|fetch containerd-static 1.6.36 --os linux --arch amd64
2|fetch runc 1.2.5 --os linux --arch arm
0|lock kubelet@v1.29.0 etcd@3.5.17 containerd@2.0.1 --platform linux/amd64 --platform linux/arm64
0|mirror kubelet@v1.29.0 cni-plugins@v1.6.0 --os linux --arch amd64
EOF
)

if [ $LIST -eq 1 ]; then printf '%s\n' "$MATRIX" | sed 's/|/  kverify /'; exit 0; fi

if [ -z "${KVERIFY:-}" ]; then
  cargo build --release --locked -q || { echo "build failed"; exit 1; }
  KVERIFY=$PWD/target/release/kverify
fi
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
echo "kverify: $("$KVERIFY" --version)   work: $WORK"

pass=0; total=0
while IFS='|' read -r want line; do
  [ -n "$line" ] || continue
  total=$((total + 1))
  read -r -a words <<<"$line"
  d=$WORK/$total; mkdir -p "$d"
  case ${words[0]} in
    fetch) args=("${words[@]}" --dest "$d" --no-progress) ;;
    lock) args=("${words[@]}" -o "$d/kverify.lock" --no-progress) ;;
    mirror) args=("${words[@]}" --to "$d/mirror" --no-progress) ;;
    # verify-release C V ...: fetch C at V, then verify the installed file against the release
    verify-release)
      c=${words[1]} v=${words[2]}
      "$KVERIFY" fetch "$c" "$v" "${words[@]:3}" --dest "$d" --no-progress >/dev/null 2>&1
      args=(verify "$d/$c" --release "$c@$v" "${words[@]:3}") ;;
    *) echo "unknown matrix row: $line"; exit 2 ;;
  esac
  start=$(date +%s)
  "$KVERIFY" "${args[@]}" >"$d.out" 2>"$d.err"; rc=$?
  took=$(( $(date +%s) - start ))
  if [ "$rc" = "$want" ]; then
    pass=$((pass + 1)); printf 'ok      exit %s  %3ss  kverify %s\n' "$rc" "$took" "$line"
  else
    printf 'FAILED  exit %s (wanted %s)  kverify %s\n' "$rc" "$want" "$line"
    grep -hE '^(error|  caused by|hint)|FAIL|ERROR' "$d.err" "$d.out" | head -n 4 | sed 's/^/        | /'
  fi
  # After a mirror: the tree it wrote serves a fetch with the upstream unreachable.
  if [ "${words[0]}" = mirror ] && [ "$rc" = 0 ]; then
    total=$((total + 1)); mkdir -p "$d/from-mirror"
    if "$KVERIFY" fetch kubelet v1.29.0 --os linux --arch amd64 --dest "$d/from-mirror" --no-progress \
        --mirror "https://dl.k8s.io=file://$d/mirror/dl.k8s.io" >"$d.m.out" 2>&1; then
      pass=$((pass + 1)); echo "ok      fetch kubelet v1.29.0 from the mirror written above (file://)"
    else
      echo "FAILED  fetch kubelet v1.29.0 from the mirror written above"; tail -n 3 "$d.m.out" | sed 's/^/        | /'
    fi
  fi
done <<<"$MATRIX"

echo "live check: $pass/$total checks hold"
[ "$pass" -eq "$total" ]
