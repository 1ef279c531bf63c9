// The notebooks' plots, drawn from the metrics CSV by gnuplot into PNG files. Each figure's
// gnuplot script is kept beside its PNG (<name>.gp), so a user can restyle and redraw it.
// Without gnuplot the CSV stays and one notice says how to get the plots.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace experiment {

// One line (or set of bars, points, error bars) read from a CSV by column names.
struct Series {
  std::string title;
  std::string x, y;            // column names
  std::string where_column;    // when set, only the rows whose where_column is where_value
  std::string where_value;
  std::string style = "lines";  // gnuplot's `with`: lines, linespoints, points, boxes, yerrorlines
  std::string error;           // column of error-bar half-widths (yerrorlines, yerrorbars)
  std::filesystem::path csv;   // empty: the figure's
};

struct Panel {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  std::vector<std::string> setup;  // gnuplot commands before the plot (ranges, contour settings)
  std::vector<Series> series;
  std::string plot;                // a whole plot/splot command instead of `series`
};

struct Figure {
  std::filesystem::path png;
  std::filesystem::path csv;       // the series' default data file
  std::vector<Panel> panels;
  int columns = 0;                 // panels per row; 0: up to three in a row
  int panel_width = 560, panel_height = 420;
};

// The two panels of a classifier's training: loss and accuracy per epoch, each with a train and a
// test line, from the columns train_loss, test_loss, train_accuracy and test_accuracy.
std::vector<Panel> loss_and_accuracy_panels(const std::string& loss_label);

bool gnuplot_available();
// Draws `figure`; false when gnuplot is missing (noticed once) or failed (its message printed).
bool render(const Figure& figure);

}  // namespace experiment
