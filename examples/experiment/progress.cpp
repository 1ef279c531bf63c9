#include "progress.h"

#include <algorithm>
#include <cstdio>

#include <unistd.h>

#include <fmt/format.h>

namespace experiment {

bool stdout_is_terminal() {
  static const bool terminal = isatty(fileno(stdout)) != 0;
  return terminal;
}

ProgressBar::ProgressBar(std::string label, std::int64_t total_steps)
    : label_(std::move(label)), total_steps_(std::max<std::int64_t>(total_steps, 1)), live_(stdout_is_terminal()) {}

double ProgressBar::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressBar::update(std::int64_t steps_done, std::int64_t items_done, double loss) {
  if (!live_) return;
  const auto now = std::chrono::steady_clock::now();
  if (steps_done < total_steps_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(steps_done, items_done, loss);
}

namespace {

std::string rate_text(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.2f}M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

}  // namespace

void ProgressBar::draw(std::int64_t steps_done, std::int64_t items_done, double loss) {
  constexpr int kWidth = 24;
  const double fraction = std::clamp(static_cast<double>(steps_done) / static_cast<double>(total_steps_), 0.0, 1.0);
  const int filled = static_cast<int>(fraction * kWidth);
  const double seconds = elapsed_seconds();
  const double left = fraction > 0 ? seconds * (1 - fraction) / fraction : 0;
  fmt::print("\r\x1b[2K{} [{}{}] {}/{}  loss {:.4f}  {}/s  {:.1f} s left", label_, std::string(filled, '#'),
             std::string(kWidth - filled, '.'), steps_done, total_steps_, loss,
             rate_text(seconds > 0 ? static_cast<double>(items_done) / seconds : 0), left);
  std::fflush(stdout);
  drawn_ = true;
}

void ProgressBar::finish() {
  if (!drawn_) return;
  fmt::print("\r\x1b[2K");
  std::fflush(stdout);
  drawn_ = false;
}

}  // namespace experiment
