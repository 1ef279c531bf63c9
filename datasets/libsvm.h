// Reader for the LIBSVM text format: one example per line, `label index:value ...`, indices
// 1-based and increasing, absent features zero; `#` starts a comment. Every malformed line is an
// error naming the file and line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::datasets {

// Rows in compressed sparse row form, columns 0-based: row r holds columns[offsets[r] ..
// offsets[r+1]) with those values.
struct SparseRows {
  Tensor offsets;  // int64 [rows + 1]
  Tensor columns;  // int64 [nonzeros]
  Tensor values;   // float32 [nonzeros]
  std::int64_t num_columns = 0;

  std::int64_t rows() const { return offsets.numel() - 1; }
  Tensor to_dense() const;  // float32 [rows, num_columns]
};

struct LibsvmData {
  Tensor labels;  // float32 [N], as written (+1/-1, 0/1, class numbers or regression targets)
  SparseRows features;
  std::int64_t widest_line = 0;  // the (1-based) line with the largest feature index, for messages

  Tensor dense() const { return features.to_dense(); }
  // Labels of a two-class file (+1/-1 or 1/0) as float32 1/0, for binary cross-entropy.
  Tensor binary_labels() const;
};

struct LibsvmOptions {
  // The number of features; when absent, the largest index in the file. An index beyond it is
  // an error.
  std::optional<std::int64_t> num_features = std::nullopt;
  // The largest feature index accepted (2^24 by default): a typo or a damaged file could
  // otherwise ask for a dense matrix of petabytes. Raise it for data that really is wider.
  std::int64_t max_feature_index = std::int64_t{1} << 24;
};

// A file without a single example (empty, or only comments and blank lines) is an error, as is a
// file that is not text; messages name the file, the line and the offending token.
LibsvmData read_libsvm(const std::string& path, const LibsvmOptions& options = {});

}  // namespace tapegrad::datasets
