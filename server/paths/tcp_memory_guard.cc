#include "server/paths/tcp_memory_guard.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "common/log.h"
#include "metrics/proc.h"

namespace sp {
namespace {

// Declining ends this many points of tcp_mem's first mark below --sockmap-tcp-memory.
constexpr int64_t kAdmitAgainPoints = 5;

std::string mib(int64_t pages) {
  constexpr double kMiBPerPage = 4096.0 / (1 << 20);
  return std::to_string(std::lround(static_cast<double>(pages) * kMiBPerPage)) + " MiB";
}

}  // namespace

TcpMemoryGuard::TcpMemoryGuard(unsigned percent) {
  if (auto mark = metrics::proc::tcp_mem_mark(0)) first_mark_ = static_cast<int64_t>(*mark);
  if (!first_mark_) return;
  decline_at_ = *first_mark_ * percent / 100;
  admit_below_ = *first_mark_ * std::max<int64_t>(int64_t{percent} - kAdmitAgainPoints, 0) / 100;
}

bool TcpMemoryGuard::admit(std::optional<int64_t> pages) {
  if (!decline_at_ || !pages) return true;
  bool was = declining_.load(std::memory_order_relaxed);
  bool decline = *pages >= (was ? admit_below_ : *decline_at_);
  if (decline != was && declining_.compare_exchange_strong(was, decline, std::memory_order_relaxed)) {
    std::string figures = "the kernel's TCP memory (" + mib(*pages) + ") is " +
                          (decline ? "at or above " + mib(*decline_at_) + " ("
                                   : "below " + mib(admit_below_) + " (" + std::to_string(kAdmitAgainPoints) +
                                         " points under ") +
                          "--sockmap-tcp-memory of tcp_mem's first mark, " + mib(*first_mark_) + ")";
    if (decline)
      log::warn("sockmap: ", figures,
                ": new sessions are relayed with splice until it is 5 points under (two-way bulk through the kernel "
                "relay leaks TCP memory no socket gives back, and the relay crawls under memory pressure; a "
                "reboot or a higher net.ipv4.tcp_mem returns it: docs/sockmap.md)");
    else
      log::info("sockmap: ", figures, ": new sessions use the kernel relay again");
  }
  return !decline;
}

}  // namespace sp
