// Checks the gradient of every differentiable op against central finite differences (float64),
// over broadcast, strided, size-1 and 0-dim shapes, plus second derivatives where they apply,
// and prints one table row per case. Exits non-zero if any case fails.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <fmt/format.h>

#include <tapegrad/tapegrad.h>

#include "gradcheck_cases.h"

namespace {

using tapegrad::GradcheckReport;
using tapegrad::examples::GradcheckCase;

constexpr const char* kUsage =
    "usage: gradcheck [--filter SUBSTRING] [--help]\n"
    "\n"
    "Compares the gradient of every differentiable tapegrad op with central finite differences\n"
    "in float64, and (2nd order column) the gradient of its gradient. One row per case:\n"
    "  shapes        the inputs that require grad, then the other arguments;\n"
    "                [2,3]^T is an input stored transposed (a non-contiguous view), [] is 0-dim\n"
    "  max abs err   max |analytic - numeric| over every Jacobian entry and input\n"
    "  max rel err   the same divided by |numeric|\n"
    "An entry passes when |analytic - numeric| <= atol + rtol * |numeric| (atol 1e-5, rtol 1e-3).\n"
    "\n"
    "  --filter SUBSTRING   run only the cases whose op name contains SUBSTRING\n"
    "  --help               show this message\n"
    "\n"
    "Exit status: 0 when every case passes, 1 when one fails, 2 on a usage error.\n";

struct CaseResult {
  double max_abs_error = 0;
  double max_rel_error = 0;
  bool first_order_ok = false;
  std::string second_order = "-";  // "ok", "FAILED", or "-" when not checked
  std::string error;               // what an op threw, if it did
  bool ok() const { return first_order_ok && second_order != "FAILED" && error.empty(); }
};

CaseResult run_case(const GradcheckCase& c) {
  CaseResult result;
  try {
    const GradcheckReport first = tapegrad::gradcheck(c.fn, c.inputs, c.options);
    for (const auto& input : first.inputs) {
      result.max_abs_error = std::max(result.max_abs_error, input.max_abs_error);
      result.max_rel_error = std::max(result.max_rel_error, input.max_rel_error);
    }
    result.first_order_ok = first.ok();
    if (c.second_order) result.second_order = tapegrad::gradgradcheck(c.fn, c.inputs, c.options).ok() ? "ok" : "FAILED";
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  std::string filter;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      fmt::print("{}", kUsage);
      return 0;
    }
    if (std::strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
      filter = argv[++i];
      continue;
    }
    fmt::print(stderr, "gradcheck: unexpected argument '{}'\n{}", argv[i], kUsage);
    return 2;
  }

  const auto start = std::chrono::steady_clock::now();
  int total = 0, passed = 0;
  fmt::print("{:<24} {:<40} {:>11}   {:>11}   {:<9}   {}\n", "op", "shapes", "max abs err", "max rel err", "2nd order",
             "ok");
  for (const GradcheckCase& c : tapegrad::examples::all_gradcheck_cases()) {
    if (c.op.find(filter) == std::string::npos) continue;
    const CaseResult result = run_case(c);
    ++total;
    if (result.ok()) ++passed;
    if (!result.error.empty()) {
      fmt::print("{:<24} {:<40} ERROR: {}\n", c.op, c.shapes, result.error);
      continue;
    }
    fmt::print("{:<24} {:<40} {:>11.1e}   {:>11.1e}   {:<9}   {}\n", c.op, c.shapes, result.max_abs_error,
               result.max_rel_error, result.second_order, result.ok() ? "ok" : "FAILED");
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("\n{} cases, {} passed, {} failed ({:.2f} s)\n", total, passed, total - passed, seconds);
  if (total == 0) {
    fmt::print(stderr, "gradcheck: no op name contains '{}'\n", filter);
    return 2;
  }
  return passed == total ? 0 : 1;
}
