#!/usr/bin/env bash
# Fuzzes tapegrad's file readers with libFuzzer: builds the targets of fuzz/ in build-fuzz/ (clang,
# AddressSanitizer + UBSan), then runs each in turn, starting from its seed corpus.
#   scripts/fuzz.sh                 every target for 600 s
#   scripts/fuzz.sh --seconds 20    every target for 20 s (what CI runs)
#   scripts/fuzz.sh --target csv    one target (idx idx_gzip libsvm csv safetensors nn_load checkpoint)
# The seeds (fuzz/corpus/<target>/) are copied to build-fuzz/corpus/<target>/, where the inputs
# found are kept for the next run; crashing inputs are saved in build-fuzz/artifacts/<target>/.
# Prints each target's executions, coverage (libFuzzer's cov: and ft:) and crashes, and exits
# non-zero when any target crashed.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=600
only=""
while (($# > 0)); do
  case "$1" in
    --seconds) seconds=${2:?--seconds needs a number}; shift 2 ;;
    --target) only=${2:?--target needs a name}; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "fuzz.sh: unknown option '$1' (expected --seconds N or --target NAME)" >&2; exit 2 ;;
  esac
done

# Each target and the longest input it is given: a few KB hold every structure of its format.
declare -A max_len=([idx]=4096 [idx_gzip]=4096 [libsvm]=2048 [csv]=2048 [safetensors]=8192 [nn_load]=8192
                    [checkpoint]=16384)
targets=(idx idx_gzip libsvm csv safetensors nn_load checkpoint)
if [[ -n "$only" ]]; then
  [[ -v "max_len[$only]" ]] || { echo "fuzz.sh: no target '$only' (expected one of ${targets[*]})" >&2; exit 2; }
  targets=("$only")
fi

# clang and libFuzzer, and what the library builds against (see scripts/setup.sh).
packages=(cmake make pkg-config clang-14 libclang-rt-14-dev libopenblas-pthread-dev libdnnl-dev libfmt-dev
          zlib1g-dev libpng-dev nlohmann-json3-dev libcli11-dev libboost-stacktrace-dev)
source scripts/packages.sh
install_missing_packages fuzz.sh "${packages[@]}"

build=build-fuzz
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$build" -DTAPEGRAD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "${launcher[@]}"
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

# The targets write each input to a file: on a RAM disk where there is one.
if [[ -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi
export UBSAN_OPTIONS=print_stacktrace=1

# The findings saved in $artifacts (libFuzzer also saves slow-unit-* files, which are not).
count_findings() {
  find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l
}

summary=()
failed=0
for target in "${targets[@]}"; do
  corpus="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  log="$build/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  for seed in fuzz/corpus/"$target"/*; do  # seeds missing from the working corpus (not cp -n: its status varies)
    [[ -e "$corpus/${seed##*/}" ]] || cp "$seed" "$corpus/"
  done
  crashes_before=$(count_findings)
  echo "fuzz.sh: $target for ${seconds} s (log: $log)"
  status=0
  "$build/fuzz/fuzz_$target" "$corpus" -max_total_time="$seconds" -max_len="${max_len[$target]}" \
    -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
  crashes=$(($(count_findings) - crashes_before))
  summary+=("$(printf '%-12s executions %-10s %-20s crashes %s' "$target" "${executions:-?}" "${coverage:-cov: ? ft: ?}" \
    "$crashes")")
  if ((status != 0 || crashes > 0)); then
    failed=1
    echo "fuzz.sh: $target failed (exit status $status); the end of its log:" >&2
    tail -n 40 "$log" >&2
  fi
done

printf '%s\n' "${summary[@]}"
exit "$failed"
