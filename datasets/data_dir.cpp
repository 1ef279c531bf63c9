// Data directory resolution and the missing-data error.
#include <tapegrad/datasets/data_dir.h>

#include <cstdlib>
#include <filesystem>

#include <tapegrad/kernels/error.h>

namespace tapegrad::datasets {

std::string resolve_data_dir(const std::optional<std::string>& flag) {
  if (flag && !flag->empty()) return *flag;
  if (const char* env = std::getenv(kDataDirEnv); env != nullptr && *env != '\0') return env;
  return kDefaultDataDir;
}

std::string fetch_command(const std::string& data_dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  const bool is_default = fs::weakly_canonical(data_dir, error) == fs::weakly_canonical(kDefaultDataDir, error);
  return is_default ? "scripts/fetch_data.sh" : "scripts/fetch_data.sh --data-dir " + data_dir;
}

std::string require_data_file(const std::string& data_dir, const std::string& relative_path) {
  const std::filesystem::path path = std::filesystem::path(data_dir) / relative_path;
  std::error_code error;
  TAPEGRAD_CHECK(std::filesystem::is_regular_file(path, error),
                 "missing data file {}; fetch the datasets with `{}` from the tapegrad checkout (the data directory "
                 "comes from --data-dir, else ${}, else {}/)",
                 path.string(), fetch_command(data_dir), kDataDirEnv, kDefaultDataDir);
  return path.string();
}

}  // namespace tapegrad::datasets
