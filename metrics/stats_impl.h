// The inside of StatsServer, shared by stats_server.cc (start-up, the sampling tick, rendering)
// and stats_connection.cc (the clients: accepting them, one connection's state machine, the sweep
// for stalled ones). Not for use outside metrics/.
//
// Thread context: as StatsServer: built and destroyed on main, run on the stats thread.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/accept_loop.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/prom_file.h"
#include "metrics/sampler.h"
#include "metrics/stats_log.h"
#include "metrics/stats_server.h"

namespace sp::metrics {

inline constexpr int64_t kFreshNs = 20 * kNsPerMs;   // snapshots this young are reused, not re-sampled
inline constexpr int64_t kSweepNs = 500 * kNsPerMs;  // how often stalled clients are looked for
// Connects the listener holds while the stats thread answers earlier ones: a burst of 1,000 idle
// clients had SYNs dropped and resent a second later with 64.
inline constexpr int kListenBacklog = 1024;

// Binds and listens on a Unix socket owner-only (0600), replacing a stale socket file from an
// earlier run but nothing else; `bound` gets the file's identity (stats_endpoint.cc).
Fd listen_unix(const std::string& path, struct stat* bound);

class StatsServer::Impl {
 public:
  Impl(const StatsOptions& options, StatsSource source);
  ~Impl();
  void reopen_log();  // any thread

  std::string address;
  int tid = 0;

 private:
  class Client;
  // Client is complete only in stats_connection.cc; the table's deleter is defined there.
  struct ClientDeleter {
    void operator()(Client* c) const;
  };

  void start_on_thread(EventLoop& loop);
  void tick();
  const std::string& current_json();
  std::string current_prometheus();
  void render(const RawSample& now);
  // stats_connection.cc
  void accept(Fd client);
  void sweep();
  Client* find(uint64_t id);
  void forget(uint64_t id);
  void close_clients();  // the loop has stopped

  StatsOptions options_;
  StatsLimits limits_;
  StatsEndpoint endpoint_;
  Fd listen_fd_;  // handed to listener_ on the stats thread
  bool unix_bound_ = false;
  struct stat unix_stat_ {};
  StatsLog log_;
  PromFile prom_;
  Sampler sampler_;
  EventLoop* loop_ = nullptr;

  // Stats thread only from here on.
  std::unique_ptr<AcceptLoop> listener_;
  RawSample start_, begin_, end_;
  bool have_window_ = false;
  int64_t next_tick_ = 0;
  std::string json_;
  Snapshot snapshot_;  // what json_ was rendered from
  int64_t json_at_ = 0;
  std::string help_;
  std::string schema_;
  std::unordered_map<uint64_t, std::unique_ptr<Client, ClientDeleter>> clients_;
  uint64_t next_client_ = 1;
  size_t watchers_ = 0;  // clients in clients_ that are watching: not counted against max_clients
  std::unique_ptr<LoopThread> thread_;  // last: starts after, and stops before, everything above
};

}  // namespace sp::metrics
