// LIBSVM parsing into CSR arrays, one validated token at a time.
#include <tapegrad/datasets/libsvm.h>

#include <vector>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/datasets/text_lines.h>

namespace tapegrad::datasets {

using detail::fits_float32;
using detail::parse_integer;
using detail::parse_number;
using detail::printable;
using detail::trim;

Tensor SparseRows::to_dense() const {
  Tensor dense = zeros({rows(), num_columns});
  float* out = dense.data_ptr<float>();
  const std::int64_t* offset = offsets.data_ptr<std::int64_t>();
  const std::int64_t* column = columns.data_ptr<std::int64_t>();
  const float* value = values.data_ptr<float>();
  for (std::int64_t r = 0; r < rows(); ++r)
    for (std::int64_t k = offset[r]; k < offset[r + 1]; ++k) out[r * num_columns + column[k]] = value[k];
  return dense;
}

Tensor LibsvmData::binary_labels() const {
  std::vector<float> mapped;
  for (float label : labels.to_vector<float>()) {
    TAPEGRAD_CHECK(label == 1 || label == -1 || label == 0,
                   "binary_labels: label {} is not a two-class label (+1/-1 or 1/0)", label);
    mapped.push_back(label == 1 ? 1.0f : 0.0f);
  }
  return from_vector(mapped);
}

LibsvmData read_libsvm(const std::string& path, const LibsvmOptions& options) {
  TAPEGRAD_CHECK(!options.num_features || *options.num_features >= 0, "read_libsvm: num_features must be >= 0, got {}",
                 *options.num_features);
  TAPEGRAD_CHECK(options.max_feature_index >= 1, "read_libsvm: max_feature_index must be >= 1, got {}",
                 options.max_feature_index);
  detail::LineReader reader(path, "read_libsvm");
  std::vector<float> labels, values;
  std::vector<std::int64_t> offsets{0}, columns;
  std::int64_t largest_index = 0, widest_line = 0;
  std::string line;
  while (reader.next(line)) {
    const std::string_view content = trim(std::string_view(line).substr(0, line.find('#')));
    if (content.empty()) continue;
    const std::int64_t number = reader.line_number();
    std::size_t position = 0;
    bool first = true;
    std::int64_t previous_index = 0;
    while (position < content.size()) {
      const std::size_t end = std::min(content.find_first_of(" \t", position), content.size());
      const std::string_view token = content.substr(position, end - position);
      position = content.find_first_not_of(" \t", end);
      if (position == std::string_view::npos) position = content.size();
      if (first) {
        const auto label = parse_number(token);
        TAPEGRAD_CHECK(label.has_value(), "read_libsvm: {}:{}: the label '{}' is not a number", path, number,
                       printable(token));
        TAPEGRAD_CHECK(fits_float32(*label), "read_libsvm: {}:{}: the label '{}' is beyond float32's range (+-3.4e38), "
                       "in which labels are stored", path, number, printable(token));
        labels.push_back(static_cast<float>(*label));
        first = false;
        continue;
      }
      const std::size_t colon = token.find(':');
      TAPEGRAD_CHECK(colon != std::string_view::npos, "read_libsvm: {}:{}: '{}' is not index:value", path, number,
                     printable(token));
      const auto index = parse_integer(token.substr(0, colon));
      const auto value = parse_number(token.substr(colon + 1));
      TAPEGRAD_CHECK(index.has_value() && *index >= 1, "read_libsvm: {}:{}: feature index '{}' is not an integer >= 1 "
                     "(indices are 1-based)", path, number, printable(token.substr(0, colon)));
      TAPEGRAD_CHECK(*index > previous_index, "read_libsvm: {}:{}: feature index {} follows {}; indices must increase",
                     path, number, *index, previous_index);
      TAPEGRAD_CHECK(*index <= options.max_feature_index,
                     "read_libsvm: {}:{}: feature index {} (in '{}') exceeds the largest accepted, {}; if the data "
                     "really is that wide, raise LibsvmOptions::max_feature_index (--max-feature-index in the examples)",
                     path, number, *index, printable(token), options.max_feature_index);
      TAPEGRAD_CHECK(!options.num_features || *index <= *options.num_features,
                     "read_libsvm: {}:{}: feature index {} exceeds the {} features expected", path, number, *index,
                     *options.num_features);
      TAPEGRAD_CHECK(value.has_value(), "read_libsvm: {}:{}: the value '{}' of feature {} is not a finite number", path,
                     number, printable(token.substr(colon + 1)), *index);
      TAPEGRAD_CHECK(fits_float32(*value), "read_libsvm: {}:{}: the value '{}' of feature {} is beyond float32's range "
                     "(+-3.4e38), in which values are stored", path, number, printable(token.substr(colon + 1)), *index);
      previous_index = *index;
      if (*index > largest_index) {
        largest_index = *index;
        widest_line = number;
      }
      columns.push_back(*index - 1);
      values.push_back(static_cast<float>(*value));
    }
    offsets.push_back(static_cast<std::int64_t>(columns.size()));
  }
  TAPEGRAD_CHECK(!labels.empty(), "read_libsvm: {} holds no examples (it is empty, or holds only comments and blank "
                 "lines); expected lines of 'label index:value ...'", path);
  LibsvmData data;
  data.widest_line = widest_line;
  data.labels = from_vector(labels);
  data.features = {from_vector(offsets), from_vector(columns), from_vector(values),
                   options.num_features.value_or(largest_index)};
  return data;
}

}  // namespace tapegrad::datasets
