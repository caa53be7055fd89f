// Accepts on a set of listening sockets from one EventLoop and hands each connection on. The
// proxy runs one on its acceptor thread over every -s address (one per NIC); with --reuseport each
// worker runs its own over its own SO_REUSEPORT sockets and keeps what it accepts.
//
// Thread context: constructed, used and destroyed on its loop's thread (or after it stopped).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/accept_loop.h"
#include "common/address.h"
#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/listener_counters.h"
#include "server/shell/admission.h"

namespace sp {

class Acceptor {
 public:
  // Decides where a connection goes and takes the Fd, or refuses it (the Fd is left to the
  // acceptor, which counts why per listener, logs the refusal with its address and closes it).
  using Dispatch = std::function<Admission::Verdict(Fd& client, size_t listener)>;

  struct Listening {
    Fd fd;                                // bound, listening, non-blocking
    size_t index;                         // which listen address: passed to Dispatch
    metrics::ListenerCounters* counters;  // that address's counters
  };

  Acceptor(EventLoop& loop, std::vector<Listening> listeners, Dispatch dispatch);

  // Stops accepting and closes the listening sockets (start of a graceful shutdown).
  void close_listeners();

 private:
  Dispatch dispatch_;
  std::vector<std::unique_ptr<AcceptLoop>> loops_;
};

}  // namespace sp
