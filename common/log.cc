#include "common/log.h"

#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/clock.h"

namespace sp::log {
namespace {
std::atomic<Level> g_level{Level::kWarn};
std::string g_program = "spliceproxy";
// Set once at start (main, before threads), read by every line after.
Style g_style;
constexpr const char* kLevelNames[] = {"error", "warn", "info", "debug"};

const char* level_name(Level lvl) { return kLevelNames[static_cast<int>(lvl)]; }

// A text field's value goes bare when a reader splitting on spaces and '=' gets it back whole;
// else as a JSON string (an error text: error="Connection refused").
bool bare(std::string_view value) {
  if (value.empty()) return false;
  for (unsigned char c : value)
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '\\') return false;
  return true;
}

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * kNsPerSec + ts.tv_nsec;
}
}  // namespace

Field number_field(std::string key, uint64_t value) { return {std::move(key), std::to_string(value), true}; }

void set_level(Level lvl) { g_level.store(lvl, std::memory_order_relaxed); }
Level level_for_verbosity(int verbosity) {
  return verbosity >= 2 ? Level::kDebug : verbosity == 1 ? Level::kInfo : Level::kWarn;
}
Level level() { return g_level.load(std::memory_order_relaxed); }
void set_program(std::string_view name) { g_program = std::string(name); }
void set_format(Format format) { g_style.format = format; }

Format parse_format(const std::string& name) {
  if (name == "text") return Format::kText;
  if (name == "json") return Format::kJson;
  throw std::invalid_argument("invalid log format '" + name + "' (expected text or json)");
}

void detect_journal() { g_style.journal = journal_stream_matches(std::getenv("JOURNAL_STREAM"), STDERR_FILENO); }

bool journal_stream_matches(const char* journal_stream, int fd) {
  if (!journal_stream) return false;
  uintmax_t dev = 0, ino = 0;
  int used = 0;
  if (std::sscanf(journal_stream, "%" SCNuMAX ":%" SCNuMAX "%n", &dev, &ino, &used) != 2 ||
      journal_stream[used] != '\0')
    return false;
  struct stat st;
  if (::fstat(fd, &st) != 0) return false;
  return static_cast<uintmax_t>(st.st_dev) == dev && static_cast<uintmax_t>(st.st_ino) == ino;
}

int journal_priority(Level lvl) {
  switch (lvl) {
    case Level::kError: return 3;
    case Level::kWarn: return 4;
    case Level::kInfo: return 6;
    case Level::kDebug: return 7;
  }
  return 6;
}

std::string timestamp(int64_t unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / kNsPerSec);
  int ms = static_cast<int>(unix_ns % kNsPerSec / kNsPerMs);
  tm utc;
  gmtime_r(&secs, &utc);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", ms);
  return buf;
}

std::string json_string(std::string_view text) {
  // nlohmann's serializer (the stats' JSON) escapes quotes, backslashes and control bytes;
  // `replace` keeps a line whole when a message carries bytes that are not UTF-8.
  return nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string format_line(const Style& style, std::string_view program, int64_t unix_ns, Level lvl,
                        std::string_view message, const Fields& fields) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, falsely) about "literal" + std::string&&.
  std::string line;
  if (style.format == Format::kJson) {
    line.append("{\"ts\":\"").append(timestamp(unix_ns)).append("\",\"level\":\"").append(level_name(lvl));
    line.append("\",\"program\":").append(json_string(program)).append(",\"msg\":").append(json_string(message));
    for (const Field& f : fields)
      line.append(",").append(json_string(f.key)).append(":").append(f.number ? f.value : json_string(f.value));
    return line.append("}\n");
  }
  if (style.journal) line.append("<").append(std::to_string(journal_priority(lvl))).append(">");
  else line.append(timestamp(unix_ns)).append(" ");
  line.append(program).append(": ").append(level_name(lvl)).append(": ").append(message);
  for (const Field& f : fields)
    line.append(" ").append(f.key).append("=").append(bare(f.value) ? f.value : json_string(f.value));
  return line.append("\n");
}

void write(Level lvl, const std::string& message, const Fields& fields) {
  std::string line = format_line(g_style, g_program, realtime_ns(), lvl, message, fields);
  // A short write to stderr is not worth retrying: logging must never block the event loop.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

bool RateLimit::allow(uint64_t* held_back) {
  int64_t now = now_ns();
  int64_t last = last_ns_.load(std::memory_order_relaxed);
  // The compare-and-swap picks one thread when several find the second over at once.
  if ((last != 0 && now - last < kNsPerSec) || !last_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    held_back_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  *held_back = held_back_.exchange(0, std::memory_order_relaxed);
  return true;
}

std::string errno_text(int err) {
  char buf[128];
  return std::string(strerror_r(err, buf, sizeof buf));
}

}  // namespace sp::log
