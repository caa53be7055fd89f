#include "common/socket.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>

#include <cerrno>
#include <system_error>

#include "common/fd_reserve.h"
#include "common/log.h"

namespace sp {
namespace {
[[noreturn]] void fail(const std::string& what, const SocketAddress& addr, int err) {
  throw std::system_error(err, std::generic_category(), what + " " + addr.to_string());
}
}  // namespace

std::string describe_error(const std::string& what, const SocketAddress& addr, int err) {
  return what + " " + addr.to_string() + ": " + log::errno_text(err);
}

Fd listen_tcp(const SocketAddress& addr, int backlog, bool reuseport) {
  Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) fail("socket for", addr, errno);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    fail("SO_REUSEPORT on", addr, errno);
  if (addr.family() == AF_INET6)  // "[::]" means IPv6 only; add "0.0.0.0" for IPv4 too
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (::bind(fd.get(), addr.get(), addr.length) != 0) fail("bind", addr, errno);
  if (::listen(fd.get(), backlog) != 0) fail("listen", addr, errno);
  return fd;
}

Fd stream_socket(const SocketAddress& addr, int* err) {
  fd_reserve::Allocation making_a_descriptor;
  Fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  *err = fd ? 0 : errno;
  return fd;
}

Fd connect_nonblocking(const SocketAddress& addr, int* err) {
  Fd fd = stream_socket(addr, err);
  if (!fd) return fd;
  if (::connect(fd.get(), addr.get(), addr.length) != 0 && errno != EINPROGRESS) {
    *err = errno;
    return Fd();
  }
  *err = 0;
  return fd;
}

Fd connect_blocking(const SocketAddress& addr, int timeout_ms) {
  int err = 0;
  Fd fd = connect_nonblocking(addr, &err);
  if (!fd) fail("connect", addr, err);
  pollfd p{fd.get(), POLLOUT, 0};
  int rc;
  do rc = ::poll(&p, 1, timeout_ms);
  while (rc < 0 && errno == EINTR);
  if (rc == 0) fail("connect", addr, ETIMEDOUT);
  if (rc < 0) fail("connect", addr, errno);
  if (int so = socket_error(fd.get())) fail("connect", addr, so);
  set_nonblocking(fd.get(), false);
  return fd;
}

Fd accept_nonblocking(int listen_fd, int* err, SocketAddress* peer) {
  fd_reserve::Allocation making_a_descriptor;
  return accept_unguarded(listen_fd, err, peer);
}

Fd accept_unguarded(int listen_fd, int* err, SocketAddress* peer) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  *err = fd < 0 ? errno : 0;
  if (fd >= 0 && peer) *peer = SocketAddress::from(reinterpret_cast<sockaddr*>(&ss), len);
  return Fd(fd);
}

std::optional<int> connect_outcome(int fd, uint32_t events) {
  if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return std::nullopt;
  int err = socket_error(fd);
  if (err == 0 && !(events & EPOLLOUT)) err = ECONNREFUSED;
  return err;
}

int socket_error(int fd) {
  int so = 0;
  socklen_t len = sizeof so;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) != 0) return errno;
  return so;
}

void set_nodelay(int fd, bool on) {
  int v = on ? 1 : 0;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
}

void set_reset_on_close(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

void set_nonblocking(int fd, bool on) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK));
}

SocketAddress local_address(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return SocketAddress::from(reinterpret_cast<sockaddr*>(&ss), len);
}

SocketAddress peer_address(int fd) {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return SocketAddress{};
  return SocketAddress::from(reinterpret_cast<sockaddr*>(&ss), len);
}

}  // namespace sp
