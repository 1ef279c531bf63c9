// Text-reading helpers for the LIBSVM and CSV readers.
#include <tapegrad/datasets/text_lines.h>

#include <charconv>
#include <cmath>

#include <tapegrad/kernels/error.h>

namespace tapegrad::datasets::detail {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::optional<double> parse_number(std::string_view token) {
  if (!token.empty() && token.front() == '+') token.remove_prefix(1);  // from_chars refuses '+'
  double value = 0;
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (token.empty() || error != std::errc() || end != token.data() + token.size() || !std::isfinite(value))
    return std::nullopt;
  return value;
}

std::optional<std::int64_t> parse_integer(std::string_view token) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (token.empty() || error != std::errc() || end != token.data() + token.size()) return std::nullopt;
  return value;
}

LineReader::LineReader(const std::string& path, const char* reader) : in_(path) {
  TAPEGRAD_CHECK(in_.is_open(), "{}: cannot open {}", reader, path);
}

bool LineReader::next(std::string& line) {
  if (!std::getline(in_, line)) return false;
  ++line_number_;
  return true;
}

}  // namespace tapegrad::datasets::detail
