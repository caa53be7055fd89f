// What TCP counts of a sockmap session's sockets, which the relay compares with what its program
// counts (server/paths/sockmap_relay.h).
//
// Thread context: any thread.
#pragma once

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>

namespace sp {

inline bool tcp_info_of(int fd, tcp_info* info) {
  socklen_t len = sizeof *info;
  *info = {};
  return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len) == 0;
}

inline int64_t ioctl_bytes(int fd, unsigned long request) {
  int n = 0;
  return ::ioctl(fd, request, &n) == 0 ? std::max(n, 0) : 0;
}

// Bytes the socket has taken from its writers since it connected: acknowledged ones plus what is
// still queued. Two calls, so the sum may lag the truth (ACKs between them) but never exceed it.
inline int64_t written(int fd) {
  tcp_info info;
  if (!tcp_info_of(fd, &info)) return 0;
  return static_cast<int64_t>(info.tcpi_bytes_acked) + ioctl_bytes(fd, SIOCOUTQ);
}

}  // namespace sp
