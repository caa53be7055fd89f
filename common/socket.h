// Thin, error-reporting wrappers over the socket calls every program makes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/address.h"
#include "common/fd.h"

namespace sp {

// Non-blocking, close-on-exec listener with SO_REUSEADDR (a killed proxy restarts at once) and,
// if asked, SO_REUSEPORT. Throws std::system_error naming the address: "bind 0.0.0.0:9998: ...".
Fd listen_tcp(const SocketAddress& addr, int backlog = 4096, bool reuseport = false);

// A non-blocking, close-on-exec TCP socket for addr's family, not yet connected (for a connect
// made elsewhere, e.g. on an io_uring); invalid Fd and *err set on failure. Holds an
// fd_reserve::Allocation, as connect_nonblocking does.
Fd stream_socket(const SocketAddress& addr, int* err);

// Starts a non-blocking connect. On success the Fd is valid and the connect may still be in
// progress (wait for writability, then check socket_error()); on failure *err is the errno.
Fd connect_nonblocking(const SocketAddress& addr, int* err);

// The outcome of a non-blocking connect, read from a readiness event of its socket: nullopt
// while the event says nothing yet (keep waiting), 0 once connected, else the errno (a hang-up
// with no error recorded counts as ECONNREFUSED).
std::optional<int> connect_outcome(int fd, uint32_t events);

// Blocking connect with a timeout, for tools and tests. Throws std::system_error naming addr.
Fd connect_blocking(const SocketAddress& addr, int timeout_ms = 5000);

// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC; invalid Fd and *err set when nothing was accepted.
// Holds an fd_reserve::Allocation (as connect_nonblocking does for its socket) so that it never
// takes the number of the reserved descriptor while that is in use.
Fd accept_nonblocking(int listen_fd, int* err, SocketAddress* peer = nullptr);
// The same without the Allocation: only inside fd_reserve::use(), accepting on the reserve.
Fd accept_unguarded(int listen_fd, int* err, SocketAddress* peer = nullptr);

int socket_error(int fd);              // SO_ERROR, clearing it
void set_nodelay(int fd, bool on = true);
void set_reset_on_close(int fd);       // SO_LINGER {1, 0}: close() sends RST, propagating a reset
void set_nonblocking(int fd, bool on = true);
SocketAddress local_address(int fd);
SocketAddress peer_address(int fd);

// "connect 127.0.0.1:9999: Connection refused"
std::string describe_error(const std::string& what, const SocketAddress& addr, int err);

}  // namespace sp
