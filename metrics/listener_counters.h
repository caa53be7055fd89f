// Counters of one listen address. Shared by every acceptor of that address (one per worker with
// --reuseport), so they are counted with add_shared().
#pragma once

#include "metrics/counters.h"

namespace sp::metrics {

struct ListenerCounters {
  Counter accepted;
  Counter refused;        // accepted and closed at once, for any of the reasons below or out of descriptors
  Counter over_capacity;  // of those: over --max-connections
  Counter denied;         // by --deny or --allow
  Counter over_source_cap;   // over --max-per-source
  Counter over_source_rate;  // over --rate-per-source
  Counter accept_pauses;  // EMFILE/ENFILE/ENOBUFS/ENOMEM: accepting paused briefly
};

}  // namespace sp::metrics
