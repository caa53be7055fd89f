// What the relay program (relay.bpf.c) and the proxy (sockmap.cc) share: the value of a socket's
// `sessions` entry, the flow-control event and the maps' sizes. Included by both, so the layout
// has one definition.
#pragma once

#include <linux/types.h>

// Sockets in the maps at once: two per session (262,144 sockets, 131,072 sessions).
#define SP_RELAY_MAX_SOCKETS (1 << 18)
// Byte counters and event rings: one pair and one ring per worker (the proxy allows 1,024), and
// a pair and a ring for the start-up self-test.
#define SP_RELAY_WORKERS 1024
#define SP_RELAY_COUNTERS (2 * SP_RELAY_WORKERS + 2)
#define SP_RELAY_RINGS (SP_RELAY_WORKERS + 1)
// Bytes of each worker's event ring (holds, resumes, resets: an event is 24 bytes with its header).
#define SP_RELAY_RING_BYTES (256 * 1024)
// Flow control. A direction with SP_RELAY_HOLD_AT bytes redirected but not yet taken by the
// destination's TCP (they wait in the kernel's psock queue, which has no limit) starts holding:
// its segments are passed to its own socket's receive side instead, where they are charged to its
// receive buffer and so close its TCP window, and the worker moves them on with read/write once the
// destination took everything before them. The direction relays in the kernel again once the
// worker has moved every held byte (`released` == `held`).
#define SP_RELAY_HOLD_AT (2 << 20)
// A direction that relayed this many bytes (redirected, or held and moved on) is bulk: the worker
// is told once, and may widen the session's send buffers (server/paths/wide_buffers.h).
#define SP_RELAY_BULK_AT (16 << 20)
// Last resorts, never reached in the tests: a direction with this many bytes queued for the
// destination, or held and not yet moved on, is reset.
#define SP_RELAY_QUEUE_LIMIT (256 << 20)
#define SP_RELAY_HELD_LIMIT (64 << 20)
// The top bit of a socket's `released` value: the worker pauses the direction (its segments are
// held, none redirected) for the few system calls in which it must not write into its destination.
#define SP_RELAY_PAUSED (1ull << 63)

struct sp_relay_session {
  __u64 partner;     // the partner socket's cookie: its key in `targets`
  __u32 counter;     // index in `bytes`: worker * 2 + direction (0 client -> remote, 1 back)
  __u32 ring;        // index in `rings`: the worker
  __u64 redirected;  // bytes redirected to the partner since `sent_base`
  __u64 held;        // bytes passed to the socket's own receive side while holding
  __u32 sent_base;   // the partner's write_seq when the first byte was redirected
  __u32 flags;       // SP_RELAY_*
  __u32 next_seq;    // the sequence number of the next byte not yet relayed or held
  __u32 unused;
};

#define SP_RELAY_STARTED 1u    // sent_base is set
#define SP_RELAY_REPORTED 2u   // the worker was told to reset the session
#define SP_RELAY_HOLDING 4u    // segments go to the socket's own receive side
#define SP_RELAY_TOLD 8u       // the worker knows the current holding state
#define SP_RELAY_SEQ_KNOWN 16u // next_seq is set
#define SP_RELAY_BULK_TOLD 32u // the worker was told the direction is bulk

// The event a worker reads from its ring about the direction whose source has this cookie.
struct sp_relay_event {
  __u64 cookie;
  __u32 what;  // SP_RELAY_*: one of the five below
  __u32 unused;
};

#define SP_RELAY_OVERFLOW 1u     // reset: a last-resort limit was passed
#define SP_RELAY_UNTRIMMABLE 2u  // reset: a retransmitted segment's overlap could not be cut off
#define SP_RELAY_HOLD 3u         // it holds: move the held bytes on
#define SP_RELAY_RESUME 4u       // it relays in the kernel again
#define SP_RELAY_BULK 5u         // it relayed SP_RELAY_BULK_AT bytes
