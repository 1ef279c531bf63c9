// The safetensors reader and writer. The validation follows the reference implementation
// (huggingface/safetensors): a bounded header, data offsets that tile the data section exactly,
// byte ranges that match dtype and shape, and no arithmetic that can overflow on hostile input.
#include <tapegrad/autodiff/serialize.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include <tapegrad/autodiff/grad_mode.h>
#include <tapegrad/autodiff/ops.h>

namespace tapegrad {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; add byte swapping");

namespace {

using Json = nlohmann::json;

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's bound
constexpr const char* kVersionKey = "tapegrad.format_version";
constexpr const char* kFormatVersion = "2";
// Format 2: a CRC-32 of the whole file (length, header with the metadata, data), computed with
// the checksum's own hex digits set to the placeholder's, so any changed byte is caught before
// anything in the file is interpreted.
constexpr std::string_view kFileChecksumKey = "tapegrad.file_checksum";
constexpr std::string_view kChecksumPlaceholder = "crc32:00000000";
// Format 1: a CRC-32 of the data section only; files written so still load and are checked.
constexpr const char* kDataChecksumKey = "tapegrad.checksum";

std::string safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int64: return "I64";
    case DType::UInt8: return "U8";
    case DType::Bool: return "BOOL";
  }
  fail("save_tensors: tensors of dtype {} cannot be stored", dtype);
}

std::optional<DType> dtype_from_safetensors(const std::string& name) {
  if (name == "F32") return DType::Float32;
  if (name == "F64") return DType::Float64;
  if (name == "I64") return DType::Int64;
  if (name == "U8") return DType::UInt8;
  if (name == "BOOL") return DType::Bool;
  return std::nullopt;
}

uLong crc_of(uLong crc, std::string_view bytes) {
  return crc32_z(crc, reinterpret_cast<const Bytef*>(bytes.data()), bytes.size());
}

std::string crc_text(uLong crc) { return fmt::format("crc32:{:08x}", static_cast<std::uint32_t>(crc)); }

// CRC-32 of `parts` one after the other, as text: detects flipped bytes and torn writes.
std::string checksum_of(std::initializer_list<std::string_view> parts) {
  uLong crc = crc32_z(0L, Z_NULL, 0);
  for (std::string_view part : parts) crc = crc_of(crc, part);
  return crc_text(crc);
}

// Where the file checksum's value starts in `header`, when its key appears there exactly once
// as the JSON writer writes it.
std::optional<std::size_t> file_checksum_position(std::string_view header) {
  const std::string key = fmt::format("\"{}\":\"", kFileChecksumKey);
  const std::size_t found = header.find(key);
  if (found == std::string_view::npos || header.find(key, found + 1) != std::string_view::npos) return std::nullopt;
  const std::size_t value = found + key.size();
  if (header.size() < value + kChecksumPlaceholder.size() + 1 || header[value + kChecksumPlaceholder.size()] != '"')
    return std::nullopt;
  return value;
}

// The checksum of a file made of `head` (the length and the header) then `data`, with the
// value at `position` of the header read as the placeholder.
std::string file_checksum(std::string_view head, std::string_view data, std::size_t position) {
  const std::size_t begin = 8 + position, end = begin + kChecksumPlaceholder.size();
  return checksum_of({head.substr(0, begin), kChecksumPlaceholder, head.substr(end), data});
}

// The fuzz build (FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, as OSS-Fuzz names it) accepts a wrong
// checksum, so that mutated files reach the parsing behind it instead of all stopping here.
void fail_checksum(const std::string& where, std::string_view stored, std::string_view actual) {
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  fail("{} is damaged (checksum mismatch): it records {}, its bytes give {}; the file is corrupt: delete it or restore "
       "a copy", where, stored, actual);
#endif
}

// What a failed write says: the OS's reason, and that the file under the real name is untouched.
[[noreturn]] void fail_write(std::string_view what, const std::filesystem::path& path, int error) {
  fail("could not write {} '{}': {}; {}", what, path.string(), std::strerror(error),
       std::filesystem::exists(path) ? fmt::format("the previous {} is kept", what) : "nothing was written");
}

void write_all(int fd, std::string_view bytes, std::string_view what, const std::filesystem::path& path) {
  while (!bytes.empty()) {
    const ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) fail_write(what, path, written < 0 ? errno : EIO);
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
}

// Writes `header` then `data` to a temporary file beside `path`, flushes it to disk and renames
// it over `path`: readers see the old file or the new one, never a torn one. Any failure (a full
// disk, a file-size limit) removes the temporary file and leaves `path` as it was.
void write_atomically(const std::filesystem::path& path, std::string_view header, std::string_view data,
                      std::string_view what) {
  const std::filesystem::path temporary = path.string() + fmt::format(".tmp.{}", ::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  TAPEGRAD_CHECK(fd >= 0, "could not write {} '{}': cannot create '{}': {}; check that the directory exists and is "
                 "writable", what, path.string(), temporary.string(), std::strerror(errno));
  try {
    write_all(fd, header, what, path);
    write_all(fd, data, what, path);
    if (::fsync(fd) != 0) fail_write(what, path, errno);
  } catch (...) {
    ::close(fd);
    std::filesystem::remove(temporary);
    throw;
  }
  if (::close(fd) != 0) {  // some file systems report a failed write-back only here
    const int error = errno;
    std::filesystem::remove(temporary);
    fail_write(what, path, error);
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary);
    fail("could not write {} '{}': cannot rename '{}' over it: {}", what, path.string(), temporary.string(),
         error.message());
  }
}

std::string read_file(const std::filesystem::path& path, const std::string& where) {
  std::ifstream in(path, std::ios::binary);
  TAPEGRAD_CHECK(in.good(), "cannot open {} ({}); check the path", where,
                 std::filesystem::exists(path) ? "unreadable" : "no such file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  TAPEGRAD_CHECK(!in.bad(), "reading {} failed", where);
  return bytes;
}

// One entry of the header, validated against itself; offsets are checked against each other later.
struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t begin = 0, end = 0;
};

std::uint64_t checked_offset(const Json& value, const std::string& where) {
  TAPEGRAD_CHECK(value.is_number_unsigned(), "{}: data_offsets must be non-negative integers, got {}", where, value.dump());
  return value.get<std::uint64_t>();
}

Entry parse_entry(const std::string& name, const Json& info, const std::string& where) {
  TAPEGRAD_CHECK(info.is_object() && info.contains("dtype") && info.contains("shape") && info.contains("data_offsets"),
                 "{}: entry '{}' must be an object with dtype, shape and data_offsets, got {}", where, name, info.dump());
  Entry entry;
  entry.name = name;
  const Json& dtype = info["dtype"];
  TAPEGRAD_CHECK(dtype.is_string(), "{}: dtype of '{}' must be a string", where, name);
  const auto parsed = dtype_from_safetensors(dtype.get<std::string>());
  TAPEGRAD_CHECK(parsed.has_value(), "{}: tensor '{}' has dtype {}, which tapegrad does not support (F32, F64, I64, U8, BOOL)",
                 where, name, dtype.get<std::string>());
  entry.dtype = *parsed;

  const Json& shape = info["shape"];
  TAPEGRAD_CHECK(shape.is_array() && shape.size() <= static_cast<std::size_t>(kMaxDims),
                 "{}: shape of '{}' must be a list of at most {} sizes, got {}", where, name, kMaxDims, shape.dump());
  // Strides multiply the extents after a dim even when another dim is 0, so the product of the
  // non-zero extents (in bytes) must fit too, not only the tensor's size.
  std::uint64_t bytes = dtype_size(entry.dtype), spanned = bytes;
  for (const Json& size : shape) {
    TAPEGRAD_CHECK(size.is_number_unsigned(), "{}: shape of '{}' must hold non-negative integers, got {}", where, name,
                   shape.dump());
    const std::uint64_t extent = size.get<std::uint64_t>();
    constexpr auto kLargest = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    TAPEGRAD_CHECK(extent == 0 || spanned <= kLargest / extent,
                   "{}: shape {} of '{}' is too large: its sizes multiply past 2^63 bytes; the file is corrupt", where,
                   shape.dump(), name);
    if (extent != 0) spanned *= extent;
    bytes *= extent;
    entry.shape.push_back(static_cast<std::int64_t>(extent));
  }

  const Json& offsets = info["data_offsets"];
  TAPEGRAD_CHECK(offsets.is_array() && offsets.size() == 2, "{}: data_offsets of '{}' must be [begin, end], got {}",
                 where, name, offsets.dump());
  entry.begin = checked_offset(offsets[0], where);
  entry.end = checked_offset(offsets[1], where);
  TAPEGRAD_CHECK(entry.begin <= entry.end, "{}: data_offsets of '{}' run backwards ({})", where, name, offsets.dump());
  TAPEGRAD_CHECK(entry.end - entry.begin == bytes,
                 "{}: tensor '{}' ({} {}) needs {} bytes but its data_offsets {} span {}", where, name, entry.dtype,
                 entry.shape, bytes, offsets.dump(), entry.end - entry.begin);
  return entry;
}

}  // namespace

const Tensor& TensorFile::at(const std::string& name) const {
  for (const auto& [entry_name, tensor] : tensors)
    if (entry_name == name) return tensor;
  std::vector<std::string> names;
  for (const auto& entry : tensors) names.push_back(entry.first);
  fail("tensor file has no tensor '{}'; it holds: {}", name, fmt::join(names, ", "));
}

void save_tensors(const std::filesystem::path& path, const NamedTensors& tensors,
                  const std::map<std::string, std::string>& metadata, std::string_view what) {
  Json header = Json::object();
  std::string data;
  for (const auto& [name, tensor] : tensors) {
    TAPEGRAD_CHECK(tensor.defined(), "save_tensors: tensor '{}' is undefined", name);
    TAPEGRAD_CHECK(name != "__metadata__" && !header.contains(name), "save_tensors: the name '{}' is {}", name,
                   name == "__metadata__" ? "reserved" : "used twice");
    NoGradGuard no_grad;
    const Tensor host = tensor.detach().cpu().contiguous();
    const std::size_t bytes = static_cast<std::size_t>(host.numel()) * dtype_size(host.dtype());
    header[name] = {{"dtype", safetensors_dtype(host.dtype())},
                    {"shape", std::vector<std::int64_t>(host.shape().begin(), host.shape().end())},
                    {"data_offsets", {data.size(), data.size() + bytes}}};
    if (bytes > 0)
      data.append(static_cast<const char*>(host.impl().storage->data()) + host.storage_offset() * dtype_size(host.dtype()),
                  bytes);
  }
  Json meta = metadata;
  meta["format"] = metadata.contains("format") ? metadata.at("format") : "pt";  // what safetensors.torch writes
  meta[kVersionKey] = kFormatVersion;
  meta.erase(kDataChecksumKey);  // copied from a format-1 file's metadata, it would not match
  meta[std::string(kFileChecksumKey)] = kChecksumPlaceholder;
  header["__metadata__"] = meta;

  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned, as the reference writer does
  const std::optional<std::size_t> position = file_checksum_position(text);
  TAPEGRAD_CHECK(position.has_value(), "save_tensors: a metadata entry of '{}' spells out the checksum's key '{}'; "
                 "rename it", path.string(), kFileChecksumKey);
  std::string head(8, '\0');
  const std::uint64_t length = text.size();
  std::memcpy(head.data(), &length, 8);
  head += text;
  const std::string checksum = file_checksum(head, data, *position);
  head.replace(8 + *position, checksum.size(), checksum);
  write_atomically(path, head, data, what);
}

TensorFile load_tensors(const std::filesystem::path& path, std::string_view what) {
  const std::string where = fmt::format("{} '{}'", what, path.string());
  const std::string bytes = read_file(path, where);
  TAPEGRAD_CHECK(bytes.size() >= 8, "{}: the file has {} bytes, fewer than the 8-byte header length; it is truncated or "
                 "not a safetensors file", where, bytes.size());
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  TAPEGRAD_CHECK(header_length <= kMaxHeaderBytes, "{}: header length {} exceeds the {}-byte limit; the file is corrupt "
                 "or not a safetensors file", where, header_length, kMaxHeaderBytes);
  TAPEGRAD_CHECK(header_length <= bytes.size() - 8, "{}: header length {} runs past the end of the {}-byte file; the "
                 "file is truncated", where, header_length, bytes.size());
  const std::string_view header_text(bytes.data() + 8, header_length);
  // Checked before the header is parsed: a damaged name or number is reported as damage.
  const std::optional<std::size_t> checksum_position = file_checksum_position(header_text);
  if (checksum_position) {
    const std::string_view head(bytes.data(), 8 + header_length), data = std::string_view(bytes).substr(head.size());
    const std::string_view stored = header_text.substr(*checksum_position, kChecksumPlaceholder.size());
    const std::string actual = file_checksum(head, data, *checksum_position);
    if (stored != actual) fail_checksum(where, stored, actual);
  }
  TAPEGRAD_CHECK(!header_text.empty() && header_text.front() == '{', "{}: the header is not a JSON object; the file is "
                 "corrupt or not a safetensors file", where);
  const Json header = Json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  TAPEGRAD_CHECK(header.is_object(), "{}: the header is not valid JSON; the file is corrupt", where);

  TensorFile file;
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      TAPEGRAD_CHECK(info.is_object(), "{}: __metadata__ must be an object of strings", where);
      for (const auto& [key, value] : info.items()) {
        TAPEGRAD_CHECK(value.is_string(), "{}: __metadata__ value of '{}' must be a string", where, key);
        file.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    entries.push_back(parse_entry(name, info, where));
  }
  // A tapegrad file always carries a checksum; without one, a byte of its key was changed.
  const bool written_by_tapegrad = file.metadata.contains(kVersionKey) || file.metadata.contains(std::string(kFileChecksumKey));
  TAPEGRAD_CHECK(checksum_position || file.metadata.contains(kDataChecksumKey) || !written_by_tapegrad,
                 "{} is damaged: its tapegrad metadata has no readable checksum; the file is corrupt: delete it or "
                 "restore a copy", where);

  // The byte ranges must tile the data section: sorted by offset, each starts where the last ended.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  const std::uint64_t data_size = bytes.size() - 8 - header_length;
  std::uint64_t expected_begin = 0;
  for (const Entry& entry : entries) {
    TAPEGRAD_CHECK(entry.begin == expected_begin, "{}: tensor '{}' starts at byte {} of the data but the previous one "
                   "ends at {}; offsets must be contiguous", where, entry.name, entry.begin, expected_begin);
    expected_begin = entry.end;
  }
  TAPEGRAD_CHECK(expected_begin == data_size, "{}: the tensors cover {} bytes of data but the file holds {}; the file "
                 "is {}", where, expected_begin, data_size, expected_begin > data_size ? "truncated" : "corrupt");

  const char* data = bytes.data() + 8 + header_length;
  if (const auto stored = file.metadata.find(kDataChecksumKey); stored != file.metadata.end() && !checksum_position) {
    const std::string actual = checksum_of({std::string_view(data, data_size)});
    if (stored->second != actual) fail_checksum(where, stored->second, actual);
  }
  for (const Entry& entry : entries) {
    // A bool byte other than 0 or 1 is not a value a bool can hold: reading it would be undefined.
    if (entry.dtype == DType::Bool)
      TAPEGRAD_CHECK(std::all_of(data + entry.begin, data + entry.end, [](char byte) { return byte == 0 || byte == 1; }),
                     "{}: bool tensor '{}' holds bytes other than 0 and 1; the file is corrupt", where, entry.name);
    Tensor tensor = empty(entry.shape, TensorOptions(entry.dtype));
    if (entry.end > entry.begin) std::memcpy(tensor.impl().storage->data(), data + entry.begin, entry.end - entry.begin);
    file.tensors.emplace_back(entry.name, std::move(tensor));
  }
  return file;
}

}  // namespace tapegrad
