// The two kernel calls --mode uring makes past what Debian 12's liburing (2.3) can express: a
// buffer ring registered with flags (incremental consumption, 6.12) and a wait with a batch
// timeout (min_wait_usec, 6.12). The kernel's structures are mirrored here with the fields'
// current names (liburing 2.3 calls both of them `pad`); newer liburing versions are not needed.
//
// Thread context: the ring's own thread.
#pragma once

#include <liburing.h>

#include <cstdint>

namespace sp::uring_abi {

// io_uring_register_buf_ring with io_uring_buf_reg.flags set; 0 or -errno.
int register_buf_ring(io_uring& ring, void* ring_memory, unsigned entries, uint16_t group, uint16_t flags);

// Hands the kernel every SQE queued since the last submission and waits: for `wait_nr`
// completions within `min_wait_us`, and after that for at least one (or until `timeout_ms` has
// passed; -1: no limit). Returns what io_uring_enter returned (-errno on failure; -ETIME when the
// timeout passed).
int submit_and_wait_batch(io_uring& ring, unsigned wait_nr, unsigned min_wait_us, int timeout_ms);

}  // namespace sp::uring_abi
