#include "tests/support/sockmap_stack.h"

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>

#include "common/address.h"
#include "common/socket.h"
#include "tests/support/net.h"
#include "tests/support/stack.h"

namespace sp::test {

Fd accept_remote(int listener) {
  Fd fd(::accept(listener, nullptr, nullptr));
  timeval timeout{10, 0};
  if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

ProxyToListener::ProxyToListener(uint16_t stats_port, std::vector<std::string> extra)
    : listener(listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front())), port(free_port()) {
  set_nonblocking(listener.get(), false);
  extra.insert(extra.end(), {"-w", "1"});
  if (stats_port) extra.insert(extra.end(), {"--stats", "127.0.0.1:" + std::to_string(stats_port), "--stats-interval", "0.1"});
  proxy = start_proxy(port, local_address(listener.get()).port(), "sockmap", extra);
  Fd probe(::accept(listener.get(), nullptr, nullptr));  // start_proxy's readiness probe
}

bool echoes_through(uint16_t port, int listener) {
  Fd client = connect_to(port, std::chrono::seconds(10));
  Fd remote = accept_remote(listener);
  const std::string ping = "still serving";
  std::string got(ping.size(), '\0');
  return remote && send_all(client.get(), ping.data(), ping.size()) && read_exact(remote.get(), got.data(), got.size()) &&
         got == ping;
}

}  // namespace sp::test
