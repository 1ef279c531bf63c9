// Line-by-line reading shared by the text readers (LIBSVM, CSV): 1-based line numbers for error
// messages, trimming, and strict number parsing (the whole token, finite).
#pragma once

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace tapegrad::datasets::detail {

std::string_view trim(std::string_view text);
// The number spelled by all of `token` ("+1", "-0.5", "1e-3"), or nothing if it is not exactly one.
std::optional<double> parse_number(std::string_view token);
std::optional<std::int64_t> parse_integer(std::string_view token);
// Whether `value` stays finite as a float32 (beyond +-3.4e38 it would become infinity).
bool fits_float32(double value);

// `text` as it may be shown in a message: at most `limit` characters, bytes that are not
// printable ASCII written as \xNN, and "..." when cut, so a binary file never reaches the terminal.
std::string printable(std::string_view text, std::size_t limit = 40);

// Yields the lines of a text file with their 1-based numbers. A file whose first kilobytes hold a
// byte no text file has (NUL, or a control character other than tab, line and page breaks) is
// refused before any line is parsed, and so is a line holding one later on.
class LineReader {
 public:
  LineReader(const std::string& path, const char* reader);
  bool next(std::string& line);
  std::int64_t line_number() const { return line_number_; }

 private:
  std::ifstream in_;
  std::string path_;
  const char* reader_;
  std::int64_t line_number_ = 0;
};

}  // namespace tapegrad::datasets::detail
