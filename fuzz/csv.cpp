// CSV tables, read three ways: defaults, with a label column, and headerless with ';' into
// float64. An accepted table must have one finite value per column and row, as the reader
// promises, and labels that index its class names.
#include <cmath>

#include "fuzz_input.h"

using namespace tapegrad;

namespace {

void read(const std::string& path, const datasets::CsvOptions& options) {
  datasets::CsvTable table;
  try {
    table = datasets::read_csv(path, options);
  } catch (const Error&) {
    return;
  }
  const auto columns = static_cast<std::int64_t>(table.columns.size());
  if (table.values.dim() != 2 || table.values.shape()[1] != columns) __builtin_trap();
  for (const double value : table.values.to_vector<double>())
    if (!std::isfinite(value)) __builtin_trap();
  if (!options.label_column) return;
  if (table.labels.numel() != table.values.shape()[0]) __builtin_trap();
  for (const std::int64_t label : table.labels.to_vector<std::int64_t>())
    if (label < 0 || label >= static_cast<std::int64_t>(table.label_names.size())) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::single_threaded();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input(data, size, "input.csv").string();
  read(path, {});
  read(path, {.label_column = "label"});
  read(path, {.delimiter = ';', .header = false, .dtype = kFloat64});
  return 0;
}
