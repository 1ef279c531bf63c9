// Where programs find the real datasets: --data-dir, else $TAPEGRAD_DATA, else data/ (relative
// to the current directory, i.e. the checkout's data/ when run from its root), and the one error
// every reader raises when a file is missing, naming the command that fetches it.
#pragma once

#include <optional>
#include <string>

namespace tapegrad::datasets {

inline constexpr const char* kDataDirEnv = "TAPEGRAD_DATA";
inline constexpr const char* kDefaultDataDir = "data";

// The data directory: `flag` when given (a --data-dir value), else $TAPEGRAD_DATA when set and
// non-empty, else "data".
std::string resolve_data_dir(const std::optional<std::string>& flag = std::nullopt);

// The command that fills `data_dir`: "scripts/fetch_data.sh", with --data-dir when not the default.
std::string fetch_command(const std::string& data_dir);

// `data_dir`/`relative_path` when that file exists; else throws a tapegrad::Error naming the
// missing file and the fetch command.
std::string require_data_file(const std::string& data_dir, const std::string& relative_path);

}  // namespace tapegrad::datasets
