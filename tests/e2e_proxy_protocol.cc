// End-to-end: --send-proxy and --send-proxy-v2 in every mode, read by a real peer: HAProxy with
// `accept-proxy`, which refuses a connection whose first bytes are not a valid PROXY header and
// answers each HTTP request with the client address the header carried. The header goes out
// before any data path takes the sockets, so the request behind it reaches HAProxy through the
// path under test (the kernel's redirect in sockmap).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <string>

#include "common/socket.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

std::string haproxy_path() {
  RunResult r = run({"/bin/sh", "-c", "command -v haproxy"}, 5s);
  return r.code == 0 ? r.out.substr(0, r.out.find('\n')) : "";
}

// HAProxy in HTTP mode behind `accept-proxy`: the body of every answer is "SRC:PORT DST:PORT" as
// the PROXY header said.
struct AddressEcho {
  explicit AddressEcho(const std::string& haproxy) : port(free_port()) {
    std::string cfg = "/tmp/sp-e2e-pp-" + std::to_string(port) + ".cfg";
    std::ofstream(cfg) << "global\n    nbthread 1\ndefaults\n    mode http\n    timeout connect 5s\n"
                          "    timeout client 10s\n    timeout server 10s\nfrontend fe\n"
                          "    bind 127.0.0.1:" << port << " accept-proxy\n"
                          "    http-request return status 200 content-type text/plain lf-string "
                          "\"%[src]:%[src_port] %[dst]:%[dst_port]\"\n";
    process = std::make_unique<ChildProcess>(std::vector<std::string>{haproxy, "-f", cfg, "-db"});
    if (!wait_for_port(port)) throw std::runtime_error("haproxy did not start: " + process->err());
  }
  uint16_t port;
  std::unique_ptr<ChildProcess> process;
};

// One HTTP/1.0 request through the proxy; the answer's body.
std::string ask(uint16_t proxy_port, SocketAddress* mine) {
  Fd fd = connect_to(proxy_port, 10s);
  *mine = local_address(fd.get());
  std::string request = "GET / HTTP/1.0\r\n\r\n";
  EXPECT_TRUE(send_all(fd.get(), request.data(), request.size()));
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<size_t>(n));
  size_t body = reply.find("\r\n\r\n");
  return body == std::string::npos ? "no answer: " + reply : reply.substr(body + 4);
}

class ProxyProtocolE2E : public ::testing::TestWithParam<std::string> {};

TEST_P(ProxyProtocolE2E, ARealPeerReadsTheClientsAddressInBothVersions) {
  std::string haproxy = haproxy_path();
  if (haproxy.empty()) GTEST_SKIP() << "haproxy is not installed (Debian: scripts/setup-deps installs it)";
  AddressEcho echo(haproxy);
  for (const char* version : {"--send-proxy", "--send-proxy-v2"}) {
    SCOPED_TRACE(version);
    uint16_t port = free_port();
    auto proxy = start_proxy(port, echo.port, GetParam(), {version, "-w", "1"});
    for (int i = 0; i < 5; ++i) {
      SocketAddress mine;
      std::string seen = ask(port, &mine);
      EXPECT_EQ(seen, mine.to_string() + " 127.0.0.1:" + std::to_string(port)) << proxy->err();
    }
  }
}

TEST(ProxyProtocolE2E, WithoutTheFlagAPeerThatWantsTheHeaderRefuses) {
  std::string haproxy = haproxy_path();
  if (haproxy.empty()) GTEST_SKIP() << "haproxy is not installed";
  AddressEcho echo(haproxy);
  uint16_t port = free_port();
  auto proxy = start_proxy(port, echo.port, "rw", {"-w", "1"});
  SocketAddress mine;
  EXPECT_EQ(ask(port, &mine).rfind("no answer", 0), 0u) << "the check above would pass without a header";
}

SP_INSTANTIATE_FOR_ALL_MODES(ProxyProtocolE2E);

}  // namespace
}  // namespace sp::test
