// The sockmap relay: every segment a session's socket receives is redirected to the send side of
// its partner socket, inside the kernel; no user-space thread wakes per message.
//
// User space (server/sockmap.cc) sets a session up in an order that never drops a byte:
//   1. one `sessions` entry per socket (keyed by its cookie): the partner's cookie, the worker's
//      byte counter and event ring;
//   2. both sockets into `targets`, which has no program: they become redirect targets, nothing
//      else changes for them;
//   3. both into `intercepted`, which has this program attached. A segment that arrives on the
//      first socket before the second is intercepted already finds its partner in `targets`, and
//      bytes that arrived before step 3 wait in the receive queue until the next wake-up of the
//      socket, which user space causes at once (SO_RCVLOWAT): they pass through here first, in order.
//
// Overflow: what the kernel redirected beyond the partner's send buffer waits in a queue with no
// limit and no flow control (the source's window stays open). The program compares the bytes it
// redirected with what the partner's TCP took (write_seq) and, past SP_RELAY_QUEUE_LIMIT, tells the
// worker once through its ring; the worker resets the session. Two ways to hold the sender back
// instead were tried and both broke the stream (docs/sockmap.md): taking the socket out of
// `intercepted` (a segment that meets the detaching program is dropped) and passing its bytes to
// user space (SK_PASS shares the psock's queue with the other direction's and can reorder).
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "relay_session.h"

// The one kernel field read, relocated against the running kernel's BTF (CO-RE).
struct tcp_sock {
  __u32 write_seq;
} __attribute__((preserve_access_index));

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, SP_RELAY_MAX_SOCKETS);
  __type(key, __u64);
  __type(value, struct sp_relay_session);
} sessions SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, SP_RELAY_MAX_SOCKETS);
  __type(key, __u64);
  __type(value, __u32);  // a socket descriptor when updated from user space
} targets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_SOCKHASH);
  __uint(max_entries, SP_RELAY_MAX_SOCKETS);
  __type(key, __u64);
  __type(value, __u32);
} intercepted SEC(".maps");

// Bytes redirected, per CPU and summed by user space: no atomic add on the fast path.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SP_RELAY_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} bytes SEC(".maps");

// One ring per worker, created by user space.
struct ring {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 64 * 1024);
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, SP_RELAY_RINGS);
  __type(key, __u32);
  __array(values, struct ring);
} rings SEC(".maps");

// Bytes redirected but not yet taken by the partner's TCP, or 0 when it cannot tell.
static __u64 queued(struct sp_relay_session *s, __u32 len) {
  struct bpf_sock *partner = bpf_map_lookup_elem(&targets, &s->partner);
  if (!partner) return 0;
  struct tcp_sock *tp = bpf_skc_to_tcp_sock(partner);
  __u32 write_seq = tp ? BPF_CORE_READ(tp, write_seq) : 0;
  bpf_sk_release(partner);
  if (!tp) return 0;
  if (!(s->flags & SP_RELAY_STARTED)) {
    s->sent_base = write_seq;
    s->flags |= SP_RELAY_STARTED;
  }
  s->redirected += len;
  __u32 taken = write_seq - s->sent_base;  // wraps with the sequence space: differences stay right
  return s->redirected - taken;
}

static void report(struct sp_relay_session *s, __u64 cookie) {
  void *ring = bpf_map_lookup_elem(&rings, &s->ring);
  if (!ring) return;
  struct sp_relay_event event = {cookie};
  if (bpf_ringbuf_output(ring, &event, sizeof event, 0) == 0) s->flags |= SP_RELAY_REPORTED;  // else: next segment
}

SEC("sk_skb/stream_verdict")
int relay(struct __sk_buff *skb) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  struct sp_relay_session *s = bpf_map_lookup_elem(&sessions, &cookie);
  if (!s) return SK_PASS;  // not ours (torn down): the bytes stay readable
  int verdict = bpf_sk_redirect_hash(skb, &targets, &s->partner, 0);
  if (verdict != SK_PASS) return verdict;  // SK_PASS here: the redirect was accepted
  __u64 *count = bpf_map_lookup_elem(&bytes, &s->counter);
  if (count) *count += skb->len;
  if (queued(s, skb->len) >= SP_RELAY_QUEUE_LIMIT && !(s->flags & SP_RELAY_REPORTED)) report(s, cookie);
  return verdict;
}

char LICENSE[] SEC("license") = "GPL";
