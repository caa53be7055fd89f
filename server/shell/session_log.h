// The session log: one line when a session ends, as HAProxy's tcplog writes one per connection:
// who (client, listener, remote), how (the mode in effect), how much (bytes each way), how long,
// and how it ended. Off by default (a busy proxy ends thousands of sessions a second); on with -v
// or --log-sessions. Written at info level whatever -v says once it is on.
//
// How a session ends, from what the session and its relay saw (docs/ARCHITECTURE.md, Logs):
//   client-eof      both directions ended normally; the client closed its side first
//   remote-eof      likewise, the remote first
//   eof             likewise, which side first is unknown (--mode sockmap: the kernel relays)
//   client-reset    a socket error (reset, broken pipe) on the client's side ended it
//   remote-reset    the same on the remote's side
//   connect-failed  connecting to the remote failed (error says why); the client was reset
//   connect-timeout the remote did not answer within --connect-timeout
//   idle-timeout    no traffic for --idle-timeout
//   drain           still live when the SIGTERM/SIGINT grace period ran out
//   refused         a source rule or --max-connections refused it: accepted and closed at once
//                   (error: denied, over-source-cap, over-source-rate or over-capacity)
//   error           the proxy failed the session itself (error says why)
//
// Thread context: any thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/log.h"

namespace sp {

enum class SessionEnd {
  kClientEof,
  kRemoteEof,
  kEof,
  kClientReset,
  kRemoteReset,
  kConnectFailed,
  kConnectTimeout,
  kIdleTimeout,
  kDrain,
  kRefused,
  kError,
};
const char* to_string(SessionEnd end);

struct SessionRecord {
  std::string client;    // the client's address:port
  std::string listener;  // the address:port it connected to
  std::string remote;    // the remote address:port (empty: none was tried)
  std::string mode;      // how the bytes moved (empty: they never did)
  uint64_t bytes_to_remote = 0;
  uint64_t bytes_to_client = 0;
  int64_t duration_ms = 0;
  SessionEnd end = SessionEnd::kError;
  std::string error;  // the errno text or reason, where the end has one
};

// Set once at start, before the workers run.
void enable_session_log(bool on);
bool session_log_enabled();
// The line's fields, in its order (for the tests).
log::Fields session_fields(const SessionRecord& record);
// Writes the line if the session log is on.
void log_session(const SessionRecord& record);

}  // namespace sp
