// CSV parsing: split on the delimiter (no quoting: numeric tables need none), trim, parse.
#include <tapegrad/datasets/csv.h>

#include <algorithm>

#include <tapegrad/autodiff/ops.h>
#include <tapegrad/datasets/text_lines.h>

namespace tapegrad::datasets {
namespace {

std::vector<std::string_view> split(std::string_view line, char delimiter) {
  std::vector<std::string_view> cells;
  for (std::size_t start = 0;;) {
    const std::size_t end = line.find(delimiter, start);
    cells.push_back(detail::trim(line.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) return cells;
    start = end + 1;
  }
}

}  // namespace

CsvTable read_csv(const std::string& path, const CsvOptions& options) {
  detail::LineReader reader(path, "read_csv");
  CsvTable table;
  std::vector<std::string> names;
  std::optional<std::size_t> label_at;
  std::size_t width = 0;
  std::int64_t rows = 0;
  std::vector<double> values;
  std::vector<std::int64_t> labels;
  std::string line;
  bool expecting_header = options.header;
  while (reader.next(line)) {
    if (detail::trim(line).empty()) continue;
    const std::int64_t number = reader.line_number();
    const std::vector<std::string_view> cells = split(line, options.delimiter);
    if (width == 0) {  // the first row fixes the columns
      width = cells.size();
      for (std::size_t c = 0; c < width; ++c)
        names.emplace_back(expecting_header ? std::string(cells[c]) : std::to_string(c));
      if (options.label_column) {
        const auto found = std::find(names.begin(), names.end(), *options.label_column);
        TAPEGRAD_CHECK(found != names.end(), "read_csv: {} has no column '{}' (columns: {})", path,
                       *options.label_column, detail::printable(fmt::format("{}", fmt::join(names, ", ")), 200));
        label_at = static_cast<std::size_t>(found - names.begin());
      }
      for (std::size_t c = 0; c < width; ++c)
        if (c != label_at) table.columns.push_back(names[c]);
      if (expecting_header) {
        expecting_header = false;
        continue;
      }
    }
    TAPEGRAD_CHECK(cells.size() == width, "read_csv: {}:{}: {} cells, but the table has {} columns", path, number,
                   cells.size(), width);
    ++rows;
    for (std::size_t c = 0; c < width; ++c) {
      if (c == label_at) {
        TAPEGRAD_CHECK(!cells[c].empty(), "read_csv: {}:{}: the label in column '{}' is empty", path, number,
                       detail::printable(names[c]));
        const auto known = std::find(table.label_names.begin(), table.label_names.end(), cells[c]);
        labels.push_back(known - table.label_names.begin());
        if (known == table.label_names.end()) table.label_names.emplace_back(cells[c]);
        continue;
      }
      const auto value = detail::parse_number(cells[c]);
      TAPEGRAD_CHECK(value.has_value(), "read_csv: {}:{}: column '{}' holds '{}', which is not a finite number", path,
                     number, detail::printable(names[c]), detail::printable(cells[c]));
      TAPEGRAD_CHECK(options.dtype != kFloat32 || detail::fits_float32(*value),
                     "read_csv: {}:{}: column '{}' holds '{}', which is beyond float32's range (+-3.4e38); read the "
                     "table with dtype kFloat64", path, number, detail::printable(names[c]), detail::printable(cells[c]));
      values.push_back(*value);
    }
  }
  TAPEGRAD_CHECK(width > 0, "read_csv: {} holds no lines; expected {}rows of comma-separated numbers", path,
                 options.header ? "a header line, then " : "");
  table.values = from_vector(values, Shape{rows, static_cast<std::int64_t>(table.columns.size())}).to(options.dtype);
  if (label_at) table.labels = from_vector(labels);
  return table;
}

}  // namespace tapegrad::datasets
