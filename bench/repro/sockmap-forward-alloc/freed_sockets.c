// Loads freed_sockets.bpf.o, attaches it, and on SIGINT/SIGTERM prints its tally as one JSON line.
//   freed_sockets freed_sockets.bpf.o     (as root; run.sh builds and drives it)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define KEPT 16
struct tally {  // as in freed_sockets.bpf.c
  int64_t freed, uneven, uneven_bytes, negative, receive_left, send_left;
  uint32_t next;
  uint32_t ports[KEPT];
  int32_t residue[KEPT];
};

static volatile sig_atomic_t done;
static void on_signal(int sig) { (void)sig; done = 1; }

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: freed_sockets OBJECT\n");
    return 2;
  }
  struct bpf_object* obj = bpf_object__open_file(argv[1], NULL);
  if (!obj || bpf_object__load(obj)) {
    fprintf(stderr, "freed_sockets: loading %s: %s (needs root, BTF and tp_btf programs)\n", argv[1], strerror(errno));
    return 1;
  }
  struct bpf_program* prog = bpf_object__find_program_by_name(obj, "on_free");
  if (!prog || !bpf_program__attach(prog)) {
    fprintf(stderr, "freed_sockets: attaching to kmem_cache_free: %s\n", strerror(errno));
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  printf("attached\n");
  fflush(stdout);
  while (!done) pause();
  struct tally t = {0};
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_object__find_map_fd_by_name(obj, "tally"), &zero, &t) != 0) {
    fprintf(stderr, "freed_sockets: reading the tally: %s\n", strerror(errno));
    return 1;
  }
  printf("{\"freed\": %lld, \"uneven\": %lld, \"uneven_bytes\": %lld, \"negative\": %lld, \"receive_left\": %lld, "
         "\"send_left\": %lld, \"last_uneven\": [",
         (long long)t.freed, (long long)t.uneven, (long long)t.uneven_bytes, (long long)t.negative,
         (long long)t.receive_left, (long long)t.send_left);
  uint32_t kept = t.next < KEPT ? t.next : KEPT;
  for (uint32_t i = 0; i < kept; ++i)
    printf("%s{\"local_port\": %u, \"remote_port\": %u, \"forward_alloc\": %d}", i ? ", " : "", t.ports[i] >> 16,
           t.ports[i] & 0xffff, t.residue[i]);
  printf("]}\n");
  bpf_object__close(obj);
  return 0;
}
