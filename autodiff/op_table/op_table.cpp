// The op table: every family's rows, joined once and sorted by name.
#include <tapegrad/autodiff/op_table.h>

#include <algorithm>

#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad {

const std::vector<OpInfo>& op_table() {
  static const std::vector<OpInfo> table = [] {
    op_rows::SampleInputs inputs(20240611);
    std::vector<OpInfo> rows;
    for (auto family : {op_rows::elementwise_rows, op_rows::reduction_rows, op_rows::linalg_rows, op_rows::shape_rows,
                        op_rows::indexing_rows, op_rows::layer_rows, op_rows::loss_rows,
                        op_rows::pooling_rows})
      for (OpInfo& row : family(inputs)) rows.push_back(std::move(row));
    std::stable_sort(rows.begin(), rows.end(), [](const OpInfo& a, const OpInfo& b) { return a.name < b.name; });
    return rows;
  }();
  return table;
}

const OpInfo* find_op(std::string_view name) {
  for (const OpInfo& row : op_table())
    if (row.name == name) return &row;
  return nullptr;
}

const std::vector<std::string>& non_differentiable_ops() {
  static const std::vector<std::string> names = {"eq",          "ne",          "lt",         "le",          "gt",  "ge",
                                                   "sign",        "argmax",      "argmin",     "logical_not", "any", "all",
                                                   "logical_and", "logical_or", "logical_xor"};
  return names;
}

}  // namespace tapegrad
