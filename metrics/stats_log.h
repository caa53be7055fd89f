// --stats-log: one JSON snapshot a line, appended to a file or written to stdout ("-"). Reopened
// by path on request (SIGHUP after logrotate renamed the file), so new lines land in a new file
// at the old path while the renamed one keeps what it had.
//
// Thread context: constructed on any thread; write() and reopen() on the stats thread.
#pragma once

#include <string>

#include "common/fd.h"

namespace sp::metrics {

class StatsLog {
 public:
  // "" is off, "-" stdout. Throws std::system_error naming the file.
  explicit StatsLog(std::string path);
  bool on() const { return out_ >= 0; }
  // Appends json and a newline; after a failed write (disk full) the log stops, with a warning.
  void write(const std::string& json);
  // Opens the path again; if that fails, logs it and keeps the file it had.
  void reopen();

 private:
  std::string path_;
  Fd fd_;
  int out_ = -1;  // fd_ or stdout; -1 when off
};

}  // namespace sp::metrics
