#include "server/proxy/socket_budget.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace sp {
namespace {

// The last of the three numbers of a /proc/sys/net/ipv4 file, or the middle one; 0 if unreadable.
uint64_t proc_field(const char* path, int index) {
  std::ifstream in(path);
  uint64_t v[3] = {0, 0, 0};
  in >> v[0] >> v[1] >> v[2];
  return in ? v[index] : 0;
}

}  // namespace

SocketBudget::SocketBudget(uint64_t bytes) : bytes_(bytes) {
  uint64_t most = std::max(proc_field("/proc/sys/net/ipv4/tcp_rmem", 2), proc_field("/proc/sys/net/ipv4/tcp_wmem", 2));
  autotune_max_ = static_cast<int>(std::clamp<uint64_t>(most ? most : 4 << 20, kFloor, 1 << 30));
}

uint64_t SocketBudget::automatic() {
  uint64_t pressure_pages = proc_field("/proc/sys/net/ipv4/tcp_mem", 1);
  return pressure_pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) / 2;
}

SocketBudget::Cap SocketBudget::cap_for(uint64_t sessions) const {
  if (bytes_ == 0 || sessions == 0) return {};
  uint64_t share = std::max<uint64_t>(bytes_ / (4 * sessions), kFloor);
  if (share >= static_cast<uint64_t>(autotune_max_)) return {};
  // Steps of 2^(1/4) (19%): 64 KiB is step 64, 4 MiB step 88.
  uint32_t step = static_cast<uint32_t>(std::floor(4 * std::log2(static_cast<double>(share))));
  return {static_cast<int>(std::exp2(step / 4.0)), step};
}

SocketBudget::Cap SocketBudget::cap() const { return cap_for(live_.load(std::memory_order_relaxed)); }

void SocketBudget::apply(int fd, const Cap& cap) const {
  int half = (cap.bytes ? cap.bytes : autotune_max_) / 2;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &half, sizeof half);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
}

}  // namespace sp
