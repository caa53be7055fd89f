#include "common/log.h"

#include <string.h>
#include <unistd.h>

#include <atomic>

namespace sp::log {
namespace {
std::atomic<Level> g_level{Level::kWarn};
std::string g_program = "spliceproxy";
constexpr const char* kLevelNames[] = {"error", "warn", "info", "debug"};
}  // namespace

void set_level(Level lvl) { g_level.store(lvl, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }
void set_program(std::string_view name) { g_program = std::string(name); }

void write(Level lvl, const std::string& message) {
  std::string line = g_program + ": " + kLevelNames[static_cast<int>(lvl)] + ": " + message + "\n";
  // A short write to stderr is not worth retrying: logging must never block the event loop.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

std::string errno_text(int err) {
  char buf[128];
  return std::string(strerror_r(err, buf, sizeof buf));
}

}  // namespace sp::log
