// One io_uring per worker, the completion-based data path of --mode uring. It owns the ring, the
// provided buffers the kernel picks from when a receive completes (so an idle connection holds no
// buffer), and the worker's sleep: the EventLoop hands it its wait (Sleeper), so one
// io_uring_enter submits everything the sessions queued during an iteration and waits, and the
// epoll set (listener hand-offs, timers' wake-ups, connects) is watched by a multishot poll on the
// ring.
//
// What it builds on depends on the kernel (uring_features.h): with incremental consumption one
// ring of 64 KiB buffers serves every receive, each taking the next bytes of the buffer at the
// head, and a buffer goes back to the kernel once the kernel has moved past it and every slice of
// it was sent; without, two pools of whole buffers, small and large. With DEFER_TASKRUN the
// completions' work runs when the worker waits; with the batch wait that wait does not end at the
// completion of each send it issued itself.
//
// Thread context: its worker's loop thread only (created there too).
#pragma once

#include <liburing.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "metrics/counters.h"
#include "server/paths/uring_features.h"

namespace sp {

// Something with at most one request in flight on the ring, told of its completion.
class UringOp {
 public:
  virtual void on_completion(int result, uint32_t flags) = 0;
  // What it asked Uring::after_batch for.
  virtual void after_batch() {}

 protected:
  ~UringOp() = default;
};

// Without incremental consumption: two pools of provided buffers, as two rungs of a size ladder:
// small ones for messages, large ones for bulk. A direction receives into a small buffer until one
// comes back full, then into large ones until a receive fits a small one again. With it, only the
// first group exists, and its buffers have the large size.
enum UringGroup : uint16_t { kSmallBuffers = 0, kLargeBuffers = 1 };
inline constexpr int kUringGroups = 2;

// With incremental consumption the ring's buffers are at most this large: a slice a slow
// destination holds pins its whole buffer (DataPathOptions::finish).
inline constexpr size_t kIncrementalBufferMax = 64 << 10;

struct UringOptions {
  unsigned entries = 1024;  // submission queue; the completion queue is four times as large
  size_t buffer_size[kUringGroups] = {16 << 10, 1 << 20};
  unsigned buffers[kUringGroups] = {256, 4};  // per worker (powers of two); memory touched when used
  // With incremental consumption: one ring of these instead of the two pools.
  size_t incremental_buffer_size = kIncrementalBufferMax;
  unsigned incremental_buffers = 128;
  uint32_t features = 0;  // of the kernel's (probe_uring_features()), the ones to use
  // --uring-coalesce: a wait that found no completion ready lasts at least this long (unless the
  // ring's worth completes), and then ends at the first (0: it ends at the first at once), while
  // the worker relays kCoalesceSessions sessions or more: a lone connection or stream, whose every
  // hop would wait the whole time, is left alone. Needs the batch wait's min_wait (Linux 6.12).
  unsigned coalesce_us = 0;
};

// Where a receive's bytes are: which buffer, from which byte of it.
struct UringSlice {
  uint16_t id;
  uint32_t start;
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
  // the buffer (take()), or the result is -ENOBUFS when every buffer of it is taken.
  // poll_first: the socket was just drained, so skip the attempt that would only say EAGAIN and
  // wait for data straight away.
  // max_len caps the receive below the buffer's size (a turn's budget).
  void receive(int fd, UringGroup group, UringOp* op, bool poll_first = false, size_t max_len = SIZE_MAX);
  // A receive that stays armed (kUringMultishot): it completes with IORING_CQE_F_MORE for each
  // batch of bytes, each into a buffer of the pool, until it fails, meets EOF, finds the pool dry
  // or is cancelled (cancel_request()); that last completion comes without IORING_CQE_F_MORE.
  void receive_multishot(int fd, UringGroup group, UringOp* op);
  // Cancels op's request (a multishot receive); its last completion follows.
  void cancel_request(UringOp* op);
  // A receive into the caller's own buffer (when the pools ran dry).
  void receive_into(int fd, char* data, size_t len, UringOp* op);
  // Completes (with the poll mask) once fd has something to read, or has hung up.
  void poll_readable(int fd, UringOp* op);
  void send(int fd, const char* data, size_t len, UringOp* op);
  // kUringLinkedSends: a send of all `len` bytes (MSG_WAITALL) whose success posts no completion,
  // linked to a receive as receive() makes it, which the kernel issues once the send completed:
  // the receive's completion says the send succeeded. A failed send completes (its error, or the
  // bytes it sent before it) and its receive then never does. Counted until linked_done().
  void send_then_receive(int dst, const char* data, size_t len, UringOp* send_op, int src, UringGroup group,
                         UringOp* receive_op, bool poll_first, size_t max_len);
  // Whether another linked send may start: each pins its buffer until its direction's next
  // message, so an idle connection's last one stays pinned; half the small pool at most.
  bool may_link() const { return linked_ < groups_[kSmallBuffers].count / 2; }
  // A linked send's outcome is known (its receive completed, or it failed).
  void linked_done() { --linked_; }
  // Cancels every request on fd; each completes (with -ECANCELED or its own result).
  void cancel(int fd);
  // kUringConnect: connects fd (a non-blocking socket) to addr, which must stay valid until the
  // next submission; the completion's result is 0 or -errno.
  void connect(int fd, const sockaddr* addr, socklen_t length, UringOp* op);
  // Closes fd with the next submission (no completion): the number stays taken until then, so no
  // socket made meanwhile can get it. Nothing may be in flight on fd.
  void close(int fd);

  // The features in effect (those of options.features this ring could set up).
  uint32_t features() const { return features_; }
  // The coalescing wait in effect, in microseconds (0: none, or the kernel lacks min_wait).
  unsigned coalesce_us() const { return coalesce_us_; }
  // How many pools there are: 1 with incremental consumption, else 2 (small, large).
  int groups() const { return incremental_ ? 1 : kUringGroups; }
  size_t buffer_size(UringGroup group) const { return groups_[group].size; }
  char* data(UringGroup group, const UringSlice& s) { return groups_[group].memory + s.id * groups_[group].size + s.start; }
  // A completion of `result` > 0 bytes with IORING_CQE_F_BUFFER: the caller holds the slice until
  // release().
  UringSlice take(UringGroup group, int result, uint32_t flags);
  // A completion that carried a buffer whose bytes nobody takes (EOF, a receive while stopping).
  void drop(UringGroup group, int result, uint32_t flags);
  // The slice of `length` bytes was sent: its buffer goes back to the kernel once nothing else
  // holds it.
  void release(UringGroup group, const UringSlice& s, uint32_t length);

  bool sleep(int epoll_fd, int timeout_ms) override;

  // Directions whose last receive filled what it asked for: how many share a round of the ring.
  size_t bulk_directions() const { return bulk_directions_; }
  void add_bulk_direction(int delta) { bulk_directions_ += static_cast<size_t>(delta); }
  // Sessions relaying on the ring: the coalescing wait applies from kCoalesceSessions on.
  void add_session(int delta) { sessions_ += static_cast<size_t>(delta); }
  static constexpr size_t kCoalesceSessions = 8;
  // Calls op->after_batch() once every completion of the batch being dispatched was (at once
  // outside one): a bulk direction's send is prepared there, so that the send of a light direction
  // whose completion comes later in the batch is submitted ahead of it. The caller asks once per
  // batch, and forget()s an op it asked for before destroying it.
  void after_batch(UringOp* op);
  void forget(UringOp* op);

 private:
  struct Buffer {
    uint32_t used = 0;        // bytes the kernel filled (incremental consumption)
    uint32_t slices = 0;      // held by relays
    bool with_kernel = true;  // the kernel may still fill it
  };
  struct Group {
    size_t size = 0;
    unsigned count = 0;
    io_uring_buf_ring* ring = nullptr;
    size_t ring_bytes = 0;
    char* memory = nullptr;  // count * size, mapped untouched: pages become resident when filled
    std::vector<Buffer> buffers;
    unsigned returned = 0;  // buffers given back since the last advance
  };
  static uint16_t buffer_id(uint32_t flags) { return static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT); }
  void register_group(UringGroup group, size_t size, unsigned count);
  void give_back(UringGroup group, uint16_t id);
  void submit_now();  // hands the queued requests to the kernel without waiting
  io_uring_sqe* next_sqe();
  void dispatch(io_uring_cqe* cqe, bool& epoll_ready);
  int wait(int timeout_ms);

  UringOptions options_;
  metrics::WorkerCounters& counters_;
  io_uring ring_{};
  uint32_t features_ = 0;
  unsigned coalesce_us_ = 0;
  bool incremental_ = false;
  Group groups_[kUringGroups];
  unsigned sends_since_wait_ = 0;  // each may complete as it is issued: the batch wait expects them
  unsigned linked_ = 0;            // linked sends whose outcome is not known yet
  size_t bulk_directions_ = 0;
  size_t sessions_ = 0;
  bool epoll_watched_ = false;
  int epoll_fd_ = -1;
  bool dispatching_ = false;
  std::vector<UringOp*> after_batch_;
};

}  // namespace sp
