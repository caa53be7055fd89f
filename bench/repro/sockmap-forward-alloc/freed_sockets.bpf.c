// Reproducer (issue 21): what each TCP socket still claims of the kernel's memory accounting when
// its memory is freed. A socket whose charges all came back holds sk_forward_alloc 0 then
// (inet_sock_destruct reclaims whole pages and warns, once per boot, if anything is left); a
// residue that is not a whole page means an update of sk_forward_alloc was lost, and the pages it
// stood for stay counted in the protocol's memory_allocated (/proc/net/sockstat "TCP: mem") for good.
// tp_btf on kmem_cache_free: a BTF tracepoint, loadable where fentry/kprobes are refused (this VM).
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define KEPT 16  // the last sockets with a residue, by their ports

struct tally {
  __s64 freed;             // TCP sockets freed
  __s64 uneven;            // of them, with sk_forward_alloc != 0
  __s64 uneven_bytes;      // the sum of those residues
  __s64 negative;          // of them, below 0
  __s64 receive_left;      // with sk_rmem_alloc != 0
  __s64 send_left;         // with sk_wmem_queued != 0
  __u32 next;
  __u32 ports[KEPT];       // local port << 16 | remote port
  __s32 residue[KEPT];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct tally);
} tally SEC(".maps");

SEC("tp_btf/kmem_cache_free")
int BPF_PROG(on_free, unsigned long call_site, const void* ptr, struct kmem_cache* s) {
  char name[4] = {};
  bpf_probe_read_kernel(name, sizeof name, BPF_CORE_READ(s, name));
  if (name[0] != 'T' || name[1] != 'C' || name[2] != 'P' || name[3] != 0) return 0;  // IPv4 TCP sockets
  __u32 zero = 0;
  struct tally* t = bpf_map_lookup_elem(&tally, &zero);
  if (!t) return 0;
  struct sock* sk = (struct sock*)ptr;
  __sync_fetch_and_add(&t->freed, 1);
  int forward = BPF_CORE_READ(sk, sk_forward_alloc);
  if (BPF_CORE_READ(sk, sk_backlog.rmem_alloc.counter)) __sync_fetch_and_add(&t->receive_left, 1);
  if (BPF_CORE_READ(sk, sk_wmem_queued)) __sync_fetch_and_add(&t->send_left, 1);
  if (!forward) return 0;
  __sync_fetch_and_add(&t->uneven, 1);
  __sync_fetch_and_add(&t->uneven_bytes, forward);
  if (forward < 0) __sync_fetch_and_add(&t->negative, 1);
  __u32 i = t->next++ % KEPT;  // a sample: a lost increment costs nothing
  __u32 local = bpf_ntohs(BPF_CORE_READ((struct inet_sock*)sk, inet_sport));
  t->ports[i] = local << 16 | bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
  t->residue[i] = forward;
  return 0;
}
