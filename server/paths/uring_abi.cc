#include "server/paths/uring_abi.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace sp::uring_abi {
namespace {

struct BufReg {  // struct io_uring_buf_reg, Linux 6.12
  uint64_t ring_addr;
  uint32_t ring_entries;
  uint16_t bgid;
  uint16_t flags;
  uint64_t resv[3];
};
static_assert(sizeof(BufReg) == sizeof(io_uring_buf_reg));

struct GetEventsArg {  // struct io_uring_getevents_arg, Linux 6.12
  uint64_t sigmask;
  uint32_t sigmask_sz;
  uint32_t min_wait_usec;
  uint64_t ts;
};
static_assert(sizeof(GetEventsArg) == sizeof(io_uring_getevents_arg));

// What liburing's submit does before it enters: publish the queued SQEs' tail. The SQ index
// array maps slot i to SQE i (liburing fills it so at setup; Uring checks that it does).
unsigned flush_sq(io_uring& ring) {
  io_uring_sq& sq = ring.sq;
  if (sq.sqe_head != sq.sqe_tail) {
    sq.sqe_head = sq.sqe_tail;
    __atomic_store_n(sq.ktail, sq.sqe_tail, __ATOMIC_RELEASE);
  }
  return sq.sqe_tail - *sq.khead;
}

}  // namespace

int register_buf_ring(io_uring& ring, void* ring_memory, unsigned entries, uint16_t group, uint16_t flags) {
  BufReg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(ring_memory);
  reg.ring_entries = entries;
  reg.bgid = group;
  reg.flags = flags;
  return io_uring_register_buf_ring(&ring, reinterpret_cast<io_uring_buf_reg*>(&reg), 0);
}

int submit_and_wait_batch(io_uring& ring, unsigned wait_nr, unsigned min_wait_us, int timeout_ms) {
  unsigned submit = flush_sq(ring);
  // Always a general timeout: without one the kernel ends the wait when min_wait passes, with no
  // completion as well (io_cqring_min_timer_wakeup), and an idle worker would wake every min_wait.
  __kernel_timespec ts{3600, 0};
  if (timeout_ms >= 0) ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000LL};
  GetEventsArg arg{};
  arg.sigmask_sz = _NSIG / 8;
  arg.min_wait_usec = min_wait_us;
  arg.ts = reinterpret_cast<uint64_t>(&ts);
  long rc = ::syscall(__NR_io_uring_enter, ring.ring_fd, submit, wait_nr,
                      IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &arg, sizeof(arg));
  return rc < 0 ? -errno : static_cast<int>(rc);
}

}  // namespace sp::uring_abi
