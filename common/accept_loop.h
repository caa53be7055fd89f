// Accepts on one non-blocking listening socket from its EventLoop: the loop the proxy's acceptor
// and the stats socket share. Up to 64 connections per turn, then it yields (defer) so other
// handlers get theirs.
//
// Out of descriptors (EMFILE, ENFILE) it accepts the waiting connection on the process's reserved
// descriptor (common/fd_reserve.h) and hands it to on_reserved: the proxy closes such a
// connection at once (over capacity: better than a backlog with no timeout), the stats socket
// answers it. With no reserve to be had, or out of memory (ENOBUFS, ENOMEM), it pauses for
// 100 ms: the connection stays in the backlog and the edge will not come again, so it retries on
// a timer instead of spinning on a socket it cannot serve. Either way the log gets one line with
// the counts when the shortage ends, not one per failure (ShortageReport).
//
// Thread context: constructed, used and destroyed on its loop's thread (or after it stopped).
#pragma once

#include <functional>
#include <string>

#include "common/event_loop.h"
#include "common/fd.h"
#include "common/shortage_report.h"

namespace sp {

class AcceptLoop : public Handler {
 public:
  using OnClient = std::function<void(Fd client)>;
  using OnPause = std::function<void(int err)>;  // accepting failed with err: paused 100 ms

  struct Callbacks {
    std::string name;    // for the log: "accept on 127.0.0.1:9998"
    OnClient on_client;  // a connection accepted as usual
    // A connection accepted on the reserved descriptor while out of descriptors (called with
    // every other thread's descriptor making held off: be quick); null: pause instead.
    OnClient on_reserved;
    std::string reserved_verb;  // what on_reserved does with it, for the log: "closed at once"
    OnPause on_pause;           // counting only (may be null): the log is this loop's
  };

  // Registers the socket with the loop (throws std::system_error).
  AcceptLoop(EventLoop& loop, Fd listening, Callbacks callbacks);
  ~AcceptLoop() override;
  AcceptLoop(const AcceptLoop&) = delete;
  AcceptLoop& operator=(const AcceptLoop&) = delete;

  // Stops accepting and closes the listening socket.
  void close();
  int fd() const { return fd_.get(); }

  void on_events(uint32_t) override { accept_some(); }
  void on_ready() override { accept_some(); }

 private:
  void accept_some();
  // Out of descriptors (err): accepts one waiting connection on the reserve and hands it to
  // on_reserved. 0 when it did, else the errno of that accept.
  int accept_on_reserve(int err);
  void pause(int err);

  EventLoop& loop_;
  Fd fd_;
  Callbacks callbacks_;
  ShortageReport report_;
  bool paused_ = false;
  EventLoop::TimerId resume_timer_ = 0;
};

}  // namespace sp
