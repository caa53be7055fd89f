// The adapter from a Server to what the stats thread samples (metrics::StatsSource): the workers'
// counters and threads, the acceptor and main threads, and the listeners. It lives in server/
// because it knows both sides; metrics/ knows nothing of the server.
//
// Thread context: call on the main thread after the Server is built; the result points into the
// Server, which must outlive the StatsServer that uses it.
#pragma once

#include <unistd.h>

#include <string>

#include "metrics/sampler.h"
#include "server/shell/server.h"

namespace sp {

inline metrics::StatsSource stats_source(const Server& server, std::string program, std::string mode) {
  metrics::StatsSource source;
  source.program = std::move(program);
  source.mode = std::move(mode);
  for (const auto& worker : server.workers())
    source.workers.push_back({worker->id(), worker->tid(), &worker->counters(), worker->mode_effective()});
  if (int tid = server.acceptor_tid()) source.threads.push_back({"acceptor", tid});
  source.threads.push_back({"main", static_cast<int>(::getpid())});  // the thread that runs main()
  for (size_t i = 0; i < server.listener_count(); ++i) {
    const metrics::ListenerCounters& c = server.listener_counters(i);
    source.listeners.push_back({server.listener_address(i).to_string(), &c.accepted, &c.refused, &c.accept_pauses,
                                &c.over_capacity, &c.denied, &c.over_source_cap, &c.over_source_rate});
  }
  return source;
}

}  // namespace sp
