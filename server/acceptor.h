// The acceptor thread: one EventLoop over every listening socket (one per -s address, e.g. one per
// NIC). It accepts and hands each connection to a worker; it never touches the data.
//
// Thread context: constructed and destroyed by the owner; close_listeners() and the counters are
// safe from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "common/address.h"
#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/counters.h"

namespace sp {

struct ListenerCounters {
  metrics::Counter accepted;
  metrics::Counter refused;       // over --max-connections: accepted and closed at once
  metrics::Counter accept_pauses; // EMFILE/ENFILE/ENOBUFS/ENOMEM: accepting paused briefly
};

class Acceptor {
 public:
  // Decides where a connection goes; returns false to refuse it (over the connection limit).
  using Dispatch = std::function<bool(Fd client, size_t listener)>;

  // Takes already bound, listening sockets.
  Acceptor(std::vector<Fd> listeners, Dispatch dispatch);
  ~Acceptor();

  // Any thread: stop accepting and close the listening sockets (start of a graceful shutdown).
  void close_listeners();
  int tid() const { return thread_->tid(); }
  size_t listener_count() const { return listeners_.size(); }
  const ListenerCounters& counters(size_t listener) const { return listeners_[listener]->counters; }
  const SocketAddress& address(size_t listener) const { return listeners_[listener]->address; }

 private:
  struct Listener : Handler {
    Listener(Acceptor& a, Fd f, size_t i);
    void on_events(uint32_t) override { acceptor.accept_some(*this); }
    void on_ready() override { acceptor.accept_some(*this); }
    Acceptor& acceptor;
    Fd fd;
    size_t index;
    SocketAddress address;
    bool paused = false;
    ListenerCounters counters;
  };
  void accept_some(Listener& listener);

  Dispatch dispatch_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unique_ptr<LoopThread> thread_;
};

}  // namespace sp
