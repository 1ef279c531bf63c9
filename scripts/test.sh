#!/usr/bin/env bash
# Builds tapegrad (through scripts/setup.sh) and runs the whole test suite with ctest; the exit
# status is ctest's. `scripts/test.sh --sanitize` does the same for the ASan + UBSan build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=build
for arg in "$@"; do
  case "$arg" in
    --sanitize) build_dir=build-asan ;;
    -h|--help) sed -n '2,3p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (expected --sanitize)" >&2; exit 2 ;;
  esac
done

scripts/setup.sh "$@"
cmake --build "$build_dir" -j"$(nproc)"  # the tests and benchmarks too

# A per-test limit, so that a hung test fails the run instead of stalling it.
exec ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 1500
