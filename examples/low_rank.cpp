// Low-rank factorization by gradient descent (experiment C4): min ||A - U V||_F^2 over U (150x2)
// and V (2x4), A the column-centered Iris measurements, U and V drawn from U(0,1), full-batch
// gradient descent with lr 0.01 for 1000 epochs. The best rank-2 error (Eckart-Young: the sum of
// the two smallest eigenvalues of A^T A) is printed beside the loss reached.
//
//   build/examples/low_rank
#include <cmath>
#include <numeric>
#include <vector>

#include <fmt/format.h>

#include <experiment/metrics.h>
#include <experiment/plot.h>
#include <experiment/program.h>

using namespace tapegrad;

namespace {

// Eigenvalues of a small symmetric matrix (row-major n x n) by cyclic Jacobi rotations.
std::vector<double> symmetric_eigenvalues(std::vector<double> m, int n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += m[p * n + q] * m[p * n + q];
    if (off < 1e-30) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        if (m[p * n + q] == 0) continue;
        const double theta = (m[q * n + q] - m[p * n + p]) / (2 * m[p * n + q]);
        const double t = (theta >= 0 ? 1 : -1) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // rotate columns p and q, then rows p and q
          const double mkp = m[k * n + p], mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (int k = 0; k < n; ++k) {
          const double mpk = m[p * n + k], mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
      }
  }
  std::vector<double> eigenvalues(n);
  for (int i = 0; i < n; ++i) eigenvalues[i] = m[i * n + i];
  std::sort(eigenvalues.begin(), eigenvalues.end());
  return eigenvalues;
}

// ||A - A_r||_F^2 for the best rank-r approximation A_r: the sum of the smallest
// (columns - r) eigenvalues of A^T A.
double best_rank_error(const Tensor& a, int rank) {
  const int n = static_cast<int>(a.size(1));
  const std::vector<double> eigenvalues = symmetric_eigenvalues(matmul(a.t(), a).contiguous().to_vector<double>(), n);
  return std::accumulate(eigenvalues.begin(), eigenvalues.end() - rank, 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  experiment::Program program("low_rank", "Rank-2 factorization of the centered Iris data by gradient descent "
                              "(experiment C4)", {.epochs = 1000, .lr = 0.01}, experiment::kTrainingFlags);
  std::string iris = TAPEGRAD_EXAMPLE_DATA_DIR "/iris.csv";
  int rank = 2;
  program.app().add_option("--iris", iris, "The Iris table (CSV with a species column)")->capture_default_str();
  program.app().add_option("--rank", rank, "Inner dimension of U V")->capture_default_str()->check(experiment::Positive);

  return program.run(argc, argv, [&](experiment::Program& p) {
    const experiment::Flags& flags = p.flags();
    const Tensor measurements =
        datasets::read_csv(iris, {.label_column = "species", .dtype = kFloat64}).values;
    const Tensor a = measurements - mean(measurements, {0}, true);  // column-centered
    TAPEGRAD_CHECK(rank <= a.size(1), "--rank {} exceeds the {} columns of {}", rank, a.size(1), iris);

    Tensor u = rand({a.size(0), rank}, kFloat64).requires_grad_();
    Tensor v = rand({rank, a.size(1)}, kFloat64).requires_grad_();
    optim::SGD gd({u, v}, {.lr = flags.lr});
    const double optimum = best_rank_error(a, rank);

    experiment::MetricsLog metrics(p.out_path("metrics.csv"), {"epoch", "loss", "optimum"});
    double loss_value = 0;
    for (int epoch = 0; epoch < flags.epochs; ++epoch) {
      gd.zero_grad();
      Tensor loss = sum(pow(a - matmul(u, v), 2));
      loss_value = loss.item();
      if (!std::isfinite(loss_value))
        throw experiment::Diverged(fmt::format("the loss became {} at epoch {} (lr {}); lower --lr", loss_value,
                                               epoch, flags.lr));
      loss.backward();
      gd.step();
      metrics.add({epoch, loss_value, optimum});
      if (epoch % 100 == 0 || epoch == flags.epochs - 1) fmt::print("epoch {:>5}  loss {:.4f}\n", epoch, loss_value);
    }
    metrics.save();
    fmt::print("A: {}x{} (centered Iris), rank {}\nfinal loss {:.4f}; best rank-{} error {:.4f} (ratio {:.5f})\n",
               a.size(0), a.size(1), rank, loss_value, rank, optimum, loss_value / optimum);
    experiment::render({.png = p.out_path("loss.png"),
                        .csv = metrics.path(),
                        .panels = {{.title = fmt::format("||A - UV||_F^2, rank {}", rank), .x_label = "epoch",
                                    .y_label = "loss", .log_y = true,
                                    .series = {{.title = "gradient descent", .x = "epoch", .y = "loss"},
                                               {.title = fmt::format("best rank-{} error", rank), .x = "epoch", .y = "optimum"}}}}});
  });
}
