#include "plot.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include <unistd.h>

#include <fmt/format.h>

#include "metrics.h"

namespace experiment {

namespace {

bool executable_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::istringstream folders(path);
  for (std::string folder; std::getline(folders, folder, ':');) {
    std::error_code error;
    const auto candidate = std::filesystem::path(folder.empty() ? "." : folder) / program;
    if (std::filesystem::is_regular_file(candidate, error) && access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

// A gnuplot string literal (single quotes; a quote is doubled).
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string column(const std::string& name) { return fmt::format("column({})", quoted(name)); }

// A column of the series' rows, NaN (skipped by gnuplot) on the rows its filter leaves out.
std::string filtered_column(const Series& series, const std::string& name) {
  if (series.where_column.empty()) return fmt::format("({})", column(name));
  return fmt::format("(strcol({}) eq {} ? {} : NaN)", quoted(series.where_column), quoted(series.where_value),
                     column(name));
}

std::string series_clause(const Series& series, const std::filesystem::path& default_csv) {
  const std::filesystem::path& csv = series.csv.empty() ? default_csv : series.csv;
  std::string using_clause = filtered_column(series, series.x) + ":" + filtered_column(series, series.y);
  if (!series.error.empty()) using_clause += ":" + filtered_column(series, series.error);
  return fmt::format("{} using {} with {} title {}", quoted(csv.string()), using_clause, series.style,
                     quoted(series.title));
}

std::string script_for(const Figure& figure) {
  const int count = static_cast<int>(figure.panels.size());
  const int columns = figure.columns > 0 ? figure.columns : std::min(count, 3);
  const int rows = (count + columns - 1) / columns;
  std::string script = fmt::format(
      "set terminal pngcairo size {},{} font 'sans,10' noenhanced\nset output {}\nset datafile separator comma\n"
      "set datafile columnheaders\nset key top right\nset grid\n",
      columns * figure.panel_width, rows * figure.panel_height, quoted(figure.png.string()));
  if (count > 1) script += fmt::format("set multiplot layout {},{}\n", rows, columns);
  for (const Panel& panel : figure.panels) {
    script += fmt::format("reset session\nset datafile separator comma\nset datafile columnheaders\nset grid\n"
                          "set title {}\nset xlabel {}\nset ylabel {}\n",
                          quoted(panel.title), quoted(panel.x_label), quoted(panel.y_label));
    if (panel.log_x) script += "set logscale x\n";
    if (panel.log_y) script += "set logscale y\n";
    for (const std::string& command : panel.setup) script += command + "\n";
    if (!panel.plot.empty()) {
      script += panel.plot + "\n";
      continue;
    }
    std::vector<std::string> clauses;
    for (const Series& series : panel.series) clauses.push_back(series_clause(series, figure.csv));
    script += "plot " + fmt::format("{}", fmt::join(clauses, ", \\\n     ")) + "\n";
  }
  if (count > 1) script += "unset multiplot\n";
  return script;
}

}  // namespace

bool gnuplot_available() {
  static const bool available = executable_on_path("gnuplot");
  return available;
}

bool render(const Figure& figure) {
  if (!gnuplot_available()) {
    static bool noticed = false;
    if (!noticed)
      fmt::print("gnuplot not found: metrics are written as CSV but no plots are drawn (install gnuplot-nox, "
                 "e.g. with scripts/setup.sh)\n");
    noticed = true;
    return false;
  }
  std::filesystem::path script_path = figure.png;
  script_path.replace_extension(".gp");
  write_file_atomically(script_path, script_for(figure));
  const std::string command = fmt::format("gnuplot {} 2>&1", quoted(script_path.string()));
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return false;
  std::string messages;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) messages += buffer;
  const int status = pclose(pipe);
  if (status != 0 || !std::filesystem::exists(figure.png)) {
    fmt::print(stderr, "gnuplot could not draw {} (script {}):\n{}", figure.png.string(), script_path.string(), messages);
    return false;
  }
  return true;
}

std::vector<Panel> loss_and_accuracy_panels(const std::string& loss_label) {
  const auto panel = [](std::string title, std::string y_label, const std::string& column) {
    return Panel{.title = std::move(title), .x_label = "epoch", .y_label = std::move(y_label),
                 .series = {Series{.title = "train", .x = "epoch", .y = "train_" + column, .style = "linespoints"},
                            Series{.title = "test", .x = "epoch", .y = "test_" + column, .style = "linespoints"}}};
  };
  return {panel("loss", loss_label, "loss"), panel("accuracy", "accuracy", "accuracy")};
}

}  // namespace experiment
