// Metrics as a CSV table: a header of column names, then one row per epoch or logged step.
// Each append rewrites the file atomically, so the CSV on disk is always whole and current,
// even while a long run is in progress; a run's text travels in its checkpoint, so a resumed
// run continues the same table.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace experiment {

// One cell: numbers are written with enough digits to read back exactly what was logged.
class Cell {
 public:
  Cell(double value);        // NOLINT(google-explicit-constructor): rows are written as {1, 0.5, "bn"}
  Cell(std::int64_t value);  // NOLINT
  Cell(int value) : Cell(static_cast<std::int64_t>(value)) {}  // NOLINT
  Cell(std::string value);   // NOLINT
  Cell(const char* value) : Cell(std::string(value)) {}  // NOLINT
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

class MetricsLog {
 public:
  MetricsLog(std::filesystem::path csv, std::vector<std::string> columns);

  // Adds a row (one cell per column) and rewrites the file.
  void append(const std::vector<Cell>& row);
  // Adds a row in memory only, for tables filled thousands of rows at a time; save() writes them.
  void add(const std::vector<Cell>& row);
  void save() const;
  const std::filesystem::path& path() const { return path_; }
  const std::vector<std::string>& columns() const { return columns_; }
  std::size_t rows() const { return rows_.size(); }
  // The cell of `column` in row `row`, as a number.
  double number(std::size_t row, std::string_view column) const;

  // The whole table as CSV text, and back (for checkpoints): restore() replaces the rows and
  // rewrites the file; the text's header must match the columns.
  std::string text() const;
  void restore(const std::string& text);
  // Like restore(), but only for the rows whose first cell `owned` accepts: those are replaced by
  // the text's, the others stay as they are (several runs sharing one table, each with its own
  // checkpoint).
  void restore_rows(const std::string& text, const std::function<bool(std::string_view)>& owned);

 private:
  std::size_t column_index(std::string_view column) const;
  // The rows of `text`, after checking its header against the columns.
  std::vector<std::vector<std::string>> parse_rows(const std::string& text) const;

  std::filesystem::path path_;
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// Writes `text` to `path` through a temporary file and a rename, so readers never see half.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace experiment
