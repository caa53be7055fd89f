// Reading what the proxy logs, for the log tests (e2e_logs.cc, e2e_session_logs.cc): lines with
// their fields, in text or JSON, and a proxy started without a probe connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "tests/support/process.h"

namespace sp::test {

using LogFields = std::map<std::string, std::string>;  // numbers as their decimal text

std::vector<std::string> lines_of(const std::string& text);
// Whether `line` starts with an RFC 3339 UTC timestamp with milliseconds and a space
// ("2026-12-06T14:05:36.123Z "). (No std::regex: it trips GCC 12's -Wmaybe-uninitialized in the
// sanitizer builds.)
bool starts_with_timestamp(const std::string& line);
inline constexpr size_t kTimestampLength = 25;  // with the space after it
// The fields of every line of `log` whose message is `msg` (text: "TIME proxy: LEVEL: msg
// key=value..."; json: {"msg": msg, ...}), with "level" among them.
std::vector<LogFields> lines_with(const std::string& log, const std::string& format, const std::string& msg);
// Waits (bounded) for the proxy to have logged `count` session lines; returns them all.
std::vector<LogFields> sessions(ChildProcess& proxy, const std::string& format, size_t count = 1);
std::string loopback(uint16_t port);  // "127.0.0.1:PORT"

// A proxy on `port` to 127.0.0.1:remote (--mode rw, -w 1, --stats off unless `extra` says), waited
// for by its start line rather than with a probe connection (wait_for_port's): a probe would be a
// session with a line of its own, and its connect failure would take the once-a-second warning.
std::unique_ptr<ChildProcess> quiet_proxy(uint16_t port, uint16_t remote, const std::vector<std::string>& extra);

// A connection to 127.0.0.1:port from a port bound first, so that its address (*local) is known
// even when the proxy resets it before connect() returns: a remote that refuses on loopback is
// that fast, and connect_to() then throws.
Fd connect_bound(uint16_t port, std::string* local);

// An echo server and a quiet proxy in front of it.
struct EchoStack {
  explicit EchoStack(const std::vector<std::string>& proxy_args, const std::vector<std::string>& server_args = {});
  uint16_t server_port;
  uint16_t proxy_port;
  std::unique_ptr<ChildProcess> server;
  std::unique_ptr<ChildProcess> proxy;
};

}  // namespace sp::test
