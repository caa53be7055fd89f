// End-to-end: --accept-proxy. A PROXY header (v1 or v2) from a load balancer leads each client's
// stream; the proxy reads exactly the header, relays what follows through the data path under
// test, and passes the addresses it carried on (--send-proxy). A backend in the test reads what
// arrives byte for byte; HAProxy plays the balancer in front and the peer behind in the last test.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <fstream>
#include <future>
#include <string>
#include <thread>

#include "common/address.h"
#include "common/proxy_protocol.h"
#include "common/socket.h"
#include "tests/support/modes.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

SocketAddress numeric(const std::string& host, uint16_t port) { return resolve(HostPort{host, port}, false).at(0); }

// A backend that accepts one connection, keeps the first `want` bytes it receives and sends back
// what came after `echo_from`; the bytes are the future's value.
struct RecordingBackend {
  explicit RecordingBackend(size_t want, size_t echo_from) : port(free_port()) {
    listener = listen_tcp(numeric("127.0.0.1", port), 16);
    got = std::async(std::launch::async, [this, want, echo_from] {
      pollfd p{listener.get(), POLLIN, 0};
      if (::poll(&p, 1, 10'000) != 1) return std::string("nobody connected");
      Fd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!fd) return std::string("accept failed");
      timeval tv{10, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string bytes(want, '\0');
      if (!read_exact(fd.get(), bytes.data(), want)) return std::string("short: the stream ended early");
      if (echo_from < want) send_all(fd.get(), bytes.data() + echo_from, want - echo_from);
      return bytes;
    });
  }
  uint16_t port;
  Fd listener;
  std::future<std::string> got;
};

std::string reply_of(int fd, size_t n) {
  std::string out(n, '\0');
  return read_exact(fd, out.data(), n) ? out : "no reply";
}

class AcceptProxyE2E : public ::testing::TestWithParam<std::string> {};

// A v1 and a v2 header (IPv4, then IPv6), each sent in pieces with the stream behind it: the
// remote gets the carried addresses as v1, then exactly the stream, and the client its echo.
TEST_P(AcceptProxyE2E, TheCarriedAddressesReachTheRemoteAndTheStreamFollowsWhole) {
  struct Case {
    SocketAddress client, listener;
    bool v2;
  };
  for (const Case& c : {Case{numeric("192.0.2.7", 4242), numeric("198.51.100.9", 443), false},
                        Case{numeric("2001:db8::7", 4242), numeric("2001:db8::9", 443), true}}) {
    SCOPED_TRACE(c.v2 ? "v2" : "v1");
    std::string header = c.v2 ? proxy_protocol::encode_v2(c.client, c.listener)
                              : proxy_protocol::encode_v1(c.client, c.listener);
    std::string forwarded = proxy_protocol::encode_v1(c.client, c.listener);
    std::string stream = "a stream behind the header, " + std::string(100'000, 'x') + " and its end";
    RecordingBackend backend(forwarded.size() + stream.size(), forwarded.size());
    uint16_t port = free_port();
    auto proxy = start_proxy(port, backend.port, GetParam(), {"--accept-proxy", "--send-proxy", "-w", "1"});
    Fd fd = connect_to(port, 10s);
    // In pieces: the header's first 5 bytes, the rest of it with the stream's start, the stream.
    ASSERT_TRUE(send_all(fd.get(), header.data(), 5));
    std::this_thread::sleep_for(50ms);
    std::string rest = header.substr(5) + stream.substr(0, 10);
    ASSERT_TRUE(send_all(fd.get(), rest.data(), rest.size()));
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(send_all(fd.get(), stream.data() + 10, stream.size() - 10));
    EXPECT_EQ(reply_of(fd.get(), stream.size()), stream) << proxy->err();
    ASSERT_EQ(backend.got.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(backend.got.get(), forwarded + stream);
  }
}

// What is not a header is refused, a client that sends none is closed after the timeout, and
// the proxy serves the next client; each refusal counted by its reason.
TEST_P(AcceptProxyE2E, NoHeaderOrABadOneClosesThatClientOnly) {
  uint16_t stats = free_port();
  ProxyStack stack(GetParam(), {"--accept-proxy", "--accept-proxy-timeout", "0.3", "-w", "1", "--stats",
                                "127.0.0.1:" + std::to_string(stats)});
  {
    Fd bad = connect_to(stack.proxy_port, 5s);
    std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    ASSERT_TRUE(send_all(bad.get(), request.data(), request.size()));
    bool clean = true;
    EXPECT_TRUE(read_to_eof(bad.get(), &clean).empty());
  }
  {
    Fd silent = connect_to(stack.proxy_port, 5s);
    auto begun = std::chrono::steady_clock::now();
    EXPECT_TRUE(read_to_eof(silent.get()).empty());
    auto waited = std::chrono::steady_clock::now() - begun;
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 3s);
  }
  Fd good = connect_to(stack.proxy_port, 5s);
  std::string hello = proxy_protocol::encode_v1(numeric("192.0.2.1", 1), numeric("192.0.2.2", 2)) + "hello";
  ASSERT_TRUE(send_all(good.get(), hello.data(), hello.size()));
  EXPECT_EQ(reply_of(good.get(), 5), "hello");
  nlohmann::json snap = stats_snapshot(stats);
  uint64_t invalid = 0, timeouts = 0;
  for (const auto& w : snap["workers"]) {
    invalid += w["counters"].value("proxy_header_invalid", uint64_t{0});
    timeouts += w["counters"].value("proxy_header_timeouts", uint64_t{0});
  }
  EXPECT_EQ(invalid, 1u);
  EXPECT_EQ(timeouts, 1u);
  // One line each, naming the client: "PROXY header from ADDR: why" and "no PROXY header from ADDR".
  EXPECT_EQ(occurrences(stack.proxy->err(), "PROXY header from 127.0.0.1:"), 2u) << stack.proxy->err();
  EXPECT_EQ(occurrences(stack.proxy->err(), "no PROXY header from 127.0.0.1:"), 1u) << stack.proxy->err();
}

std::string haproxy_path() {
  RunResult r = run({"/bin/sh", "-c", "command -v haproxy"}, 5s);
  return r.code == 0 ? r.out.substr(0, r.out.find('\n')) : "";
}

// HAProxy on both sides: a TCP balancer in front that sends v2, and behind us an HTTP frontend
// with `accept-proxy` that answers with the address its header carried: the client's own.
TEST_P(AcceptProxyE2E, BetweenTwoHaproxiesTheBackendSeesTheRealClient) {
  std::string haproxy = haproxy_path();
  if (haproxy.empty()) GTEST_SKIP() << "haproxy is not installed (Debian: scripts/setup-deps installs it)";
  uint16_t front = free_port(), ours = free_port(), back = free_port();
  std::string cfg = "/tmp/sp-e2e-accept-" + std::to_string(front) + ".cfg";
  std::ofstream(cfg) << "global\n    nbthread 1\ndefaults\n    timeout connect 5s\n    timeout client 10s\n"
                        "    timeout server 10s\nfrontend front\n    mode tcp\n    bind 127.0.0.1:" << front
                     << "\n    default_backend us\nbackend us\n    mode tcp\n    server ours 127.0.0.1:" << ours
                     << " send-proxy-v2\nfrontend back\n    mode http\n    bind 127.0.0.1:" << back
                     << " accept-proxy\n    http-request return status 200 content-type text/plain lf-string "
                        "\"%[src]:%[src_port]\"\n";
  ChildProcess balancer({haproxy, "-f", cfg, "-db"});
  ASSERT_TRUE(wait_for_port(front)) << balancer.err();
  auto proxy = start_proxy(ours, back, GetParam(), {"--accept-proxy", "--send-proxy", "-w", "1"});
  for (int i = 0; i < 3; ++i) {
    Fd fd = connect_to(front, 10s);
    std::string mine = local_address(fd.get()).to_string();
    std::string request = "GET / HTTP/1.0\r\n\r\n";
    ASSERT_TRUE(send_all(fd.get(), request.data(), request.size()));
    std::vector<uint8_t> reply = read_to_eof(fd.get());
    std::string text(reply.begin(), reply.end());
    size_t body = text.find("\r\n\r\n");
    EXPECT_EQ(body == std::string::npos ? "no answer: " + text : text.substr(body + 4), mine) << proxy->err();
  }
}

SP_INSTANTIATE_FOR_ALL_MODES(AcceptProxyE2E);

}  // namespace
}  // namespace sp::test
