// The backends the proxy forwards to (-r, repeatable, each with a weight): which one a new
// session connects to, and which are up. A backend is a Remote (a name resolved in the
// background) with its state:
//   - passive: `--fall` connects in a row that failed take it out; one that works resets the count;
//   - active (`--check-interval` > 0): a checker thread connects to each backend every interval,
//     within `--check-timeout`; `--fall` failed checks in a row take it out, `--rise` passed ones
//     bring it back.
// Sessions pick among the backends that are up (round-robin by weight, least connections per
// weight, or a hash of the client's address); when none is up they pick among all, since a
// refused connect costs a client less than a refusal of every client.
//
// Thread context: pick(), connected(), failed(), finished() from any worker; the checker owns its
// thread; the counters are read by the stats thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/address.h"
#include "common/cidr.h"
#include "metrics/counters.h"
#include "server/proxy/remote.h"

namespace sp {

struct BackendSpec {
  HostPort where;
  unsigned weight = 1;  // 0: never picked while another is up (a standby)
};

// "HOST[:PORT][,weight=N]"; throws std::invalid_argument naming the bad part.
BackendSpec parse_backend(const std::string& text, uint16_t default_port);

enum class BackendBalance { kRoundRobin, kLeastConnections, kSourceHash };

struct BackendChecks {
  int64_t interval_ns = 0;  // 0: no active checks
  int64_t timeout_ns = 1'000'000'000;
  unsigned rise = 2;
  unsigned fall = 3;  // also the connect failures in a row that take a backend out
};

// One backend's numbers, read by the stats (metrics/): gauges `up` (0 or 1), `weight` and
// `active`; counters for the rest.
struct BackendCounters {
  metrics::Counter up;
  metrics::Counter weight;
  metrics::Counter active;
  metrics::Counter connects;
  metrics::Counter connect_failures;
  metrics::Counter checks_passed;
  metrics::Counter checks_failed;
  metrics::Counter went_down;
};

class Backend {
 public:
  Backend(const BackendSpec& spec, Remote::Resolver resolver);
  Remote& remote() { return remote_; }
  const BackendSpec& spec() const { return spec_; }
  bool up() const { return up_.load(std::memory_order_relaxed); }
  const BackendCounters& counters() const { return counters_; }

 private:
  friend class BackendPool;
  BackendSpec spec_;
  Remote remote_;
  std::atomic<bool> up_{true};
  std::atomic<unsigned> failures_in_a_row_{0};  // connects and checks
  unsigned checks_passed_in_a_row_ = 0;         // the checker's
  BackendCounters counters_;
};

class BackendPool {
 public:
  BackendPool(const std::vector<BackendSpec>& specs, BackendBalance balance, BackendChecks checks,
              Remote::Resolver resolver = {});
  ~BackendPool();
  BackendPool(const BackendPool&) = delete;
  BackendPool& operator=(const BackendPool&) = delete;

  // The backend for a new session, skipping those in `tried` (a bit per backend index) while any
  // other is left; null when every backend was tried. `client` feeds the source hash.
  Backend* pick(const AddressBytes& client, uint64_t tried);
  size_t index_of(const Backend* b) const;
  void connected(Backend& b);  // a session's connect worked: it holds the backend until finished()
  void failed(Backend& b);     // a session's connect failed (every address of the backend)
  void finished(Backend& b);   // a session that connected has ended
  const std::vector<std::unique_ptr<Backend>>& backends() const { return backends_; }
  bool hashes_clients() const { return balance_ == BackendBalance::kSourceHash; }
  std::string describe() const;  // "10.0.0.1:80 (weight 2), 10.0.0.2:80"

 private:
  void mark(Backend& b, bool up, const std::string& why);
  void checker_main();
  bool check(Backend& b);

  std::vector<std::unique_ptr<Backend>> backends_;
  BackendBalance balance_;
  BackendChecks checks_;
  std::vector<size_t> schedule_;  // round-robin: each index repeated by its weight, interleaved
  std::atomic<uint64_t> turn_{0};
  std::mutex mutex_;
  std::condition_variable stop_wanted_;
  bool stopping_ = false;
  std::atomic<bool> stop_checks_{false};  // read between two checks without the mutex
  std::thread checker_;
};

}  // namespace sp
