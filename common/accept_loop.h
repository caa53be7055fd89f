// Accepts on one non-blocking listening socket from its EventLoop: the loop the proxy's acceptor
// and the stats socket share. Up to 64 connections per turn, then it yields (defer) so other
// handlers get theirs; out of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM) it pauses
// for 100 ms: the connection stays in the backlog and the edge will not come again, so it retries
// on a timer instead of spinning on a socket it cannot serve.
//
// Thread context: constructed, used and destroyed on its loop's thread (or after it stopped).
#pragma once

#include <functional>

#include "common/event_loop.h"
#include "common/fd.h"

namespace sp {

class AcceptLoop : public Handler {
 public:
  using OnClient = std::function<void(Fd client)>;
  using OnPause = std::function<void(int err)>;  // accepting failed with err: paused 100 ms

  // Registers the socket with the loop (throws std::system_error).
  AcceptLoop(EventLoop& loop, Fd listening, OnClient on_client, OnPause on_pause);
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

  EventLoop& loop_;
  Fd fd_;
  OnClient on_client_;
  OnPause on_pause_;
  bool paused_ = false;
  EventLoop::TimerId resume_timer_ = 0;
};

}  // namespace sp
