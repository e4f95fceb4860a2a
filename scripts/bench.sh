#!/usr/bin/env bash
# Every benchmark of the project, each side by side with its baseline in the same run:
#
#   scripts/bench-verify.sh   kverify verify   vs  sha256sum -c, sha512sum -c, openssl dgst
#   scripts/bench-fetch.sh    kverify fetch    vs  curl over 1 Gbit/s and loopback, curl && sha512sum;
#                             a second fetch from the cache; a resume after a kill at half
#
# Each prints its machine, a table of times, GB/s and ratios, and kverify's peak RSS.
# The figures of the last run are in BENCHMARKS.md.
#
# Usage: scripts/bench.sh [--boost]   (--boost: root; see either script's --help)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
echo "== kverify verify (scripts/bench-verify.sh $*)"
"$here/bench-verify.sh" "$@"
echo
echo "== kverify fetch (scripts/bench-fetch.sh $*)"
"$here/bench-fetch.sh" "$@"
