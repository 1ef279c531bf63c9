#!/usr/bin/env bash
# Times tapegrad's example programs against the same training written in PyTorch (tests/bench/pytorch_training.py),
# run after run in turn with the same OpenBLAS kernels loaded, and prints a Markdown table of the median seconds per
# epoch.
# A development tool: PyTorch (Debian's python3-torch) is never a dependency of tapegrad's build or tests.
#
#   tests/bench/compare_pytorch.sh                    # 3 rounds of 3 epochs per run, every usable core
#   tests/bench/compare_pytorch.sh --also-one-thread  # and every row again with --threads 1, right after it, and
#                                                     # tapegrad's one thread over all threads per round
#   tests/bench/compare_pytorch.sh --quick            # tiny subsets, 1 round, 2 epochs: checks the script works
#
# Options: --rounds N (3)  --epochs N (3; the first epoch of each run is left out of its median)
#          --threads N (nproc)  --also-one-thread  --only mlp,cnn_pass,cnn_epoch (the rows to run)
#          --coretype NAME|unset (default: SkylakeX on CPUs with AVX-512F/BW/DQ/VL, else unset)
#          --build-dir DIR (build/)  --data-dir DIR ($TAPEGRAD_DATA, else data/)  --python PATH (/usr/bin/python3)
#          --quick (sets --rounds 1 --epochs 2 and small --limit-train/--limit-test on both sides)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
script="$root/tests/bench/pytorch_training.py"
build_dir="$root/build"
data_dir="${TAPEGRAD_DATA:-$root/data}"
python=/usr/bin/python3
rounds=3
epochs=3
threads="$(nproc)"
coretype=""
also_one_thread=0
quick=0
only="mlp,cnn_pass,cnn_epoch"

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
fail() { echo "compare_pytorch.sh: $*" >&2; exit 1; }
positive() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || fail "$1 needs a positive whole number, got '$2'"; }
needs_value() { (($2 >= 2)) || fail "$1 needs a value"; }

while (($# > 0)); do
  case "$1" in
    --rounds) needs_value "$1" $#; positive "$1" "$2"; rounds="$2"; shift 2 ;;
    --epochs) needs_value "$1" $#; positive "$1" "$2"; epochs="$2"; shift 2 ;;
    --threads) needs_value "$1" $#; positive "$1" "$2"; threads="$2"; shift 2 ;;
    --coretype) needs_value "$1" $#; coretype="$2"; [[ -n "$coretype" ]] || fail "--coretype needs a name or 'unset'"
      shift 2 ;;
    --build-dir) needs_value "$1" $#; build_dir="$2"; shift 2 ;;
    --data-dir) needs_value "$1" $#; data_dir="$2"; shift 2 ;;
    --python) needs_value "$1" $#; python="$2"; shift 2 ;;
    --only) needs_value "$1" $#; only="$2"; shift 2 ;;
    --also-one-thread) also_one_thread=1; shift ;;
    --quick) quick=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) fail "unknown option '$1' (see --help)" ;;
  esac
done

# ---- what is needed, and what to say when it is missing ----
[[ -d "$build_dir" ]] || fail "no build folder $build_dir; build tapegrad with scripts/setup.sh (or pass --build-dir)"
build_dir="$(cd "$build_dir" && pwd)"
for program in mnist_mlp fashion_augment; do
  [[ -x "$build_dir/examples/$program" ]] ||
    fail "$build_dir/examples/$program is missing; build tapegrad with scripts/setup.sh (or pass --build-dir)"
done
if ! "$python" -c 'import torch, numpy' 2> /dev/null; then
  fail "$python cannot import torch (and numpy); install Debian's PyTorch with
  sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-torch
(a development tool only: tapegrad's build and tests never need it)"
fi
[[ -d "$data_dir" ]] || fail "no data folder $data_dir; fetch the datasets with scripts/fetch_data.sh"
data_dir="$(cd "$data_dir" && pwd)"
for file in mnist/train-images-idx3-ubyte fashion-mnist/train-images-idx3-ubyte; do
  [[ -f "$data_dir/$file" || -f "$data_dir/$file.gz" ]] ||
    fail "missing $data_dir/$file (or .gz); fetch the datasets with scripts/fetch_data.sh"
done

rows=()
IFS=',' read -r -a wanted <<< "$only"
for row in "${wanted[@]}"; do
  case "$row" in
    mlp|cnn_pass|cnn_epoch) rows+=("$row") ;;
    *) fail "--only takes mlp, cnn_pass and cnn_epoch, not '$row'" ;;
  esac
done
((${#rows[@]} > 0)) || fail "--only names no row"

thread_settings=("$threads")
if ((also_one_thread == 1 && threads != 1)); then thread_settings+=(1); fi

# --quick: the first few hundred images, so that every run takes a second or two.
limit_test=0
declare -A limit_train=([mlp]=0 [cnn_pass]=0 [cnn_epoch]=0)
if ((quick == 1)); then
  rounds=1
  epochs=2
  limit_test=200
  limit_train=([mlp]=640 [cnn_pass]=320 [cnn_epoch]=1280)
fi

declare -A work=(
  [mlp]="MNIST MLP epoch (Adam, batch 64, 60,000 images)"
  [cnn_pass]="B1 CNN pass (SGD, batch 16, 7,200 images, 450 steps)"
  [cnn_epoch]="CNN epoch (SGD, batch 128, 60,000 images, 469 steps)"
)
if ((quick == 1)); then
  work=([mlp]="MNIST MLP epoch (Adam, batch 64, --quick: 640 images)"
        [cnn_pass]="B1 CNN pass (SGD, batch 16, --quick: 320 images)"
        [cnn_epoch]="CNN epoch (SGD, batch 128, --quick: 1,280 images)")
fi

# ---- the OpenBLAS kernels both sides run on ----
# Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs and falls back to Haswell kernels; tapegrad then
# sets OPENBLAS_CORETYPE=SkylakeX itself (kernels/cpu/blas.cpp), PyTorch does not. Both sides get the same here.
has_avx512=0
cpu_flags="$(grep -m 1 '^flags' /proc/cpuinfo || true)"
if [[ " $cpu_flags " == *" avx512f "* && " $cpu_flags " == *" avx512bw "* && " $cpu_flags " == *" avx512dq "* &&
      " $cpu_flags " == *" avx512vl "* ]]; then
  has_avx512=1
fi
inherited_coretype="${OPENBLAS_CORETYPE-}"
if [[ -z "$coretype" ]]; then
  if ((has_avx512 == 1)); then
    coretype=SkylakeX
    coretype_why="this CPU has AVX-512F/BW/DQ/VL: what tapegrad picks by itself on a machine that sets nothing"
  else
    coretype="unset"
    coretype_why="no AVX-512F/BW/DQ/VL: OpenBLAS detects the CPU itself, as tapegrad leaves it to"
  fi
else
  coretype_why="--coretype"
fi
if [[ "$coretype" == unset ]]; then unset OPENBLAS_CORETYPE; else export OPENBLAS_CORETYPE="$coretype"; fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/compare_pytorch.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
results="$scratch/results.tsv"  # row, threads, side, round, kind (train|eval), epoch, seconds
: > "$results"

# ---- the setup, printed before anything runs ----
read -r load1 load5 load15 _ < /proc/loadavg
cpu_model="$(grep -m 1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)"
echo "# tapegrad against PyTorch: seconds per training epoch"
echo
echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), ${cpu_model:-unknown CPU}; nproc: $(nproc)"
echo "- load average before starting: $load1 $load5 $load15 (1, 5, 15 minutes)"
if awk -v load="$load1" 'BEGIN { exit !(load > 0.5) }'; then
  echo "- **WARNING: the 1-minute load average is $load1 (> 0.5): the machine is not idle, the timings will be noisy and slow.**"
  echo "WARNING: the 1-minute load average is $load1 (> 0.5): the machine is not idle" >&2
fi
if ((threads > $(nproc))); then
  echo "- **WARNING: --threads $threads is more than the $(nproc) usable cores: tapegrad caps it, PyTorch oversubscribes.**"
fi
coretype_text="${OPENBLAS_CORETYPE:-unset, OpenBLAS detects the CPU}"
echo "- OpenBLAS core type, both sides: $coretype_text ($coretype_why;" \
     "the calling environment had OPENBLAS_CORETYPE=${inherited_coretype:-unset})"
other_env="$(env | grep -E '^(OPENBLAS_|GOTO_|OMP_|GOMP_|KMP_|DNNL_|ONEDNN_|TAPEGRAD_NUM_THREADS)' |
             grep -v '^OPENBLAS_CORETYPE=' | sort | tr '\n' ' ' || true)"
echo "- other thread and BLAS settings both sides inherit: ${other_env:-none}"
echo "- rounds: $rounds, each tapegrad then PyTorch for every row and thread count, a row's thread counts one" \
     "after the other; $epochs epochs per run; threads: ${thread_settings[*]}"
echo
echo "## tapegrad"
echo
echo "- $build_dir/examples/mnist_mlp and fashion_augment --settings none, with --threads N, --data-dir $data_dir" \
     "and a fresh --out folder per run (no checkpoint resumed)"
bench_core="$build_dir/tests/bench/bench_core"
# One line on how fast each usable core runs a single-threaded sgemm, alone: on a virtual machine one core can be
# 10-45% slower than another for a while (its host core busy with something else), which caps what a second
# thread can add whatever the code does.
core_speeds() {
  local core gflops speeds=()
  for core in $("$python" -c 'import os; print(*sorted(os.sched_getaffinity(0)))'); do
    gflops="$( (cd "$scratch" && TAPEGRAD_NUM_THREADS=1 taskset -c "$core" "$bench_core" \
                  --benchmark_filter='BM_MatmulAgainstDirectSgemm/1024' 2>&1 | grep -o 'sgemm_GFLOPs=[0-9.]*' |
                  cut -d= -f2) || true)"
    if [[ -z "$gflops" ]]; then
      echo "single-thread sgemm per core: not measured (bench_core failed on core $core)"
      return
    fi
    speeds+=("$core $gflops")
  done
  printf '%s\n' "${speeds[@]}" | sort -k2,2 -g -r | awk -v threads="$threads" '
    { list = list sprintf("%scpu%s %.0f", NR > 1 ? ", " : "", $1, $2); if (NR == 1) fastest = $2
      if (NR <= threads) together += $2 }
    END { printf "single-thread sgemm (1024^2) per core, alone, GFLOP/s: %s; so %d threads can run at most %.2fx " \
                 "faster than 1 thread on the fastest core\n", list, (NR < threads ? NR : threads), together / fastest }'
}
if [[ -x "$bench_core" ]]; then
  # The context bench_core prints is tapegrad's own account of the OpenBLAS it loaded; one short benchmark runs.
  context="$(cd "$scratch" || exit 1
             TAPEGRAD_NUM_THREADS="$threads" "$bench_core" --benchmark_filter='BM_RecordedOpChain' \
               --benchmark_min_time=0.01 2>&1 | grep -E '^(blas_library|blas_core|blas_threads|tapegrad_threads):' |
               tr '\n' ' ' || true)"
  echo "- bench_core, with the same environment and $threads threads, reports: ${context:-nothing (it failed)}"
  if ((${#thread_settings[@]} > 1 || threads > 1)) && command -v taskset > /dev/null; then
    echo "- $(core_speeds)"
  fi
else
  echo "- ($bench_core is not built, so tapegrad's own account of its OpenBLAS is not shown; its core type is" \
       "the OPENBLAS_CORETYPE above)"
fi
echo "- OPENBLAS_NUM_THREADS: ${OPENBLAS_NUM_THREADS:-unset} (tapegrad sets OpenBLAS's thread count itself at load)"
if ldd "$build_dir/libtapegrad.so" 2> /dev/null | grep -q libdnnl; then
  echo "- matrix products: tapegrad runs float32 products of at least 2^20 multiply-adds (the MLP's first layer) on" \
       "oneDNN (matmul primitives, in two fixed parts from 4M multiply-adds on, run on one thread or two as" \
       "measured; sgemm for products of 17M and more, one part per thread), smaller ones on OpenBLAS; PyTorch runs" \
       "its Linear layers on OpenBLAS"
else
  echo "- matrix products: both sides on OpenBLAS (this build of tapegrad has no oneDNN)"
fi
echo "- timed: the metrics.csv column train_seconds, one row per epoch: the program's own clock around the" \
       "training loop (mnist_mlp: train_epoch(), shuffled DataLoader collating its batches inline, forward, loss.item()," \
       "backward, Adam step, accuracy count; fashion_augment: the pass from building its DataLoader (indices drawn" \
       "with replacement) to its last SGD step). Not timed: the evaluation after each epoch (test_seconds," \
       "eval_seconds: second table), checkpoints, plots."
echo
echo "## PyTorch"
echo
echo "- $python ${script#"$root"/} WORK --threads N: torch.set_num_threads(N), torch.set_num_interop_threads(1)," \
     "OPENBLAS_NUM_THREADS=1 (its intra-op pool parallelises; OpenBLAS must not add threads of its own)"
echo "- timed: time.perf_counter around the same loop (per-batch conversion from uint8 for the MLP, the same" \
     "sampling, zero_grad(set_to_none=True), loss.item() and the accuracy count every step); evaluation apart"
echo
echo '```'
OPENBLAS_NUM_THREADS=1 "$python" "$script" info --threads "$threads" || fail "$script info failed"
echo '```'
echo

# ---- the runs ----
# Sets `command` to tapegrad's program and flags for `row` at `count` threads, writing into `out`.
tapegrad_command() {
  local row="$1" count="$2" out="$3"
  local common=(--threads "$count" --epochs "$epochs" --data-dir "$data_dir" --out "$out"
                --limit-train "${limit_train[$row]}" --limit-test "$limit_test")
  case "$row" in
    mlp) command=("$build_dir/examples/mnist_mlp" "${common[@]}") ;;
    cnn_pass) command=("$build_dir/examples/fashion_augment" --settings none "${common[@]}") ;;
    cnn_epoch) command=("$build_dir/examples/fashion_augment" --settings none --train-fraction 1 --batch-size 128
                        "${common[@]}") ;;
  esac
}

# Reads the per-epoch seconds of one finished run into the results table.
record_tapegrad() {
  local row="$1" count="$2" round="$3" csv="$4"
  "$python" - "$csv" "$row" "$count" "$round" >> "$results" << 'EOF'
import csv, sys
path, row, threads, round_ = sys.argv[1:]
eval_column = "test_seconds" if row == "mlp" else "eval_seconds"
with open(path, newline="") as table:
    for line in csv.DictReader(table):
        if line.get("setting", "none") != "none":
            continue
        epoch = line.get("epoch") or line.get("pass")
        print(f"{row}\t{threads}\ttapegrad\t{round_}\ttrain\t{epoch}\t{line['train_seconds']}")
        print(f"{row}\t{threads}\ttapegrad\t{round_}\teval\t{epoch}\t{line[eval_column]}")
EOF
}

run_tapegrad() {
  local row="$1" count="$2" round="$3" out log
  out="$(mktemp -d "$scratch/tapegrad_${row}.XXXXXX")"
  log="$out.log"
  local command=()
  tapegrad_command "$row" "$count" "$out"
  if ! (cd "$scratch" && "${command[@]}") > "$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "tapegrad run failed: ${command[*]}"
  fi
  [[ -f "$out/metrics.csv" ]] || fail "${command[0]} wrote no $out/metrics.csv"
  record_tapegrad "$row" "$count" "$round" "$out/metrics.csv"
}

run_pytorch() {
  local row="$1" count="$2" round="$3" log
  local name="$row"
  [[ "$row" == mlp ]] && name=mnist_mlp
  log="$(mktemp "$scratch/pytorch_${row}.XXXXXX")"
  local command=("$python" "$script" "$name" --threads "$count" --epochs "$epochs" --data-dir "$data_dir"
                 --limit-train "${limit_train[$row]}" --limit-test "$limit_test")
  if ! (cd "$scratch" && OPENBLAS_NUM_THREADS=1 "${command[@]}") > "$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "PyTorch run failed: ${command[*]}"
  fi
  awk -v row="$row" -v threads="$count" -v round="$round" -v OFS='\t' '
    $1 == "epoch_seconds" { print row, threads, "pytorch", round, "train", $2, $3 }
    $1 == "eval_seconds" { print row, threads, "pytorch", round, "eval", $2, $3 }' "$log" >> "$results"
}

# The median of one run's epochs after the first (the first alone when there is no other), for the progress line.
run_median() {
  "$python" - "$results" "$@" << 'EOF'
import statistics, sys
path, row, threads, side, round_ = sys.argv[1:]
values = [(int(f[5]), float(f[6])) for f in (line.rstrip("\n").split("\t") for line in open(path))
          if f[:5] == [row, threads, side, round_, "train"]]
values.sort()
kept = [seconds for _, seconds in values[1:]] or [seconds for _, seconds in values]
print(f"{statistics.median(kept):.3f}" if kept else "?")
EOF
}

# A row's thread counts run one after the other, so that their comparison sees the same state
# of a host whose speed drifts within minutes.
for round in $(seq 1 "$rounds"); do
  for row in "${rows[@]}"; do
    for count in "${thread_settings[@]}"; do
      run_tapegrad "$row" "$count" "$round"
      tapegrad_seconds="$(run_median "$row" "$count" tapegrad "$round")"
      run_pytorch "$row" "$count" "$round"
      pytorch_seconds="$(run_median "$row" "$count" pytorch "$round")"
      echo "round $round/$rounds, $row, $count threads: tapegrad $tapegrad_seconds s, PyTorch $pytorch_seconds s" \
           "per epoch" >&2
    done
  done
done

# ---- the tables ----
work_labels="$scratch/work.tsv"
for row in "${rows[@]}"; do printf '%s\t%s\n' "$row" "${work[$row]}"; done > "$work_labels"
"$python" - "$results" "$work_labels" "$rounds" "$epochs" << 'EOF'
import statistics, sys
from collections import defaultdict

results_path, labels_path, rounds, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
labels = dict(line.rstrip("\n").split("\t", 1) for line in open(labels_path))
runs = defaultdict(list)  # (kind, row, threads, side, round) -> [(epoch, seconds)]
order = []  # (row, threads) in the order they ran
for line in open(results_path):
    row, threads, side, round_, kind, epoch, seconds = line.rstrip("\n").split("\t")
    runs[(kind, row, threads, side, round_)].append((int(epoch), float(seconds)))
    if (row, threads) not in order:
        order.append((row, threads))


def per_round(kind, row, threads, side):
    """Each round's median over the epochs after the first (the first alone when it is the only one)."""
    medians = []
    for round_ in range(1, rounds + 1):
        values = sorted(runs.get((kind, row, threads, side, str(round_)), []))
        kept = [s for _, s in values[1:]] or [s for _, s in values]
        if kept:
            medians.append(statistics.median(kept))
    return medians


def ratio(tapegrad, pytorch):
    if tapegrad <= 0 or pytorch <= 0:
        return "n/a"
    if tapegrad <= pytorch:
        return f"tapegrad {pytorch / tapegrad:.2f}x faster"
    return f"PyTorch {tapegrad / pytorch:.2f}x faster"


def table(kind, title):
    print(f"## {title}\n")
    print("| work | threads | tapegrad median | PyTorch median | ratio | tapegrad per round | PyTorch per round |")
    print("|---|---|---|---|---|---|---|")
    for row, threads in order:
        tapegrad, pytorch = per_round(kind, row, threads, "tapegrad"), per_round(kind, row, threads, "pytorch")
        if not tapegrad or not pytorch:
            continue
        t, p = statistics.median(tapegrad), statistics.median(pytorch)
        print(f"| {labels[row]} | {threads} | {t:.3f} s | {p:.3f} s | {ratio(t, p)} | "
              f"{', '.join(f'{v:.3f}' for v in tapegrad)} | {', '.join(f'{v:.3f}' for v in pytorch)} |")
    print()


def threads_table(title):
    """Per row run at several thread counts: one thread's seconds over the most threads', round by round."""
    counts = defaultdict(list)
    for row, threads in order:
        counts[row].append(threads)
    rows = [(row, max(ts, key=int)) for row, ts in counts.items() if "1" in ts and len(ts) > 1]
    if not rows:
        return
    print(f"## {title}\n")
    print("| work | 1 thread / N threads, median | per round |")
    print("|---|---|---|")
    for row, many in rows:
        one, most = per_round("train", row, "1", "tapegrad"), per_round("train", row, many, "tapegrad")
        speedups = [a / b for a, b in zip(one, most) if b > 0]
        if speedups:
            print(f"| {labels[row]} | {statistics.median(speedups):.2f} | {', '.join(f'{v:.2f}' for v in speedups)} |")
    print()


skipped = "the first epoch of each run left out" if epochs > 1 else "one epoch per run"
table("train", f"Training, seconds per epoch (median over the epochs of a run, {skipped}; then over {rounds} "
               f"round{'s' if rounds > 1 else ''})")
threads_table(f"tapegrad on {max(int(t) for _, t in order)} threads against 1 (training; the two runs of a round "
              "one after the other)")
table("eval", "Evaluation after each epoch, not in the table above (MLP: the test images; CNN: the training images, "
              "then the test images; no recording; the MLP 1,000 images at a time, the CNNs 128)")
EOF
