// Guards of a program's output folder: one run at a time (a record lock on .lock held for the
// program's life, naming its holder to a second run), no earlier run's checkpoint replaced by
// accident, and no temporary files left by killed runs.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <vector>

namespace experiment {

// A run refused before it started (the folder is busy, or holds a checkpoint and neither
// --resume nor --overwrite was given); Program::run exits with kRefusedExitCode.
class Refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Holds an exclusive lock on `dir`/.lock until destroyed; throws Refused, naming the process that
// holds it, when another run has it.
class OutDirLock {
 public:
  explicit OutDirLock(const std::filesystem::path& dir);
  ~OutDirLock();
  OutDirLock(const OutDirLock&) = delete;
  OutDirLock& operator=(const OutDirLock&) = delete;

 private:
  int fd_ = -1;
};

// The checkpoints (checkpoint*.safetensors) an earlier run left in `dir`.
std::vector<std::filesystem::path> checkpoints_in(const std::filesystem::path& dir);

// Removes the temporary files (`<file>.tmp.<pid>`) that processes no longer alive left in `dir`
// when killed while writing; returns how many.
int remove_stale_temporaries(const std::filesystem::path& dir);

}  // namespace experiment
