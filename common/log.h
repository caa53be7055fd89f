// Leveled logging to stderr. One line per call, written with a single write(2) so lines from
// different threads never interleave.
//
// A line is, by default (text):   2026-12-06T14:05:36.123Z proxy: warn: message key=value ...
// under systemd (stderr is the journal stream, see journal_stream_matches):
//                                  <4>proxy: warn: message key=value ...
// the journal stamps and ranks lines itself, and reads the <N> prefix as the priority;
// and with --log-format json:     {"ts":"...","level":"warn","program":"proxy","msg":"...",key:value}
// one object per line for log shippers. Fields are what a line knows in structured form (the
// client's address, a session's byte counts): keys in JSON, key=value after the message in text.
#pragma once

#include <atomic>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace sp::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };
enum class Format { kText, kJson };

// One structured field of a line. number: JSON writes the value bare (it must be a number).
struct Field {
  std::string key;
  std::string value;
  bool number = false;
};
using Fields = std::vector<Field>;
Field number_field(std::string key, uint64_t value);

void set_level(Level level);
// -v counted on a command line: 0 warnings and errors, 1 info, 2 or more debug.
Level level_for_verbosity(int verbosity);
Level level();
void set_program(std::string_view name);
void set_format(Format format);
// "text" or "json" (throws std::invalid_argument naming the choices otherwise).
Format parse_format(const std::string& name);
// Looks whether stderr is the journal's stream (JOURNAL_STREAM) and, if so, prefixes text lines
// with the journal's priority instead of a timestamp. Call once at start, before threads.
void detect_journal();
void write(Level level, const std::string& message, const Fields& fields = {});

// The pieces of a line, pure (for the tests).
struct Style {
  Format format = Format::kText;
  bool journal = false;
};
std::string format_line(const Style& style, std::string_view program, int64_t unix_ns, Level level,
                        std::string_view message, const Fields& fields);
// RFC 3339, UTC, milliseconds: 2026-12-06T14:05:36.123Z.
std::string timestamp(int64_t unix_ns);
// A JSON string literal (quotes included); bytes that are not UTF-8 become U+FFFD.
std::string json_string(std::string_view text);
// sd-daemon's rule: JOURNAL_STREAM is "DEV:INO" of the journal's socket; stderr is that stream
// only when its fstat() matches (a child whose stderr was redirected inherits the variable).
bool journal_stream_matches(const char* journal_stream, int fd);
// The journal's priority for a level: 3 error, 4 warning, 6 info, 7 debug.
int journal_priority(Level level);

template <typename... Args>
void emit_fields(Level lvl, const Fields& fields, const Args&... args) {
  if (lvl > level()) return;
  std::ostringstream out;
  (out << ... << args);
  write(lvl, out.str(), fields);
}
template <typename... Args>
void emit(Level lvl, const Args&... args) {
  emit_fields(lvl, Fields{}, args...);
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

// The line that goes out names how many were held back since the last one: "(and N more)".
template <typename... Args>
void warn_limited(RateLimit& limit, const Fields& fields, const Args&... a) {
  if (Level::kWarn > level()) return;
  uint64_t held_back = 0;
  if (!limit.allow(&held_back)) return;
  if (held_back) emit_fields(Level::kWarn, fields, a..., " (and ", held_back, " more)");
  else emit_fields(Level::kWarn, fields, a...);
}
template <typename... Args>
void warn_limited(RateLimit& limit, const Args&... a) {
  warn_limited(limit, Fields{}, a...);
}

// strerror text for an errno value, thread-safe.
std::string errno_text(int err);

}  // namespace sp::log
