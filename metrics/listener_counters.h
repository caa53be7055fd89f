// Counters of one listen address. Shared by every acceptor of that address (one per worker with
// --reuseport), so they are counted with add_shared().
#pragma once

#include "metrics/counters.h"

namespace sp::metrics {

struct ListenerCounters {
  Counter accepted;
  Counter refused;        // over --max-connections, or out of descriptors: accepted and closed at once
  Counter accept_pauses;  // EMFILE/ENFILE/ENOBUFS/ENOMEM: accepting paused briefly
};

}  // namespace sp::metrics
