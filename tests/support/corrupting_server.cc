#include "tests/support/corrupting_server.h"

#include "tests/support/net.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/address.h"
#include "common/socket.h"

namespace sp::test {

CorruptingServer::CorruptingServer(Fault fault, uint64_t after) : fault_(fault), after_(after) {
  listener_ = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front(), 64);
  set_nonblocking(listener_.get(), false);
  port_ = local_address(listener_.get()).port();
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  stop_read_.reset(p[0]);
  stop_write_.reset(p[1]);
  acceptor_ = std::thread([this] { accept_loop(); });
}

CorruptingServer::~CorruptingServer() {
  char x = 1;
  ssize_t n = ::write(stop_write_.get(), &x, 1);  // wakes every poll
  (void)n;
  acceptor_.join();
  std::vector<std::thread> sessions;
  {
    std::lock_guard lock(mu_);
    for (int fd : live_fds_) ::shutdown(fd, SHUT_RDWR);  // unblocks a send in progress
    sessions.swap(sessions_);
  }
  for (auto& t : sessions) t.join();
}

bool CorruptingServer::wait_readable(int fd) {
  pollfd p[2] = {{fd, POLLIN, 0}, {stop_read_.get(), POLLIN, 0}};
  for (;;) {
    int rc = ::poll(p, 2, -1);
    if (rc < 0 && errno == EINTR) continue;
    return rc > 0 && !(p[1].revents & POLLIN);
  }
}

void CorruptingServer::accept_loop() {
  while (wait_readable(listener_.get())) {
    int fd = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    set_nodelay(fd);
    std::lock_guard lock(mu_);
    live_fds_.push_back(fd);
    sessions_.emplace_back([this, fd] { serve(fd); });
  }
}

void CorruptingServer::serve(int fd) {
  std::vector<uint8_t> buf(64 << 10);
  uint64_t seen = 0;  // bytes read so far on this connection
  bool faulted = false;
  auto send_all = [fd](const uint8_t* p, size_t len) { return sp::test::send_all(fd, p, len); };
  bool reset = false;
  while (wait_readable(fd)) {
    ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    auto n = static_cast<size_t>(r);
    if (faulted || seen + n <= after_) {
      seen += n;
      if (!send_all(buf.data(), n)) break;
      continue;
    }
    size_t at = static_cast<size_t>(after_ - seen);  // the fault lands inside this read
    seen += n;
    faulted = true;
    if (fault_ == Fault::kFlipByte) {
      buf[at] ^= 0x01;
    } else if (fault_ == Fault::kDropByte) {
      std::memmove(buf.data() + at, buf.data() + at + 1, n - at - 1);
      --n;
    } else if (fault_ == Fault::kCloseAfter) {
      // FIN, then keep reading what the client still sends: closing with unread data would
      // turn the FIN into a reset.
      send_all(buf.data(), at);
      ::shutdown(fd, SHUT_WR);
      while (wait_readable(fd) && ::recv(fd, buf.data(), buf.size(), 0) > 0) {
      }
      break;
    } else {
      send_all(buf.data(), at);
      reset = true;
      break;
    }
    if (!send_all(buf.data(), n)) break;
  }
  if (reset) set_reset_on_close(fd);
  std::lock_guard lock(mu_);
  live_fds_.erase(std::find(live_fds_.begin(), live_fds_.end(), fd));
  ::close(fd);
}

}  // namespace sp::test
