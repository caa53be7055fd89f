// Accepts on a set of listening sockets from one EventLoop and hands each connection on. The
// proxy runs one on its acceptor thread over every -s address (one per NIC); with --reuseport each
// worker runs its own over its own SO_REUSEPORT sockets and keeps what it accepts.
//
// Thread context: constructed, used and destroyed on its loop's thread (or after it stopped).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/address.h"
#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/counters.h"

namespace sp {

// Per listen address; shared by every acceptor of that address, so counted with add_shared().
struct ListenerCounters {
  metrics::Counter accepted;
  metrics::Counter refused;        // over --max-connections: accepted and closed at once
  metrics::Counter accept_pauses;  // EMFILE/ENFILE/ENOBUFS/ENOMEM: accepting paused briefly
};

class Acceptor {
 public:
  // Decides where a connection goes; returns false to refuse it (the Fd is then closed).
  using Dispatch = std::function<bool(Fd client, size_t listener)>;

  struct Listening {
    Fd fd;                       // bound, listening, non-blocking
    size_t index;                // which listen address: passed to Dispatch
    ListenerCounters* counters;  // that address's counters
  };

  Acceptor(EventLoop& loop, std::vector<Listening> listeners, Dispatch dispatch);
  ~Acceptor();

  // Stops accepting and closes the listening sockets (start of a graceful shutdown).
  void close_listeners();

 private:
  struct Listener : Handler {
    Listener(Acceptor& a, Listening l) : acceptor(a), socket(std::move(l)) {}
    void on_events(uint32_t) override { acceptor.accept_some(*this); }
    void on_ready() override { acceptor.accept_some(*this); }
    Acceptor& acceptor;
    Listening socket;
    bool paused = false;
    EventLoop::TimerId resume_timer = 0;
  };
  void accept_some(Listener& listener);

  EventLoop& loop_;
  Dispatch dispatch_;
  std::vector<std::unique_ptr<Listener>> listeners_;
};

}  // namespace sp
