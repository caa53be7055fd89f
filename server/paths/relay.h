// The seam between a proxied connection and the data path that moves its bytes. A session
// connects the remote, asks its worker's data path for a Relay (server/paths/data_path.h) and from
// then on only forwards the sockets' epoll edges to it and hears back about activity and the end;
// it never learns which of the five paths it runs on.
//
// A relay's life: start() once both sockets are connected; on_events() for every edge of a socket
// while the relay keeps it in epoll; stop() when the session ends (the relay's end, an idle
// timeout, shutdown); the owner closes the sockets only after relay_stopped(), because a path may
// still have kernel requests pointing at its buffers; sockets_closed() then lets go of what must
// outlive the sockets (the kernel's socket maps). The relay is destroyed with the session, after
// the current batch of events.
//
// Re-entrance: every call to the owner may end the session (close() -> stop()): a relay touches
// none of its state after telling the owner of its end.
//
// Thread context: its worker's loop thread only.
#pragma once

#include <cstdint>

#include "common/event_loop.h"

namespace sp {

class RelayOwner {
 public:
  // Bytes moved (or a turn ran): the idle timeout starts again.
  virtual void relay_activity() = 0;
  // Both directions delivered their EOF (err == 0), or a socket error ended them (the errno).
  // The relay counted the reset already; the owner stops it.
  virtual void relay_finished(int err) = 0;
  // After stop(): nothing points at the sockets any more, they may close.
  virtual void relay_stopped() = 0;

 protected:
  ~RelayOwner() = default;
};

// What a relay saw of a session, for its log line (server/shell/session_log.h).
enum class RelaySide : uint8_t { kUnknown, kClient, kRemote };
struct RelayTally {
  const char* mode = nullptr;  // how it moved the bytes ("rw", "uring"); null: the worker's mode
  bool bytes_known = false;    // false: the kernel moved them unseen (the owner asks TCP)
  uint64_t to_remote = 0;      // bytes delivered client -> remote
  uint64_t to_client = 0;      // bytes delivered remote -> client
  RelaySide first_eof = RelaySide::kUnknown;  // whose EOF was passed on first
  RelaySide failed = RelaySide::kUnknown;     // whose socket the error of relay_finished() came from
};

// The two connected sockets of a session and the session's registrations of them in the loop
// (made while connecting: the relay keeps, changes or removes them).
struct RelaySockets {
  int client;
  Handler* client_handler;
  int remote;
  Handler* remote_handler;
  // false: the socket was never registered in the loop (a session that lives on the worker's
  // io_uring from the start: --uring-features connect).
  bool client_in_loop = true;
  bool remote_in_loop = true;
};

class Relay {
 public:
  virtual ~Relay() = default;
  // Takes both sockets over. pending_client_events: the client's edges seen while the remote was
  // still connecting (the remote's first edge is implied: it carried EPOLLOUT, maybe EPOLLIN).
  virtual void start(uint32_t pending_client_events) = 0;
  // An epoll edge of one of the sockets (client: the client's, else the remote's).
  virtual void on_events(bool client, uint32_t events) = 0;
  // Stops relaying and takes the sockets out of the loop; relay_stopped() follows, at once or
  // once the kernel is done with the requests in flight. Called at most once.
  virtual void stop() = 0;
  // The session closed both sockets.
  virtual void sockets_closed() {}
  // Nanoseconds since data last moved, where the kernel moves it unseen (-1: the owner's count
  // of relay_activity() is the truth).
  virtual int64_t idle_ns() const { return -1; }
  // What it knows of the session so far; also after stop().
  virtual RelayTally tally() const { return {}; }
};

}  // namespace sp
