// The remote the proxy forwards to: resolved at start and again, in the background, when connects
// fail, so a remote that restarts under a new address (a Compose service) is found again.
//
// Thread context: current() and refresh() are safe from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/address.h"

namespace sp {

class Remote {
 public:
  using Addresses = std::vector<SocketAddress>;
  // Resolves once now; throws std::runtime_error if that fails.
  explicit Remote(HostPort where);
  ~Remote();

  std::shared_ptr<const Addresses> current() const { return addresses_.load(std::memory_order_acquire); }
  // Asks for a new resolution (at most one a second; a no-op for numeric addresses).
  void refresh();
  const HostPort& where() const { return where_; }

 private:
  void resolver_main();

  HostPort where_;
  bool numeric_;
  std::atomic<std::shared_ptr<const Addresses>> addresses_;
  std::mutex mutex_;
  std::condition_variable wanted_;
  bool refresh_wanted_ = false;
  bool stopping_ = false;
  std::thread resolver_;
};

}  // namespace sp
