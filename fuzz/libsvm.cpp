// LIBSVM text files, read with the default options and with a fixed number of features; what
// is accepted must make a consistent sparse matrix (its dense form touches every entry) of
// finite labels and values, as the reader promises.
#include <cmath>

#include "fuzz_input.h"

using namespace tapegrad;

namespace {

bool all_finite(const Tensor& tensor) {
  for (const float value : tensor.to_vector<float>())
    if (!std::isfinite(value)) return false;
  return true;
}

// Dense forms up to 4 MB: a file of a few KB may rightly declare a feature index of 2^24.
constexpr std::int64_t kMaxDenseElements = std::int64_t{1} << 20;

void read(const std::string& path, const datasets::LibsvmOptions& options) {
  datasets::LibsvmData data;
  try {
    data = datasets::read_libsvm(path, options);
  } catch (const Error&) {
    return;
  }
  const datasets::SparseRows& rows = data.features;
  if (rows.rows() != data.labels.numel() || rows.columns.numel() != rows.values.numel()) __builtin_trap();
  if (!all_finite(data.labels) || !all_finite(rows.values)) __builtin_trap();
  if (rows.num_columns <= kMaxDenseElements / std::max<std::int64_t>(rows.rows(), 1)) (void)data.dense();
  try {
    (void)data.binary_labels();
  } catch (const Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::single_threaded();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input(data, size, "input.libsvm").string();
  read(path, {});
  read(path, {.num_features = 8, .max_feature_index = 64});
  return 0;
}
