// The remote the proxy forwards to: resolved at start and again, in the background, when connects
// fail, so a remote that restarts under a new address (a Compose service) is found again. A name
// that does not resolve at start (a Swarm or Compose service that is not up yet) does not stop
// the proxy: the list stays empty, sessions close their clients at once, and the resolver thread
// retries with a backoff until the name resolves.
//
// Thread context: current() and refresh() are safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/address.h"

namespace sp {

// How an unresolved name is retried. (Outside Remote: a nested struct's member initializers are
// not usable in Remote's own default arguments.)
struct RemoteBackoff {
  std::chrono::milliseconds first{100};  // the wait after the first failed attempt, doubling
  std::chrono::milliseconds max{5000};   // up to this
};

class Remote {
 public:
  using Addresses = std::vector<SocketAddress>;
  // Throws std::runtime_error naming the host and the resolver's error (sp::resolve does).
  using Resolver = std::function<Addresses(const HostPort&)>;
  using Backoff = RemoteBackoff;

  // Resolves once now. A numeric address that fails throws; a name that fails is logged (once)
  // and retried in the background, current() being empty until it resolves.
  explicit Remote(HostPort where, Resolver resolver = {}, Backoff backoff = {});
  ~Remote();

  // Never null; empty while the name has not resolved yet.
  std::shared_ptr<const Addresses> current() const {
    std::lock_guard lock(addresses_mutex_);
    return addresses_;
  }
  // Asks for a new resolution (at most one a second; a no-op for numeric addresses and while the
  // name has not resolved yet: the backoff is already retrying).
  void refresh();
  const HostPort& where() const { return where_; }
  // Resolver calls made so far, the one at start included.
  unsigned attempts() const { return attempts_.load(std::memory_order_relaxed); }

 private:
  void resolver_main();
  bool try_resolve();  // true when it stored a new list

  HostPort where_;
  bool numeric_;
  Resolver resolver_fn_;
  Backoff backoff_;
  // A mutex, not std::atomic<std::shared_ptr>: libstdc++ 12 guards that with a lock bit that
  // ThreadSanitizer cannot see, so every load racing a store was reported. Taken once per connect.
  mutable std::mutex addresses_mutex_;
  std::shared_ptr<const Addresses> addresses_;
  std::atomic<unsigned> attempts_{0};
  bool resolved_ = false;  // the resolver thread's; set before it starts when the first try worked
  std::mutex mutex_;
  std::condition_variable wanted_;
  bool refresh_wanted_ = false;
  bool stopping_ = false;
  std::thread resolver_;
};

}  // namespace sp
