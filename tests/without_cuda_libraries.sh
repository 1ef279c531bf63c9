#!/usr/bin/env bash
# Runs CPU programs of a CUDA build with the CUDA libraries out of reach: a private mount
# namespace hides the folder libtapegrad_cuda.so finds them in under an empty tmpfs. quickstart and
# one short mnist_mlp epoch must succeed, and a CUDA request must fail with a message naming
# the missing library. Exits 77 (skipped) where no mount namespace can be made.
#   tests/without_cuda_libraries.sh BUILD_DIR DATA_DIR
set -euo pipefail

build_dir="$1"
data_dir="$2"
module="$build_dir/libtapegrad_cuda.so"
[[ -f "$module" ]] || { echo "no CUDA module at $module: this build has no CUDA backend" >&2; exit 77; }

cudart="$(ldd "$module" | awk '/libcudart/ { print $3 }')"
[[ -f "$cudart" ]] || { echo "libcudart is not found even before hiding it: $(ldd "$module" | grep cudart)" >&2; exit 1; }
cuda_lib_dir="$(dirname "$(readlink -f "$cudart")")"

if ! unshare --mount --propagation private true 2>/dev/null; then
  echo "cannot create a mount namespace here (needs root or user namespaces): skipped" >&2
  exit 77
fi

out="$(mktemp -d "${TMPDIR:-/tmp}/without_cuda.XXXXXX")"
trap 'rm -rf "$out"' EXIT
export build_dir data_dir module cuda_lib_dir out
unshare --mount --propagation private bash -euo pipefail -c '
  mount -t tmpfs none "$cuda_lib_dir"
  if ldd "$module" | grep -q "libcudart.*=> /"; then
    echo "libcudart is still reachable after hiding $cuda_lib_dir:" >&2; ldd "$module" | grep cudart >&2; exit 1
  fi
  "$build_dir/examples/quickstart" > "$out/quickstart.txt"
  echo "quickstart: ok without the CUDA libraries"
  "$build_dir/examples/mnist_mlp" --epochs 1 --limit-train 2000 --limit-test 500 --data-dir "$data_dir" \
    --out "$out/mlp" > "$out/mlp.txt"
  grep -q "test accuracy" "$out/mlp.txt"
  echo "mnist_mlp: one epoch ok without the CUDA libraries"
  if "$build_dir/examples/mnist_mlp" --epochs 1 --limit-train 200 --limit-test 100 --data-dir "$data_dir" \
       --device cuda --out "$out/mlp_cuda" > "$out/cuda.txt" 2>&1; then
    echo "mnist_mlp --device cuda succeeded without the CUDA libraries" >&2; exit 1
  fi
  if ! grep -q "CUDA backend could not be loaded (libcudart" "$out/cuda.txt"; then
    echo "the CUDA request did not name the missing library:" >&2; cat "$out/cuda.txt" >&2; exit 1
  fi
  echo "mnist_mlp --device cuda: refused with: $(grep -m1 "could not be loaded" "$out/cuda.txt")"
'
