// The stats thread: samples the program every interval (rates, CPU percentages), serves snapshots
// on a TCP or Unix socket with the plain-text protocol of stats_protocol.h, and appends one JSON
// line per interval to --stats-log (and its Prometheus text to --stats-prom). It has its own LoopThread: it never blocks a worker, and the
// workers never wait for it (they only bump their relaxed counters).
//
// Thread context: construct and destroy on one thread (main); everything else runs on the stats
// thread. The StatsSource's counters must outlive the StatsServer.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/address.h"
#include "metrics/sampler.h"
#include "metrics/stats_protocol.h"

namespace sp::metrics {

inline constexpr uint16_t kDefaultStatsPort = 9997;
// The proxy's --stats default, and where proxy-top looks when given no address.
inline constexpr const char* kDefaultStatsAddress = "127.0.0.1:9997";

// --stats WHERE: "HOST:PORT" (a bare port or ":PORT" means 127.0.0.1), "unix:PATH" or "off".
struct StatsEndpoint {
  enum class Kind { kOff, kTcp, kUnix };
  Kind kind = Kind::kOff;
  HostPort tcp;
  std::string path;
  std::string to_string() const;
};
// Throws std::invalid_argument naming the problem.
StatsEndpoint parse_stats_endpoint(std::string_view text);

struct StatsOptions {
  std::string where = "off";  // see StatsEndpoint
  int64_t interval_ns = 1'000'000'000;
  std::string log_path;       // empty: no log; "-": stdout
  std::string prom_path;      // empty: no --stats-prom file
  StatsLimits limits;
};

// The stats socket could not be opened (address in use, bad path...); the message names it.
struct SocketError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class StatsServer {
 public:
  // Opens the log and checks the prom file's directory (std::system_error) and the socket
  // (SocketError), each error naming what failed, then starts the stats thread.
  StatsServer(const StatsOptions& options, StatsSource source);
  // Stops the thread, closes every client and removes a Unix socket file.
  ~StatsServer();
  StatsServer(const StatsServer&) = delete;
  StatsServer& operator=(const StatsServer&) = delete;

  // Where clients connect: "127.0.0.1:9997", "unix:/run/proxy.stats", or "" when the socket is off.
  const std::string& address() const;
  int tid() const;
  // Any thread: reopen --stats-log by its path (SIGHUP, after logrotate moved the file).
  void reopen_log();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// What both programs call: nullptr when the socket, the log and the prom file are all off. When the socket
// cannot be opened (SocketError) and `best_effort` is set (the proxy's default address, which
// another proxy may hold), logs a warning and carries on without the socket; otherwise throws.
std::unique_ptr<StatsServer> start_stats(const StatsOptions& options, StatsSource source, bool best_effort);

}  // namespace sp::metrics
