#include "server/proxy/remote.h"

#include <arpa/inet.h>

#include <algorithm>

#include "common/log.h"

namespace sp {
namespace {
bool is_numeric(const std::string& host) {
  unsigned char probe[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), probe) == 1 || inet_pton(AF_INET6, host.c_str(), probe) == 1;
}

std::string describe(const Remote::Addresses& list) {
  std::string out;
  for (const auto& addr : list) out += (out.empty() ? "" : ", ") + addr.to_string();
  return out;
}
}  // namespace

Remote::Remote(HostPort where, Resolver resolver, Backoff backoff)
    : where_(std::move(where)),
      numeric_(is_numeric(where_.host)),
      resolver_fn_(resolver ? std::move(resolver) : [](const HostPort& w) { return resolve(w, false); }),
      backoff_(backoff) {
  addresses_ = std::make_shared<const Addresses>();
  if (numeric_) {
    addresses_ = std::make_shared<const Addresses>(resolver_fn_(where_));  // a literal cannot "resolve later"
    return;
  }
  try {
    resolved_ = try_resolve();
  } catch (const std::exception& e) {
    // Services that start together (Compose, Swarm) may not have their names yet: say so once,
    // then keep trying quietly.
    log::warn(e.what(), "; retrying in the background (", backoff_.first.count(), " ms doubling to ",
              backoff_.max.count(), " ms); clients are closed until it resolves");
  }
  resolver_ = std::thread([this] { resolver_main(); });
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

bool Remote::try_resolve() {
  attempts_.fetch_add(1, std::memory_order_relaxed);
  auto list = std::make_shared<const Addresses>(resolver_fn_(where_));
  if (list->empty()) throw std::runtime_error("cannot resolve '" + where_.host + "': no addresses");
  std::lock_guard lock(addresses_mutex_);
  addresses_ = std::move(list);
  return true;
}

void Remote::resolver_main() {
  std::unique_lock lock(mutex_);
  auto delay = backoff_.first;
  while (!resolved_) {
    // Bounded: every wait ends at stopping_, and the delay stops doubling at backoff_.max.
    if (wanted_.wait_for(lock, delay, [this] { return stopping_; })) return;
    lock.unlock();
    try {
      resolved_ = try_resolve();
      // At the warning's level: whoever saw "cannot resolve" sees that it is over.
      log::warn("'", where_.host, "' resolves now: ", describe(*current()), " (attempt ", attempts(), ")");
    } catch (const std::exception& e) {
      log::debug(e.what(), " (attempt ", attempts(), ")");
      delay = std::min(delay * 2, backoff_.max);
    }
    lock.lock();
  }
  refresh_wanted_ = false;  // asked while it did not resolve: the backoff has answered that
  for (;;) {
    wanted_.wait(lock, [this] { return refresh_wanted_ || stopping_; });
    if (stopping_) return;
    refresh_wanted_ = false;
    lock.unlock();
    try {
      try_resolve();
    } catch (const std::exception& e) {
      log::warn(e.what(), " (keeping the previous addresses)");
    }
    lock.lock();
    // A dead remote makes every connect fail: resolve at most once a second.
    wanted_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
  }
}

}  // namespace sp
