#include "common/log.h"

#include <string.h>
#include <unistd.h>

#include <atomic>

#include "common/clock.h"

namespace sp::log {
namespace {
std::atomic<Level> g_level{Level::kWarn};
std::string g_program = "spliceproxy";
constexpr const char* kLevelNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_level(Level lvl) { g_level.store(lvl, std::memory_order_relaxed); }
Level level_for_verbosity(int verbosity) {
  return verbosity >= 2 ? Level::kDebug : verbosity == 1 ? Level::kInfo : Level::kWarn;
}
Level level() { return g_level.load(std::memory_order_relaxed); }
void set_program(std::string_view name) { g_program = std::string(name); }

void write(Level lvl, const std::string& message) {
  std::string line = g_program + ": " + kLevelNames[static_cast<int>(lvl)] + ": " + message + "\n";
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
