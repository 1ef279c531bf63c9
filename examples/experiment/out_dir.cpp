#include "out_dir.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <string>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

namespace experiment {

namespace {

// The PID written in a lock file, or 0.
long holder_of(const std::filesystem::path& lock_file) {
  std::ifstream in(lock_file);
  long pid = 0;
  in >> pid;
  return in ? pid : 0;
}

// The PID `name` ends with after ".tmp.", or 0.
long temporary_owner(const std::string& name) {
  const std::size_t mark = name.rfind(".tmp.");
  if (mark == std::string::npos) return 0;
  long pid = 0;
  const char* first = name.data() + mark + 5;
  const char* last = name.data() + name.size();
  const auto [end, error] = std::from_chars(first, last, pid);
  return error == std::errc() && end == last ? pid : 0;
}

bool process_alive(long pid) { return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM; }

// A record lock (fcntl), not flock: it belongs to the process and ends with it. An flock lock
// lasts while any descriptor of the open file does, and a child the run starts (gnuplot, through
// popen) holds one between its fork and its exec: a run killed in that moment left its folder
// locked, and a resume started at once was refused. Record locks have a catch, that closing any
// descriptor of the file drops them; it does not bite here, since a run opens .lock only once.
bool lock_whole_file(int fd) {
  struct flock whole_file {};
  whole_file.l_type = F_WRLCK;
  whole_file.l_whence = SEEK_SET;  // l_start 0 and l_len 0: from the first byte to any length
  return ::fcntl(fd, F_SETLK, &whole_file) == 0;
}

}  // namespace

OutDirLock::OutDirLock(const std::filesystem::path& dir) {
  const std::filesystem::path lock_file = dir / ".lock";
  fd_ = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw std::runtime_error(fmt::format("cannot create the lock file '{}': {}; pass a writable folder with --out",
                                         lock_file.string(), std::strerror(errno)));
  if (!lock_whole_file(fd_)) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    if (error != EACCES && error != EAGAIN)
      throw std::runtime_error(fmt::format("cannot lock '{}': {}", lock_file.string(), std::strerror(error)));
    const long holder = holder_of(lock_file);  // written by runs of these programs; other lockers write none
    throw Refused(fmt::format("the output folder '{}' is in use by another run ({}); wait for it to finish, or pass "
                              "another folder with --out",
                              dir.string(),
                              holder > 0 && process_alive(holder) ? fmt::format("process {}", holder) : "a process"));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size()))
    throw std::runtime_error(fmt::format("cannot write '{}': {}", lock_file.string(), std::strerror(errno)));
}

OutDirLock::~OutDirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

std::vector<std::filesystem::path> checkpoints_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.starts_with("checkpoint") && name.ends_with(".safetensors"))
      found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  return found;
}

int remove_stale_temporaries(const std::filesystem::path& dir) {
  int removed = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const long owner = temporary_owner(entry.path().filename().string());
    if (owner > 0 && !process_alive(owner) && std::filesystem::remove(entry.path(), error)) ++removed;
  }
  return removed;
}

}  // namespace experiment
