#!/usr/bin/env bash
# Soak test (not CI): many `kverify fetch` runs of many artifacts, in parallel, through
# a local server that truncates, resets, answers 5xx, trickles, stalls and corrupts at
# random; then an audit that no destination ever held unverified bytes, no
# `.kverify-*.partial` file is left and no installed binary was lost. Only 127.0.0.1;
# bounded in count and time; stops by itself.
#
#   scripts/soak.sh [FETCHES] [PARALLEL] [SECONDS] [SEED]    (default 300 4 900 1)
#
# KVERIFY=path uses that binary; otherwise the release binary is built.
set -euo pipefail
cd "$(dirname "$0")/.."
fetches=${1:-300} parallel=${2:-4} seconds=${3:-900} seed=${4:-1}
if [ -z "${KVERIFY:-}" ]; then
    cargo build --release --locked --quiet
    KVERIFY=${CARGO_TARGET_DIR:-target}/release/kverify
fi
exec python3 scripts/soak.py "$KVERIFY" "$fetches" "$parallel" "$seconds" "$seed"
