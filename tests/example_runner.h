// Running the example programs from tests as a user would: the binary from build/examples with
// flags, its exit status and output, and readers for what it writes (metrics CSV, PNG plots).
// The binaries' folder comes from examples/CMakeLists.txt as TAPEGRAD_EXAMPLES_DIR.
#pragma once

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

namespace tapegrad::testing {

struct ProgramRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line; its exit status and output (stdout and stderr together).
inline ProgramRun run_command(const std::string& command_line) {
  const std::string command = command_line + " 2>&1";
  ProgramRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  std::array<char, 4096> buffer;
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) run.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

#ifdef TAPEGRAD_EXAMPLES_DIR
// The shell words that start example `name`.
inline std::string example_command(const std::string& name) {
  return std::string("\"") + TAPEGRAD_EXAMPLES_DIR + "/" + name + "\"";
}
inline ProgramRun run_example(const std::string& name, const std::string& arguments = "") {
  return run_command(example_command(name) + " " + arguments);
}
#define REQUIRE_EXAMPLES()
#else
inline std::string example_command(const std::string&) { return {}; }
inline ProgramRun run_example(const std::string&, const std::string& = "") { return {}; }
#define REQUIRE_EXAMPLES() GTEST_SKIP() << "built without the examples (TAPEGRAD_BUILD_EXAMPLES=OFF)"
#endif

// $TAPEGRAD_DATA (set by ctest's fetch_data fixture), else data/.
inline std::string example_data_dir() {
  const char* dir = std::getenv("TAPEGRAD_DATA");
  return dir != nullptr ? dir : "data";
}

// Skips the test when `file` (relative to the data folder) is absent.
#define REQUIRE_DATA_FILE(file)                                                                   \
  if (!std::filesystem::exists(::tapegrad::testing::example_data_dir() + "/" + (file)))            \
  GTEST_SKIP() << (file) << " is not in " << ::tapegrad::testing::example_data_dir()               \
               << "; run scripts/fetch_data.sh"

// The folder under the system's temporary folder that holds this test process's outputs, one
// per process, so that two suites running at once (two build folders, or CI beside a developer)
// never write into each other's. It goes when the process exits; a child that forks from a test
// and exits normally leaves it to its parent.
class ProcessOutputRoot {
 public:
  static const std::filesystem::path& path() {
    static const ProcessOutputRoot root;
    return root.path_;
  }
  ~ProcessOutputRoot() {
    if (::getpid() != owner_) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ProcessOutputRoot(const ProcessOutputRoot&) = delete;
  ProcessOutputRoot& operator=(const ProcessOutputRoot&) = delete;

 private:
  ProcessOutputRoot()
      : owner_(::getpid()),
        path_(std::filesystem::temp_directory_path() / ("tapegrad_examples_" + std::to_string(owner_))) {}
  pid_t owner_;
  std::filesystem::path path_;
};

// An empty scratch folder for one test's outputs, in this process's output root.
inline std::filesystem::path fresh_output_dir(const std::string& name) {
  const std::filesystem::path dir = ProcessOutputRoot::path() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// A CSV file as written by the examples: a header line, then rows of comma-separated cells.
struct CsvTable {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;

  bool has_column(const std::string& name) const { return index_of(name) < columns.size(); }
  std::size_t index_of(const std::string& name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == name) return i;
    return columns.size();
  }
  // The column's cells as numbers (a missing column gives an empty vector).
  std::vector<double> numbers(const std::string& name) const {
    std::vector<double> values;
    const std::size_t column = index_of(name);
    if (column == columns.size()) return values;
    for (const auto& row : rows) values.push_back(std::stod(row.at(column)));
    return values;
  }
};

inline std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::istringstream fields(line);
  for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
  return cells;
}

inline CsvTable read_csv(const std::filesystem::path& path) {
  CsvTable table;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return table;
  table.columns = split_csv_line(line);
  while (std::getline(in, line))
    if (!line.empty()) table.rows.push_back(split_csv_line(line));
  return table;
}

// Whether `path` starts with the PNG signature.
inline bool is_png(const std::filesystem::path& path) {
  std::ifstream png(path, std::ios::binary);
  std::array<unsigned char, 8> header{};
  png.read(reinterpret_cast<char*>(header.data()), header.size());
  const std::array<unsigned char, 8> signature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  return png.good() && header == signature;
}

// Whether gnuplot is installed, i.e. whether the examples are expected to draw their plots.
inline bool gnuplot_installed() { return std::system("command -v gnuplot > /dev/null 2>&1") == 0; }

}  // namespace tapegrad::testing
