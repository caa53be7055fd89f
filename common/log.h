// Minimal leveled logging to stderr. One line per call, written with a single write(2) so lines
// from different threads never interleave.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace sp::log {

enum class Level { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_level(Level level);
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

// strerror text for an errno value, thread-safe.
std::string errno_text(int err);

}  // namespace sp::log
