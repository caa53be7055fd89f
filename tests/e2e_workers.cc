// End-to-end: how connections reach workers (acceptor hand-off vs SO_REUSEPORT, balance
// policies), the connection limit, and several listen addresses.
#include <gtest/gtest.h>

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

class Workers : public ::testing::TestWithParam<std::string> {};

struct StackWithStats {
  StackWithStats(const std::string& mode, std::vector<std::string> args) : stats_port(free_port()) {
    args.insert(args.end(), {"--stats", "127.0.0.1:" + std::to_string(stats_port), "-w", "2"});
    stack = std::make_unique<ProxyStack>(mode, args);
  }
  uint16_t stats_port;
  std::unique_ptr<ProxyStack> stack;
};

// A snapshot after the counters settled: the stats thread reuses a snapshot younger than 20 ms.
nlohmann::json settled_snapshot(uint16_t port) {
  std::this_thread::sleep_for(50ms);
  return stats_snapshot(port);
}

// Opens n echo connections and checks each one echoes.
std::vector<Fd> open_echoing(uint16_t port, int n) {
  std::vector<Fd> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(connect_to(port, 5s));
    char out = static_cast<char>('a' + i % 26), in = 0;
    EXPECT_TRUE(send_all(conns.back().get(), &out, 1));
    EXPECT_TRUE(read_exact(conns.back().get(), &in, 1));
    EXPECT_EQ(in, out);
  }
  return conns;
}

TEST_P(Workers, ReuseportSpreadsConnectionsOverEveryWorkerWithoutAnAcceptor) {
  StackWithStats s(GetParam(), {"--reuseport"});
  auto conns = open_echoing(s.stack->proxy_port, 64);
  auto snap = settled_snapshot(s.stats_port);
  ASSERT_TRUE(snap.contains("workers")) << snap.dump();
  ASSERT_EQ(snap["workers"].size(), 2u);
  for (const auto& w : snap["workers"]) EXPECT_GT(w["connections_active"].get<int>(), 0) << snap["workers"].dump();
  for (const auto& t : snap["threads"]) EXPECT_NE(t["name"], "acceptor");
  EXPECT_GE(snap["listeners"][0]["accepted"].get<int>(), 64);
}

TEST_P(Workers, RoundRobinGivesEachWorkerHalf) {
  StackWithStats s(GetParam(), {});
  auto conns = open_echoing(s.stack->proxy_port, 40);
  auto snap = settled_snapshot(s.stats_port);
  ASSERT_TRUE(snap.contains("workers")) << snap.dump();
  // The wait-for-port probe may have landed on either worker: 20 or 21 each.
  for (const auto& w : snap["workers"]) EXPECT_NEAR(w["connections_total"].get<double>(), 20.5, 1.0);
}

// Per worker, from one snapshot.
std::vector<int> per_worker(const nlohmann::json& snap, const char* field) {
  std::vector<int> out;
  for (const auto& w : snap["workers"]) out.push_back(w[field].get<int>());
  return out;
}

// Opens n echo connections one at a time and notes which worker took each (the one whose
// connections_total moved).
std::vector<std::pair<Fd, size_t>> open_tracked(uint16_t port, uint16_t stats_port, int n) {
  std::vector<std::pair<Fd, size_t>> out;
  auto before = per_worker(settled_snapshot(stats_port), "connections_total");
  for (int i = 0; i < n; ++i) {
    auto conn = open_echoing(port, 1);
    auto after = per_worker(settled_snapshot(stats_port), "connections_total");
    size_t moved = after.size();
    for (size_t w = 0; w < after.size() && w < before.size(); ++w)
      if (after[w] != before[w]) moved = w;
    EXPECT_LT(moved, after.size()) << "no worker counted connection " << i;
    out.emplace_back(std::move(conn.front()), moved);
    before = after;
  }
  return out;
}

// Leaves one worker with `busy` live connections and the other with none: an imbalance that
// round-robin does not notice and least-connections must fill. Returns the connections kept.
std::vector<Fd> unbalance(StackWithStats& s, int busy) {
  std::vector<Fd> kept;
  for (auto& [fd, worker] : open_tracked(s.stack->proxy_port, s.stats_port, 2 * busy))
    if (worker == 1) kept.push_back(std::move(fd));  // worker 0's close here
  EXPECT_EQ(kept.size(), static_cast<size_t>(busy)) << "least-connections did not alternate an even load";
  for (int i = 0; i < 200; ++i) {
    if (per_worker(stats_snapshot(s.stats_port), "connections_active") == std::vector<int>{0, busy}) break;
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_EQ(per_worker(stats_snapshot(s.stats_port), "connections_active"), (std::vector<int>{0, busy}));
  return kept;
}

TEST_P(Workers, LeastConnectionsFillsTheIdleWorker) {
  StackWithStats s(GetParam(), {"--balance", "least-connections"});
  ASSERT_TRUE(wait_until_no_sessions(s.stats_port));  // the wait-for-port probe has closed
  auto kept = unbalance(s, 3);
  // Round-robin would alternate (1 and 4); least-connections gives all three to the idle worker.
  auto added = open_echoing(s.stack->proxy_port, 3);
  auto snap = settled_snapshot(s.stats_port);
  EXPECT_EQ(per_worker(snap, "connections_active"), (std::vector<int>{3, 3})) << snap["workers"].dump();
}

TEST_P(Workers, LeastConnectionsSpreadsABurst) {
  // Connections accepted in one batch, before any worker has started them, must still spread:
  // counted only once started, the whole burst would go to the idle worker (8 and 4); round-robin
  // gives 4 and 8; least-connections counted at hand-off fills the gap, then alternates: 6 and 6.
  StackWithStats s(GetParam(), {"--balance", "least-connections"});
  ASSERT_TRUE(wait_until_no_sessions(s.stats_port));
  auto kept = unbalance(s, 4);
  std::vector<Fd> burst;
  auto addr = resolve(HostPort{"127.0.0.1", s.stack->proxy_port}, false).front();
  for (int i = 0; i < 8; ++i) {
    int err = 0;
    burst.push_back(connect_nonblocking(addr, &err));
  }
  std::this_thread::sleep_for(300ms);
  auto snap = settled_snapshot(s.stats_port);
  ASSERT_TRUE(snap.contains("workers")) << snap.dump();
  EXPECT_EQ(per_worker(snap, "connections_active"), (std::vector<int>{6, 6})) << snap["workers"].dump();
}

TEST_P(Workers, MaxConnectionsRefusesPolitelyAndCounts) {
  StackWithStats s(GetParam(), {"--max-connections", "5"});
  ASSERT_TRUE(wait_until_no_sessions(s.stats_port));  // the wait-for-port probe has closed
  auto conns = open_echoing(s.stack->proxy_port, 5);
  Fd extra = connect_to(s.stack->proxy_port, 5s);
  bool clean = false;
  EXPECT_TRUE(read_to_eof(extra.get(), &clean).empty());
  auto snap = settled_snapshot(s.stats_port);
  ASSERT_TRUE(snap.contains("listeners")) << snap.dump();
  EXPECT_GE(snap["listeners"][0]["refused"].get<int>(), 1);
  conns.pop_back();  // a slot frees up: new connections are served again
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(open_echoing(s.stack->proxy_port, 1).size(), 1u);
}

TEST_P(Workers, SeveralListenAddressesEachServeAndCount) {
  uint16_t server_port = free_port();
  ChildProcess server({bin("tcp_ping_server"), "-s", "127.0.0.1", "-p", std::to_string(server_port), "-w", "1"});
  ASSERT_TRUE(wait_for_port(server_port));
  uint16_t port = free_port(), stats = free_port();
  ChildProcess proxy(with_args({bin("proxy"), "--mode", GetParam(), "-s", "127.0.0.1", "-s", "127.0.0.2", "-p",
                                std::to_string(port), "-c", std::to_string(server_port), "--stats",
                                "127.0.0.1:" + std::to_string(stats), "-w", "2"},
                               with_kernel_relay_mark(GetParam(), {})));
  ASSERT_TRUE(wait_for_port(stats));
  auto via_first = open_echoing(port, 3);
  Fd second = connect_blocking(resolve(HostPort{"127.0.0.2", port}, false).front());
  char c = 'x', back = 0;
  ASSERT_TRUE(send_all(second.get(), &c, 1));
  ASSERT_TRUE(read_exact(second.get(), &back, 1));
  EXPECT_EQ(back, 'x');
  auto snap = settled_snapshot(stats);
  ASSERT_EQ(snap["listeners"].size(), 2u) << snap.dump();
  EXPECT_EQ(snap["listeners"][0]["address"], "127.0.0.1:" + std::to_string(port));
  EXPECT_EQ(snap["listeners"][1]["address"], "127.0.0.2:" + std::to_string(port));
  EXPECT_GE(snap["listeners"][0]["accepted"].get<int>(), 3);
  EXPECT_EQ(snap["listeners"][1]["accepted"].get<int>(), 1);
}

SP_INSTANTIATE_FOR_ALL_MODES(Workers);

}  // namespace
}  // namespace sp::test
