// One io_uring per worker, the completion-based data path of --mode uring. It owns the ring, a
// pool of provided buffers the kernel picks from when a receive completes (so an idle connection
// holds no buffer), and the worker's sleep: the EventLoop hands it its wait (Sleeper), so one
// io_uring_enter submits everything the sessions queued during an iteration and waits for the
// next completion, and the epoll set (listener hand-offs, timers' wake-ups, connects) is watched
// by a multishot poll on the ring.
//
// Thread context: its worker's loop thread only (created there too).
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "metrics/counters.h"

namespace sp {

// Something with at most one request in flight on the ring, told of its completion.
class UringOp {
 public:
  virtual void on_completion(int result, uint32_t flags) = 0;

 protected:
  ~UringOp() = default;
};

// Two pools of provided buffers, as two rungs of a size ladder: small ones for messages, large
// ones for bulk. A direction receives into a small buffer until one comes back full, then into
// large ones until a receive fits a small one again.
enum UringGroup : uint16_t { kSmallBuffers = 0, kLargeBuffers = 1 };
inline constexpr int kUringGroups = 2;

struct UringOptions {
  unsigned entries = 1024;  // submission queue; the completion queue is four times as large
  size_t buffer_size[kUringGroups] = {16 << 10, 1 << 20};
  unsigned buffers[kUringGroups] = {256, 4};  // per worker (powers of two), resident from the start
};

class Uring : public Sleeper {
 public:
  // Empty when this kernel and process can run the uring data path; otherwise why not (the
  // failing call and its errno), for the one log line of the fallback.
  static std::string probe();

  Uring(const UringOptions& options, metrics::WorkerCounters& counters);  // throws std::system_error
  ~Uring() override;
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;

  // A receive on fd into a buffer the kernel picks from that pool; the completion's flags carry
  // the buffer id (buffer_id()), or the result is -ENOBUFS when every buffer of it is taken.
  // poll_first: the socket was just drained, so skip the attempt that would only say EAGAIN and
  // wait for data straight away.
  // max_len caps the receive below the buffer's size (a turn's budget).
  void receive(int fd, UringGroup group, UringOp* op, bool poll_first = false, size_t max_len = SIZE_MAX);
  // A receive into the caller's own buffer (when the pools ran dry).
  void receive_into(int fd, char* data, size_t len, UringOp* op);
  // Completes (with the poll mask) once fd has something to read, or has hung up.
  void poll_readable(int fd, UringOp* op);
  void send(int fd, const char* data, size_t len, UringOp* op);
  // Cancels every request on fd; each completes (with -ECANCELED or its own result).
  void cancel(int fd);

  static uint16_t buffer_id(uint32_t flags) { return static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT); }
  char* buffer(UringGroup group, uint16_t id) { return groups_[group].memory.get() + id * groups_[group].size; }
  size_t buffer_size(UringGroup group) const { return groups_[group].size; }
  // A completion handed the caller this buffer (counted as held until given back).
  void taken(UringGroup group) { counters_.buffer_bytes_held.add(groups_[group].size); }
  // Gives a buffer back to its pool for the kernel to fill again.
  void give_back(UringGroup group, uint16_t id);

  bool sleep(int epoll_fd, int timeout_ms) override;

  // Directions whose last receive filled what it asked for: how many share a round of the ring.
  size_t bulk_directions() const { return bulk_directions_; }
  void add_bulk_direction(int delta) { bulk_directions_ += static_cast<size_t>(delta); }

 private:
  struct Group {
    size_t size = 0;
    unsigned count = 0;
    io_uring_buf_ring* ring = nullptr;
    size_t ring_bytes = 0;
    std::unique_ptr<char[]> memory;
    unsigned returned = 0;  // buffers given back since the last advance
  };
  void register_group(UringGroup group);
  io_uring_sqe* next_sqe();
  void dispatch(io_uring_cqe* cqe, bool& epoll_ready);

  UringOptions options_;
  metrics::WorkerCounters& counters_;
  io_uring ring_{};
  Group groups_[kUringGroups];
  size_t bulk_directions_ = 0;
  bool epoll_watched_ = false;
  int epoll_fd_ = -1;
};

}  // namespace sp
