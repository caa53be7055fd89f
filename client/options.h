// tcp_ping_client's configuration and command line (seed-compatible: -s -p -n -h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "common/address.h"

namespace sp::client {

constexpr uint16_t kDefaultPort = 9999;
constexpr uint64_t kDefaultCount = 100'000;                  // pingpong without -n/-t
constexpr int64_t kDefaultStreamDurationNs = 10'000'000'000;  // stream/download without -n/-t
constexpr size_t kDefaultPingLength = 1024;
constexpr size_t kDefaultStreamLength = 64 << 10;
constexpr size_t kMaxLength = 64 << 20;

enum class Mode { kPingPong, kStream, kDownload };
const char* mode_name(Mode mode);

struct Options {
  HostPort server{"127.0.0.1", kDefaultPort};
  Mode mode = Mode::kPingPong;
  bool no_echo = false;  // stream: the server discards (tcp_ping_server --sink); only send
  bool bidir = false;    // stream with echo: the text output leads with both directions
  int connections = 1;
  int threads = 1;
  size_t length = kDefaultPingLength;
  uint64_t count = kDefaultCount;  // messages per connection, 0 = until SIGINT/SIGTERM; unused with -t
  int64_t duration_ns = 0;         // > 0: measure for this long (after the warmup) instead of -n
  double rate = 0;                 // pingpong: messages/s over all connections; 0 = as fast as echoed
  int64_t warmup_ns = 0;
  int64_t interval_ns = 0;  // 0: no interval reports
  int64_t stall_ns = 1'000'000'000;  // pingpong: a message in flight with no byte moved this long is a stall
  bool json = false;
  bool verify = true;  // check every received byte against the pattern
  int verbosity = 0;

  bool timed() const { return duration_ns > 0; }
  bool echo() const { return mode == Mode::kPingPong || (mode == Mode::kStream && !no_echo); }
  bool sends() const { return mode != Mode::kDownload; }
  bool receives() const { return mode != Mode::kStream || !no_echo; }
};

// Parses argv. Returns the options, or the exit code when the program should stop (0 after
// -h/--version, 2 after a bad flag or an impossible combination, with the reason and a line
// pointing at --help printed on stderr).
std::variant<Options, int> parse_command_line(int argc, const char* const* argv);

// The same, returning the error text instead of printing (for tests). -h returns the usage text
// prefixed with "Usage:".
std::variant<Options, std::string> try_parse_command_line(int argc, const char* const* argv);

}  // namespace sp::client
