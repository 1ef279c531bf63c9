#include "metrics.h"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace experiment {

Cell::Cell(double value) : text_(fmt::format("{}", value)) {}  // shortest text that reads back exactly
Cell::Cell(std::int64_t value) : text_(fmt::format("{}", value)) {}
Cell::Cell(std::string value) : text_(std::move(value)) {
  if (text_.find_first_of(",\"\n") != std::string::npos)
    throw std::invalid_argument(fmt::format("metrics cell '{}' contains a comma, quote or newline", text_));
}

MetricsLog::MetricsLog(std::filesystem::path csv, std::vector<std::string> columns)
    : path_(std::move(csv)), columns_(std::move(columns)) {
  save();
}

void MetricsLog::append(const std::vector<Cell>& row) {
  add(row);
  save();
}

void MetricsLog::add(const std::vector<Cell>& row) {
  if (row.size() != columns_.size())
    throw std::invalid_argument(fmt::format("metrics row for {} has {} cells but the table has {} columns ({})",
                                            path_.string(), row.size(), columns_.size(), fmt::join(columns_, ", ")));
  std::vector<std::string>& cells = rows_.emplace_back();
  for (const Cell& cell : row) cells.push_back(cell.text());
}

std::size_t MetricsLog::column_index(std::string_view column) const {
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (columns_[i] == column) return i;
  throw std::invalid_argument(fmt::format("{} has no column '{}'", path_.string(), column));
}

double MetricsLog::number(std::size_t row, std::string_view column) const {
  const std::string& cell = rows_.at(row).at(column_index(column));
  double value = 0;
  const auto [end, error] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
  if (cell.empty() || error != std::errc() || end != cell.data() + cell.size())
    throw std::runtime_error(fmt::format("{}: row {} holds '{}' in column '{}', which is not a number", path_.string(),
                                         row + 1, cell, column));
  return value;
}

std::string MetricsLog::text() const {
  std::string text = fmt::format("{}\n", fmt::join(columns_, ","));
  for (const auto& row : rows_) text += fmt::format("{}\n", fmt::join(row, ","));
  return text;
}

std::vector<std::vector<std::string>> MetricsLog::parse_rows(const std::string& text) const {
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  if (line != fmt::format("{}", fmt::join(columns_, ",")))
    throw std::runtime_error(fmt::format("the checkpoint's metrics have columns '{}' but {} has '{}'", line,
                                         path_.string(), fmt::join(columns_, ",")));
  std::vector<std::vector<std::string>> rows;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    std::vector<std::string>& cells = rows.emplace_back();
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    if (cells.size() != columns_.size())
      throw std::runtime_error(fmt::format("the checkpoint's metrics row '{}' has {} cells but {} has {} columns", line,
                                           cells.size(), path_.string(), columns_.size()));
  }
  return rows;
}

void MetricsLog::restore(const std::string& text) {
  rows_ = parse_rows(text);
  save();
}

void MetricsLog::restore_rows(const std::string& text, const std::function<bool(std::string_view)>& owned) {
  std::vector<std::vector<std::string>> rows;
  for (auto& row : rows_)
    if (!owned(row.front())) rows.push_back(std::move(row));
  for (auto& row : parse_rows(text))
    if (owned(row.front())) rows.push_back(std::move(row));
  rows_ = std::move(rows);
  save();
}

void MetricsLog::save() const { write_file_atomically(path_, text()); }

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      std::filesystem::remove(temporary);
      throw std::runtime_error(fmt::format("could not write '{}' (is the folder writable, the disk full?); {}",
                                           path.string(), std::filesystem::exists(path) ? "the previous file is kept"
                                                                                        : "nothing was written"));
    }
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace experiment
