// Minimal leveled logging to stderr. One line per call, written with a single write(2) so lines
// from different threads never interleave.
#pragma once

#include <atomic>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace sp::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_level(Level level);
// -v counted on a command line: 0 warnings and errors, 1 info, 2 or more debug.
Level level_for_verbosity(int verbosity);
Level level();
void set_program(std::string_view name);
void write(Level level, const std::string& message);

template <typename... Args>
void emit(Level lvl, const Args&... args) {
  if (lvl > level()) return;
  std::ostringstream out;
  (out << ... << args);
  write(lvl, out.str());
}

template <typename... Args> void error(const Args&... a) { emit(Level::kError, a...); }
template <typename... Args> void warn(const Args&... a) { emit(Level::kWarn, a...); }
template <typename... Args> void info(const Args&... a) { emit(Level::kInfo, a...); }
template <typename... Args> void debug(const Args&... a) { emit(Level::kDebug, a...); }
// An info line written whatever -v says: what an operator must see at start (where the program
// listens, with the port the kernel chose for -p 0) is not chatter.
template <typename... Args>
void announce(const Args&... a) {
  std::ostringstream out;
  (out << ... << a);
  write(Level::kInfo, out.str());
}

// At most one line a second through one RateLimit (one static per call site, shared by every
// thread: with one per thread, N workers failing together logged N lines a second): a failure
// repeated under load cannot flood the log, and the counters keep the exact numbers.
// Thread context: any thread; lock-free.
class RateLimit {
 public:
  // True if a line may go out now; *held_back is then how many were held back since the last one.
  bool allow(uint64_t* held_back);

 private:
  std::atomic<int64_t> last_ns_{0};
  std::atomic<uint64_t> held_back_{0};
};

template <typename... Args>
void warn_limited(RateLimit& limit, const Args&... a) {
  if (Level::kWarn > level()) return;
  uint64_t held_back = 0;
  if (!limit.allow(&held_back)) return;
  if (held_back) emit(Level::kWarn, a..., " (and ", held_back, " more)");
  else emit(Level::kWarn, a...);
}

// strerror text for an errno value, thread-safe.
std::string errno_text(int err);

}  // namespace sp::log
