// Progress of a long loop. On a terminal, a live bar redrawn at most ten times a second:
//   epoch 3/15 [##########..........] 469/938  loss 0.1234  52.1k img/s  0.4 s left
// Off a terminal (a pipe, a log file, CI) it draws nothing: the caller prints one plain line
// per epoch instead, so logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace experiment {

bool stdout_is_terminal();

class ProgressBar {
 public:
  // `label` starts the line ("epoch 3/15"); `total_steps` is what 100% means.
  ProgressBar(std::string label, std::int64_t total_steps);
  ~ProgressBar() { finish(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // After each step: how many steps and items (images, samples) are done, and the latest loss.
  void update(std::int64_t steps_done, std::int64_t items_done, double loss);
  // Erases the bar so that the caller's summary line takes its place.
  void finish();
  double elapsed_seconds() const;

 private:
  void draw(std::int64_t steps_done, std::int64_t items_done, double loss);

  std::string label_;
  std::int64_t total_steps_;
  bool live_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace experiment
