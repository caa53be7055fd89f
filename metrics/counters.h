// Per-worker event counters. Each worker is the single writer of its own block, so an increment
// is a relaxed load and store (no locked instruction on the hot path); the stats thread reads
// them with relaxed loads. Blocks are cache-line aligned so workers never share a line.
//
// The counter list is defined once, here, with unit and description; the struct, the JSON and
// the `help` table are all generated from SP_WORKER_COUNTERS.
#pragma once

#include <atomic>
#include <cstdint>

namespace sp::metrics {

// X(name, unit, description)
#define SP_WORKER_COUNTERS(X)                                                                       \
  X(bytes_in, "bytes", "bytes moved from clients to the remote")                                    \
  X(bytes_out, "bytes", "bytes moved from the remote to clients")                                   \
  X(connections_total, "connections", "sessions handed to this worker since start")                \
  X(connections_closed, "connections", "sessions this worker has finished")                        \
  X(splice_calls, "calls", "splice(2) calls made by the pumps")                                     \
  X(read_calls, "calls", "read(2) calls made by the read/write pumps")                              \
  X(write_calls, "calls", "write(2) calls made by the read/write pumps")                            \
  X(eagain, "events", "pump calls that found a socket not ready (EAGAIN)")                          \
  X(pipe_pool_hits, "pipes", "pipes taken from the worker's pool")                                  \
  X(pipe_pool_misses, "pipes", "pipes created because the pool was empty")                          \
  X(pipe_resize_failures, "pipes", "pipes the kernel refused to grow to --pipe-size")               \
  X(rw_fallbacks, "sessions", "splice sessions that fell back to read/write (no pipe available)")   \
  X(connect_failed, "connections", "remote connects refused or unreachable")                        \
  X(connect_timeout, "connections", "remote connects that hit --connect-timeout")                   \
  X(resets, "connections", "sessions ended by a reset or socket error")                             \
  X(idle_timeouts, "connections", "sessions closed by --idle-timeout")                             \
  X(session_errors, "sessions", "sessions closed because setting them up failed (e.g. epoll_ctl)")

#define SP_COUNT_COUNTER(name, unit, description) +1
inline constexpr int kWorkerCounterCount = 0 SP_WORKER_COUNTERS(SP_COUNT_COUNTER);
#undef SP_COUNT_COUNTER

class Counter {
 public:
  // Single writer: a plain load and store, no locked instruction.
  void add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  // Several writers (e.g. per-listener counts with --reuseport): an atomic read-modify-write.
  void add_shared(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct alignas(64) WorkerCounters {
#define SP_DECLARE_COUNTER(name, unit, description) Counter name;
  SP_WORKER_COUNTERS(SP_DECLARE_COUNTER)
#undef SP_DECLARE_COUNTER

  uint64_t connections_active() const {
    uint64_t closed = connections_closed.get();  // read first: total only grows past it
    uint64_t total = connections_total.get();
    return total > closed ? total - closed : 0;
  }
  uint64_t bytes() const { return bytes_in.get() + bytes_out.get(); }
};

}  // namespace sp::metrics
