// A worker's share of the kernel relay (--mode sockmap): its byte counters, folded into its
// bytes_in / bytes_out every 100 ms while it has sockmap sessions and when one ends (so a closed
// session's bytes are in), with the retransmitted segments the program trimmed, and its event
// ring, on which the program reports a direction it cannot go on relaying (its kernel queue passed
// SP_RELAY_QUEUE_LIMIT, or a retransmission could not be trimmed); the session is told.
//
// It measures what its sessions leave queued in the kernel (redirected, not yet taken by the
// destination's TCP: memory no socket is charged for) once a second: the gauge
// sockmap_kernel_queued_bytes. The relay holds each direction at SP_RELAY_HOLD_AT of it; a lower
// threshold shared within --memory-budget stalled crowds (docs/sockmap.md).
//
// It also asks the process's TcpMemoryGuard whether a new session may use the kernel relay at all.
//
// Thread context: its worker's loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/event_loop.h"
#include "common/fd.h"
#include "metrics/counters.h"
#include "server/paths/sockmap.h"
#include "server/paths/wide_buffers.h"

struct ring_buffer;

namespace sp {

class TcpMemoryGuard;

// A session in the maps, told what the program reports of its sockets on the worker's ring.
class SockmapSession {
 public:
  virtual void told(uint64_t cookie, uint32_t what) = 0;
  // Widens or narrows the destinations' send buffers (server/paths/wide_buffers.h).
  virtual void set_wide(bool wide) = 0;
  // Bytes the kernel redirected for the direction whose source has this cookie that the
  // destination's TCP has not taken yet.
  virtual int64_t kernel_queued(uint64_t cookie) const = 0;

 protected:
  ~SockmapSession() = default;
};

class SockmapWorker : public Handler {
 public:
  // Throws std::system_error where the kernel refuses the worker's ring. `memory_budget`: what the
  // worker's widened sessions may hold in their send buffers (--memory-budget);
  // `tcp_memory`: the process's verdict on the kernel's TCP memory, shared by the workers.
  SockmapWorker(Sockmap& map, int worker, EventLoop& loop, metrics::WorkerCounters& counters, size_t memory_budget,
                TcpMemoryGuard& tcp_memory);
  ~SockmapWorker() override;
  SockmapWorker(const SockmapWorker&) = delete;
  SockmapWorker& operator=(const SockmapWorker&) = delete;

  Sockmap& map() { return map_; }
  // Whether a new session may use the kernel relay (false: relay it with splice; tcp_memory_guard.h).
  bool admit_session();
  uint32_t counter() const { return Sockmap::counter_of(worker_); }
  uint32_t ring() const { return static_cast<uint32_t>(worker_); }
  // `keys` are the relay's sockets, in the maps now; the ring names them.
  void session_started(SockmapSession* session, const Sockmap::Keys& keys);
  // Whether a session whose direction turned bulk may widen its send buffers now (then it does;
  // later changes come through set_wide).
  bool admit_wide(SockmapSession* session);
  void session_ended(const Sockmap::Keys& keys);
  void sync();

 private:
  void on_events(uint32_t events) override;
  void arm();
  void watch_memory();
  void publish_wide_sessions();  // the gauge follows wide_
  void measure_kernel_queues();
  // Pages of TCP memory in use (/proc/net/sockstat), read at most every few milliseconds.
  std::optional<int64_t> tcp_pages();
  static int on_ring_event(void* self, void* data, size_t size);

  Sockmap& map_;
  int worker_;
  EventLoop& loop_;
  metrics::WorkerCounters& counters_;
  Fd ring_fd_;
  ring_buffer* ring_ = nullptr;
  std::unordered_map<uint64_t, SockmapSession*> relays_;  // by socket cookie, both sockets of each
  unsigned syncs_ = 0;
  uint64_t up_ = 0;  // what the map said last time
  uint64_t down_ = 0;
  uint64_t trims_ = 0;
  EventLoop::TimerId timer_ = 0;
  TcpMemoryGuard& tcp_memory_;
  WideBuffers wide_;
  std::optional<int64_t> pages_;
  int64_t pages_at_ns_ = 0;
};

}  // namespace sp
