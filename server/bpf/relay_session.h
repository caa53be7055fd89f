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
// A direction with this many bytes redirected but not yet written into its destination (they wait
// in the kernel's queue, which has no limit) is reported to its worker, which resets the session.
#define SP_RELAY_QUEUE_LIMIT (256 << 20)

struct sp_relay_session {
  __u64 partner;     // the partner socket's cookie: its key in `targets`
  __u32 counter;     // index in `bytes`: worker * 2 + direction (0 client -> remote, 1 back)
  __u32 ring;        // index in `rings`: the worker
  __u64 redirected;  // bytes redirected to the partner since `sent_base`
  __u32 sent_base;   // the partner's write_seq when the first byte was redirected
  __u32 flags;       // SP_RELAY_*
};

#define SP_RELAY_STARTED 1u  // sent_base is set
#define SP_RELAY_REPORTED 2u  // the worker was told of the overflow

// The event a worker reads from its ring: this socket's direction must be reset, for a reason.
struct sp_relay_event {
  __u64 cookie;
  __u32 reason;  // SP_RELAY_OVERFLOW or SP_RELAY_UNTRIMMABLE
  __u32 unused;
};

#define SP_RELAY_OVERFLOW 1u     // SP_RELAY_QUEUE_LIMIT bytes wait for the destination
#define SP_RELAY_UNTRIMMABLE 2u  // a retransmitted segment's overlap could not be cut off
