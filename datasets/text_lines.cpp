// Text-reading helpers for the LIBSVM and CSV readers.
#include <tapegrad/datasets/text_lines.h>

#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

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

bool fits_float32(double value) { return std::abs(value) <= std::numeric_limits<float>::max(); }

namespace {

bool is_binary_byte(unsigned char byte) {
  return byte == 0 || (byte < 0x20 && byte != '\t' && byte != '\n' && byte != '\r' && byte != '\f' && byte != '\v') ||
         byte == 0x7f;
}

// The offset of the first byte in `bytes` that no text file holds, if any.
std::optional<std::size_t> first_binary_byte(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size(); ++i)
    if (is_binary_byte(static_cast<unsigned char>(bytes[i]))) return i;
  return std::nullopt;
}

// How much of a file is looked at before its first line is parsed.
constexpr std::size_t kSniffBytes = 4096;

}  // namespace

std::string printable(std::string_view text, std::size_t limit) {
  std::string shown;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == limit) return shown + "...";
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f) shown.push_back(static_cast<char>(byte));
    else shown += fmt::format("\\x{:02x}", byte);
  }
  return shown;
}

LineReader::LineReader(const std::string& path, const char* reader)
    : in_(path, std::ios::binary), path_(path), reader_(reader) {
  TAPEGRAD_CHECK(in_.is_open(), "{}: cannot open {}", reader, path);
  std::string head(kSniffBytes, '\0');
  in_.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in_.gcount()));
  const auto binary = first_binary_byte(head);
  TAPEGRAD_CHECK(!binary, "{}: {} is not a text file: byte {} holds 0x{:02x}; expected lines of text", reader, path,
                 binary.value_or(0), static_cast<unsigned char>(head[binary.value_or(0)]));
  in_.clear();
  in_.seekg(0);
}

bool LineReader::next(std::string& line) {
  if (!std::getline(in_, line)) return false;
  ++line_number_;
  const auto binary = first_binary_byte(line);
  TAPEGRAD_CHECK(!binary, "{}: {}:{}: column {} holds the byte 0x{:02x}, which no text file has; is this the right file?",
                 reader_, path_, line_number_, binary.value_or(0) + 1, static_cast<unsigned char>(line[binary.value_or(0)]));
  return true;
}

}  // namespace tapegrad::datasets::detail
