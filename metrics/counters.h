// Per-worker event counters. Each worker is the single writer of its own block, so an increment
// is a relaxed load and store (no locked instruction on the hot path); the stats thread reads
// them with relaxed loads. Blocks are cache-line aligned so workers never share a line.
//
// The counter list is defined once, here, with unit and description; the struct, the JSON and
// the `help` table are all generated from SP_WORKER_COUNTERS.
#pragma once

#include <atomic>
#include <cstddef>
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
  X(idle_timeouts, "connections", "sessions closed by --idle-timeout")                              \
  X(proxy_header_invalid, "connections", "--accept-proxy: clients closed because their stream did not begin with a valid PROXY header") \
  X(proxy_header_timeouts, "connections", "--accept-proxy: clients closed because no whole PROXY header came within --accept-proxy-timeout") \
  X(session_errors, "sessions", "sessions closed because setting them up failed (e.g. epoll_ctl)")   \
  X(budget_refusals, "events", "growths refused by --memory-budget: the direction ran at the smallest size") \
  X(buffer_bytes_held, "bytes", "gauge: bytes of read/write buffers held by pumps right now (not pooled ones)") \
  X(pipe_bytes_held, "bytes", "gauge: bytes of pipe capacity held by pumps right now (not pooled ones)")      \
  X(auto_probes, "events", "--mode auto: bulk probes, each timing read/write against splice on one direction") \
  X(auto_chose_splice, "events", "--mode auto: probes that chose splice for the bulk that followed")          \
  X(uring_submissions, "requests", "--mode uring: requests handed to the kernel (SQEs)")               \
  X(uring_completions, "completions", "--mode uring: completions reaped (CQEs)")                          \
  X(uring_enters, "calls", "--mode uring: io_uring_enter calls (each submits a batch and may wait)")      \
  X(uring_enobufs, "events", "--mode uring: receives that found every provided buffer in use (ENOBUFS)")  \
  X(uring_cq_overflows, "events", "--mode uring: waits after which the completion queue had overflowed")  \
  X(uring_linked_sends, "requests", "--mode uring: sends linked to their direction's next receive, whose success posts no completion (--uring-features linked_sends)") \
  X(uring_connects, "requests", "--mode uring: remote connects made on the ring instead of in the event loop (--uring-features connect)") \
  X(sockmap_sessions, "sessions", "--mode sockmap: sessions whose bytes the kernel relayed")                \
  X(sockmap_overflows, "sessions", "--mode sockmap: sessions reset at a last-resort limit (256 MiB queued in the kernel for a destination, or 64 MiB held back and not yet moved on)") \
  X(sockmap_holds, "events", "--mode sockmap: times a direction's kernel queue reached 2 MiB and the relay held its sender back (its bytes moved on with read/write until the queue drained)") \
  X(sockmap_moved_bytes, "bytes", "--mode sockmap: bytes of held directions the worker moved on with read/write instead of the kernel relaying them (counted in bytes_in / bytes_out as well)") \
  X(sockmap_kernel_queued_bytes, "bytes", "gauge: --mode sockmap: bytes the kernel relayed that the destinations' TCP has not taken yet, summed over the worker's sessions each second (they wait in psock queues, which tcp_mem does not count)") \
  X(sockmap_trims, "segments", "--mode sockmap: retransmitted segments whose head repeated bytes already relayed, trimmed before relaying (the kernel would have sent them twice)") \
  X(sockmap_untrimmable, "sessions", "--mode sockmap: sessions reset because a retransmitted segment could not be trimmed (never seen; a byte sent twice is worse)") \
  X(sockmap_widened, "sessions", "--mode sockmap: times a session's destination send buffers were widened to 16 MiB (once a direction relayed 16 MiB, while its worker's widened sessions fit --memory-budget and the kernel's TCP memory was below tcp_mem's first mark)") \
  X(sockmap_narrowed, "sessions", "--mode sockmap: times a widened session was narrowed to 512 KiB because the kernel's TCP memory reached tcp_mem's first mark") \
  X(sockmap_wide_sessions, "sessions", "gauge: --mode sockmap sessions with widened send buffers right now") \
  X(sockmap_fallbacks, "sessions", "--mode sockmap: sessions the kernel would not take (maps full, socket no longer established), relayed with splice") \
  X(sockmap_declined, "sessions", "--mode sockmap: sessions relayed with splice because the kernel's TCP memory was at or above --sockmap-tcp-memory of tcp_mem's first mark when they started (two-way bulk through sockmap leaks the kernel's TCP memory: docs/sockmap.md)") \
  SP_SIZE_BUCKETS(X, buffers, "buffers", "read/write buffers handed to pumps")                                             \
  X(buffer_bytes_handed, "bytes", "the sizes of the read/write buffers handed to pumps, added up (with the buffers_* counts: their histogram)") \
  SP_SIZE_BUCKETS(X, pipes, "pipes", "pipes handed to pumps")                                                              \
  X(pipe_bytes_handed, "bytes", "the capacities of the pipes handed to pumps, added up (with the pipes_* counts: their histogram)")

// One counter per size bucket of what a pump was handed: <= 16 KiB, 32 KiB, ... 1 MiB, larger.
#define SP_SIZE_BUCKETS(X, what, unit, description)                                  \
  X(what##_16k, unit, description ", of at most 16 KiB")                       \
  X(what##_32k, unit, description ", of 16 KiB to 32 KiB")                     \
  X(what##_64k, unit, description ", of 32 KiB to 64 KiB")                     \
  X(what##_128k, unit, description ", of 64 KiB to 128 KiB")                   \
  X(what##_256k, unit, description ", of 128 KiB to 256 KiB")                  \
  X(what##_512k, unit, description ", of 256 KiB to 512 KiB")                  \
  X(what##_1m, unit, description ", of 512 KiB to 1 MiB")                      \
  X(what##_over_1m, unit, description ", of more than 1 MiB")

// The counters above that are gauges (bytes held right now: they go up and down); every other one
// only grows. Prometheus names the growing ones *_total (metrics/prometheus.cc).
#define SP_WORKER_GAUGES(X) X(buffer_bytes_held) X(pipe_bytes_held) X(sockmap_wide_sessions) \
  X(sockmap_kernel_queued_bytes)

#define SP_COUNT_COUNTER(name, unit, description) +1
inline constexpr int kWorkerCounterCount = 0 SP_WORKER_COUNTERS(SP_COUNT_COUNTER);
#undef SP_COUNT_COUNTER

class Counter {
 public:
  // Single writer: a plain load and store, no locked instruction.
  void add(uint64_t n = 1) { value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  // Several writers (e.g. per-listener counts with --reuseport): an atomic read-modify-write.
  void add_shared(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  // Gauges only (bytes held): the single writer takes back what it added.
  void sub(uint64_t n) { value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed); }
  // Gauges with several writers.
  void sub_shared(uint64_t n = 1) { value_.fetch_sub(n, std::memory_order_relaxed); }
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

  // A buffer or pipe handed to a pump: its size class and the sum of sizes (a histogram's count and sum).
  void count_buffer(size_t bytes) {
    (this->*kBufferBuckets[size_bucket(bytes)]).add();
    buffer_bytes_handed.add(bytes);
  }
  void count_pipe(size_t bytes) {
    (this->*kPipeBuckets[size_bucket(bytes)]).add();
    pipe_bytes_handed.add(bytes);
  }

 private:
  static constexpr size_t size_bucket(size_t bytes) {
    size_t bucket = 0;
    for (size_t limit = 16 << 10; bytes > limit && bucket < 7; limit *= 2) ++bucket;
    return bucket;
  }
#define SP_BUCKET_MEMBER(what) &WorkerCounters::what##_16k, &WorkerCounters::what##_32k, \
    &WorkerCounters::what##_64k, &WorkerCounters::what##_128k, &WorkerCounters::what##_256k, \
    &WorkerCounters::what##_512k, &WorkerCounters::what##_1m, &WorkerCounters::what##_over_1m
  static constexpr Counter WorkerCounters::* kBufferBuckets[8] = {SP_BUCKET_MEMBER(buffers)};
  static constexpr Counter WorkerCounters::* kPipeBuckets[8] = {SP_BUCKET_MEMBER(pipes)};
#undef SP_BUCKET_MEMBER
};

}  // namespace sp::metrics
