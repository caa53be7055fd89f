// Fault tests: peers that die, reset, stall or never answer, and exhausted fds and pipes. Each
// runs in every pump mode and checks exact outcomes: bytes delivered, hashes, the proxy still
// serving, and its descriptors back to the baseline afterwards.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/address.h"
#include "common/socket.h"
#include "tests/support/modes.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

class Faults : public ::testing::TestWithParam<std::string> {
 protected:
  // The proxy's descriptors once the sessions a test opened are gone (the stats thread briefly
  // opens /proc files, so take the least of a few readings).
  static int settled_fds(int pid, int at_most, std::chrono::milliseconds patience = 5s) {
    int fds = open_fds(pid);
    for (auto end = std::chrono::steady_clock::now() + patience; std::chrono::steady_clock::now() < end;) {
      fds = std::min(open_fds(pid), open_fds(pid));
      if (fds <= at_most) break;
      std::this_thread::sleep_for(20ms);
    }
    return fds;
  }
  // The proxy's descriptors at rest, once it is fully up: its listener answers before its loops
  // and signal handling exist, so wait for a complete session through it first (if it has an
  // echoing remote) and for the count to settle.
  static int baseline_fds(int pid, uint16_t echo_port = 0) {
    if (echo_port) echoes(echo_port);
    std::this_thread::sleep_for(200ms);
    return settled_fds(pid, 0, 100ms);
  }
  static bool echoes(uint16_t port) {
    try {
      Fd fd = connect_to(port, 5s);
      auto data = random_bytes(100000, 5);
      std::vector<uint8_t> back(data.size());
      return send_all(fd.get(), data.data(), data.size()) && read_exact(fd.get(), back.data(), back.size()) && back == data;
    } catch (const std::exception&) {
      return false;
    }
  }
};

TEST_P(Faults, ServerKilledMidStreamThenRestarted) {
  ProxyStack stack(GetParam());
  int baseline = baseline_fds(stack.proxy->pid(), stack.proxy_port);
  std::vector<Fd> clients;
  std::vector<std::thread> readers;
  std::atomic<int> ended{0};
  for (int i = 0; i < 8; ++i) {
    clients.push_back(connect_to(stack.proxy_port, 10s));
    readers.emplace_back([&, fd = clients.back().get()] {
      read_to_eof(fd);  // returns on FIN or reset, or fails the recv timeout
      ++ended;
    });
  }
  // Traffic in flight on every connection, then the server dies.
  auto chunk = random_bytes(256 << 10, 1);
  for (auto& c : clients) send_all(c.get(), chunk.data(), chunk.size());
  stack.server->signal(SIGKILL);
  stack.server->wait(5s);
  auto start = std::chrono::steady_clock::now();
  for (auto& r : readers) r.join();
  EXPECT_EQ(ended.load(), 8);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "clients hung after the server died";
  clients.clear();
  EXPECT_LE(settled_fds(stack.proxy->pid(), baseline), baseline);
  // While the server is down, new clients are closed at once; once it is back they are served.
  EXPECT_FALSE(echoes(stack.proxy_port));
  ChildProcess restarted({bin("tcp_ping_server"), "-s", "127.0.0.1", "-p", std::to_string(stack.server_port), "-w", "1"});
  ASSERT_TRUE(wait_for_port(stack.server_port));
  EXPECT_TRUE(echoes(stack.proxy_port));
  EXPECT_TRUE(stack.proxy->running());
}

TEST_P(Faults, ClientResetMidTransferIsPassedOnAndCleanedUp) {
  // A remote that reads everything and counts: it must see the reset, not a clean EOF.
  Fd listener = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front());
  set_nonblocking(listener.get(), false);
  uint16_t remote_port = local_address(listener.get()).port();
  uint16_t port = free_port();
  auto proxy = start_proxy(port, remote_port, GetParam());
  Fd probe(::accept(listener.get(), nullptr, nullptr));  // wait_for_port's connection
  probe.reset();
  int baseline = baseline_fds(proxy->pid());
  Fd client = connect_to(port);
  Fd remote(::accept(listener.get(), nullptr, nullptr));
  timeval tv{5, 0};
  ::setsockopt(remote.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto data = random_bytes(1 << 20, 2);
  ASSERT_TRUE(send_all(client.get(), data.data(), data.size()));
  set_reset_on_close(client.get());
  client.reset();  // RST
  bool clean = true;
  auto got = read_to_eof(remote.get(), &clean);
  EXPECT_FALSE(clean) << "the remote saw a clean EOF instead of the client's reset";
  EXPECT_LE(got.size(), data.size());
  EXPECT_EQ(std::vector<uint8_t>(data.begin(), data.begin() + static_cast<long>(got.size())), got)
      << "what did arrive before the reset must be an exact prefix";
  remote.reset();
  EXPECT_LE(settled_fds(proxy->pid(), baseline), baseline);
  EXPECT_TRUE(proxy->running());
}

TEST_P(Faults, RemoteThatNeverReadsBoundsMemoryAndFreesOnClose) {
  Fd listener = listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front());
  set_nonblocking(listener.get(), false);
  uint16_t remote_port = local_address(listener.get()).port();
  uint16_t port = free_port();
  auto proxy = start_proxy(port, remote_port, GetParam());
  Fd probe(::accept(listener.get(), nullptr, nullptr));
  probe.reset();
  int baseline = baseline_fds(proxy->pid());
  uint64_t rss_before = rss_bytes(proxy->pid());
  Fd client = connect_to(port);
  Fd remote(::accept(listener.get(), nullptr, nullptr));  // accepted, never read
  set_nonblocking(client.get());
  auto chunk = random_bytes(64 << 10, 3);
  uint64_t sent = 0;
  for (auto end = std::chrono::steady_clock::now() + 2s; std::chrono::steady_clock::now() < end;) {
    ssize_t n = ::send(client.get(), chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<uint64_t>(n);
    else std::this_thread::sleep_for(5ms);
  }
  // The client is stopped by backpressure after some socket buffers' worth, not after 2 s of
  // loopback bandwidth; and the proxy holds at most a buffer or a pipe of it.
  // (sockmap: the relay holds the sender back once 2 MiB wait in the kernel, docs/sockmap.md.)
  EXPECT_LT(sent, 256u << 20) << "nothing held the client back";
  EXPECT_LT(rss_bytes(proxy->pid()), rss_before + (8u << 20));
  double cpu0 = cpu_seconds(proxy->pid());
  std::this_thread::sleep_for(1s);
  EXPECT_LT(cpu_seconds(proxy->pid()) - cpu0, 0.2) << "the proxy spins while the remote does not read";
  client.reset();
  remote.reset();
  EXPECT_LE(settled_fds(proxy->pid(), baseline), baseline);
}

// A minimal blocking echo server, a thread per connection, so that this test depends on the
// proxy alone. Stops (and joins) on destruction.
class ThreadedEcho {
 public:
  ThreadedEcho() : listener_(listen_tcp(resolve(HostPort{"127.0.0.1", 0}, true).front())) {
    port = local_address(listener_.get()).port();
    acceptor_ = std::thread([this] {
      while (!stop_) {
        int err = 0;
        Fd conn = accept_nonblocking(listener_.get(), &err);
        if (!conn) {
          std::this_thread::sleep_for(2ms);
          continue;
        }
        set_nonblocking(conn.get(), false);
        timeval tv{0, 200000};
        ::setsockopt(conn.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        conns_.emplace_back([this, fd = std::move(conn)] {
          char buf[1 << 16];
          while (!stop_) {
            ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0 || !send_all(fd.get(), buf, static_cast<size_t>(n))) return;
          }
        });
      }
    });
  }
  ~ThreadedEcho() {
    stop_ = true;
    acceptor_.join();
    for (auto& t : conns_) t.join();
  }
  uint16_t port = 0;

 private:
  Fd listener_;
  std::atomic<bool> stop_{false};
  std::thread acceptor_;
  std::vector<std::thread> conns_;
};

TEST_P(Faults, FdExhaustionNeitherCrashesNorSpinsAndRecovers) {
  ThreadedEcho echo;
  uint16_t port = free_port();
  // 48 descriptors: room for a handful of sessions (two fds each, plus pipes in splice mode).
  ChildProcess proxy({"/bin/sh", "-c",
                      "ulimit -n 48; exec " + bin("proxy") + " -s 127.0.0.1 -p " + std::to_string(port) +
                          " -c " + std::to_string(echo.port) + " --mode " + GetParam() +
                          " -w 1 --stats off --connect-timeout 1" + kernel_relay_mark_flag(GetParam())});
  ASSERT_TRUE(wait_for_port(port));
  std::vector<Fd> conns;
  for (int i = 0; i < 60; ++i) {
    try {
      conns.push_back(connect_to(port, 3s));
    } catch (const std::exception&) {
    }
  }
  std::this_thread::sleep_for(300ms);
  double cpu0 = cpu_seconds(proxy.pid());
  std::this_thread::sleep_for(1s);
  double spent = cpu_seconds(proxy.pid()) - cpu0;
  EXPECT_LT(spent, 0.3) << "the proxy burns CPU while out of descriptors";
  EXPECT_TRUE(proxy.running()) << proxy.err();
  EXPECT_NE(proxy.err().find("Too many open files"), std::string::npos) << proxy.err();
  conns.clear();
  std::this_thread::sleep_for(500ms);
  // Recovered: new connections are proxied again.
  bool served = false;
  for (int i = 0; i < 20 && !served; ++i) {
    served = echoes(port);
    if (!served) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(served) << "proxy fds: " << open_fds(proxy.pid()) << ", echo server answers directly: "
                      << echoes(echo.port) << "\n" << proxy.err();
}

TEST_P(Faults, SigkillLeavesNothingThatStopsARestart) {
  ProxyStack stack(GetParam());
  std::vector<Fd> live;
  for (int i = 0; i < 5; ++i) live.push_back(connect_to(stack.proxy_port));
  for (auto& c : live) send_all(c.get(), "x", 1);
  stack.proxy->signal(SIGKILL);
  stack.proxy->wait(5s);
  live.clear();  // the old connections linger in TIME_WAIT / FIN_WAIT states
  auto restarted = start_proxy(stack.proxy_port, stack.server_port, GetParam());
  EXPECT_TRUE(echoes(stack.proxy_port));
}

TEST_P(Faults, IdleTimeoutClosesQuietSessionsOnly) {
  ProxyStack stack(GetParam(), {"--idle-timeout", "500ms"});
  Fd quiet = connect_to(stack.proxy_port);
  Fd busy = connect_to(stack.proxy_port);
  auto start = std::chrono::steady_clock::now();
  std::thread talker([&] {
    char c = 'b';
    for (int i = 0; i < 15; ++i) {  // 1.5 s of activity, a byte every 100 ms
      if (!send_all(busy.get(), &c, 1) || !read_exact(busy.get(), &c, 1)) return;
      std::this_thread::sleep_for(100ms);
    }
  });
  bool clean = false;
  read_to_eof(quiet.get(), &clean);
  auto took = std::chrono::steady_clock::now() - start;
  talker.join();
  EXPECT_TRUE(clean) << "an idle timeout is a polite close";
  EXPECT_GE(took, 400ms);
  EXPECT_LT(took, 3s);
  char c = 'c';
  EXPECT_TRUE(send_all(busy.get(), &c, 1) && read_exact(busy.get(), &c, 1)) << "the busy session was closed too";
}

TEST_P(Faults, PipeExhaustionFallsBackToReadWriteAndLosesNothing) {
  // Room for the sessions' sockets but not for their pipes: every session that would splice must
  // fall back to read/write, count it, and still deliver every byte. Modes without pipes deliver
  // everything with nothing to fall back from.
  ProxyStack base("rw");
  base.proxy.reset();
  uint16_t port = free_port(), stats = free_port();
  constexpr int kSessions = 8;
  // Baseline of a 1-worker proxy with stats is about 20 fds; each session takes 2.
  ChildProcess proxy({"/bin/sh", "-c",
                      "ulimit -n 40; exec " + bin("proxy") + " -s 127.0.0.1 -p " + std::to_string(port) + " -c " +
                          std::to_string(base.server_port) + " --mode " + GetParam() + " -w 1 --stats 127.0.0.1:" + std::to_string(stats) +
                          kernel_relay_mark_flag(GetParam())});
  ASSERT_TRUE(wait_for_port(stats));
  std::this_thread::sleep_for(100ms);
  int baseline = open_fds(proxy.pid());
  int room = 40 - baseline;
  int sessions = std::min(kSessions, room / 2);
  ASSERT_GE(sessions, 2) << "baseline " << baseline;
  std::vector<Fd> conns;
  for (int i = 0; i < sessions; ++i) conns.push_back(connect_to(port));
  // Fill what is left so not even one pipe (two fds) fits.
  std::this_thread::sleep_for(200ms);
  std::vector<Fd> fillers;
  while (40 - open_fds(proxy.pid()) >= 2 && fillers.size() < 20) {
    fillers.push_back(connect_to(port));
    std::this_thread::sleep_for(50ms);
  }
  std::vector<std::thread> threads;
  std::atomic<int> intact{0};
  for (auto& c : conns) {
    threads.emplace_back([&, fd = c.get()] {
      auto data = random_bytes(2 << 20, static_cast<uint64_t>(fd));
      std::vector<uint8_t> back;
      std::thread reader([&] {
        back.resize(data.size());
        if (!read_exact(fd, back.data(), back.size())) back.clear();
      });
      send_all(fd, data.data(), data.size());
      reader.join();
      if (back == data) ++intact;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(intact.load(), sessions);
  fillers.clear();  // the stats socket needs a descriptor to accept on
  std::this_thread::sleep_for(200ms);
  auto snap = stats_snapshot(stats);
  ASSERT_TRUE(snap.contains("workers")) << snap.dump();
  int fallbacks = snap["workers"][0]["counters"]["rw_fallbacks"].get<int>();
  if (uses_pipes(GetParam()))
    EXPECT_GT(fallbacks, 0) << snap["workers"][0]["counters"].dump();
  else
    EXPECT_EQ(fallbacks, 0) << snap["workers"][0]["counters"].dump();
}

SP_INSTANTIATE_FOR_ALL_MODES(Faults);

}  // namespace
}  // namespace sp::test
