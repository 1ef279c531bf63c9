// Rows of the reductions: sum, mean, var and std, max/min (over everything and along a dim), logsumexp,
// softmax, log_softmax, cumsum, sort, topk and sum_to.
#include <algorithm>
#include <cmath>
#include <functional>

#include <tapegrad/autodiff/op_table/rows.h>

namespace tapegrad::op_rows {
namespace {

using Dimensions = std::vector<std::int64_t>;

double mean_of(const std::vector<double>& v) { return reference::sum_of(v) / static_cast<double>(v.size()); }

OpInfo sum_row(SampleInputs& in) {
  RowBuilder row("sum", 1, OpDTypes::FloatingAndInt64, {0}, in);
  const auto over = [&](Tensor x, Dimensions dims, bool keepdim, const std::string& detail) {
    row.sample(detail, {std::move(x)}, [dims, keepdim](const Inputs& v) { return sum(v[0], Dims(dims), keepdim); },
               [dims, keepdim](const Inputs& v) { return reference::reduce(v[0], dims, keepdim, reference::sum_of); });
  };
  const GradcheckFunction all = [](const Inputs& v) { return sum(v[0]); };
  const GradcheckFunction all_reference = [](const Inputs& v) { return reference::reduce(v[0], {}, false, reference::sum_of); };
  for (const Tensor& x : {row.x({2, 3}), row.x({}), row.x({0, 3}), row.xt({3, 4})}) row.sample("all", {x}, all, all_reference);
  over(row.xt({2, 3}), {1}, false, "dim 1");
  over(row.x({2, 3, 4}), {0, 2}, true, "dims {0,2} keepdim");
  over(row.x({3, 1}), {1}, false, "dim 1 (size 1)");
  over(row.x({0, 3}), {0}, false, "dim 0 (size 0)");
  over(row.x({2, 3}), {-1}, true, "dim -1 keepdim");
  row.sample("permuted {2,0,1}, dim 1", {row.x({2, 3, 4})}, [](const Inputs& v) { return sum(permute(v[0], {2, 0, 1}), {1}); },
             [](const Inputs& v) {
               return reference::generate({4, 3}, [&](const reference::Index& i) {
                 double total = 0;
                 for (std::int64_t a = 0; a < 2; ++a) total += reference::at(v[0], {a, i[1], i[0]});
                 return total;
               });
             });
  row.error("dim 2 of a matrix", {row.x({2, 3})}, [](const Inputs& v) { return sum(v[0], {2}); }, {"out of range"});
  return row.build();
}

OpInfo mean_row(SampleInputs& in) {
  RowBuilder row("mean", 1, OpDTypes::Floating, {0}, in);
  const auto over = [&](Tensor x, Dimensions dims, bool keepdim, const std::string& detail) {
    row.sample(detail, {std::move(x)}, [dims, keepdim](const Inputs& v) { return mean(v[0], Dims(dims), keepdim); },
               [dims, keepdim](const Inputs& v) { return reference::reduce(v[0], dims, keepdim, mean_of); });
  };
  for (const Tensor& x : {row.x({2, 3}), row.x({}), row.xt({3, 4})})
    row.sample("all", {x}, [](const Inputs& v) { return mean(v[0]); },
               [](const Inputs& v) { return reference::reduce(v[0], {}, false, mean_of); });
  over(row.xt({2, 3}), {0}, true, "dim 0 keepdim");
  over(row.x({2, 3, 4}), {1, -1}, false, "dims {1,-1}");
  over(row.x({1, 3}), {0}, false, "dim 0 (size 1)");
  row.error("dim -3 of a matrix", {row.x({2, 3})}, [](const Inputs& v) { return mean(v[0], {-3}); }, {"out of range"});
  return row.build();
}

// var or std (its square root), with a correction subtracted from the count.
OpInfo spread_row(const std::string& name, SampleInputs& in) {
  const bool is_std = name == "std";
  RowBuilder row(name, 1, OpDTypes::Floating, {0}, in);
  const auto spread_of = [is_std](double correction) {
    return [is_std, correction](const std::vector<double>& v) {
      const double mean = mean_of(v);
      double squares = 0;
      for (double e : v) squares += (e - mean) * (e - mean);
      const double variance = squares / std::max(0.0, static_cast<double>(v.size()) - correction);
      return is_std ? std::sqrt(variance) : variance;
    };
  };
  const auto over = [&](Tensor x, Dimensions dims, double correction, bool keepdim) {
    row.sample(fmt::format("dims {}, correction {}{}", fmt::join(dims, ","), correction, keepdim ? ", keepdim" : ""),
               {std::move(x)},
               [is_std, dims, correction, keepdim](const Inputs& v) {
                 return is_std ? std(v[0], Dims(dims), correction, keepdim) : var(v[0], Dims(dims), correction, keepdim);
               },
               [dims, correction, keepdim, spread_of](const Inputs& v) {
                 return reference::reduce(v[0], dims, keepdim, spread_of(correction));
               });
  };
  over(row.x({2, 3}), {}, 1, false);
  over(row.xt({3, 4}), {1}, 1, true);
  over(row.x({2, 3, 4}), {0, 2}, 0, false);
  over(row.x({4, 3}), {0}, 2, false);
  row.error("correction -1", {row.x({3})}, [is_std](const Inputs& v) { return is_std ? std(v[0], {}, -1) : var(v[0], {}, -1); },
            {"correction", "non-negative"});
  return row.build();
}

// max or min: over everything, and along a dim (values; the indices are int64 and not checked here).
OpInfo extreme_row(const std::string& name, SampleInputs& in) {
  const bool is_max = name == "max";
  RowBuilder row(name, 1, OpDTypes::FloatingAndInt64, {0}, in);
  const auto pick = is_max ? reference::max_of : reference::min_of;
  const GradcheckFunction all = [is_max](const Inputs& v) { return is_max ? max(v[0]) : min(v[0]); };
  const GradcheckFunction all_reference = [pick](const Inputs& v) { return reference::reduce(v[0], {}, false, pick); };
  // Continuous draws have no ties, so each extreme is unique and stays so under +-eps.
  for (const Tensor& x : {row.x({2, 3}), row.xt({3, 4}), row.x({})}) row.sample("all", {x}, all, all_reference);
  const auto along_dim = [&](Tensor x, std::int64_t dim, bool keepdim, const std::string& detail) {
    row.sample(detail, {std::move(x)},
               [is_max, dim, keepdim](const Inputs& v) {
                 return (is_max ? max(v[0], dim, keepdim) : min(v[0], dim, keepdim)).values;
               },
               [pick, dim, keepdim](const Inputs& v) { return reference::reduce(v[0], {dim}, keepdim, pick); });
  };
  along_dim(row.x({3, 4}), 1, false, "dim 1");
  along_dim(row.xt({3, 4}), 0, true, "dim 0 keepdim");
  along_dim(row.x({3, 1}), 1, false, "dim 1 (size 1)");
  along_dim(row.x({2, 3, 4}), -1, false, "dim -1");
  along_dim(row.x({}), 0, false, "dim 0 of a 0-dim tensor");
  row.error("an empty tensor", {row.x({0, 3})}, all, {"empty"});
  return row.build();
}

OpInfo logsumexp_row(SampleInputs& in) {
  RowBuilder row("logsumexp", 1, OpDTypes::Floating, {0}, in);
  const auto over = [&](Tensor x, Dimensions dims, bool keepdim, const std::string& detail) {
    row.sample(detail, {std::move(x)}, [dims, keepdim](const Inputs& v) { return logsumexp(v[0], Dims(dims), keepdim); },
               [dims, keepdim](const Inputs& v) { return reference::reduce(v[0], dims, keepdim, reference::logsumexp_of); });
  };
  over(row.x({2, 3}), {1}, false, "dim 1");
  over(row.xt({2, 3}), {0}, true, "dim 0 keepdim");
  over(row.x({2, 3, 4}), {}, false, "all");
  over(row.x({}), {}, false, "all");
  return row.build();
}

std::vector<double> softmax_of(const std::vector<double>& line) {
  const double total = reference::logsumexp_of(line);
  std::vector<double> out;
  for (double e : line) out.push_back(std::exp(e - total));
  return out;
}

std::vector<double> log_softmax_of(const std::vector<double>& line) {
  const double total = reference::logsumexp_of(line);
  std::vector<double> out;
  for (double e : line) out.push_back(e - total);
  return out;
}

OpInfo softmax_row(const std::string& name, SampleInputs& in) {
  const bool log = name == "log_softmax";
  RowBuilder row(name, 1, OpDTypes::Floating, {0}, in);
  const auto along_dim = [&](Tensor x, std::int64_t dim, const std::string& detail) {
    row.sample(detail, {std::move(x)},
               [log, dim](const Inputs& v) { return log ? log_softmax(v[0], dim) : softmax(v[0], dim); },
               [log, dim](const Inputs& v) { return reference::along(v[0], dim, log ? log_softmax_of : softmax_of); });
  };
  along_dim(row.x({2, 3}), 1, "dim 1");
  along_dim(row.xt({2, 3}), 0, "dim 0");
  along_dim(row.xt({2, 3}), -1, "dim -1");
  along_dim(row.x({2, 3, 4}), 1, "dim 1");
  along_dim(row.x({1, 4}), 0, "dim 0 (size 1)");
  along_dim(row.x({}), 0, "dim 0");
  along_dim(row.x({0, 3}), 1, "dim 1 of an empty tensor");
  row.error("dim 2 of a matrix", {row.x({2, 3})},
            [log](const Inputs& v) { return log ? log_softmax(v[0], 2) : softmax(v[0], 2); }, {"out of range"});
  return row.build();
}

std::vector<double> running_sums_of(const std::vector<double>& line) {
  std::vector<double> out;
  double total = 0;
  for (double e : line) out.push_back(total += e);
  return out;
}

OpInfo cumsum_row(SampleInputs& in) {
  RowBuilder row("cumsum", 1, OpDTypes::FloatingAndInt64, {0}, in);
  const auto along_dim = [&](Tensor x, std::int64_t dim, const std::string& detail) {
    row.sample(detail, {std::move(x)}, [dim](const Inputs& v) { return cumsum(v[0], dim); },
               [dim](const Inputs& v) { return reference::along(v[0], dim, running_sums_of); });
  };
  along_dim(row.x({3, 4}), 0, "dim 0");
  along_dim(row.xt({3, 4}), -1, "dim -1");
  along_dim(row.x({2, 3, 4}), 1, "dim 1");
  along_dim(row.x({4, 1}), 1, "dim 1 (size 1)");
  along_dim(row.x({}), 0, "dim 0");
  along_dim(row.x({}), -1, "dim -1");
  along_dim(row.x({0, 3}), 0, "dim 0 (size 0)");
  along_dim(row.x({2, 0}), 0, "dim 0 of an empty tensor");
  row.error("dim 2 of a matrix", {row.x({2, 3})}, [](const Inputs& v) { return cumsum(v[0], 2); }, {"out of range"});
  row.error("dim 1 of a 0-dim tensor", {row.x({})}, [](const Inputs& v) { return cumsum(v[0], 1); }, {"out of range"});
  return row.build();
}

// The line sorted (the samples' continuous draws have no ties and no NaN).
std::vector<double> ascending_of(std::vector<double> line) {
  std::sort(line.begin(), line.end());
  return line;
}
std::vector<double> descending_of(std::vector<double> line) {
  std::sort(line.begin(), line.end(), std::greater<>());
  return line;
}

OpInfo sort_row(SampleInputs& in) {
  RowBuilder row("sort", 1, OpDTypes::FloatingAndInt64, {0}, in);
  const auto along_dim = [&](Tensor x, std::int64_t dim, bool descending, const std::string& detail) {
    row.sample(detail, {std::move(x)}, [dim, descending](const Inputs& v) { return sort(v[0], dim, descending).values; },
               [dim, descending](const Inputs& v) {
                 return reference::along(v[0], dim, descending ? descending_of : ascending_of);
               });
  };
  along_dim(row.x({3, 4}), 1, false, "dim 1");
  along_dim(row.xt({3, 4}), 0, true, "dim 0 descending");
  along_dim(row.x({2, 3, 4}), -1, true, "dim -1 descending");
  along_dim(row.x({4, 1}), 1, false, "dim 1 (size 1)");
  along_dim(row.x({}), -1, false, "a 0-dim tensor");
  along_dim(row.x({0, 3}), 1, false, "no slices");
  along_dim(row.x({2, 0}), 1, false, "empty slices");
  row.error("dim 2 of a matrix", {row.x({2, 3})}, [](const Inputs& v) { return sort(v[0], 2).values; },
            {"out of range"});
  return row.build();
}

// The first k of each line sorted (descending when largest).
Tensor topk_reference(const Tensor& x, std::int64_t k, std::int64_t dim, bool largest) {
  const Tensor sorted = reference::along(x, dim, largest ? descending_of : ascending_of);
  if (x.dim() == 0) return sorted;
  Shape shape = x.shape();
  shape[static_cast<int>(dim < 0 ? dim + x.dim() : dim)] = k;
  return reference::generate(shape, [&](const reference::Index& index) { return reference::at(sorted, index); });
}

OpInfo topk_row(SampleInputs& in) {
  RowBuilder row("topk", 1, OpDTypes::FloatingAndInt64, {0}, in);
  const auto pick = [&](Tensor x, std::int64_t k, std::int64_t dim, bool largest, const std::string& detail) {
    row.sample(detail, {std::move(x)}, [=](const Inputs& v) { return topk(v[0], k, dim, largest).values; },
               [=](const Inputs& v) { return topk_reference(v[0], k, dim, largest); });
  };
  pick(row.x({3, 5}), 2, 1, true, "k 2 of 5");
  pick(row.xt({4, 3}), 3, 0, false, "3 smallest along dim 0");
  pick(row.x({2, 3, 4}), 4, -1, true, "k equal to the size");
  pick(row.x({2, 3}), 0, -1, true, "k 0");
  pick(row.x({}), 1, 0, true, "a 0-dim tensor");
  row.error("k 6 of 5", {row.x({2, 5})}, [](const Inputs& v) { return topk(v[0], 6).values; },
            {"out of range", "0 <= k <= 5"});
  row.error("k -1", {row.x({2, 5})}, [](const Inputs& v) { return topk(v[0], -1).values; }, {"out of range"});
  return row.build();
}

OpInfo sum_to_row(SampleInputs& in) {
  RowBuilder row("sum_to", 1, OpDTypes::FloatingAndInt64, {0}, in);
  row.sample("to [3,1]", {row.x({2, 3, 4})}, [](const Inputs& v) { return sum_to(v[0], {3, 1}); },
             [](const Inputs& v) { return reference::reduce(v[0], {0, 2}, false, reference::sum_of).reshape({3, 1}); });
  row.sample("to []", {row.x({2, 3})}, [](const Inputs& v) { return sum_to(v[0], {}); },
             [](const Inputs& v) { return reference::reduce(v[0], {}, false, reference::sum_of); });
  row.sample("to [1,3]", {row.xt({2, 3})}, [](const Inputs& v) { return sum_to(v[0], {1, 3}); },
             [](const Inputs& v) { return reference::reduce(v[0], {0}, true, reference::sum_of); });
  row.error("[2,3] to [4]", {row.x({2, 3})}, [](const Inputs& v) { return sum_to(v[0], {4}); });
  return row.build();
}

}  // namespace

std::vector<OpInfo> reduction_rows(SampleInputs& in) {
  return {sum_row(in),       mean_row(in),       spread_row("var", in), spread_row("std", in),
          extreme_row("max", in), extreme_row("min", in), logsumexp_row(in),   softmax_row("softmax", in), softmax_row("log_softmax", in), cumsum_row(in), sort_row(in), topk_row(in), sum_to_row(in)};
}

}  // namespace tapegrad::op_rows
