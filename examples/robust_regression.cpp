// Robust regression (experiment C5): fit theta in y = A theta + noise by minimizing
// mean |a.theta - y|^gamma for gamma in {0.4, 0.7, 1, 2, 3, 5}, with Adam and with SGD, one
// sampled row per update, over replicates; the mean test loss and 2.5 standard errors every 50
// updates show which optimizer copes with which loss. The least-squares solution is printed for
// comparison.
//
//   build/examples/robust_regression
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <experiment/metrics.h>
#include <experiment/plot.h>
#include <experiment/program.h>

using namespace tapegrad;

namespace {

constexpr std::int64_t kFeatures = 10;
constexpr double kNoise = 0.1;

struct Problem {
  Tensor a, y;            // training rows
  Tensor a_test, y_test;  // held-out rows
};

// y = A theta_true + N(0, 0.1^2), theta_true = ones, A ~ U(-1, 1).
Problem make_problem(std::int64_t rows, std::int64_t test_rows, Generator& generator) {
  const auto sample = [&](std::int64_t n) {
    const Tensor a = rand({n, kFeatures}, generator, kFloat64) * 2.0 - 1.0;
    const Tensor y = sum(a, {1}) + randn({n}, generator, kFloat64) * kNoise;
    return std::pair{a, y};
  };
  auto [a, y] = sample(rows);
  auto [a_test, y_test] = sample(test_rows);
  return {a, y, a_test, y_test};
}

Tensor robust_loss(const Tensor& a, const Tensor& theta, const Tensor& y, double gamma) {
  return mean(pow(abs(matmul(a, theta) - y), gamma));
}

// Solves the normal equations A^T A theta = A^T y by Gaussian elimination with partial pivoting.
std::vector<double> least_squares(const Tensor& a, const Tensor& y) {
  const int n = static_cast<int>(a.size(1));
  std::vector<double> m = matmul(a.t(), a).contiguous().to_vector<double>();
  std::vector<double> b = matmul(a.t(), y).to_vector<double>();
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int row = col + 1; row < n; ++row)
      if (std::abs(m[row * n + col]) > std::abs(m[pivot * n + col])) pivot = row;
    for (int k = 0; k < n; ++k) std::swap(m[col * n + k], m[pivot * n + k]);
    std::swap(b[col], b[pivot]);
    for (int row = col + 1; row < n; ++row) {
      const double factor = m[row * n + col] / m[col * n + col];
      for (int k = col; k < n; ++k) m[row * n + k] -= factor * m[col * n + k];
      b[row] -= factor * b[col];
    }
  }
  std::vector<double> theta(n);
  for (int row = n - 1; row >= 0; --row) {
    double rest = b[row];
    for (int k = row + 1; k < n; ++k) rest -= m[row * n + k] * theta[k];
    theta[row] = rest / m[row * n + row];
  }
  return theta;
}

std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& name, const Tensor& theta, double lr) {
  if (name == "Adam") return std::make_unique<optim::Adam>(std::vector<Tensor>{theta}, optim::AdamOptions{.lr = lr});
  return std::make_unique<optim::SGD>(std::vector<Tensor>{theta}, optim::SGDOptions{.lr = lr});
}

// Test losses every `log_every` updates (the first at update 0) of one replicate: batch-1
// updates from theta = 0.
std::vector<double> train_replicate(const Problem& problem, const std::string& optimizer_name, double gamma,
                                    double lr, int updates, int log_every, Generator& generator) {
  Tensor theta = zeros({kFeatures}, kFloat64).requires_grad_();
  auto optimizer = make_optimizer(optimizer_name, theta, lr);
  std::vector<double> test_losses;
  const auto rows = static_cast<std::uint64_t>(problem.a.size(0));
  for (int update = 0; update <= updates; ++update) {
    if (update % log_every == 0) {
      NoGradGuard no_grad;
      test_losses.push_back(robust_loss(problem.a_test, theta, problem.y_test, gamma).item());
    }
    if (update == updates) break;
    const auto i = static_cast<std::int64_t>(generator.next_u64() % rows);
    optimizer->zero_grad();
    robust_loss(problem.a.narrow(0, i, 1), theta, problem.y.narrow(0, i, 1), gamma).backward();
    optimizer->step();
  }
  return test_losses;
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("robust_regression", "Adam against SGD on |a.theta - y|^gamma losses (experiment C5)",
                              {.lr = 1e-3}, experiment::kTrainingFlags);
  int updates = 1000, replicates = 10, log_every = 50, rows = 1000, test_rows = 50;
  std::vector<double> gammas{0.4, 0.7, 1, 2, 3, 5};
  CLI::App& app = program.app();
  app.add_option("--updates", updates, "Updates (one sampled row each) per run")->capture_default_str()
      ->check(experiment::Positive);
  app.add_option("--replicates", replicates, "Independent runs per gamma and optimizer")->capture_default_str()
      ->check(CLI::Range(2, 1000));
  app.add_option("--log-every", log_every, "Updates between test-loss records")->capture_default_str()
      ->check(experiment::Positive);
  app.add_option("--gammas", gammas, "Exponents of the loss")->capture_default_str()->delimiter(',')
      ->check(experiment::Positive);
  app.add_option("--rows", rows, "Training rows of A")->capture_default_str()->check(experiment::Positive);
  app.add_option("--test-rows", test_rows, "Test rows")->capture_default_str()->check(experiment::Positive);

  return program.run(argc, argv, [&](experiment::Program& p) {
    Generator generator(p.flags().seed);
    const Problem problem = make_problem(rows, test_rows, generator);
    const std::vector<double> theta_ls = least_squares(problem.a, problem.y);
    const Tensor ls = from_vector(theta_ls);
    fmt::print("least squares: theta = [{:.4f}]\n  |theta - ones| = {:.4f}, test loss (gamma 2) {:.5f}\n",
               fmt::join(theta_ls, ", "), std::sqrt(sum(pow(ls - 1.0, 2)).item()),
               robust_loss(problem.a_test, ls, problem.y_test, 2).item());

    experiment::MetricsLog metrics(p.out_path("metrics.csv"),
                                   {"series", "gamma", "optimizer", "update", "mean_test_loss", "error"});
    experiment::Figure figure{.png = p.out_path("test_loss.png"), .csv = metrics.path()};
    fmt::print("\nmean test loss after {} updates (lr {}, {} replicates, +- 2.5 standard errors)\n", updates,
               p.flags().lr, replicates);
    for (const double gamma : gammas) {
      experiment::Panel panel{.title = fmt::format("gamma = {}", gamma), .x_label = "update",
                              .y_label = "mean test loss", .log_y = true};
      std::string line = fmt::format("  gamma {:<4}", gamma);
      for (const std::string optimizer : {"Adam", "SGD"}) {
        std::vector<std::vector<double>> runs;
        for (int r = 0; r < replicates; ++r)
          runs.push_back(train_replicate(problem, optimizer, gamma, p.flags().lr, updates, log_every, generator));
        const std::string key = fmt::format("{} {}", gamma, optimizer);
        for (std::size_t point = 0; point < runs[0].size(); ++point) {
          double sum = 0, sum_sq = 0;
          for (const auto& run : runs) sum += run[point], sum_sq += run[point] * run[point];
          const double mean = sum / replicates;
          const double variance = std::max(0.0, (sum_sq - replicates * mean * mean) / (replicates - 1));
          const double error = 2.5 * std::sqrt(variance / replicates);
          metrics.add({key, gamma, optimizer, static_cast<std::int64_t>(point) * log_every, mean, error});
          if (point + 1 == runs[0].size()) line += fmt::format("   {} {:.4f} +- {:.4f}", optimizer, mean, error);
        }
        panel.series.push_back({.title = optimizer, .x = "update", .y = "mean_test_loss", .where_column = "series",
                                .where_value = key, .style = "yerrorlines", .error = "error"});
      }
      fmt::print("{}\n", line);
      figure.panels.push_back(panel);
    }
    metrics.save();
    experiment::render(figure);
    fmt::print("\nmetrics and plot in {}\n", p.out_dir().string());
  });
}
