// Checks the gradient of every differentiable op against central finite differences (float64),
// over the samples of tapegrad's op table (broadcast, strided, size-1, empty and 0-dim shapes),
// plus second derivatives where they apply, and prints one line per sample. --table prints the
// table's facts instead: one line per op. Exits non-zero if any sample fails.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <fmt/format.h>

#include <tapegrad/tapegrad.h>

namespace {

using tapegrad::GradcheckReport;
using tapegrad::OpInfo;
using tapegrad::OpSample;

constexpr const char* kUsage =
    "usage: gradcheck [--filter SUBSTRING] [--table] [--help]\n"
    "\n"
    "Compares the gradient of every differentiable tapegrad op with central finite differences\n"
    "in float64, and (2nd order column) the gradient of its gradient, on the samples of the op\n"
    "table (<tapegrad/autodiff/op_table.h>). One row per sample:\n"
    "  shapes        the inputs that require grad, then the other arguments;\n"
    "                [2,3]^T is an input stored transposed (a non-contiguous view), [] is 0-dim\n"
    "  max abs err   max |analytic - numeric| over every Jacobian entry and input\n"
    "  max rel err   the same divided by |numeric|\n"
    "An entry passes when |analytic - numeric| <= atol + rtol * |numeric| (atol 1e-5, rtol 1e-3).\n"
    "\n"
    "  --filter SUBSTRING   run only the ops whose name contains SUBSTRING\n"
    "  --table              print the op table instead: per op its arity, dtypes, differentiable\n"
    "                       inputs, sampling domain, samples, error cases and second-order support\n"
    "  --help               show this message\n"
    "\n"
    "Exit status: 0 when every sample passes, 1 when one fails, 2 on a usage error.\n";

struct CaseResult {
  double max_abs_error = 0;
  double max_rel_error = 0;
  bool first_order_ok = false;
  std::string second_order = "-";  // "ok", "FAILED", or "-" when not checked
  std::string error;               // what an op threw, if it did
  bool ok() const { return first_order_ok && second_order != "FAILED" && error.empty(); }
};

bool needs_grad(const OpSample& sample) {
  return std::any_of(sample.inputs.begin(), sample.inputs.end(),
                     [](const tapegrad::Tensor& x) { return x.defined() && x.requires_grad(); });
}

CaseResult run_case(const OpInfo& op, const OpSample& sample) {
  CaseResult result;
  try {
    const GradcheckReport first = tapegrad::gradcheck(sample.call, sample.inputs, op.tolerances);
    for (const auto& input : first.inputs) {
      result.max_abs_error = std::max(result.max_abs_error, input.max_abs_error);
      result.max_rel_error = std::max(result.max_rel_error, input.max_rel_error);
    }
    result.first_order_ok = first.ok();
    if (op.second_order)
      result.second_order = tapegrad::gradgradcheck(sample.call, sample.inputs, op.tolerances).ok() ? "ok" : "FAILED";
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

void print_table(const std::string& filter) {
  fmt::print("{:<32} {:>5}  {:<14} {:<14} {:<22} {:>7}  {:>6}  {}\n", "op", "arity", "dtypes", "differentiable",
             "domain", "samples", "errors", "2nd order");
  for (const OpInfo& op : tapegrad::op_table()) {
    if (op.name.find(filter) == std::string::npos) continue;
    std::string domain = fmt::format("[{}, {})", op.domain.low, op.domain.high);
    if (!op.domain.kinks.empty()) domain += fmt::format(" not {}", fmt::join(op.domain.kinks, ","));
    fmt::print("{:<32} {:>5}  {:<14} {:<14} {:<22} {:>7}  {:>6}  {}\n", op.name, op.arity,
               op.dtypes == tapegrad::OpDTypes::Floating         ? "float"
               : op.dtypes == tapegrad::OpDTypes::Int64ToFloat32 ? "int64->float32"
                                                                  : "float, int64",
               fmt::format("{}", fmt::join(op.differentiable_inputs, ",")), domain, op.samples.size(), op.errors.size(),
               op.second_order ? "yes" : "no");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string filter;
  bool table = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      fmt::print("{}", kUsage);
      return 0;
    }
    if (std::strcmp(argv[i], "--table") == 0) {
      table = true;
      continue;
    }
    if (std::strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
      continue;
    }
    fmt::print(stderr, "gradcheck: unexpected argument '{}'\n{}", argv[i], kUsage);
    return 2;
  }

  if (table) {
    print_table(filter);
    return 0;
  }
  const auto start = std::chrono::steady_clock::now();
  int total = 0, passed = 0;
  fmt::print("{:<24} {:<40} {:>11}   {:>11}   {:<9}   {}\n", "op", "shapes", "max abs err", "max rel err", "2nd order",
             "ok");
  for (const OpInfo& op : tapegrad::op_table()) {
    if (op.name.find(filter) == std::string::npos) continue;
    for (const OpSample& sample : op.samples) {
      if (!needs_grad(sample)) continue;
      const CaseResult result = run_case(op, sample);
      ++total;
      if (result.ok()) ++passed;
      if (!result.error.empty())
        fmt::print("{:<24} {:<40} ERROR: {}\n", op.name, sample.detail, result.error);
      else
        fmt::print("{:<24} {:<40} {:>11.1e}   {:>11.1e}   {:<9}   {}\n", op.name, sample.detail, result.max_abs_error,
                   result.max_rel_error, result.second_order, result.ok() ? "ok" : "FAILED");
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("\n{} samples, {} passed, {} failed ({:.2f} s)\n", total, passed, total - passed, seconds);
  if (total == 0) {
    fmt::print(stderr, "gradcheck: no op name contains '{}'\n", filter);
    return 2;
  }
  return passed == total ? 0 : 1;
}
