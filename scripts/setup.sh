#!/usr/bin/env bash
# Prepares a Debian/Ubuntu machine for tapegrad and builds it: installs the packages the build
# needs (only those missing, so a second run touches nothing), then configures and builds the
# library and the example programs (scripts/test.sh builds the tests and benchmarks).
#   scripts/setup.sh              Release build in build/
#   scripts/setup.sh --sanitize   AddressSanitizer + UBSan build in build-asan/
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$arg' (expected --sanitize)" >&2; exit 2 ;;
  esac
done

# libopenblas-pthread-dev: the flavour that tapegrad's own threads may call concurrently (see
# kernels/cpu/blas.h).
# libopenmpi-dev, openmpi-bin: MPI for distributed training (a module loaded only under mpirun).
# libdnnl-dev: oneDNN, for convolutions. libcli11-dev parses the examples' flags; gnuplot-nox draws
# their plots. libboost-stacktrace-dev names the forward calls in anomaly mode's messages.
packages=(cmake g++ make pkg-config libopenblas-pthread-dev libdnnl-dev libfmt-dev libgtest-dev libgmock-dev
          libbenchmark-dev zlib1g-dev libpng-dev nlohmann-json3-dev libcli11-dev gnuplot-nox
          libboost-stacktrace-dev libopenmpi-dev openmpi-bin)

source scripts/packages.sh
install_missing_packages setup.sh "${packages[@]}"

if ((sanitize)); then
  build_dir=build-asan
  # Without the CUDA module: the Release build compiles every CUDA source, and the sanitizers
  # watch host code only (the CUDA runtime does not run under AddressSanitizer's defaults).
  options=(-DTAPEGRAD_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPEGRAD_BUILD_BENCHMARKS=OFF
           -DTAPEGRAD_CUDA=OFF)
else
  build_dir=build
  options=(-DCMAKE_BUILD_TYPE=Release)
fi

cmake -S . -B "$build_dir" "${options[@]}"
cmake --build "$build_dir" -j"$(nproc)" --target tapegrad_examples
