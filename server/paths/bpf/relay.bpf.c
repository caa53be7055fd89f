// The sockmap relay: every segment a session's socket receives is redirected to the send side of
// its partner socket, inside the kernel; no user-space thread wakes per message.
//
// User space (server/paths/sockmap.cc) sets a session up in an order that never drops a byte:
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
// So the program trims every segment to start at the first byte it has not seen yet (`next_seq`,
// copied_seq when the session starts: copied_seq itself lags while a direction holds), and resets
// the session (through the worker's ring) if it cannot. Empty segments (a FIN alone) are dropped: the
// worker passes the FIN on once every byte left, and redirected, an empty segment makes the
// kernel's sender fail the destination with EPIPE and stop relaying to it.
//
// Flow control: what the kernel redirected beyond the partner's send buffer waits in a psock queue
// with no limit, and the source's window stays open (tcp_read_skb() uncharges each segment from
// the source's receive buffer as it hands it over). The program compares the bytes it redirected
// with what the partner's TCP took (write_seq) and, past SP_RELAY_HOLD_AT, holds the direction:
// segments are passed (SK_PASS) to the source's own receive side, in order behind whatever its
// psock queue holds, where the kernel charges them to the source's receive buffer, and that closes
// its TCP window. (Not a redirect to itself: that path advances copied_seq twice, at the verdict
// and again when the worker reads.) The worker, told through its ring, reads them once the
// partner's TCP took every byte redirected before, writes them into the partner, and publishes
// the count in `released`; when every held byte was released the next segment goes to the
// partner again. Order holds because the partner gets, in turn, only redirected bytes (all of
// them taken before the worker writes), then the worker's, then redirected ones again.
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "relay_session.h"

// The kernel fields read, relocated against the running kernel's BTF (CO-RE). The kfuncs (Linux 6.2+)
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

// Bytes of each socket's held segments the worker has written into the partner, keyed by cookie;
// with SP_RELAY_PAUSED set, the direction holds whatever the count (server/paths/sockmap_window.h).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, SP_RELAY_MAX_SOCKETS);
  __type(key, __u64);
  __type(value, __u64);
} released SEC(".maps");

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
  __uint(max_entries, SP_RELAY_RING_BYTES);
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, SP_RELAY_RINGS);
  __type(key, __u32);
  __array(values, struct ring);
} rings SEC(".maps");

// Bytes redirected to the partner but not yet taken by its TCP, or 0 when it cannot tell. The
// partner's write_seq counts what the worker wrote into it too (`released`). 32-bit arithmetic:
// sequence numbers wrap, and the true value is far below 4 GiB.
static __u32 queued(struct sp_relay_session *s, __u64 released_bytes) {
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
  __s32 waiting = (__s32)((__u32)s->redirected + (__u32)released_bytes - (write_seq - s->sent_base));
  return waiting > 0 ? (__u32)waiting : 0;
}

// 0 when the worker's ring took the event.
static int tell(struct sp_relay_session *s, __u64 cookie, __u32 what) {
  void *ring = bpf_map_lookup_elem(&rings, &s->ring);
  if (!ring) return -1;
  struct sp_relay_event event = {cookie, what};
  return (int)bpf_ringbuf_output(ring, &event, sizeof event, 0);
}

static void reset(struct sp_relay_session *s, __u64 cookie, __u32 why) {
  if (!(s->flags & SP_RELAY_REPORTED) && tell(s, cookie, why) == 0) s->flags |= SP_RELAY_REPORTED;  // else: next segment
}

// Starts or ends holding; the worker is told of the state it is in now (retried on the next
// segment if its ring was full).
static void set_holding(struct sp_relay_session *s, __u64 cookie, int holding) {
  int was = (s->flags & SP_RELAY_HOLDING) != 0;
  if (was != holding) {
    s->flags ^= SP_RELAY_HOLDING;
    s->flags &= ~SP_RELAY_TOLD;
  }
  if (!(s->flags & SP_RELAY_TOLD) && tell(s, cookie, holding ? SP_RELAY_HOLD : SP_RELAY_RESUME) == 0)
    s->flags |= SP_RELAY_TOLD;
}

// Cuts the bytes the program saw already off the segment's head and advances next_seq past it.
// 1 when it cut, 0 when there was nothing to cut, -1 when it could not.
static int trim_relayed(struct __sk_buff *skb, struct sp_relay_session *s) {
  struct sk_buff *kernel_skb = bpf_cast_to_kern_ctx(skb);
  __u32 seq = *(__u32 *)kernel_skb->cb;
  if (!(s->flags & SP_RELAY_SEQ_KNOWN)) {
    struct sock *sk = kernel_skb->sk;
    if (!sk) return -1;
    struct tcp_sock *tp = bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
    s->next_seq = tp->copied_seq;  // nothing was read, relayed or held yet
    s->flags |= SP_RELAY_SEQ_KNOWN;
  }
  __s32 overlap = (__s32)(s->next_seq - seq);  // differences stay right where sequence numbers wrap
  if (overlap <= 0) {
    s->next_seq = seq + skb->len;
    return 0;
  }
  for (int i = 0; i < TRIM_STEPS && overlap > 0; i++) {
    __s32 step = overlap < TRIM_STEP ? overlap : TRIM_STEP;
    if (bpf_skb_adjust_room(skb, -step, 0, 0) != 0) return -1;
    overlap -= step;
  }
  if (overlap > 0) return -1;
  s->next_seq += skb->len;
  return 1;
}

SEC("sk_skb/stream_verdict")
int relay(struct __sk_buff *skb) {
  __u64 cookie = bpf_get_socket_cookie(skb);
  struct sp_relay_session *s = bpf_map_lookup_elem(&sessions, &cookie);
  if (!s) return SK_PASS;  // not ours (torn down): the bytes stay readable
  int trimmed = trim_relayed(skb, s);
  if (trimmed < 0) {
    reset(s, cookie, SP_RELAY_UNTRIMMABLE);
    return SK_DROP;  // the session is reset: a byte dropped is better than a byte repeated
  }
  if (trimmed) {
    __u64 *count = bpf_map_lookup_elem(&trims, &s->ring);
    if (count) *count += 1;
  }
  if (skb->len == 0) return SK_DROP;
  __u64 *released_bytes = bpf_map_lookup_elem(&released, &cookie);
  __u64 released_value = released_bytes ? *released_bytes : 0;
  __u64 moved_on = released_value & ~SP_RELAY_PAUSED;
  int paused = (released_value & SP_RELAY_PAUSED) != 0;
  __u32 waiting = queued(s, moved_on);
  // Relayed so far, by the kernel or (held) by the worker.
  if (s->redirected + moved_on >= SP_RELAY_BULK_AT && !(s->flags & SP_RELAY_BULK_TOLD) && tell(s, cookie, SP_RELAY_BULK) == 0)
    s->flags |= SP_RELAY_BULK_TOLD;  // else: told on the next segment
  if (s->flags & SP_RELAY_HOLDING)
    set_holding(s, cookie, s->held != moved_on || paused);  // every held byte moved on: relay again
  else if (waiting >= SP_RELAY_HOLD_AT || paused)
    set_holding(s, cookie, 1);
  else if (!(s->flags & SP_RELAY_TOLD))
    set_holding(s, cookie, 0);  // a resume the ring could not take before
  if (waiting >= SP_RELAY_QUEUE_LIMIT || s->held - moved_on >= SP_RELAY_HELD_LIMIT) reset(s, cookie, SP_RELAY_OVERFLOW);

  if (s->flags & SP_RELAY_HOLDING) {
    s->held += skb->len;
    return SK_PASS;  // counted as relayed when the worker writes it on
  }
  int verdict = bpf_sk_redirect_hash(skb, &targets, &s->partner, 0);
  if (verdict != SK_PASS) return verdict;  // SK_PASS here: the redirect was accepted
  s->redirected += skb->len;
  __u64 *count = bpf_map_lookup_elem(&bytes, &s->counter);
  if (count) *count += skb->len;
  return verdict;
}

char LICENSE[] SEC("license") = "GPL";
