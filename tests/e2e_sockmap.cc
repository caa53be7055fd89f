// --mode sockmap end to end, beyond the suites every mode runs: the kernel does the relaying (the
// stats show it and no pump ran), bytes that arrive before the sockets enter the maps come first,
// a half-close waits for what the kernel still queues (released for flow control meanwhile), and
// where bpf(2) is refused the proxy says so once, names the remedy and relays with splice.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/address.h"
#include "common/socket.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

bool echoes(uint16_t port, size_t bytes) {
  Fd fd = connect_to(port, 5s);
  auto data = random_bytes(bytes, 7);
  std::vector<uint8_t> back(data.size());
  return send_all(fd.get(), data.data(), data.size()) && read_exact(fd.get(), back.data(), back.size()) && back == data;
}

// The remote end of a session, accepted by the test; reads give up after 10 s instead of hanging.
Fd accept_remote(int listener) {
  Fd fd(::accept(listener, nullptr, nullptr));
  timeval timeout{10, 0};
  if (fd) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return fd;
}

uint64_t worker_counter(const nlohmann::json& snap, const char* name) {
  uint64_t sum = 0;
  for (const auto& w : snap["workers"]) sum += w["counters"].value(name, uint64_t{0});
  return sum;
}

TEST(SockmapE2E, TheKernelRelaysAndTheStatsCountItsBytes) {
  uint16_t stats_port = free_port();
  ProxyStack stack("sockmap", {"--stats", "127.0.0.1:" + std::to_string(stats_port), "-w", "1", "--stats-interval", "0.1"});
  ASSERT_TRUE(wait_for_port(stats_port));
  // wait_for_port's probe closed before the proxy's connect completed: a socket past ESTABLISHED
  // cannot enter a sockmap, so that session fell back to splice. Count from after it.
  std::this_thread::sleep_for(300ms);
  auto before = stats_snapshot(stats_port);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(echoes(stack.proxy_port, 4 << 20));
  std::this_thread::sleep_for(300ms);  // a sample after the sessions closed
  auto snap = stats_snapshot(stats_port);
  auto delta = [&](const char* name) { return worker_counter(snap, name) - worker_counter(before, name); };
  EXPECT_EQ(snap.value("mode", ""), "sockmap");
  ASSERT_EQ(snap.value("mode_effective", ""), "sockmap") << "the kernel relay was refused here";
  EXPECT_EQ(delta("sockmap_sessions"), 3u);
  EXPECT_EQ(delta("sockmap_fallbacks"), 0u);
  EXPECT_EQ(delta("read_calls") + delta("splice_calls"), 0u) << "bytes went through a pump, not the kernel";
  // Counted by the program itself, exactly: three sessions of 4 MiB each way.
  EXPECT_EQ(delta("bytes_in"), 3u * (4 << 20));
  EXPECT_EQ(delta("bytes_out"), 3u * (4 << 20));
}

// A client that speaks at once and a server that greets at once: both sides' first bytes wait in
// the proxy's sockets before they enter the maps, and must still arrive, first and in order.
TEST(SockmapE2E, BytesQueuedBeforeTheSocketsEnterTheMapsArriveFirst) {
  Fd listener = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front());
  set_nonblocking(listener.get(), false);
  uint16_t remote_port = local_address(listener.get()).port();
  uint16_t port = free_port();
  auto proxy = start_proxy(port, remote_port, "sockmap", {"-w", "1"});
  Fd probe(::accept(listener.get(), nullptr, nullptr));  // start_proxy's readiness probe
  probe.reset();
  for (int round = 0; round < 5; ++round) {
    auto hello = random_bytes(100 << 10, 20 + round), greeting = random_bytes(60 << 10, 40 + round);
    auto late = random_bytes(10 << 10, 60 + round);
    Fd client = connect_to(port, 10s);
    ASSERT_TRUE(send_all(client.get(), hello.data(), hello.size()));  // before the proxy can connect
    Fd remote = accept_remote(listener.get());
    ASSERT_TRUE(remote);
    ASSERT_TRUE(send_all(remote.get(), greeting.data(), greeting.size()));
    std::vector<uint8_t> got(hello.size()), back(greeting.size());
    ASSERT_TRUE(read_exact(remote.get(), got.data(), got.size())) << "round " << round;
    EXPECT_EQ(got, hello) << "round " << round;
    ASSERT_TRUE(read_exact(client.get(), back.data(), back.size())) << "round " << round;
    EXPECT_EQ(back, greeting) << "round " << round;
    // And what follows, through the program.
    ASSERT_TRUE(send_all(client.get(), late.data(), late.size()));
    std::vector<uint8_t> got_late(late.size());
    ASSERT_TRUE(read_exact(remote.get(), got_late.data(), got_late.size()));
    EXPECT_EQ(got_late, late);
  }
}

// The client sends 32 MiB and half-closes at once, while the remote does not read for a while: the
// FIN reaches the proxy with megabytes still queued in the kernel (the naive teardown lost them),
// the direction is released for flow control meanwhile, and the EOF must come after every byte.
TEST(SockmapE2E, HalfCloseWaitsUntilEveryQueuedByteLeft) {
  uint16_t stats_port = free_port();
  Fd listener = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front());
  set_nonblocking(listener.get(), false);
  uint16_t remote_port = local_address(listener.get()).port();
  uint16_t port = free_port();
  auto proxy = start_proxy(port, remote_port, "sockmap",
                           {"-w", "1", "--stats", "127.0.0.1:" + std::to_string(stats_port), "--stats-interval", "0.1"});
  Fd probe(::accept(listener.get(), nullptr, nullptr));
  probe.reset();
  auto data = random_bytes(32 << 20, 5);
  Fd client = connect_to(port, 30s);
  Fd remote = accept_remote(listener.get());
  ASSERT_TRUE(remote);
  std::thread sender([&] {
    send_all(client.get(), data.data(), data.size());
    ::shutdown(client.get(), SHUT_WR);
  });
  std::this_thread::sleep_for(700ms);  // the remote reads nothing yet: the kernel's queue fills
  bool clean = false;
  auto got = read_to_eof(remote.get(), &clean);
  sender.join();
  EXPECT_TRUE(clean) << "the remote's stream did not end with a clean EOF";
  ASSERT_EQ(got.size(), data.size()) << "bytes lost before the EOF";
  EXPECT_EQ(sha256_hex(got), sha256_hex(data));
  // The other direction still works after the half-close, and ends too.
  const std::string reply = "all received";
  ASSERT_TRUE(send_all(remote.get(), reply.data(), reply.size()));
  remote.reset();
  auto answer = read_to_eof(client.get(), &clean);
  EXPECT_TRUE(clean);
  EXPECT_EQ(std::string(answer.begin(), answer.end()), reply);
  auto snap = stats_snapshot(stats_port);
  ASSERT_EQ(snap.value("mode_effective", ""), "sockmap");
  EXPECT_GE(worker_counter(snap, "sockmap_pauses"), 1u) << "the remote's slowness never engaged flow control";
}

TEST(SockmapE2E, RefusedBpfFallsBackToSpliceAndSaysWhyOnce) {
  uint16_t server_port = free_port(), port = free_port(), stats_port = free_port();
  ChildProcess server({bin("tcp_ping_server"), "-s", "127.0.0.1:" + std::to_string(server_port), "-w", "1", "--stats", "off"});
  ASSERT_TRUE(wait_for_port(server_port));
  ChildProcess proxy({bin("refuse_syscall"), "bpf", bin("proxy"), "-s", "127.0.0.1:" + std::to_string(port), "-r",
                      "127.0.0.1:" + std::to_string(server_port), "--mode", "sockmap", "-w", "2", "--stats-interval",
                      "0.1", "--stats", "127.0.0.1:" + std::to_string(stats_port)});
  ASSERT_TRUE(wait_for_port(port)) << proxy.err();
  ASSERT_TRUE(wait_for_port(stats_port));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(echoes(port, 1 << 20));
  std::this_thread::sleep_for(300ms);
  auto snap = stats_snapshot(stats_port);
  EXPECT_EQ(snap.value("mode", ""), "sockmap");
  EXPECT_EQ(snap.value("mode_effective", ""), "splice");
  EXPECT_GT(worker_counter(snap, "splice_calls"), 0u);
  EXPECT_EQ(worker_counter(snap, "sockmap_sessions"), 0u);
  proxy.signal(SIGTERM);
  ASSERT_EQ(proxy.wait(10s), 0);
  std::string err = proxy.err();
  EXPECT_EQ(count(err, "--mode sockmap: "), 1u) << err;
  EXPECT_NE(err.find("Operation not permitted"), std::string::npos) << "the cause is not named: " << err;
  EXPECT_NE(err.find("relaying with splice"), std::string::npos) << err;
  EXPECT_NE(err.find("CAP_BPF"), std::string::npos) << "no remedy named: " << err;
}

}  // namespace
}  // namespace sp::test
