// End-to-end: limits that hold under a burst, in every mode. --max-connections serves exactly
// its number of a burst of connects; the rest are closed at once and counted. The stats socket
// answers a one-shot request however many watchers hold it.
#include <gtest/gtest.h>

#include <sys/socket.h>

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
