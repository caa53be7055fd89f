// The kernel side of --mode sockmap: the BPF relay program (server/paths/bpf/relay.bpf.c, compiled into
// this binary), its maps and the calls that put a session's two sockets in them. Once both are in,
// the kernel moves every byte between them; the proxy only watches for the ends of the streams.
//
// open() loads and attaches the program and proves, over a loopback pair, that it relays both
// ways, bytes sent before the sockets entered the maps included. Where it cannot (no CAP_BPF, a
// kernel without sockmap, a relay that does not deliver) the caller gets the reason and falls back.
//
// Thread context: any thread (every call is a bpf(2) or socket system call on shared maps).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"

struct relay_bpf;

namespace sp {

class Sockmap {
 public:
  // Null, with the reason (the call and its errno) in *why, where the relay cannot run here.
  static std::unique_ptr<Sockmap> open(std::string* why);
  ~Sockmap();
  Sockmap(const Sockmap&) = delete;
  Sockmap& operator=(const Sockmap&) = delete;

  struct Keys {
    uint64_t client = 0;  // socket cookies
    uint64_t remote = 0;
  };
  // Puts a session's established sockets in the maps (the order in server/paths/bpf/relay.bpf.c), counts
  // their bytes on `counter` (client -> remote) and `counter + 1` (back), and wakes both sockets so
  // that bytes already queued are relayed. 0, or the errno of the refusal (E2BIG: the maps are
  // full; EOPNOTSUPP: a socket is no longer established), in which case nothing of the session is
  // left in the maps unless `*partial` says one socket was already intercepted (the session cannot
  // fall back then: its bytes may already be on their way).
  int insert(int client, int remote, uint32_t counter, uint32_t ring, Keys* keys, bool* partial);
  // After the sockets are closed (which takes them out of the socket maps): the session entries.
  void erase(const Keys& keys);
  // What the program did with the bytes of the socket with this cookie since it entered the maps.
  struct Taken {
    uint64_t redirected = 0;  // to the partner
    uint64_t held = 0;        // to its own receive side, for the worker to move on
  };
  Taken taken(uint64_t key) const;
  // The worker has written `bytes` (a running total) of the socket's held bytes into the partner;
  // `paused`: the program holds the direction until the next call (SP_RELAY_PAUSED).
  void released(uint64_t key, uint64_t bytes, bool paused = false);
  // A worker's event ring, in the program's ring table at `index`. Null with *err on failure.
  Fd create_ring(uint32_t index, int* err);
  // Bytes the program redirected on `counter` since start, summed over CPUs.
  uint64_t bytes(uint32_t counter) const;
  // Segments the program trimmed for the worker with this ring index (retransmitted bytes it had
  // relayed already), since start, summed over CPUs.
  uint64_t trims(uint32_t ring) const;
  static uint32_t counter_of(int worker) { return 2 * static_cast<uint32_t>(worker); }

 private:
  explicit Sockmap(relay_bpf* skel);
  std::string self_test();
  int intercept(int fd, uint64_t key);
  uint64_t per_cpu_sum(int map_fd, uint32_t key) const;

  relay_bpf* skel_;
  int sessions_fd_;
  int released_fd_;
  int targets_fd_;
  int intercepted_fd_;
  int bytes_fd_;
  int trims_fd_;
  int rings_fd_;
  int cpus_;
};

}  // namespace sp
