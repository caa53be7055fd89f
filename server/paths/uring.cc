#include "server/paths/uring.h"

#include <poll.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "server/paths/uring_abi.h"

namespace sp {
namespace {

constexpr uint64_t kIgnore = 0;     // cancels: their own completion says nothing we need
constexpr uint64_t kEpollTag = 1;   // the multishot poll on the loop's epoll fd

// The batch wait's limit: how long the worker waits for one completion more than the sends it
// issued before it takes what is there. Long enough for a loopback round trip behind a send
// (a 1 KiB echo answers in 20-60 us here), short beside a victim's latency when a send did not
// complete at once (its completion then counts for the event that did not come).
constexpr unsigned kBatchWaitUs = 50;

// The ring with the setup flags of `features` that this kernel accepts; `features` keeps those.
int setup(io_uring& ring, unsigned entries, uint32_t& features) {
  io_uring_params params{};
  params.cq_entries = entries * 4;
  if (features & kUringDeferTaskrun) {
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    if (io_uring_queue_init_params(entries, &ring, &params) == 0) return 0;
    features &= ~kUringDeferTaskrun;
  }
  params = io_uring_params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
  params.cq_entries = entries * 4;
  int rc = io_uring_queue_init_params(entries, &ring, &params);
  if (rc == -EINVAL) {  // an older kernel without COOP_TASKRUN
    params = io_uring_params{};
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 4;
    rc = io_uring_queue_init_params(entries, &ring, &params);
  }
  return rc;
}

}  // namespace

std::string Uring::probe() {
  io_uring ring{};
  uint32_t none = 0;
  if (int rc = setup(ring, 8, none); rc < 0) return "io_uring_setup: " + log::errno_text(-rc);
  std::string why;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  if (!probe || !io_uring_opcode_supported(probe, IORING_OP_RECV) || !io_uring_opcode_supported(probe, IORING_OP_SEND) ||
      !io_uring_opcode_supported(probe, IORING_OP_ASYNC_CANCEL))
    why = "this kernel's io_uring lacks recv, send or cancel";
  if (probe) io_uring_free_probe(probe);
  if (why.empty()) {
    // Provided buffer rings came with Linux 5.19.
    void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = 8;
    reg.bgid = 0;
    if (mem == MAP_FAILED) why = "mmap: " + log::errno_text(errno);
    else if (int rc = io_uring_register_buf_ring(&ring, &reg, 0); rc < 0)
      why = "io_uring_register_buf_ring: " + log::errno_text(-rc) + " (provided buffer rings need Linux 5.19)";
    if (mem != MAP_FAILED) ::munmap(mem, 4096);
  }
  io_uring_queue_exit(&ring);
  return why;
}

Uring::Uring(const UringOptions& options, metrics::WorkerCounters& counters)
    : options_(options), counters_(counters), features_(options.features) {
  if (int rc = setup(ring_, options_.entries, features_); rc < 0)
    throw std::system_error(-rc, std::generic_category(), "io_uring_setup");
  // The batch wait and coalescing publish the submission tail themselves: they need the identity
  // slot array that liburing sets up (and keeps) for a ring like this one, and min_wait.
  bool own_tail = ring_.sq.array != nullptr && (ring_.features & IORING_FEAT_MIN_TIMEOUT);
  for (unsigned i = 0; own_tail && i < ring_.sq.ring_entries; ++i) own_tail = ring_.sq.array[i] == i;
  if (!own_tail) features_ &= ~kUringBatchWait;
  coalesce_us_ = own_tail ? options_.coalesce_us : 0;
  try {
    incremental_ = features_ & kUringIncremental;
    if (incremental_) {
      register_group(kSmallBuffers, options_.incremental_buffer_size, options_.incremental_buffers);
    } else {
      register_group(kSmallBuffers, options_.buffer_size[kSmallBuffers], options_.buffers[kSmallBuffers]);
      register_group(kLargeBuffers, options_.buffer_size[kLargeBuffers], options_.buffers[kLargeBuffers]);
    }
  } catch (...) {
    io_uring_queue_exit(&ring_);
    for (Group& g : groups_) {
      if (g.ring) ::munmap(g.ring, g.ring_bytes);
      if (g.memory) ::munmap(g.memory, g.size * g.count);
    }
    throw;
  }
}

void Uring::register_group(UringGroup id, size_t size, unsigned count) {
  Group& g = groups_[id];
  g.size = size;
  g.count = count;
  g.ring_bytes = g.count * sizeof(io_uring_buf);
  void* mem = ::mmap(nullptr, g.ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap for a provided buffer ring");
  g.ring = static_cast<io_uring_buf_ring*>(mem);
  uint16_t flags = incremental_ ? IOU_PBUF_RING_INC : 0;
  if (int rc = uring_abi::register_buf_ring(ring_, g.ring, g.count, id, flags); rc < 0)
    throw std::system_error(-rc, std::generic_category(), "io_uring_register_buf_ring");
  io_uring_buf_ring_init(g.ring);
  // Mapped, not touched: an idle worker holds none of it, a busy one what its traffic filled (the
  // kernel takes the buffers in turn, so that is all of it after a few megabytes).
  void* memory = ::mmap(nullptr, g.count * g.size, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (memory == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap for provided buffers");
  g.memory = static_cast<char*>(memory);
  g.buffers.assign(g.count, Buffer{});
  int mask = io_uring_buf_ring_mask(g.count);
  for (unsigned i = 0; i < g.count; ++i)
    io_uring_buf_ring_add(g.ring, g.memory + i * g.size, static_cast<unsigned>(g.size), static_cast<unsigned short>(i),
                          mask, static_cast<int>(i));
  io_uring_buf_ring_advance(g.ring, static_cast<int>(g.count));
}

Uring::~Uring() {
  // Sessions are gone (they wait for their own requests before they finish); what may remain is
  // the epoll poll. Exiting the ring cancels it.
  io_uring_queue_exit(&ring_);
  for (Group& g : groups_) {
    if (g.ring) ::munmap(g.ring, g.ring_bytes);
    if (g.memory) ::munmap(g.memory, g.size * g.count);
  }
}

void Uring::submit_now() {
  counters_.uring_submissions.add(io_uring_sq_ready(&ring_));
  counters_.uring_enters.add();
  io_uring_submit(&ring_);
}

io_uring_sqe* Uring::next_sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (!sqe) {  // the submission queue is full: hand it to the kernel now
    submit_now();
    sqe = io_uring_get_sqe(&ring_);
  }
  return sqe;
}

void Uring::receive(int fd, UringGroup group, UringOp* op, bool poll_first, size_t max_len) {
  io_uring_sqe* sqe = next_sqe();
  // With a selected buffer the kernel receives min(len, the buffer's size).
  io_uring_prep_recv(sqe, fd, nullptr, static_cast<unsigned>(std::min(groups_[group].size, max_len)), 0);
  if (poll_first) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
  io_uring_sqe_set_flags(sqe, IOSQE_BUFFER_SELECT);
  sqe->buf_group = group;
  io_uring_sqe_set_data(sqe, op);
}

void Uring::receive_multishot(int fd, UringGroup group, UringOp* op) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);  // each completion: up to a whole buffer
  io_uring_sqe_set_flags(sqe, IOSQE_BUFFER_SELECT);
  sqe->buf_group = group;
  io_uring_sqe_set_data(sqe, op);
}

void Uring::cancel_request(UringOp* op) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel64(sqe, reinterpret_cast<uint64_t>(op), 0);
  io_uring_sqe_set_data64(sqe, kIgnore);
}

void Uring::send(int fd, const char* data, size_t len, UringOp* op) {
  ++sends_since_wait_;
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, fd, data, len, MSG_NOSIGNAL);
  io_uring_sqe_set_data(sqe, op);
}

void Uring::send_then_receive(int dst, const char* data, size_t len, UringOp* send_op, int src, UringGroup group,
                              UringOp* receive_op, bool poll_first, size_t max_len) {
  // Both in one submission: a batch that ended after the send would submit it unlinked.
  if (io_uring_sq_space_left(&ring_) < 2) submit_now();
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_send(sqe, dst, data, len, MSG_NOSIGNAL | MSG_WAITALL);
  io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS);
  io_uring_sqe_set_data(sqe, send_op);
  receive(src, group, receive_op, poll_first, max_len);
  ++linked_;
  counters_.uring_linked_sends.add();
}

void Uring::cancel(int fd) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, kIgnore);
}

void Uring::connect(int fd, const sockaddr* addr, socklen_t length, UringOp* op) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_connect(sqe, fd, addr, length);
  io_uring_sqe_set_data(sqe, op);
  counters_.uring_connects.add();
}

void Uring::close(int fd) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_close(sqe, fd);
  io_uring_sqe_set_flags(sqe, IOSQE_CQE_SKIP_SUCCESS);
  io_uring_sqe_set_data64(sqe, kIgnore);
}

void Uring::receive_into(int fd, char* data, size_t len, UringOp* op) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_recv(sqe, fd, data, len, 0);
  io_uring_sqe_set_data(sqe, op);
}

void Uring::poll_readable(int fd, UringOp* op) {
  io_uring_sqe* sqe = next_sqe();
  io_uring_prep_poll_add(sqe, fd, POLLIN | POLLRDHUP);
  io_uring_sqe_set_data(sqe, op);
}

UringSlice Uring::take(UringGroup group, int result, uint32_t flags) {
  Group& g = groups_[group];
  uint16_t id = buffer_id(flags);
  Buffer& b = g.buffers[id];
  UringSlice slice{id, incremental_ ? b.used : 0};
  b.used += static_cast<uint32_t>(result);
  ++b.slices;
  b.with_kernel = incremental_ && (flags & IORING_CQE_F_BUF_MORE);
  counters_.buffer_bytes_held.add(incremental_ ? static_cast<uint64_t>(result) : g.size);
  return slice;
}

void Uring::drop(UringGroup group, int result, uint32_t flags) {
  uint16_t id = buffer_id(flags);
  Buffer& b = groups_[group].buffers[id];
  if (result > 0) b.used += static_cast<uint32_t>(result);  // the kernel moved past them
  b.with_kernel = incremental_ && (flags & IORING_CQE_F_BUF_MORE);
  if (!b.with_kernel && b.slices == 0) give_back(group, id);
}

void Uring::release(UringGroup group, const UringSlice& s, uint32_t length) {
  Group& g = groups_[group];
  Buffer& b = g.buffers[s.id];
  counters_.buffer_bytes_held.sub(incremental_ ? length : g.size);
  if (--b.slices == 0 && !b.with_kernel) give_back(group, s.id);
}

void Uring::give_back(UringGroup group, uint16_t id) {
  Group& g = groups_[group];
  g.buffers[id] = Buffer{};
  io_uring_buf_ring_add(g.ring, g.memory + id * g.size, static_cast<unsigned>(g.size), id, io_uring_buf_ring_mask(g.count),
                        static_cast<int>(g.returned++));
}

void Uring::dispatch(io_uring_cqe* cqe, bool& epoll_ready) {
  uint64_t tag = io_uring_cqe_get_data64(cqe);
  if (tag == kIgnore) return;
  if (tag == kEpollTag) {
    epoll_ready = true;
    if (!(cqe->flags & IORING_CQE_F_MORE)) epoll_watched_ = false;  // re-armed before the next wait
    return;
  }
  auto* op = reinterpret_cast<UringOp*>(tag);
  if (cqe->res == -ENOBUFS) counters_.uring_enobufs.add();
  op->on_completion(cqe->res, cqe->flags);
}

bool Uring::sleep(int epoll_fd, int timeout_ms) {
  if (!epoll_watched_ || epoll_fd != epoll_fd_) {
    io_uring_sqe* sqe = next_sqe();
    io_uring_prep_poll_multishot(sqe, epoll_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, kEpollTag);
    epoll_watched_ = true;
    epoll_fd_ = epoll_fd;
  }
  for (Group& g : groups_) {
    if (g.returned == 0) continue;
    io_uring_buf_ring_advance(g.ring, static_cast<int>(g.returned));
    g.returned = 0;
  }
  wait(timeout_ms);
  if (io_uring_cq_has_overflow(&ring_)) counters_.uring_cq_overflows.add();
  bool epoll_ready = false;
  unsigned head;
  unsigned seen = 0;
  io_uring_cqe* cqe = nullptr;
  dispatching_ = true;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++seen;
    dispatch(cqe, epoll_ready);
  }
  io_uring_cq_advance(&ring_, seen);
  dispatching_ = false;
  counters_.uring_completions.add(seen);
  // By index: a session ended by one entry may forget() another, which leaves a null behind.
  for (size_t i = 0; i < after_batch_.size(); ++i) {
    if (UringOp* op = std::exchange(after_batch_[i], nullptr)) op->after_batch();
  }
  after_batch_.clear();
  return epoll_ready;
}

void Uring::after_batch(UringOp* op) {
  if (dispatching_) after_batch_.push_back(op);
  else op->after_batch();
}

void Uring::forget(UringOp* op) { std::replace(after_batch_.begin(), after_batch_.end(), op, static_cast<UringOp*>(nullptr)); }

int Uring::wait(int timeout_ms) {
  counters_.uring_submissions.add(io_uring_sq_ready(&ring_));
  counters_.uring_enters.add();
  unsigned sends = std::exchange(sends_since_wait_, 0);
  // With DEFER_TASKRUN only a wait (GETEVENTS) runs the completions' work: even the one that
  // must not block asks for events.
  if (io_uring_cq_ready(&ring_) > 0 || timeout_ms == 0) return io_uring_submit_and_get_events(&ring_);
  // Coalescing: at least coalesce_us (counted from now) unless the ring's worth completes, then as
  // soon as there is one. Fewer wake-ups per message where they come one at a time over many
  // sessions (a fixed offered load), each hop delayed by up to that long; with few sessions each
  // hop would wait the whole time, so they wake at once.
  if (coalesce_us_ > 0 && sessions_ >= kCoalesceSessions)
    return uring_abi::submit_and_wait_batch(ring_, options_.entries, coalesce_us_, timeout_ms);
  if (features_ & kUringBatchWait && sends > 0)
    return uring_abi::submit_and_wait_batch(ring_, std::min(sends + 1, options_.entries), kBatchWaitUs, timeout_ms);
  if (timeout_ms < 0) return io_uring_submit_and_wait(&ring_, 1);
  io_uring_cqe* cqe = nullptr;
  __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000LL};
  return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
}

}  // namespace sp
