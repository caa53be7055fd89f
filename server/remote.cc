#include "server/remote.h"

#include <arpa/inet.h>

#include <chrono>

#include "common/log.h"

namespace sp {
namespace {
bool is_numeric(const std::string& host) {
  unsigned char probe[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), probe) == 1 || inet_pton(AF_INET6, host.c_str(), probe) == 1;
}
}  // namespace

Remote::Remote(HostPort where) : where_(std::move(where)), numeric_(is_numeric(where_.host)) {
  addresses_.store(std::make_shared<const Addresses>(resolve(where_, false)));
  if (!numeric_) resolver_ = std::thread([this] { resolver_main(); });
}

Remote::~Remote() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wanted_.notify_all();
  if (resolver_.joinable()) resolver_.join();
}

void Remote::refresh() {
  if (numeric_) return;
  {
    std::lock_guard lock(mutex_);
    refresh_wanted_ = true;
  }
  wanted_.notify_one();
}

void Remote::resolver_main() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wanted_.wait(lock, [this] { return refresh_wanted_ || stopping_; });
    if (stopping_) return;
    refresh_wanted_ = false;
    lock.unlock();
    try {
      addresses_.store(std::make_shared<const Addresses>(resolve(where_, false)), std::memory_order_release);
    } catch (const std::exception& e) {
      log::warn(e.what(), " (keeping the previous addresses)");
    }
    lock.lock();
    // A dead remote makes every connect fail: resolve at most once a second.
    wanted_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
  }
}

}  // namespace sp
