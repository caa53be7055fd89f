// End-to-end: the real proxy and echo server on loopback, in every pump mode.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <thread>

#include "common/address.h"
#include "common/payload.h"
#include "common/socket.h"
#include "tests/support/modes.h"
#include "tests/support/sanitizers.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

class ProxyE2E : public ::testing::TestWithParam<std::string> {};

// Sends `data` and reads the echo concurrently, then half-closes: returns what came back.
std::vector<uint8_t> echo_through(uint16_t port, const std::vector<uint8_t>& data, bool* clean) {
  Fd fd = connect_to(port);
  std::vector<uint8_t> got;
  std::thread reader([&] { got = read_to_eof(fd.get(), clean); });
  EXPECT_TRUE(send_all(fd.get(), data.data(), data.size()));
  ::shutdown(fd.get(), SHUT_WR);
  reader.join();
  return got;
}

TEST_P(ProxyE2E, SixtyFourMiBEachWayArrivesIntact) {
  ProxyStack stack(GetParam());
  auto data = random_bytes(64 << 20, 42);
  bool clean = false;
  auto got = echo_through(stack.proxy_port, data, &clean);
  EXPECT_TRUE(clean) << "the echo did not end with a clean EOF";
  ASSERT_EQ(got.size(), data.size());
  EXPECT_EQ(sha256_hex(got), sha256_hex(data));
}

TEST_P(ProxyE2E, HalfCloseDeliversTheAnswerAfterEof) {
  // A remote that answers only after the client's EOF: the proxy must pass the FIN on and keep
  // the other direction open.
  Fd listener = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front());
  set_nonblocking(listener.get(), false);
  uint16_t remote_port = local_address(listener.get()).port();
  uint16_t port = free_port();
  auto proxy = start_proxy(port, remote_port, GetParam());
  auto data = random_bytes(3 << 20, 7);
  std::thread remote([&] {
    // Serves connections in order until one carries a request: wait_for_port's probe came first.
    for (int i = 0; i < 5; ++i) {
      Fd conn(::accept(listener.get(), nullptr, nullptr));
      auto request = read_to_eof(conn.get());
      if (request.empty()) continue;
      std::string answer = "got " + std::to_string(request.size()) + " bytes, sha " + sha256_hex(request);
      send_all(conn.get(), answer.data(), answer.size());
      return;
    }
  });
  Fd fd = connect_to(port);
  ASSERT_TRUE(send_all(fd.get(), data.data(), data.size()));
  ::shutdown(fd.get(), SHUT_WR);  // the remote answers only after this EOF reaches it
  bool clean = false;
  auto reply = read_to_eof(fd.get(), &clean);
  remote.join();
  EXPECT_TRUE(clean);
  EXPECT_EQ(std::string(reply.begin(), reply.end()), "got " + std::to_string(data.size()) + " bytes, sha " + sha256_hex(data));
}

TEST_P(ProxyE2E, UnreachableRemoteClosesTheClientAndKeepsServing) {
  uint16_t dead = free_port();  // nothing listens here
  uint16_t port = free_port();
  auto proxy = start_proxy(port, dead, GetParam(), {"--connect-timeout", "2"});
  for (int i = 0; i < 20; ++i) {
    auto start = std::chrono::steady_clock::now();
    try {
      Fd fd = connect_to(port, 5s);
      const char msg[] = "hello";
      send_all(fd.get(), msg, sizeof msg);
      auto got = read_to_eof(fd.get());
      EXPECT_TRUE(got.empty());
    } catch (const std::system_error& e) {
      // The proxy's reset can beat our connect's completion on loopback: just as prompt a close.
      EXPECT_EQ(e.code().value(), ECONNRESET) << e.what();
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s) << "a refused connect must close the client at once";
  }
  EXPECT_TRUE(proxy->running());
  EXPECT_NE(proxy->err().find("connect 127.0.0.1:" + std::to_string(dead)), std::string::npos)
      << "the log must name the remote: " << proxy->err();
}

TEST_P(ProxyE2E, ConnectTimeoutClosesTheClient) {
  HangingRemote remote;  // connects hang until the timeout
  uint16_t port = free_port();
  auto proxy = start_proxy(port, remote.port, GetParam(), {"--connect-timeout", "500ms"});
  auto start = std::chrono::steady_clock::now();
  Fd fd = connect_to(port, 10s);
  read_to_eof(fd.get());
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 300ms) << "closed before the connect timeout";
  EXPECT_LT(took, 3s) << "the connect timeout did not fire";
  EXPECT_TRUE(proxy->running());
}

TEST_P(ProxyE2E, FiveHundredConcurrentConnectionsPingPong) {
  ProxyStack stack(GetParam(), {}, {"-w", "2"});
  constexpr int kThreads = 10, kPerThread = 50, kRounds = 20, kLen = 1024;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      PayloadPattern pattern(static_cast<uint64_t>(t));
      std::vector<Fd> conns;
      try {
        for (int c = 0; c < kPerThread; ++c) conns.push_back(connect_to(stack.proxy_port, 20s));
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        failures += kPerThread;
        return;
      }
      std::vector<uint8_t> out(kLen), in(kLen);
      for (int r = 0; r < kRounds; ++r) {
        for (int c = 0; c < kPerThread; ++c) {
          pattern.fill(uint64_t(r * kPerThread + c) * kLen, out.data(), kLen);
          if (!send_all(conns[c].get(), out.data(), kLen)) ++failures;
        }
        for (int c = 0; c < kPerThread; ++c) {
          if (!read_exact(conns[c].get(), in.data(), kLen) ||
              pattern.verify(uint64_t(r * kPerThread + c) * kLen, in.data(), kLen) != kLen)
            ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(stack.proxy->running()) << stack.proxy->err();
}

TEST_P(ProxyE2E, SlowReaderKeepsProxyMemoryBounded) {
  // The server sends as fast as it can; the client reads slowly. Backpressure must stop the
  // proxy reading from the server instead of buffering the difference.
  ProxyStack stack(GetParam(), {}, {"-w", "1", "--source"});
  Fd fd = connect_to(stack.proxy_port);
  int small = 64 << 10;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::vector<uint8_t> buf(16 << 10);
  PayloadPattern pattern;
  // The baseline once bytes flow: the proxy listens before its workers (and uring's resident
  // buffer pools) are up, and a session runs only once they are.
  ssize_t first = ::recv(fd.get(), buf.data(), buf.size(), 0);
  ASSERT_GT(first, 0);
  ASSERT_EQ(pattern.verify(0, buf.data(), static_cast<size_t>(first)), static_cast<size_t>(first));
  uint64_t offset = static_cast<uint64_t>(first);
  uint64_t rss_before = rss_bytes(stack.proxy->pid());
  uint64_t rss_peak = rss_before;
  auto end = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < end) {
    ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    ASSERT_GT(n, 0);
    ASSERT_EQ(pattern.verify(offset, buf.data(), static_cast<size_t>(n)), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
    rss_peak = std::max(rss_peak, rss_bytes(stack.proxy->pid()));
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_GT(offset, 0u);
  // Kernel socket buffers are not in RSS; user space holds at most a buffer or pipe per direction.
  if (!kSanitized) {  // (a sanitizer's quarantine holds freed memory: tests/support/sanitizers.h)
    EXPECT_LT(rss_peak, rss_before + (8 << 20)) << "proxy RSS grew from " << rss_before << " to " << rss_peak;
  }
}

TEST_P(ProxyE2E, SigtermDrainsLiveSessionsAndExitsZero) {
  ProxyStack stack(GetParam(), {"--grace", "10"});
  auto data = random_bytes(8 << 20, 9);
  Fd fd = connect_to(stack.proxy_port);
  ASSERT_TRUE(send_all(fd.get(), data.data(), 1 << 20));  // a session is live and mid-transfer
  std::vector<uint8_t> first(1 << 20);
  ASSERT_TRUE(read_exact(fd.get(), first.data(), first.size()));
  stack.proxy->signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(stack.proxy->running()) << "the proxy quit with a session still live";
  // New connections are no longer accepted...
  EXPECT_THROW(connect_blocking(resolve(HostPort{"127.0.0.1", stack.proxy_port}, false).front(), 500),
               std::system_error);
  // ...but the live one finishes its transfer.
  std::vector<uint8_t> rest(data.begin() + (1 << 20), data.end());
  std::vector<uint8_t> got;
  std::thread reader([&] { got = read_to_eof(fd.get()); });
  ASSERT_TRUE(send_all(fd.get(), rest.data(), rest.size()));
  ::shutdown(fd.get(), SHUT_WR);
  reader.join();
  EXPECT_EQ(sha256_hex(got), sha256_hex(rest));
  auto code = stack.proxy->wait(5s);
  ASSERT_TRUE(code.has_value()) << "the proxy did not exit after its last session ended";
  EXPECT_EQ(*code, 0);
}

TEST_P(ProxyE2E, BusyPollingMovesEveryByteAndStillStops) {
  if (GetParam() == "uring") GTEST_SKIP() << "--busy-poll does not apply to uring: refused (e2e_uring.cc)";
  uint16_t stats = free_port();
  ProxyStack stack(GetParam(), {"--busy-poll", "1000", "-w", "1", "--stats", "127.0.0.1:" + std::to_string(stats)});
  auto data = random_bytes(8 << 20, 11);
  bool clean = false;
  auto got = echo_through(stack.proxy_port, data, &clean);
  EXPECT_TRUE(clean);
  EXPECT_EQ(sha256_hex(got), sha256_hex(data));
  Fd fd = connect_to(stack.proxy_port);
  // The worker's voluntary context switches say whether the polling reached its loop: a sleeping
  // loop blocks in epoll_wait about twice per message (for the client, then for the server); one
  // that polls for 1 ms sees the next message before it would sleep.
  auto voluntary = [&] { return stats_snapshot(stats)["workers"][0]["ctx_switches"]["voluntary"].get<uint64_t>(); };
  uint64_t switches_before = voluntary();
  constexpr int kMessages = 500;
  std::vector<uint8_t> out(1024), in(1024);
  for (int i = 0; i < kMessages; ++i) {  // ping-pong: each message within the polling window or after it
    PayloadPattern().fill(uint64_t(i) * out.size(), out.data(), out.size());
    ASSERT_TRUE(send_all(fd.get(), out.data(), out.size()));
    ASSERT_TRUE(read_exact(fd.get(), in.data(), in.size()));
    ASSERT_EQ(in, out) << "message " << i;
    if (i % 100 == 0) std::this_thread::sleep_for(3ms);  // idle past the window now and then
  }
  uint64_t switches = voluntary() - switches_before;
  std::printf("[ measure  ] %s: %llu voluntary context switches of the worker for %d messages\n",
              GetParam().c_str(), static_cast<unsigned long long>(switches), kMessages);
  EXPECT_LT(switches, uint64_t{kMessages / 2}) << "the worker slept between messages: is --busy-poll reaching its loop?";
  fd.reset();
  stack.proxy->signal(SIGTERM);
  auto code = stack.proxy->wait(5s);
  ASSERT_TRUE(code.has_value()) << "a busy-polling proxy did not stop on SIGTERM";
  EXPECT_EQ(*code, 0);
}

TEST_P(ProxyE2E, BadFlagsPrintOneLineAndWhereHelpIsAndExitTwo) {
  auto r = run({bin("proxy"), "--mode", GetParam() == "rw" ? "bogus" : "zero"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("proxy: --mode: invalid mode", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("\nTry 'proxy --help' for more information.\n"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Usage:"), std::string::npos) << r.err;
}

SP_INSTANTIATE_FOR_ALL_MODES(ProxyE2E);

TEST(ProxyCli, HelpExplainsEveryFlagWithDefaults) {
  auto r = run({bin("proxy"), "-h"});
  EXPECT_EQ(r.code, 0);
  for (const char* flag : {"--listen", "--port", "--remote", "--remote-port", "--splice", "--mode", "--workers",
                           "--pipe-size", "--buffer-size", "--connect-timeout", "--grace", "--version"})
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  EXPECT_NE(r.out.find("(default: 9998)"), std::string::npos);
}

TEST(ProxyCli, ListenFailureNamesTheAddress) {
  Fd taken = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front());
  uint16_t port = local_address(taken.get()).port();
  auto r = run({bin("proxy"), "-s", "127.0.0.1", "-p", std::to_string(port), "--stats", "off"}, 10s);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("bind 127.0.0.1:" + std::to_string(port)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Address already in use"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sp::test
