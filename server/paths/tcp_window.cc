#include "server/paths/tcp_window.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace sp {

void close_window(int fd) {
  int minimum = 1;  // the kernel makes it SOCK_MIN_RCVBUF
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &minimum, sizeof minimum);
}

void reopen_window(int fd, int bytes) {
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  int clamp = 0;
  socklen_t len = sizeof clamp;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &clamp, &len) == 0 && clamp < bytes)
    ::setsockopt(fd, IPPROTO_TCP, TCP_WINDOW_CLAMP, &bytes, sizeof bytes);
}

}  // namespace sp
