#!/usr/bin/env bash
# Times EXPERIMENTS.md C2, 1000 Adam steps on the Beale function, in tapegrad (bench_optim) and in PyTorch
# (tests/bench/pytorch_reference.py's beale_adam), run after run in turn on one core, and prints each round's
# medians and the median ratio. The work is a chain of tiny ops, so this measures the tape's per-op overhead.
# A development tool: PyTorch (Debian's python3-torch) is never a dependency of tapegrad's build or tests.
#
#   tests/bench/compare_beale.sh                 # 5 rounds on the last usable core
#   tests/bench/compare_beale.sh --rounds 9 --core 0
#
# Options: --rounds N (5)  --core N (the last usable core)  --build-dir DIR (build/)  --python PATH (/usr/bin/python3)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="$root/build"
python=/usr/bin/python3
rounds=5
core=""

fail() { echo "compare_beale.sh: $*" >&2; exit 1; }
needs_number() { if (($3 < 2)) || [[ ! "$2" =~ ^[0-9]+$ ]]; then fail "$1 needs a whole number"; fi; }

while (($# > 0)); do
  case "$1" in
    --rounds) needs_number "$1" "${2-}" $#; rounds="$2"; shift 2 ;;
    --core) needs_number "$1" "${2-}" $#; core="$2"; shift 2 ;;
    --build-dir) (($# >= 2)) || fail "$1 needs a folder"; build_dir="$2"; shift 2 ;;
    --python) (($# >= 2)) || fail "$1 needs a path"; python="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option '$1' (see --help)" ;;
  esac
done
((rounds > 0)) || fail "--rounds must be at least 1"

bench="$build_dir/tests/bench/bench_optim"
[[ -x "$bench" ]] || fail "$bench is missing; build it with: cmake --build $build_dir --target bench_optim"
"$python" -c 'import torch' 2> /dev/null ||
  fail "$python cannot import torch; install Debian's python3-torch (a development tool only)"
command -v taskset > /dev/null || fail "taskset is missing (Debian package util-linux)"
usable="$("$python" -c 'import os; print(*sorted(os.sched_getaffinity(0)))')"
[[ -n "$core" ]] || core="${usable##* }"
[[ " $usable " == *" $core "* ]] || fail "--core $core is not one this process may run on (usable: $usable)"

read -r load1 _ < /proc/loadavg
echo "# Beale, 1000 Adam steps (float64 scalars): tapegrad against PyTorch on core $core"
echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); load average before starting: $load1; $rounds rounds"
echo "- tapegrad: bench_optim --benchmark_filter=BealeOptimAdam --benchmark_repetitions=5, median; one thread"
echo "- PyTorch $("$python" -c 'import torch; print(torch.__version__)'): beale_adam, 7 runs, median;" \
     "torch.set_num_threads(1)"
echo
echo "| round | tapegrad (ms) | PyTorch (ms) | ratio |"
echo "|---|---|---|---|"
ratios=()
for round in $(seq "$rounds"); do
  ours="$(TAPEGRAD_NUM_THREADS=1 taskset -c "$core" "$bench" --benchmark_filter=BealeOptimAdam \
            --benchmark_repetitions=5 --benchmark_report_aggregates_only=true 2> /dev/null |
          awk '/_median/ { print $2 }')"
  [[ -n "$ours" ]] || fail "bench_optim printed no median"
  theirs="$(cd "$root/tests/bench" && taskset -c "$core" "$python" -c '
import torch
import pytorch_reference as reference
torch.set_num_threads(1)
print(reference.median_seconds(reference.beale_adam, 7) * 1e3)')"
  ratio="$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.1f", b / a }')"
  ratios+=("$ratio")
  printf '| %d | %.2f | %.1f | %sx |\n' "$round" "$ours" "$theirs" "$ratio"
done
echo
printf '%s\n' "${ratios[@]}" | sort -g |
  awk '{ r[NR] = $1 } END { m = NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2
                            printf "median ratio: tapegrad %.1fx faster than PyTorch\n", m }'
