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
// Retransmissions: the verdict path (tcp_read_skb) hands the program whole skbs from the receive
// queue and advances copied_seq by their length, but TCP queues a retransmitted segment that
// partly overlaps bytes it already has with its head intact ("partial packet" in tcp_data_queue(),
// and likewise from the out-of-order queue): tcp_recvmsg() skips the overlap by offset, the verdict
// path does not. Redirected whole, the overlap reaches the partner twice: wrong bytes (issue 21).
// So the program trims every segment to start at copied_seq before it redirects it, and resets the
// session (through the worker's ring) if it cannot. Empty segments (a FIN alone) are dropped: the
// worker passes the FIN on once every byte left, and redirected, an empty segment makes the
// kernel's sender fail the destination with EPIPE and stop relaying to it.
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

// The kernel fields read, relocated against the running kernel's BTF (CO-RE). The kfuncs (6.3+)
// reach the kernel's sk_buff behind the context and the socket behind it; where the kernel lacks
// them the program does not load and the proxy relays with splice (docs/sockmap.md).
struct tcp_sock {
  __u32 write_seq;
  __u32 copied_seq;
} __attribute__((preserve_access_index));
struct sock;
struct sk_buff {
  char cb[48];  // TCP_SKB_CB: the segment's first sequence number leads it
  struct sock *sk;
} __attribute__((preserve_access_index));
extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym;
extern void *bpf_rdonly_cast(const void *object, __u32 btf_id) __ksym;

// bpf_skb_adjust_room() removes at most 4,095 bytes from the head per call; 64 calls cover any
// segment of a 64 KiB MTU four times over.
#define TRIM_STEP 4095
#define TRIM_STEPS 64

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

// Segments trimmed because they began with bytes already relayed, per worker (index: its ring).
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SP_RELAY_RINGS);
  __type(key, __u32);
  __type(value, __u64);
} trims SEC(".maps");

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

static void report(struct sp_relay_session *s, __u64 cookie, __u32 reason) {
  void *ring = bpf_map_lookup_elem(&rings, &s->ring);
  if (!ring) return;
  struct sp_relay_event event = {cookie, reason};
  if (bpf_ringbuf_output(ring, &event, sizeof event, 0) == 0) s->flags |= SP_RELAY_REPORTED;  // else: next segment
}

// Cuts the bytes the socket relayed already off the segment's head. 1 when it did, 0 when there
// was nothing to cut, -1 when it could not.
static int trim_relayed(struct __sk_buff *skb) {
  struct sk_buff *kernel_skb = bpf_cast_to_kern_ctx(skb);
  struct sock *sk = kernel_skb->sk;
  if (!sk) return 0;
  struct tcp_sock *tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
  __u32 seq = *(__u32 *)kernel_skb->cb;
  __s32 overlap = (__s32)(tp->copied_seq - seq);  // differences stay right where sequence numbers wrap
  if (overlap <= 0) return 0;
  for (int i = 0; i < TRIM_STEPS && overlap > 0; i++) {
    __s32 step = overlap < TRIM_STEP ? overlap : TRIM_STEP;
    if (bpf_skb_adjust_room(skb, -step, 0, 0) != 0) return -1;
    overlap -= step;
  }
  return overlap > 0 ? -1 : 1;
}

SEC("sk_skb/stream_verdict")
int relay(struct __sk_buff *skb) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  struct sp_relay_session *s = bpf_map_lookup_elem(&sessions, &cookie);
  if (!s) return SK_PASS;  // not ours (torn down): the bytes stay readable
  int trimmed = trim_relayed(skb);
  if (trimmed < 0) {
    if (!(s->flags & SP_RELAY_REPORTED)) report(s, cookie, SP_RELAY_UNTRIMMABLE);
    return SK_DROP;  // the session is reset: a byte dropped is better than a byte repeated
  }
  if (trimmed) {
    __u64 *count = bpf_map_lookup_elem(&trims, &s->ring);
    if (count) *count += 1;
  }
  if (skb->len == 0) return SK_DROP;
  int verdict = bpf_sk_redirect_hash(skb, &targets, &s->partner, 0);
  if (verdict != SK_PASS) return verdict;  // SK_PASS here: the redirect was accepted
  __u64 *count = bpf_map_lookup_elem(&bytes, &s->counter);
  if (count) *count += skb->len;
  if (queued(s, skb->len) >= SP_RELAY_QUEUE_LIMIT && !(s->flags & SP_RELAY_REPORTED)) report(s, cookie, SP_RELAY_OVERFLOW);
  return verdict;
}

char LICENSE[] SEC("license") = "GPL";
