// --stats-prom FILE: the Prometheus text of each snapshot, for node_exporter's textfile collector.
// Each write replaces the file whole: the text goes to FILE.tmp in the same directory (so the same
// filesystem), then rename(2) puts it in place, and a reader sees the old text or the new, never
// part of one. node_exporter reads only *.prom files, so it never picks up FILE.tmp.
//
// Thread context: constructed and destroyed on main (destroyed after the stats thread stopped);
// write() on the stats thread.
#pragma once

#include <sys/types.h>

#include <string>

namespace sp::metrics {

class PromFile {
 public:
  // "" is off. Throws std::system_error naming the file when FILE.tmp cannot be created.
  explicit PromFile(std::string path);
  // Removes the file this process wrote (not one another process put there since): once the
  // program is gone, node_exporter should stop exposing its numbers, not repeat the last ones.
  ~PromFile();
  PromFile(const PromFile&) = delete;
  PromFile& operator=(const PromFile&) = delete;

  bool on() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  // Replaces the file with `text`. A failure (disk full, directory gone) is logged, naming the
  // path and the errno, once until a write succeeds again; the next interval tries again.
  void write(const std::string& text);

 private:
  // Returns 0 or the errno of what failed; `what` says which step.
  int replace(const std::string& text, const char** what);

  std::string path_;
  std::string tmp_path_;
  bool failing_ = false;
  bool written_ = false;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
};

}  // namespace sp::metrics
