// --max-connections: the count of live connections, taken where a connection is admitted (on the
// accepting thread, before the hand-off) and given back when its session has closed its sockets
// (on the worker). Counting sessions once the workers had started them let a burst through: 200
// connects at once with a limit of 10 served 19 to 139, because the acceptor compared a count
// that lagged behind every hand-off still queued.
//
// Thread context: try_admit() and release() from any thread (one atomic).
#pragma once

#include <atomic>
#include <cstdint>

namespace sp {

class Admission {
 public:
  explicit Admission(uint64_t limit) : limit_(limit) {}  // 0: no limit, nothing counted
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;

  // Takes a slot if one is free. A compare-and-swap rather than add-then-undo: a racing acceptor
  // (--reuseport) never sees a count inflated by a refusal, so none is refused while a slot is free.
  bool try_admit() {
    if (!limit_) return true;
    uint64_t n = live_.load(std::memory_order_relaxed);
    do {
      if (n >= limit_) return false;
    } while (!live_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
  }
  // Gives back the slot of an admitted connection whose session has ended.
  void release() {
    if (limit_) live_.fetch_sub(1, std::memory_order_relaxed);
  }
  uint64_t live() const { return live_.load(std::memory_order_relaxed); }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> live_{0};
};

}  // namespace sp
