// Whether a new --mode sockmap session may use the kernel relay, by the kernel's TCP memory.
//
// Two-way bulk through the relay leaks that memory (a lost update of sk_forward_alloc in the psock
// backlog, Linux 6.18: docs/sockmap.md), which no socket ever gives back, and past tcp_mem's first
// mark the kernel may stay in memory pressure for good, where no TCP window grows and the kernel
// relay crawls. So while the kernel's TCP memory is at or above --sockmap-tcp-memory (50 % by
// default) of that mark, new sessions are relayed with splice, which leaks nothing and copes with
// pressure; the kernel relay takes them again once the figure fell 5 points of the mark below it
// (a figure hovering at the mark would flip new sessions between paths and fill the log).
//
// The machine has one figure, so the process has one verdict: the workers share this guard, and a
// change is made, and logged, once, by whichever worker sees it first.
//
// Thread context: any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

namespace sp {

class TcpMemoryGuard {
 public:
  // `percent` of tcp_mem's first mark, read now.
  explicit TcpMemoryGuard(unsigned percent);

  // tcp_mem's first mark in pages (nullopt: unreadable).
  std::optional<int64_t> first_mark() const { return first_mark_; }
  // `pages`: the kernel's TCP memory now (nullopt: unreadable, so nothing to go by: admitted).
  bool admit(std::optional<int64_t> pages);

 private:
  std::optional<int64_t> first_mark_;
  std::optional<int64_t> decline_at_;  // pages from which new sessions go to splice
  int64_t admit_below_ = 0;            // pages under which, once declining, they use the kernel relay again
  std::atomic<bool> declining_{false};
};

}  // namespace sp
