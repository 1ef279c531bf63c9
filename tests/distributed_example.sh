#!/bin/bash
# mnist_mlp under `mpirun -np 2`, with no extra flag, against one process: the same metrics (the
# ranks split each batch and average the gradients, so training is the same up to rounding),
# rank 0 alone writing the output folder, and --resume continuing a distributed run.
#   distributed_example.sh MPIRUN MNIST_MLP SCRATCH
set -eu
mpirun=$1 program=$2 scratch=$3
rm -rf "$scratch" && mkdir -p "$scratch"
scratch_folders() { find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'tapegrad-mnist_mlp-rank*' 2>/dev/null | sort; }
scratch_folders >"$scratch/folders_before"
flags=(--limit-train 2048 --limit-test 500 --batch-size 64 --show-digit 0)
"$program" "${flags[@]}" --epochs 2 --out "$scratch/alone" >/dev/null
run_ranks() {
  timeout --kill-after=5 120 "$mpirun" --allow-run-as-root --oversubscribe --bind-to none -np 2 \
    "$program" "${flags[@]}" "$@" --out "$scratch/ranks"
}
run_ranks --epochs 1 >"$scratch/first.log"
run_ranks --epochs 2 --resume >"$scratch/second.log"
grep -q "resumed from .* after epoch 1" "$scratch/second.log" || { echo "FAILED: the second run did not resume"; exit 1; }
# Columns 2-5: train loss and accuracy, test loss and accuracy (then seconds, which differ).
if ! paste -d, "$scratch/alone/metrics.csv" "$scratch/ranks/metrics.csv" | awk -F, '
    NR == 1 { next }
    { half = NF / 2; for (c = 2; c <= 5; ++c) { d = $c - $(c + half); if (d < 0) d = -d; if (d > 1e-3) bad = 1 } }
    END { exit bad }'; then
  echo "FAILED: the metrics of 2 ranks differ from one process's"
  paste "$scratch/alone/metrics.csv" "$scratch/ranks/metrics.csv"
  exit 1
fi
if ! scratch_folders | cmp -s - "$scratch/folders_before"; then
  echo "FAILED: rank 1 left its scratch folder behind"
  exit 1
fi
echo "2 ranks trained as one process, wrote $(ls "$scratch/ranks" | wc -l) files, and resumed"
