#include "metrics/stats_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "common/log.h"

namespace sp::metrics {
namespace {
Fd open_log(const std::string& path) {
  return Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
}
}  // namespace

StatsLog::StatsLog(std::string path) : path_(std::move(path)) {
  if (path_ == "-") {
    out_ = STDOUT_FILENO;
  } else if (!path_.empty()) {
    fd_ = open_log(path_);
    if (!fd_) throw std::system_error(errno, std::generic_category(), "stats log " + path_);
    out_ = fd_.get();
  }
}

void StatsLog::reopen() {
  if (!fd_) return;  // off, stdout, or stopped after a write error
  Fd again = open_log(path_);
  if (!again) {
    log::warn("stats log ", path_, ": reopening: ", log::errno_text(errno), "; still writing to the old file");
    return;
  }
  fd_ = std::move(again);
  out_ = fd_.get();
  log::info("stats log ", path_, ": reopened");
}

void StatsLog::write(const std::string& json) {
  if (out_ < 0) return;
  std::string line = json + "\n";
  size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(out_, line.data() + done, line.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log::warn("stats log ", path_, ": ", log::errno_text(errno), "; no more stats lines");
      out_ = -1;
      fd_.reset();
      return;
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace sp::metrics
