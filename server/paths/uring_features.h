// The io_uring features --mode uring can build on beyond its base (recv, send, cancel, provided
// buffer rings: Linux 5.19), each probed once at start. The path uses those of --uring-features
// (by default the ones that measured no worse than the base: docs/uring.md) that the kernel has;
// the log says once which are in effect, and for each one left out whether the kernel lacks it
// (with the version that brings it) or it was not asked for.
//
// Debian 12's liburing (2.3) predates several of them: the few kernel ABI constants it lacks are
// defined here, under the names the kernel's uapi header gives them.
//
// Thread context: any (pure, but probe() creates and closes a ring).
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>
#include <string_view>

#ifndef IOU_PBUF_RING_INC
#define IOU_PBUF_RING_INC 2  // io_uring_buf_reg.flags: incremental consumption (6.12)
#endif
#ifndef IORING_CQE_F_BUF_MORE
#define IORING_CQE_F_BUF_MORE (1U << 4)  // the buffer stays with the kernel for more data (6.12)
#endif
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)  // io_uring_getevents_arg.min_wait_usec (6.12)
#endif
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN (1U << 13)
#endif

namespace sp {

enum UringFeature : uint32_t {
  // SINGLE_ISSUER | DEFER_TASKRUN (6.1): completions' task work runs only when the worker waits,
  // in one batch, never by interrupting it. Without it: COOP_TASKRUN (5.19), or neither.
  kUringDeferTaskrun = 1u << 0,
  // The wait ends once per loop iteration, not at each send that completed while it was issued:
  // wait for one completion more than the sends submitted, for at most a short batch time
  // (min_wait_usec, 6.12). Without it: wake at the first completion.
  kUringBatchWait = 1u << 1,
  // One buffer ring per worker whose buffers (64 KiB) the kernel fills a receive at a time
  // (IOU_PBUF_RING_INC, 6.12). Without it: two pools of whole buffers, small and large.
  kUringIncremental = 1u << 2,
  // A direction whose messages are small keeps one receive armed for all of them
  // (IORING_RECV_MULTISHOT, 6.0): each message completes with no new request and no new poll.
  // A completion of a buffer's worth marks the direction bulk: the receive is cancelled and
  // single receives of a turn's budget take over (they keep the fair turns). Without it: a
  // receive per message.
  kUringMultishot = 1u << 3,
  // A direction of small messages sends with IOSQE_CQE_SKIP_SUCCESS and MSG_WAITALL, linked to its
  // own next receive (IOSQE_IO_LINK, Linux 5.18): a send that completes as it is issued posts
  // nothing, so the wait that submitted it goes on until the next message instead of returning for
  // the send's completion; the receive's completion says the send succeeded. Takes precedence over
  // multishot for such directions. Without it: every send completes on its own.
  kUringLinkedSends = 1u << 4,
  // A session's remote socket connects on the ring (IORING_OP_CONNECT, Linux 5.5) instead of in
  // the loop: it never joins epoll, so the session is not handed from epoll to the ring (no
  // registration and removal, no SO_ERROR read), and the connect goes with the next batch of
  // submissions. Without it: a non-blocking connect() watched by epoll.
  kUringConnect = 1u << 5,
};
inline constexpr uint32_t kUringAllFeatures =
    kUringDeferTaskrun | kUringBatchWait | kUringIncremental | kUringMultishot | kUringLinkedSends | kUringConnect;
// Asked for, not the default (docs/uring.md has the figures): the batch wait halves the
// io_uring_enter calls but costs CPU and latency where timers are dear (a VM); incremental
// consumption measured no gain (with 1 MiB buffers it stalled a crowd, where a held slice pins its
// whole buffer; 64 KiB ones do not).
// Linked sends halve the calls of one connection at less CPU and measured level elsewhere; a
// session that connects on the ring costs 0.82x the proxy CPU of one handed over from epoll.
inline constexpr uint32_t kUringDefaultFeatures = kUringDeferTaskrun | kUringLinkedSends | kUringConnect;

// "defer_taskrun", "batch_wait", "incremental", "multishot", "linked_sends", "connect".
const char* uring_feature_name(UringFeature feature);
// The Linux version that brought it, for the log line of what is missing.
const char* uring_feature_since(UringFeature feature);
// Names joined with commas, in a fixed order ("" for none).
std::string uring_feature_list(uint32_t features);
// A --uring-features value: names separated by commas, "all" or "none". Throws std::invalid_argument
// naming the unknown word and the valid ones.
uint32_t parse_uring_features(std::string_view list);

// The features this kernel offers (of kUringAllFeatures), found by setting up a small ring with
// each (multishot: by receiving a byte over a socket pair with it); 0 where io_uring itself is
// refused.
uint32_t probe_uring_features();

}  // namespace sp
