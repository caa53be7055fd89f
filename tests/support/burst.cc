#include "tests/support/burst.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/address.h"
#include "common/socket.h"

namespace sp::test {
namespace {
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}
}  // namespace

std::vector<Fd> connect_burst(uint16_t port, int n) {
  auto addr = resolve(HostPort{"127.0.0.1", port}, false).front();
  std::vector<Fd> out;
  for (int i = 0; i < n; ++i) {
    int err = 0;
    out.push_back(connect_nonblocking(addr, &err));
  }
  return out;
}

BurstOutcome await_echo_or_close(const std::vector<Fd>& conns, std::chrono::milliseconds limit) {
  auto start = Clock::now();
  auto deadline = start + limit;
  BurstOutcome out;
  // 0: connecting, 1: byte sent, 2: done.
  std::vector<int> state(conns.size(), 0);
  size_t done = 0;
  auto finish = [&](size_t i, bool served) {
    state[i] = 2;
    ++done;
    if (served) {
      ++out.served;
    } else {
      ++out.closed;
      out.last_close_s = std::chrono::duration<double>(Clock::now() - start).count();
    }
  };
  while (done < conns.size()) {
    std::vector<pollfd> fds;
    std::vector<size_t> which;
    for (size_t i = 0; i < conns.size(); ++i) {
      if (state[i] == 2) continue;
      fds.push_back({conns[i].get(), static_cast<short>(state[i] == 0 ? POLLOUT : POLLIN), 0});
      which.push_back(i);
    }
    int ready = ::poll(fds.data(), fds.size(), remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    for (size_t k = 0; k < fds.size(); ++k) {
      if (!fds[k].revents) continue;
      size_t i = which[k];
      char byte = 'x';
      if (state[i] == 0) {
        // Connected, or already closed by the other side: a failed send says which.
        if (::send(fds[k].fd, &byte, 1, MSG_NOSIGNAL) == 1) state[i] = 1;
        else finish(i, false);
        continue;
      }
      ssize_t n = ::recv(fds[k].fd, &byte, 1, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      finish(i, n == 1 && byte == 'x');
    }
  }
  out.pending = static_cast<int>(conns.size() - done);
  return out;
}

}  // namespace sp::test
