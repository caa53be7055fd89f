#include "server/paths/sockmap.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "common/clock.h"
#include "common/fd.h"
#include "common/log.h"
#include "server/paths/bpf/relay_session.h"
#include "server/relay.skel.h"  // generated from server/paths/bpf/relay.bpf.c by bpftool

namespace sp {
namespace {

constexpr uint32_t kSelfTestCounter = 2 * SP_RELAY_WORKERS;  // the two entries after the workers'

// libbpf reports its own failures on stderr; the proxy names the failing step once instead.
int quiet(enum libbpf_print_level level, const char* format, va_list args) {
  if (level != LIBBPF_WARN || log::level() < log::Level::kDebug) return 0;
  char line[512];
  std::vsnprintf(line, sizeof line, format, args);
  log::debug("libbpf: ", line);
  return 0;
}

uint64_t cookie_of(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof cookie;
  return ::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) == 0 ? cookie : 0;
}

std::string failed(const char* what, int err) { return std::string(what) + ": " + log::errno_text(err); }

// A connected loopback pair for the self-test: the accepted end and the connecting end.
struct Pair {
  Fd accepted;
  Fd connected;
};

std::string loopback_pair(int listener, const sockaddr_in& addr, Pair* pair) {
  pair->connected = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!pair->connected) return failed("socket", errno);
  if (::connect(pair->connected.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0)
    return failed("connect 127.0.0.1", errno);
  pair->accepted = Fd(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (!pair->accepted) return failed("accept", errno);
  return "";
}

// Reads from fd until `want` bytes arrived or a second passed.
std::string receive(int fd, size_t want) {
  std::string got;
  int64_t deadline = now_ns() + 1'000'000'000;
  char buf[256];
  while (got.size() < want) {
    int64_t left_ms = (deadline - now_ns()) / 1'000'000;
    pollfd p{fd, POLLIN, 0};
    if (left_ms <= 0 || ::poll(&p, 1, static_cast<int>(left_ms)) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

bool send_all(int fd, const std::string& text) {
  return ::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(text.size());
}

}  // namespace

std::unique_ptr<Sockmap> Sockmap::open(std::string* why) {
  libbpf_set_print(quiet);
  relay_bpf* skel = relay_bpf__open_and_load();
  if (!skel) {
    *why = failed("loading the BPF relay program (bpf(2))", errno);
    return nullptr;
  }
  std::unique_ptr<Sockmap> map(new Sockmap(skel));
  if (bpf_prog_attach(bpf_program__fd(skel->progs.relay), map->intercepted_fd_, BPF_SK_SKB_STREAM_VERDICT, 0) != 0) {
    *why = failed("attaching the relay program to its sockmap (BPF_SK_SKB_STREAM_VERDICT)", errno);
    return nullptr;
  }
  if (map->cpus_ <= 0) {
    *why = failed("counting the possible CPUs", -map->cpus_);
    return nullptr;
  }
  if (std::string failure = map->self_test(); !failure.empty()) {
    *why = "self-test over loopback: " + failure;
    return nullptr;
  }
  return map;
}

Sockmap::Sockmap(relay_bpf* skel)
    : skel_(skel),
      sessions_fd_(bpf_map__fd(skel->maps.sessions)),
      released_fd_(bpf_map__fd(skel->maps.released)),
      targets_fd_(bpf_map__fd(skel->maps.targets)),
      intercepted_fd_(bpf_map__fd(skel->maps.intercepted)),
      bytes_fd_(bpf_map__fd(skel->maps.bytes)),
      trims_fd_(bpf_map__fd(skel->maps.trims)),
      rings_fd_(bpf_map__fd(skel->maps.rings)),
      cpus_(libbpf_num_possible_cpus()) {}

Sockmap::~Sockmap() { relay_bpf__destroy(skel_); }

int Sockmap::insert(int client, int remote, uint32_t counter, uint32_t ring, Keys* keys, bool* partial) {
  *partial = false;
  keys->client = cookie_of(client);
  keys->remote = cookie_of(remote);
  if (!keys->client || !keys->remote) return errno ? errno : EINVAL;
  sp_relay_session up{};
  up.partner = keys->remote;
  up.counter = counter;
  up.ring = ring;
  up.flags = SP_RELAY_TOLD;  // not holding, as the worker assumes
  sp_relay_session down = up;
  down.partner = keys->client;
  down.counter = counter + 1;
  auto undo = [&](int err) {
    bpf_map_delete_elem(targets_fd_, &keys->client);
    bpf_map_delete_elem(targets_fd_, &keys->remote);
    bpf_map_delete_elem(sessions_fd_, &keys->client);
    bpf_map_delete_elem(sessions_fd_, &keys->remote);
    bpf_map_delete_elem(released_fd_, &keys->client);
    bpf_map_delete_elem(released_fd_, &keys->remote);
    return err;
  };
  const uint64_t none = 0;
  uint32_t client_fd = static_cast<uint32_t>(client);  // what a socket map's update takes
  uint32_t remote_fd = static_cast<uint32_t>(remote);
  if (bpf_map_update_elem(released_fd_, &keys->client, &none, BPF_NOEXIST) != 0 ||
      bpf_map_update_elem(released_fd_, &keys->remote, &none, BPF_NOEXIST) != 0 ||
      bpf_map_update_elem(sessions_fd_, &keys->client, &up, BPF_NOEXIST) != 0 ||
      bpf_map_update_elem(sessions_fd_, &keys->remote, &down, BPF_NOEXIST) != 0 ||
      bpf_map_update_elem(targets_fd_, &keys->client, &client_fd, BPF_NOEXIST) != 0 ||
      bpf_map_update_elem(targets_fd_, &keys->remote, &remote_fd, BPF_NOEXIST) != 0)
    return undo(errno);
  if (int err = intercept(remote, keys->remote)) return undo(err);
  if (int err = intercept(client, keys->client)) {
    *partial = true;
    return err;
  }
  return 0;
}

int Sockmap::intercept(int fd, uint64_t key) {
  uint32_t value = static_cast<uint32_t>(fd);
  if (bpf_map_update_elem(intercepted_fd_, &key, &value, BPF_NOEXIST) != 0) return errno;
  // Setting the low-water mark makes TCP check for queued bytes and wake the socket, which now
  // means: run the program over what arrived before the socket was intercepted.
  int one = 1;
  return ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one) == 0 ? 0 : errno;
}


Sockmap::Taken Sockmap::taken(uint64_t key) const {
  sp_relay_session entry{};
  if (bpf_map_lookup_elem(sessions_fd_, &key, &entry) != 0) return {};
  return {entry.redirected, entry.held};
}

void Sockmap::released(uint64_t key, uint64_t bytes, bool paused) {
  uint64_t value = bytes | (paused ? SP_RELAY_PAUSED : 0);
  bpf_map_update_elem(released_fd_, &key, &value, BPF_EXIST);
}

Fd Sockmap::create_ring(uint32_t index, int* err) {
  Fd ring(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "sp_worker_ring", 0, 0, SP_RELAY_RING_BYTES, nullptr));
  if (!ring) {
    *err = errno;
    return ring;
  }
  int fd = ring.get();
  if (bpf_map_update_elem(rings_fd_, &index, &fd, BPF_ANY) != 0) {
    *err = errno;
    return Fd();
  }
  return ring;
}

void Sockmap::erase(const Keys& keys) {
  for (uint64_t key : {keys.client, keys.remote}) {
    if (!key) continue;
    // Normally closing the socket took it out already (ENOENT); after a refused insert it did not.
    bpf_map_delete_elem(intercepted_fd_, &key);
    bpf_map_delete_elem(targets_fd_, &key);
    bpf_map_delete_elem(sessions_fd_, &key);
    bpf_map_delete_elem(released_fd_, &key);
  }
}

uint64_t Sockmap::bytes(uint32_t counter) const { return per_cpu_sum(bytes_fd_, counter); }

uint64_t Sockmap::trims(uint32_t ring) const { return per_cpu_sum(trims_fd_, ring); }

uint64_t Sockmap::per_cpu_sum(int map_fd, uint32_t key) const {
  std::vector<uint64_t> per_cpu(static_cast<size_t>(cpus_));
  if (bpf_map_lookup_elem(map_fd, &key, per_cpu.data()) != 0) return 0;
  uint64_t sum = 0;
  for (uint64_t n : per_cpu) sum += n;
  return sum;
}

std::string Sockmap::self_test() {
  Fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener) return failed("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener.get(), 4) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return failed("listen on 127.0.0.1", errno);
  Pair client, server;  // client.accepted and server.connected are the proxy's two sockets
  if (std::string e = loopback_pair(listener.get(), addr, &client); !e.empty()) return e;
  if (std::string e = loopback_pair(listener.get(), addr, &server); !e.empty()) return e;
  // Bytes waiting before the sockets enter the maps, as a client that speaks at once leaves them.
  if (!send_all(client.connected.get(), "early-up,") || !send_all(server.accepted.get(), "early-down,"))
    return failed("send", errno);
  pollfd queued[2] = {{client.accepted.get(), POLLIN, 0}, {server.connected.get(), POLLIN, 0}};
  for (pollfd& p : queued)
    if (::poll(&p, 1, 1000) != 1) return "loopback bytes did not arrive in a second";
  uint64_t up_before = bytes(kSelfTestCounter), down_before = bytes(kSelfTestCounter + 1);
  Keys keys;
  bool partial = false;
  if (int err = insert(client.accepted.get(), server.connected.get(), kSelfTestCounter, SP_RELAY_WORKERS, &keys,
                       &partial)) {
    erase(keys);
    return failed("putting a loopback pair in the sockmap", err);
  }
  std::string result;
  if (!send_all(client.connected.get(), "late-up") || !send_all(server.accepted.get(), "late-down")) {
    result = failed("send", errno);
  } else {
    std::string up = receive(server.accepted.get(), 16), down = receive(client.connected.get(), 20);
    if (up != "early-up,late-up" || down != "early-down,late-down")
      result = "the relay delivered '" + up + "' and '" + down + "' instead of 'early-up,late-up' and 'early-down,late-down'";
    else if (bytes(kSelfTestCounter) - up_before != 16 || bytes(kSelfTestCounter + 1) - down_before != 20)
      result = "the relay's byte counters did not count the bytes it moved";
  }
  client = {};
  server = {};
  erase(keys);
  return result;
}

}  // namespace sp
