// Reader for numeric CSV tables (Iris and the like): a header row of column names, then rows
// of numbers; optionally one column of class names, turned into int64 labels. Malformed rows
// are errors naming the file, line and column.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <tapegrad/autodiff/tensor.h>

namespace tapegrad::datasets {

struct CsvOptions {
  char delimiter = ',';
  bool header = true;                       // without one, columns are named "0", "1", ...
  std::optional<std::string> label_column;  // a column of class names, kept out of `values`
  DType dtype = kFloat32;
};

struct CsvTable {
  std::vector<std::string> columns;      // names of the numeric columns, in order
  Tensor values;                         // [rows, columns.size()]
  Tensor labels;                         // int64 [rows] when label_column was given
  std::vector<std::string> label_names;  // class of each label index, in order of first appearance
};

CsvTable read_csv(const std::string& path, const CsvOptions& options = {});

}  // namespace tapegrad::datasets
