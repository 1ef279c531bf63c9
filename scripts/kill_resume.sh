#!/usr/bin/env bash
# Kills an example training run with SIGKILL at random moments, resumes it with --resume each
# time, and checks that it ends bit-identical to an uninterrupted run (tests/test_kill_resume.cpp,
# which the test suite runs with 5 kills).
#   scripts/kill_resume.sh [--kills N] [--program NAME] [--seed S] [--build-dir DIR]
# Defaults: 50 kills, mnist_mlp, a drawn seed (printed; pass it back with --seed to replay), build/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

kills=50
program=mnist_mlp
seed=""
build_dir=build
while (($# > 0)); do
  case "$1" in
    --kills) kills="$2"; shift 2 ;;
    --program) program="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "kill_resume.sh: unknown option '$1' (expected --kills N, --program NAME, --seed S, --build-dir DIR)" >&2
       exit 2 ;;
  esac
done

cmake --build "$build_dir" --target test_kill_resume  # and the example programs it runs
TAPEGRAD_KILLS="$kills" TAPEGRAD_KILL_PROGRAM="$program" TAPEGRAD_KILL_SEED="$seed" \
  TAPEGRAD_DATA="${TAPEGRAD_DATA:-$PWD/data}" exec "$build_dir/tests/test_kill_resume"
