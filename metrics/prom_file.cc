#include "metrics/prom_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "common/fd.h"
#include "common/log.h"

namespace sp::metrics {
namespace {
Fd create(const std::string& path) { return Fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)); }
}  // namespace

PromFile::PromFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  tmp_path_ = path_ + ".tmp";
  // Fail at start, with the reason, rather than at the first interval: a directory that does not
  // exist or that we may not write to is a mistake in the command line.
  Fd probe = create(tmp_path_);
  if (!probe) throw std::system_error(errno, std::generic_category(), "stats prom file " + path_ + ": creating " + tmp_path_);
  probe.reset();
  ::unlink(tmp_path_.c_str());
}

PromFile::~PromFile() {
  if (!written_) return;
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) ::unlink(path_.c_str());
}

int PromFile::replace(const std::string& text, const char** what) {
  *what = "creating";
  Fd fd = create(tmp_path_);
  if (!fd) return errno;
  *what = "writing";
  for (size_t done = 0; done < text.size();) {
    ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : ENOSPC;
      ::unlink(tmp_path_.c_str());
      return err;
    }
    done += static_cast<size_t>(n);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) st = {};
  *what = "closing";
  if (::close(fd.release()) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    return err;
  }
  *what = "renaming";
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    return err;
  }
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  written_ = true;
  return 0;
}

void PromFile::write(const std::string& text) {
  if (!on()) return;
  const char* what = "";
  int err = replace(text, &what);
  if (err == 0) {
    if (failing_) log::info("stats prom file ", path_, ": written again");
    failing_ = false;
    return;
  }
  if (!failing_)
    log::warn("stats prom file ", path_, ": ", what, " ", tmp_path_, ": ", log::errno_text(err),
              "; trying again every interval");
  failing_ = true;
}

}  // namespace sp::metrics
