// End-to-end: limits that hold under a burst, in every mode. --max-connections serves exactly
// its number of a burst of connects; the rest are closed at once and counted. Out of descriptors,
// clients over capacity are closed at once, the log says so once with a count, and the stats
// socket still answers. The stats socket answers a one-shot request however many watchers hold it.
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <cctype>
#include <chrono>
#include <string>
#include <thread>

#include "tests/support/burst.h"
#include "tests/support/modes.h"
#include "tests/support/stack.h"
#include "tests/support/stats.h"

namespace sp::test {
namespace {

using namespace std::chrono_literals;

class Limits : public ::testing::TestWithParam<std::string> {};

// The counters once the proxy has counted everything (a snapshot younger than 20 ms is reused).
nlohmann::json settled_snapshot(uint16_t stats_port) {
  std::this_thread::sleep_for(100ms);
  return stats_snapshot(stats_port);
}

TEST_P(Limits, MaxConnectionsServesExactlyItsNumberOfABurst) {
  constexpr int kCap = 10, kBurst = 200;
  uint16_t stats_port = free_port();
  ProxyStack stack(GetParam(), {"--max-connections", std::to_string(kCap), "--stats",
                                "127.0.0.1:" + std::to_string(stats_port), "-w", "2"});
  ASSERT_TRUE(wait_until_no_sessions(stats_port));  // the wait-for-port probe has closed
  auto before = settled_snapshot(stats_port);
  ASSERT_TRUE(before.contains("listeners")) << before.dump();

  // All at once: the acceptor takes them in batches of 64 before any worker has started one.
  std::vector<Fd> conns = connect_burst(stack.proxy_port, kBurst);
  BurstOutcome got = await_echo_or_close(conns, 10s);
  EXPECT_EQ(got.served, kCap);
  EXPECT_EQ(got.closed, kBurst - kCap);
  EXPECT_EQ(got.pending, 0);

  auto after = settled_snapshot(stats_port);
  ASSERT_TRUE(after.contains("listeners")) << after.dump();
  auto delta = [&](const char* field) {
    return after["listeners"][0][field].get<int>() - before["listeners"][0][field].get<int>();
  };
  EXPECT_EQ(delta("accepted"), kBurst);
  EXPECT_EQ(delta("refused"), kBurst - kCap);
  EXPECT_EQ(after["totals"]["connections_active"].get<int>(), kCap) << after["totals"].dump();

  // The served ones leave: their slots free up and a new connection is served again.
  conns.clear();
  ASSERT_TRUE(wait_until_no_sessions(stats_port));
  EXPECT_TRUE(echoes(stack.proxy_port, 1000));
}

// Seconds since `start`.
double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The sum of N over the log's "... N connections closed at once ..." lines (an episode's end).
// (No std::regex: it trips GCC 12's -Wmaybe-uninitialized in the sanitizer builds, as in e2e_top.)
int closed_in_log(const std::string& err) {
  static const std::string phrase = " connections closed at once on a reserved descriptor";
  int sum = 0;
  for (size_t at = err.find(phrase); at != std::string::npos; at = err.find(phrase, at + phrase.size())) {
    size_t digits = at;
    while (digits > 0 && std::isdigit(static_cast<unsigned char>(err[digits - 1]))) --digits;
    if (digits < at) sum += std::stoi(err.substr(digits, at - digits));
  }
  return sum;
}

TEST_P(Limits, OutOfDescriptorsClosesTheRestAtOnceLogsOnceAndStatsStillAnswer) {
  constexpr int kClients = 300;
  auto start = std::chrono::steady_clock::now();
  uint16_t server_port = free_port(), port = free_port(), stats_port = free_port();
  ChildProcess server({bin("tcp_ping_server"), "-s", "127.0.0.1", "-p", std::to_string(server_port), "-w", "1",
                       "--stats", "off"});
  ASSERT_TRUE(wait_for_port(server_port));
  // 64 descriptors: a few dozen sessions (two each), far fewer than the clients.
  ChildProcess proxy({"/bin/sh", "-c",
                      "ulimit -n 64; exec " + bin("proxy") + " -s 127.0.0.1 -p " + std::to_string(port) + " -c " +
                          std::to_string(server_port) + " --mode " + GetParam() + " -w 2 --stats-interval 0.2 --stats 127.0.0.1:" +
                          std::to_string(stats_port) + kernel_relay_mark_flag(GetParam())});
  ASSERT_TRUE(wait_for_port(port) && wait_for_port(stats_port)) << proxy.err();
  ASSERT_TRUE(wait_until_no_sessions(stats_port));
  auto before = settled_snapshot(stats_port);
  ASSERT_TRUE(before.contains("listeners")) << before.dump();

  // Every client is served or closed within 2 s; none is left in the backlog.
  std::vector<Fd> conns = connect_burst(port, kClients);
  BurstOutcome got = await_echo_or_close(conns, 5s);
  EXPECT_EQ(got.pending, 0);
  EXPECT_EQ(got.served + got.closed, kClients);
  EXPECT_GT(got.served, 0);
  EXPECT_GT(got.closed, kClients / 2);
  EXPECT_LT(got.last_close_s, 2.0);

  // While they hold every descriptor: the stats socket answers within 1 s, and nothing spins.
  double cpu0 = cpu_seconds(proxy.pid());
  auto idle_from = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(300ms);  // a sample taken after the burst (every 0.2 s)
    auto asked = std::chrono::steady_clock::now();
    auto snap = stats_snapshot(stats_port);
    EXPECT_LT(since(asked), 1.0);
    ASSERT_TRUE(snap.contains("process")) << snap.dump() << proxy.err();
    EXPECT_GT(snap["process"]["open_fds"].get<int>(), 2 * got.served);  // /proc read while short
    EXPECT_LE(snap["process"]["open_fds"].get<int>(), 64);
  }
  EXPECT_LT(cpu_seconds(proxy.pid()) - cpu0, 0.2 * since(idle_from) + 0.05) << "the proxy spins while short";

  // Every closed client is counted: on the reserved descriptor (refused), or by a worker that
  // could not open the remote's socket (connect_failed).
  auto during = settled_snapshot(stats_port);
  ASSERT_TRUE(during.contains("listeners")) << during.dump();
  int refused = during["listeners"][0]["refused"].get<int>() - before["listeners"][0]["refused"].get<int>();
  auto connect_failed_sum = [](const nlohmann::json& snap) {
    int n = 0;
    for (const auto& w : snap["workers"]) n += w["counters"]["connect_failed"].get<int>();
    return n;
  };
  int connect_failed = connect_failed_sum(during) - connect_failed_sum(before);
  EXPECT_EQ(refused + connect_failed, got.closed) << during["workers"].dump();
  EXPECT_EQ(during["totals"]["connections_active"].get<int>(), got.served);

  // They leave: served again; the episode's end line counts what the reserve closed.
  conns.clear();
  ASSERT_TRUE(wait_until_no_sessions(stats_port));
  EXPECT_TRUE(echoes(port, 1000));
  std::this_thread::sleep_for(1200ms);  // an episode ends after a second without a shortage
  std::string err = proxy.err();
  EXPECT_EQ(closed_in_log(err), refused) << err;
  EXPECT_LE(static_cast<double>(occurrences(err, ": warn: ")), since(start) + 1) << err;
}

SP_INSTANTIATE_FOR_ALL_MODES(Limits);

// The first line the peer sends (without its newline); empty on EOF or the receive timeout.
std::string first_line(int fd) {
  std::string line;
  char c = 0;
  while (::recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
  return line;
}

TEST(StatsLimits, ThreeHundredWatchersDoNotLockOutAOneShotRequest) {
  constexpr int kWatchers = 300, kWatchLimit = 256;  // kWatchLimit: StatsLimits::max_watchers
  uint16_t stats_port = free_port();
  ProxyStack stack("rw", {"--stats", "127.0.0.1:" + std::to_string(stats_port)});
  ASSERT_TRUE(wait_for_port(stats_port));
  std::vector<Fd> watchers;
  int streaming = 0, refused = 0;
  for (int i = 0; i < kWatchers; ++i) {
    watchers.push_back(connect_to(stats_port, 5s));
    ASSERT_TRUE(send_all(watchers.back().get(), "watch 3600000\n", 14));
    std::string line = first_line(watchers.back().get());
    if (line.find("\"workers\"") != std::string::npos) ++streaming;
    else if (line.find("too many watch streams (256)") != std::string::npos) ++refused;
  }
  EXPECT_EQ(streaming, kWatchLimit);
  EXPECT_EQ(refused, kWatchers - kWatchLimit);

  // They all stay connected; a one-shot request is still answered, at once.
  for (int i = 0; i < 3; ++i) {
    auto start = std::chrono::steady_clock::now();
    auto snap = stats_snapshot(stats_port);
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(snap.contains("workers")) << snap.dump();
    EXPECT_LT(took, 1.0);
  }
}

}  // namespace
}  // namespace sp::test
